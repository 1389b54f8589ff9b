"""Back-off after failures in the real delivery loop (tests/mp/backoff_cases.py), under MicroPython."""

MP_SCRIPT = "backoff_cases.py"


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
