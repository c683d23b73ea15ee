"""Where LUMINA keeps its files on this machine: the one place the app asks for them.

The user data folder is ``$LUMINA_HOME`` when set (tests, portable installs), else the
platform's user data folder for LUMINA; the signing key, the app's settings and its audits
live there.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["user_data_folder"]


def user_data_folder() -> Path:
    """``$LUMINA_HOME`` or the platform's user data folder for LUMINA (not created here)."""
    from lumina.reports.signing import key_folder

    return key_folder()
