"""LUMINA desktop app (PySide6): views, worker threads and playback. No math here."""
