"""The sampling cycle (warm-up, passive reads, median, sleep) on the virtual board's
stand-ins (tests/mp/sampler_cases.py), under MicroPython."""

MP_SCRIPT = "sampler_cases.py"


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
