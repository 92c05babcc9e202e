"""``python -m tests.lab up|down|status|fault|demo`` — see tests/lab/README.md."""

import sys

from .cli import main

sys.exit(main())
