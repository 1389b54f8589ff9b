"""DHT22 driver with the virtual board's dht stand-in (tests/mp/dht22_cases.py), under MicroPython."""

MP_SCRIPT = "dht22_cases.py"


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
