"""The on-flash journal under the real MicroPython, on a real littlefs2 image.

Cases (tests/mp/journal_cases.py): round trip and reboot (sequence and
cursors survive), a flipped bit makes a record skipped and counted, a torn
segment tail and a torn pending file after a power cut, the size bound drops
the oldest records and counts what an uplink had not delivered, 7 days at
5-minute readings fit with 1 MiB to spare, time fix-up from ticks across the
2^30 ms wrap, and the encoder's allocation per record.
"""

MP_SCRIPT = "journal_cases.py"


def test_journal_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case, vboard=True)
