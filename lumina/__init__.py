"""LUMINA: gradient-fingerprint influence attribution for AI-generated music.

The engine package. It never imports Qt; the desktop app lives in ``lumina_app``.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # `lumina.analyze(...)` without importing torch at `import lumina` time.
    if name in ("analyze", "AnalysisResult"):
        from lumina import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module 'lumina' has no attribute {name!r}")
