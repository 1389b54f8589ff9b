"""PMS5003 command driver against the simulated sensor (tests/mp/pms_driver_cases.py), under MicroPython."""

MP_SCRIPT = "pms_driver_cases.py"


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
