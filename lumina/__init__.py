"""LUMINA: gradient-fingerprint influence attribution for AI-generated music.

The engine package. It never imports Qt; the desktop app lives in ``lumina_app``.
"""

__version__ = "0.1.0"
