"""airkit host toolkit: flash, deploy, provision, diagnose, simulate and calibrate air-quality stations.

The toolkit is a library first; the ``airkit`` command is a thin layer over it.
``import airkit`` is cheap: every part below is imported on first use (PEP 562).
Every failure a user (or a calling program) can cause is raised as one of the
errors in ``airkit.errors`` (``AirkitError`` and its children ``CheckFailed``,
``InputError``, ``BoardError``, ``NetworkError``, ``WouldOverwrite``), with a
message that says what to do, ``.remedy`` and ``.exit_code``.

Public API::

    import airkit

    airkit.ports.list_ports()                         # serial ports, chip family, why one cannot be used
    info = airkit.flash.identify("/dev/ttyUSB0")      # esptool: chip, MAC
    image, version, sha256 = airkit.flash.resolve_image("esp32-devkitc")   # official image, verified (lock file)
    airkit.flash.flash_board("/dev/ttyUSB0", airkit.load_profile("esp32-devkitc"), image)
    airkit.deploy.deploy("/dev/ttyUSB0", {"device": {"id": "lab-1"}})   # a port name, or an open link:
    with airkit.open_board("/dev/ttyUSB0") as link:   # the board's raw REPL (mpremote transport)
        result = airkit.deploy.deploy(link, {"device": {"id": "lab-1"}})   # DeployResult, verified by hash
        report = airkit.doctor.run_doctor(link)       # DoctorReport: .checks, a remedy per failure
    rows = airkit.provision.read_class("class.csv")   # a class list, checked row by row
    report = airkit.provision_class(rows, ports="auto", progress=print)   # ClassReport: .boards, .rows

    board = airkit.VirtualBoard("/tmp/vb", config={"device": {"id": "lab-1"}}, hours=1)   # the real firmware
    # on a simulated ESP32 (without a config the firmware starts in safe mode and measures nothing)
    board.run(); board.readings()

    model = airkit.fit(["mine.csv"], "reference.csv", out="model.json")   # calibration model (dict)
    table = airkit.apply(model, ["mine.csv"], out="corrected.csv")        # corrected table (and CSV)

    airkit.firmware_dir(), airkit.boards_dir()        # what ships to a board (package data)
"""

from airkit.errors import (  # noqa: F401  (cheap: the error tree is part of the API)
    AirkitError, BoardError, CheckFailed, InputError, NetworkError, UserError, WouldOverwrite)

__version__ = "0.1.0"

# Sub-modules that are part of the API, imported on first attribute access.
_MODULES = {"flash", "deploy", "doctor", "provision", "ports", "monitor", "calibrate", "collect", "vboard",
            "resources", "errors", "cli", "outfile", "results"}
# Names that are part of the API: name -> (module, attribute).
_NAMES = {
    "VirtualBoard": ("airkit.vboard", "VirtualBoard"),
    "open_board": ("airkit.boardlink", "open_board"),
    "load_profile": ("airkit.resources", "load_profile"),
    "firmware_dir": ("airkit.resources", "firmware_dir"),
    "boards_dir": ("airkit.resources", "boards_dir"),
    "fit": ("airkit.api", "fit"),
    "apply": ("airkit.api", "apply"),
    "provision_class": ("airkit.provision", "provision_class"),
}

__all__ = sorted(_MODULES | set(_NAMES) | {"AirkitError", "BoardError", "CheckFailed", "InputError",
                                           "NetworkError", "UserError", "WouldOverwrite", "__version__"})


def __getattr__(name):
    import importlib

    if name in _MODULES:
        return importlib.import_module("airkit." + name)
    if name in _NAMES:
        module, attr = _NAMES[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError("module 'airkit' has no attribute %r" % name)


def __dir__():
    return __all__
