"""What the app remembers between runs: window geometry, last library, device, recent files.

Stored as an INI file in the user data folder (``$LUMINA_HOME`` overrides it, so tests and
portable installs never touch the real one).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from lumina.paths import user_data_folder

__all__ = ["DEVICES", "MAX_RECENT", "AppSettings"]

MAX_RECENT = 10
#: Device choices offered in the app; "auto" picks CUDA when present, else CPU.
DEVICES = ("auto", "cpu", "cuda")


class AppSettings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else user_data_folder() / "lumina-app.ini"
        self._qs = QSettings(str(self.path), QSettings.Format.IniFormat)

    def sync(self) -> None:
        self._qs.sync()

    # -- window ----------------------------------------------------------------------------
    @property
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._qs.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._qs.setValue("window/state", value)

    # -- engine ----------------------------------------------------------------------------
    @property
    def last_library(self) -> Path | None:
        value = self._qs.value("engine/last_library", "")
        return Path(str(value)) if value else None

    @last_library.setter
    def last_library(self, value: Path | None) -> None:
        self._qs.setValue("engine/last_library", str(value) if value else "")

    @property
    def device(self) -> str:
        value = str(self._qs.value("engine/device", "auto"))
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        if value not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}")
        self._qs.setValue("engine/device", value)

    # -- files -----------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[Path]:
        value = self._qs.value("files/recent", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(str(v)) for v in items if v][:MAX_RECENT]

    def add_recent(self, path: Path) -> list[Path]:
        """Put ``path`` first (once) and keep the :data:`MAX_RECENT` latest."""
        path = Path(path).resolve()
        items = [path] + [p for p in self.recent_files if p != path]
        self._qs.setValue("files/recent", [str(p) for p in items[:MAX_RECENT]])
        return items[:MAX_RECENT]

    def clear_recent(self) -> None:
        self._qs.setValue("files/recent", [])

    @property
    def last_folder(self) -> str:
        return str(self._qs.value("files/last_folder", ""))

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self._qs.setValue("files/last_folder", value)
