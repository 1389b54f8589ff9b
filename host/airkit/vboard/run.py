"""Boot a virtual ESP32 under the MicroPython unix port and run the firmware.

Usage (the host's ``airkit sim`` does this): ``micropython [-i] run.py BOARD_DIR``.

BOARD_DIR holds the board: ``sim.json`` (options written by the host),
``flash.img`` (a 2 MiB littlefs2 image: the board's flash, kept across
reboots), ``vboard.json`` (virtual clock, RTC memory, reset cause, counters).
The flash is mounted at ``/`` exactly like on the ESP32; the firmware files
come from the flash (``/lib``, after ``airkit deploy``) or, unless told
otherwise, from the repository folder mounted at ``/fw``.
"""

import gc
import json
import os
import sys
import vfs

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
try:
    import world as _frozen  # noqa: F401  the stand-ins frozen into this interpreter (C on a board)
except ImportError:
    if _here not in sys.path:
        sys.path.insert(0, _here)

from world import World, SimulationEnd, EXIT_RESET  # noqa: E402
import vclock  # noqa: E402
import vmachine  # noqa: E402
import vdht  # noqa: E402
import vnetwork  # noqa: E402
import vsocket  # noqa: E402,F401  (imported before sys.path points at the flash)
import vselect  # noqa: E402,F401  (likewise: the host folder is out of reach once the flash is mounted)
import pms_sim  # noqa: E402
import blockdev  # noqa: E402


def _load(path, default):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def _install(src):
    """Copy a host folder (main.py, lib/...) onto the flash, skipping files already there with the same size."""
    vfs.mount(vfs.VfsPosix(src), "/install")
    buf = bytearray(512)
    stack = [""]
    while stack:
        rel = stack.pop()
        for name, kind, *_ in os.ilistdir("/install" + rel):
            path = rel + "/" + name
            if kind == 0x4000:
                try:
                    os.mkdir(path)
                except OSError:
                    pass
                stack.append(path)
                continue
            size = os.stat("/install" + path)[6]
            try:
                if os.stat(path)[6] == size:
                    continue
            except OSError:
                pass
            with open("/install" + path, "rb") as fi, open(path + ".tmp", "wb") as fo:
                while True:
                    n = fi.readinto(buf)
                    if not n:
                        break
                    fo.write(memoryview(buf)[:n])
            os.rename(path + ".tmp", path)
    vfs.umount("/install")


