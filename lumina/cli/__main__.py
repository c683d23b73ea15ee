"""``python -m lumina.cli``: the same as the ``lumina`` command."""

import sys

from lumina.cli import main

sys.exit(main())
