"""``python -m airkit.cli``: the ``airkit`` command."""

import sys

from airkit.cli import main

sys.exit(main())
