"""Driver and board waits across the 2^30 ms tick wrap (tests/mp/tickwrap_cases.py), under MicroPython."""

MP_SCRIPT = "tickwrap_cases.py"


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
