"""PMS5003 frame decoder: the same test cases under CPython and under MicroPython.

The cases live in tests/mp/pms_decoder_cases.py (plain Python that both
interpreters run); frames are built byte by byte from the datasheet layout in
tests/mp/pmsframes.py, never with the code under test.
"""

import sys

import pytest

from conftest import MP_TESTS, mp_case_names

sys.path.insert(0, str(MP_TESTS))
import pms_decoder_cases as cases  # noqa: E402

MP_SCRIPT = "pms_decoder_cases.py"


@pytest.mark.parametrize("name", mp_case_names(MP_SCRIPT))
def test_cpython(name):
    getattr(cases, name)()


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case)
