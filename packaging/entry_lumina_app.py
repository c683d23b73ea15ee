"""PyInstaller entry point of the bundled ``lumina-app`` desktop app (same as the GUI script)."""

import sys

from lumina_app.main import main

if __name__ == "__main__":
    sys.exit(main())