def main():
    board_dir = sys.argv[-1] if sys.argv[-1] != __file__ else "."
    opts = _load(board_dir + "/sim.json", None)
    if opts is None:
        print("virtual board: no sim.json in", board_dir)
        sys.exit(2)
    state = _load(board_dir + "/vboard.json", {})
    if state.get("run_id") != opts.get("run_id"):
        # A new `airkit sim` run on a kept board: power-on, time continues forward.
        prev_ms = state.get("now_ms", 0)
        state = {"run_id": opts.get("run_id"), "counters": {}, "boots": 0,
                 "run_start_ms": max(opts["start_unix"] * 1000, prev_ms), "new_run": True}
    state["boots"] = state.get("boots", 0) + 1
    opts["start_unix"] = state["run_start_ms"] // 1000
    world = World(opts, state)
    scenario = world.scenario
    if "ticks_start" not in state:
        state["ticks_start"] = opts.get("ticks_start", 0)

    mac = bytes(int(x, 16) for x in opts.get("mac", "24:0a:c4:12:34:56").split(":"))
    rtc_base = state.get("rtc_base")
    clock = vclock.VirtualClock(world, tuple(rtc_base) if rtc_base else None)

    # GPIO0 is the BOOT button (pulled up: 1; held: 0): "boot_button" holds it at the first boot of the run
    held = opts.get("boot_button") and state["boots"] == 1
    wiring = {"uart": {}, "set_pins": {}, "inputs": {0: 0 if held else 1}}
    pins = opts.get("wiring", {})
    pms_a = pms_sim.PMSDevice(world, scenario.get("pms", {}), "pms")
    if not pins.get("pms_unplugged"):
        a = pins.get("pms", [17, 16, 4])          # board TX, board RX, SET
        wiring["uart"][(a[0], a[1])] = pms_a
        if len(a) > 2 and a[2] is not None:
            wiring["set_pins"][a[2]] = pms_a
    if pins.get("pms_b"):
        pms_b = pms_sim.PMSDevice(world, scenario.get("pms_b", scenario.get("pms", {})), "pms_b")
        b = pins["pms_b"]
        wiring["uart"][(b[0], b[1])] = pms_b
        if len(b) > 2 and b[2] is not None:
            wiring["set_pins"][b[2]] = pms_b
    vdht.attach(world, pins.get("dht", 15), scenario.get("dht", {}))
    vnetwork.attach(world, scenario.get("wifi", opts.get("ap", {})), mac)
    machine = vmachine.Machine(world, clock, wiring, state.get("reset_cause", "power-on"), mac,
                               bytes.fromhex(state.get("rtc_memory", "")))

    # A board resets in C; this stand-in needs a little heap to record the reset. After a
    # MemoryError in the firmware there may be none left, so a small reserve is kept and
    # given up only then (a simulator need, not the firmware's).
    reserve = [bytearray(1024)]

    def save(code, cause):
        try:
            _save(code, cause)
        except MemoryError:
            reserve.clear()
            gc.collect()
            _save(code, cause)

    def _save(code, cause):
        state["now_ms"] = world.now_ms
        state["reset_cause"] = cause
        state["cuts_done"] = world.cuts_done
        state["ticks_start"] = 0 if cause == "power-on" else clock.ticks_ms()
        if cause == "power-on":          # power lost: RTC time and memory are gone
            state["rtc_base"] = None
            state["rtc_memory"] = ""
        else:
            state["rtc_base"] = list(clock.rtc_base) if clock.rtc_base else None
            state["rtc_memory"] = machine.rtc_mem.hex()
        # The host folder is not reachable once the flash is mounted at "/", so the
        # state file was opened beforehand; it is rewritten in place, padded with
        # blanks (JSON ignores them) so an older, longer text never shows through.
        text = json.dumps(state)
        pad = state_len[0] - len(text)
        state_file.seek(0)
        state_file.write(text)
        while pad > 0:                   # blanks without building one more string
            state_file.write(" ")
            pad -= 1
        state_file.flush()
        if len(text) > state_len[0]:
            state_len[0] = len(text)

    world.on_exit = save
    try:
        state_file = open(board_dir + "/vboard.json", "r+")
        state_len = [len(state_file.read())]
    except OSError:
        state_file = open(board_dir + "/vboard.json", "w")
        state_len = [0]
    # The RTC keeps its time over a reset when it was set; a fresh board starts
    # at the sim's start only when the host asks for a pre-set clock.
    if clock.rtc_base is None and opts.get("rtc_preset"):
        clock.set_time(world.now_ms // 1000 - 946684800)

    flash = blockdev.FileBlockDev(board_dir + "/flash.img", world=world)
    fw_dir = opts.get("firmware_dir")
    romfs = None
    if opts.get("firmware_from") == "romfs":
        # On an ESP32 the ROMFS partition is memory-mapped flash. With ``romfs_frozen`` the
        # image is a bytes constant frozen into this interpreter (module ``vboard_romfs``,
        # made by benchmarks/bench_memory.py): it lies in the binary's read-only data and is
        # mounted in place, as on a board. Otherwise it is read into memory (so it costs
        # heap here that it does not on a board).
        if opts.get("romfs_frozen"):
            import vboard_romfs
            romfs = vboard_romfs.IMAGE
        else:
            with open(opts["romfs"], "rb") as f:
                romfs = f.read()
    vfs.umount("/")
    if flash.fresh:
        vfs.VfsLfs2.mkfs(flash)
    vfs.mount(vfs.VfsLfs2(flash), "/")
    os.chdir("/")
    if state.pop("new_run", False) and opts.get("config") is not None:
        with open("/config.json.tmp", "w") as f:
            json.dump(opts["config"], f)
        os.rename("/config.json.tmp", "/config.json")
    if opts.get("firmware_from") == "mpy":
        # What `airkit deploy` puts on a board: main.py and the compiled package in /lib,
        # on the littlefs flash, so modules load from flash exactly as they do there.
        _install(opts["mpy_dir"])
        opts["firmware_from"] = "flash"
    if romfs is not None:
        vfs.mount(vfs.VfsRom(romfs), "/rom")
        vfs.mount(vfs.VfsPosix(fw_dir), "/fw")          # main.py only
        sys.path[:] = ["/rom", "/lib", ".frozen"]
    elif opts.get("firmware_from") == "frozen":
        # the package is frozen into the interpreter (a custom build, `firmware/manifest.py`);
        # main.py is on the filesystem as on a board (here: the repository's)
        vfs.mount(vfs.VfsPosix(fw_dir), "/fw")
        sys.path[:] = ["/lib", ".frozen"]
    elif fw_dir and opts.get("firmware_from") != "flash":
        vfs.mount(vfs.VfsPosix(fw_dir), "/fw")
        sys.path[:] = ["/fw", "/lib", ".frozen"]
    else:
        sys.path[:] = ["", "/lib", ".frozen"]
    # ESP32 boot banner, then the same start-up the board does: main.py.
    print("virtual ESP32 (airkit sim), reset cause:", state.get("reset_cause", "power-on"))

    # Register the board layer for the firmware (its `machine`, `network`, `dht`, `time`).
    sys.modules["vboard_world"] = world
    # `import machine` at the REPL gives the board's machine, as on an ESP32 (machine.reset() for the host tools).
    sys.modules["machine"] = machine
    import gc
    gc.collect()
    # heap the virtual board itself holds (stand-ins, launcher), for memory figures; the
    # board module is firmware (it ships), so it is imported after this
    state["heap_before_firmware"] = gc.mem_alloc()
    print("virtual board: stand-ins hold %d bytes of heap, %d free" % (gc.mem_alloc(), gc.mem_free()))
    try:  # as main.py does first on a board: the slot of an update (ota/a, ota/b) before the firmware loads
        import otaboot
        otaboot.select()
        del otaboot                 # main.py drops it when nothing is on trial, as on a board
    except Exception:               # not deployed, or no memory for it: main.py runs the installed firmware
        sys.modules.pop("otaboot", None)
    gc.collect()
    try:
        from airkit_fw import board as board_mod
    except ImportError:
        # A board with only MicroPython on it (nothing deployed yet): REPL only.
        print("virtual board: no airkit firmware on the flash yet")
        if opts.get("repl"):
            return
        world.exit(0, "soft")
    board_mod.Board(machine=machine, network=vnetwork, dht=vdht, clock=clock, fs_root="/", name="virtual-esp32")
    print("virtual board: firmware from", board_mod.__file__.rsplit("/airkit_fw/", 1)[0] or "/")
    try:
        main_py = "/main.py" if opts.get("firmware_from") == "flash" else "/fw/main.py"
        if opts.get("run", True):
            try:
                with open(main_py) as f:
                    source = f.read()
            except OSError:
                source = None
                print("virtual board: no", main_py, "- nothing to run")
            if source:
                exec(source, {"__name__": "__main__"})
        if opts.get("repl"):
            # Like a board whose main.py returned: keep the REPL; time stays.
            return
        world.exit(0, "soft")
    except SimulationEnd:
        save(0, "soft")
        print("virtual board: simulated period over")
        if not opts.get("repl"):
            sys.exit(0)


main()
