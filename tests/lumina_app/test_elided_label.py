"""The one-line label that ends in "…" where the window cuts it (the A/B heading, the
status line), instead of stopping mid-word."""

from __future__ import annotations

from lumina_app.elided_label import ElidedLabel


def test_long_text_ends_in_an_ellipsis_and_is_whole_in_the_tooltip(qtbot):
    text = "B · Quiet Engines (Organ) — The Drawbar Parish  ·  2 pairs (production)"
    label = ElidedLabel(text)
    qtbot.addWidget(label)
    label.resize(120, 20)
    label.show()
    qtbot.waitUntil(label.is_elided, timeout=5000)
    shown = super(ElidedLabel, label).text()
    assert shown.endswith("…") and text.startswith(shown[:-1])
    assert label.text() == text and label.toolTip() == text
    label.setToolTip("Songs are named by one rule")  # the caller's tooltip stays below it
    assert label.toolTip() == text + "\n\nSongs are named by one rule"
    label.resize(2000, 20)
    qtbot.waitUntil(lambda: not label.is_elided(), timeout=5000)
    assert super(ElidedLabel, label).text() == text
    assert label.toolTip() == "Songs are named by one rule"
    label.setText("Done.")
    assert label.text() == "Done." and not label.is_elided()
