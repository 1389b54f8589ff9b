"""Zero heap allocation per decoded PMS5003 frame and per aggregation (tests/mp/pms_alloc_cases.py), under MicroPython."""

MP_SCRIPT = "pms_alloc_cases.py"


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
