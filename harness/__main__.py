"""`python -m harness ...` is the same entry point as the `redis-repl-harness` script."""

import sys

from harness.cli import main

sys.exit(main())
