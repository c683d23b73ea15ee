"""PyInstaller entry point of the bundled ``lumina`` command (same as the console script)."""

import sys

from lumina.cli import main

if __name__ == "__main__":
    sys.exit(main())
