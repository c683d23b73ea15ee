"""The Qt binding must not leak references to None/True/False.

PySide6 6.12.0 on Python 3.11 dropped one reference to ``True`` per ``Signal.emit`` and the
interpreter aborted ("bool_dealloc") once the count hit zero — after minutes of playback,
whose playhead emits 30 times a second. pyproject pins a version without the bug; this
test fails if the pin is ever loosened to a broken one.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget


class _Emitter(QObject):
    value = Signal(float)
    flag = Signal(bool)


def test_signal_emits_and_void_calls_keep_singleton_refcounts(qtbot):
    emitter, widget = _Emitter(), QWidget()
    seen = []
    emitter.value.connect(seen.append)
    emitter.flag.connect(seen.append)
    before = {name: sys.getrefcount(obj) for name, obj in
              (("None", None), ("True", True), ("False", False))}
    for i in range(500):
        emitter.value.emit(float(i))
        emitter.flag.emit(i % 2 == 0)
        widget.setEnabled(True)  # a void method returning None to Python
        widget.setVisible(False)
    after = {name: sys.getrefcount(obj) for name, obj in
             (("None", None), ("True", True), ("False", False))}
    assert len(seen) == 1000
    for name in before:
        assert after[name] >= before[name] - 50, f"lost {before[name] - after[name]} refs to {name}"
