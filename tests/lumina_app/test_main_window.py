"""The main window with synthetic audio and no sound device."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from lumina_app.main import ENVELOPE_BINS, MainWindow


def test_open_track_draws_waveform(qtbot, tmp_path):
    rate = 44100
    t = np.arange(rate * 3) / rate
    sf.write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 220 * t), rate)
    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.signals.loaded, timeout=10_000):
        window.open_track(tmp_path / "tone.wav")
    x, y = window.curve_max.getData()
    assert len(x) == ENVELOPE_BINS and abs(float(x[-1]) - 3.0) < 0.01
    assert 0.45 < float(y.max()) <= 0.51
    assert "tone.wav" in window.file_label.text() and "3.0 s" in window.file_label.text()


def test_bad_file_is_reported_not_raised(qtbot, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"\x00\x01garbage" * 50)
    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.signals.failed, timeout=10_000):
        window.open_track(bad)
    assert "broken.wav" in window.file_label.text()


def test_device_shown_in_status_bar(qtbot):
    window = MainWindow()
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.device_label.text() != "device: …", timeout=20_000)
    assert window.device_label.text().startswith("device: ")


def test_engine_does_not_import_qt():
    import subprocess
    import sys

    code = ("import sys, lumina, lumina.audio, lumina.attribution, lumina.fingerprint; "
            "print(any(m.startswith(('PySide6', 'pyqtgraph', 'sounddevice')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
