"""LUMINA: gradient-fingerprint influence attribution for AI-generated music.

The engine package. It never imports Qt; the desktop app lives in ``lumina_app``. The
package map is in docs/architecture.md.
"""

import importlib

__version__ = "0.1.0"


def __getattr__(name: str):
    # `lumina.analyze(...)` without importing torch at `import lumina` time. Looked up by
    # name, not by an import statement: importing `lumina` (for `__version__`) must not
    # count as depending on the façade, or every module would sit above it.
    if name in ("analyze", "AnalysisResult"):
        return getattr(importlib.import_module("lumina.analysis"), name)
    raise AttributeError(f"module 'lumina' has no attribute {name!r}")
