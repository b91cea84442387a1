"""``python -m graphrewrite``: the same as the ``graphrewrite`` command."""

import sys

from graphrewrite.cli import main

sys.exit(main())
