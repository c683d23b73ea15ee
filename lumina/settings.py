"""What the command line remembers between runs: ``settings.json`` in the user data folder.

Only choices that make the next command shorter live here — the library used last and the
one ``lumina demo`` built — so ``lumina attribute track.wav`` needs no ``--library``. It is a
plain JSON file, not the app's Qt settings (``lumina-app.ini``), because the engine never
imports Qt. A missing or damaged file reads as empty and a file that cannot be written is
skipped: a remembered default is a convenience, never a reason for a command to fail.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lumina.library.manifest import MANIFEST_NAME
from lumina.paths import user_data_folder

__all__ = [
    "SETTINGS_FILE",
    "demo_library",
    "read_settings",
    "remember_library",
    "remembered_library",
    "settings_path",
    "update_settings",
]

SETTINGS_FILE = "settings.json"
_LAST_LIBRARY = "last_library"
_DEMO_LIBRARY = "demo_library"


def settings_path() -> Path:
    """``settings.json`` in :func:`~lumina.paths.user_data_folder` (``$LUMINA_HOME``)."""
    return user_data_folder() / SETTINGS_FILE


def read_settings() -> dict[str, Any]:
    """The remembered settings; ``{}`` when there are none or the file is damaged."""
    try:
        data = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_settings(changes: Mapping[str, Any]) -> bool:
    """Merge ``changes`` into the settings file; False when it could not be written.

    Written to a temporary file and renamed, so two commands finishing at once leave one
    whole file (the last one's), never a mix.
    """
    path = settings_path()
    data = {**read_settings(), **changes}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return False
    return True


def remember_library(path: str | os.PathLike[str], *, demo: bool = False) -> bool:
    """Record ``path`` as the library used last (and, with ``demo``, as the demo library)."""
    folder = str(Path(path).expanduser().resolve())
    changes = {_LAST_LIBRARY: folder}
    if demo:
        changes[_DEMO_LIBRARY] = folder
    return update_settings(changes)


def _existing_library(value: object) -> Path | None:
    # A remembered folder may have been deleted or moved since; such a default is skipped
    # rather than handed on to fail later as "library not found".
    if not isinstance(value, str) or not value:
        return None
    folder = Path(value)
    return folder if (folder / MANIFEST_NAME).is_file() else None


def demo_library() -> Path | None:
    """The library ``lumina demo`` built, if it still exists."""
    return _existing_library(read_settings().get(_DEMO_LIBRARY))


def remembered_library() -> tuple[Path, str] | None:
    """The default library and why it is the default: the library used last, else the
    demo library; None when neither exists."""
    settings = read_settings()
    last = _existing_library(settings.get(_LAST_LIBRARY))
    if last is not None:
        return last, "the library used last"
    demo = _existing_library(settings.get(_DEMO_LIBRARY))
    if demo is not None:
        return demo, "the demo library"
    return None
