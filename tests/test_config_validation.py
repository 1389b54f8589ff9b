"""Station config: validation (one clear line per problem), masking, loading.

The cases (tests/mp/config_cases.py) run under MicroPython, where the board
validates its config at boot, and under CPython, where the host tools do.
"""

import sys

import pytest

from conftest import MP_TESTS, mp_case_names

sys.path.insert(0, str(MP_TESTS))
import config_cases as cases  # noqa: E402

MP_SCRIPT = "config_cases.py"


@pytest.mark.parametrize("name", mp_case_names(MP_SCRIPT))
def test_cpython(name):
    getattr(cases, name)()


def test_micropython(mp_case, run_mp_case):
    run_mp_case(mp_case)
