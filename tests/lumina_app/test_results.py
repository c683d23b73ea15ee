"""The result views (table, share bars, confidence view) on a real analysis of the small
catalog: the 16 s song analysed against the library it belongs to."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from lumina.analysis import analyze, analyze_fingerprint
from lumina_app import channel_bars, results
from lumina_app.results import (
    EMPTY_TEXT,
    SORT_ROLE,
    ChannelBars,
    ConfidenceView,
    InfluenceTable,
    InfluenceTableModel,
    channel_colour,
)

CHANNELS = ("composition", "production")


@pytest.fixture(scope="module")
def result(catalog, fingerprinter):
    lib_path, songs = catalog
    # The paper's per-song gate, as before the fdr default: a 5-song library's null rests on
    # two cohort scores, so under fdr not even the song itself is named (issue 20).
    return analyze(songs[4], lib_path, fingerprinter, gate="per-song")


@pytest.fixture(scope="module")
def own(result):
    first = result.songs()[0]
    assert first.title == "Long" and first.qualifies  # the song itself, first
    return first.song_id


def _rgb(brush_or_pen) -> tuple[int, int, int]:
    c = brush_or_pen.color()
    return (c.red(), c.green(), c.blue())


# --------------------------------------------------------------------------- table


def test_table_model_lists_every_song_with_formatted_numbers(qtbot, result, own):
    from lumina.reports.findings import percent

    model = InfluenceTableModel()
    assert model.rowCount() == 0 and model.columnCount() == 6
    model.set_result(result)
    songs = result.songs()
    assert model.rowCount() == len(songs) == 5
    assert [model.song_id_at(r) for r in range(5)] == [s.song_id for s in songs]
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(6)]
    # One column group per channel: no cell mixes channels.
    assert headers == ["Title", "Artist", "Comp.\nshare", "Comp.\nconf.", "Prod.\nshare",
                       "Prod.\nconf."]
    tips = [model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            for c in range(2, 6)]
    assert "composition credit" in tips[0] and "production channel" in tips[3]
    row = model.row_of(own)
    shown = [model.data(model.index(row, c)) for c in range(6)]
    first = songs[0]
    comp, prod = first.channels["composition"], first.channels["production"]
    # On a 5-song library the copy is named in one channel only (issue 20's small cohort):
    # each channel's cells say what that channel decided.
    assert comp.qualifies or prod.qualifies

    def cells(inf):
        if not inf.qualifies:
            return ["", percent(inf.confidence)]
        return [percent(inf.share), percent(inf.confidence) + " ✓"]

    assert shown == ["Long", "Band 4", *cells(comp), *cells(prod)]
    assert model.data(model.index(row, 3), SORT_ROLE) == comp.z
    tip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    for name in CHANNELS:
        inf = first.channels[name]
        assert f"{name}: cosine {inf.cosine:.3f}" in tip and f"z {inf.z:.2f}" in tip
    for r, song in enumerate(songs):
        for c, key in enumerate(model.column_keys):
            font = model.data(model.index(r, c), Qt.ItemDataRole.FontRole)
            colour = model.data(model.index(r, c), Qt.ItemDataRole.ForegroundRole)
            channel = key.partition(":")[2]
            inf = song.channels.get(channel) if channel else None
            named = (inf is not None and inf.qualifies) if channel else song.qualifies
            if named:
                # Titles of named songs stand out by colour, not weight: bold would cut a
                # 40-character title at 1280 px (issue 26).
                assert (font.bold() if channel else font is None)
                assert colour == QColor(*results.TEXT)
            else:
                assert font is None and colour == QColor(*results.DIM)
            if channel and key.startswith("share:") and not named:
                assert model.data(model.index(r, c)) == ""  # no "0.0 %" for a song not named
    assert any(not s.qualifies for s in songs)  # both styles are exercised
    model.set_result(None)
    assert model.rowCount() == 0 and model.row_of(own) is None


def test_table_sorts_numerically_both_ways(qtbot, result, own):
    table = InfluenceTable()
    qtbot.addWidget(table)
    table.set_result(result)
    by_id = {s.song_id: s for s in result.songs()}
    # Default: most confident first, the song itself on top, by the confidence of the first
    # channel that named a song (named songs are the first rows).
    assert table.song_ids()[0] == own
    assert table.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    naming = [c for c, ch in result.channels.items() if ch.n_qualifying]
    assert table.horizontalHeader().sortIndicatorSection() == table.source.column(
        f"conf:{(naming or list(result.channels))[0]}")
    def z_of(channel):
        return lambda s: (float("-inf") if s.channels[channel] is None
                          else s.channels[channel].z)

    values = {
        "conf:composition": z_of("composition"),
        "conf:production": z_of("production"),
        "share:composition": lambda s: s.share("composition"),
        "share:production": lambda s: s.share("production"),
    }
    for key, value in values.items():
        column = table.source.column(key)
        table.sortByColumn(column, Qt.SortOrder.AscendingOrder)
        up = [value(by_id[i]) for i in table.song_ids()]
        table.sortByColumn(column, Qt.SortOrder.DescendingOrder)
        down = [value(by_id[i]) for i in table.song_ids()]
        assert up == sorted(up) and down == sorted(down, reverse=True), key
        assert sorted(table.song_ids()) == sorted(by_id)
    table.sortByColumn(table.source.column("title"), Qt.SortOrder.AscendingOrder)
    assert [by_id[i].title for i in table.song_ids()] == sorted(s.title for s in by_id.values())


def test_selection_emits_song_selected(qtbot, result, own):
    table = InfluenceTable()
    qtbot.addWidget(table)
    table.show()
    assert table.empty_label.isVisibleTo(table) and table.empty_label.text() == EMPTY_TEXT
    table.set_result(result)
    assert not table.empty_label.isVisibleTo(table)
    with qtbot.waitSignal(table.songSelected, timeout=2000) as blocker:
        table.selectRow(0)
    assert blocker.args == [own] and table.selected_song() == own
    other = table.song_id_at(2)
    with qtbot.waitSignal(table.songSelected, timeout=2000) as blocker:
        table.select_song(other)
    assert blocker.args == [other]
    assert table.selectionModel().selectedRows()[0].row() == 2
    with qtbot.waitSignal(table.songSelected, timeout=2000) as blocker:
        table.clearSelection()
    assert blocker.args == [None]
    table.selectRow(1)
    with qtbot.waitSignal(table.songSelected, timeout=2000) as blocker:
        table.set_result(None)  # emptied: the selection is gone too
    assert blocker.args == [None] and table.selected_song() is None
    assert table.proxy.rowCount() == 0 and table.empty_label.isVisibleTo(table)


def test_table_with_no_reported_song_says_so(qtbot, result):
    silent = dataclasses.replace(result, channels={
        name: dataclasses.replace(ch, influences=()) for name, ch in result.channels.items()})
    table = InfluenceTable()
    qtbot.addWidget(table)
    table.set_result(silent)
    assert table.proxy.rowCount() == 0
    assert table.empty_label.text() == results.NO_SONGS_TEXT
    bars, view = ChannelBars(), ConfidenceView()
    qtbot.addWidget(bars)
    qtbot.addWidget(view)
    for widget in (bars, view):
        widget.set_result(silent)
        assert widget.is_empty() and widget.empty_label.text() == results.NO_SONGS_TEXT


# --------------------------------------------------------------------------- bars


def test_channel_bars_draw_two_bars_per_song(qtbot, result, own):
    bars = ChannelBars()
    qtbot.addWidget(bars)
    assert bars.is_empty() and bars.empty_label.text() == EMPTY_TEXT and not bars.bars
    bars.set_result(result)
    assert not bars.is_empty()
    songs = result.songs()
    assert list(bars.bars) == list(CHANNELS)
    for k, (name, bar) in enumerate(bars.bars.items()):
        assert [round(w, 9) for w in bar.opts["width"]] == [
            round(100 * s.share(name), 9) for s in songs]
        assert _rgb(bar.opts["brush"]) == channel_colour(name, k)
    assert channel_colour("composition") == results.ACCENT
    assert channel_colour("production") == results.ORANGE
    ticks = bars.plot.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == [s.title for s in songs]
    assert [label.text for _, label in bars.legend.items] == list(CHANNELS)
    assert not bars.band.isVisible()
    bars.highlight(own)
    assert bars.highlighted == own and bars.band.isVisible()
    assert bars.band.getRegion() == pytest.approx((-0.5, 0.5))
    assert bars.bars["composition"].opts["pens"][0].width() == 2
    bars.highlight(None)
    assert bars.highlighted is None and not bars.band.isVisible()
    bars.set_result(None)
    assert bars.is_empty() and not bars.bars and not bars.legend.items


def test_channel_bars_keep_the_first_songs(qtbot, result, monkeypatch):
    monkeypatch.setattr(channel_bars, "MAX_BARS", 3)
    bars = ChannelBars()
    qtbot.addWidget(bars)
    bars.set_result(result)
    assert all(len(bar.opts["width"]) == 3 for bar in bars.bars.values())
    assert [s.song_id for s in bars.songs] == [s.song_id for s in result.songs()[:3]]
    assert "the first 3 of 5" in bars.caption.text()


# --------------------------------------------------------------------------- confidence


def test_confidence_view_points_band_gate_and_caption(qtbot, result, own):
    view = ConfidenceView()
    qtbot.addWidget(view)
    assert view.is_empty() and view.empty_label.text() == EMPTY_TEXT
    view.set_result(result)
    assert not view.is_empty() and list(view.plots) == list(CHANNELS)
    songs = result.songs()
    for k, name in enumerate(CHANNELS):
        channel = result.channels[name]
        points = view.scatters[name].points()
        reported = [s for s in songs if s.channels[name] is not None]
        assert len(points) == len(reported) == 5
        assert view.gate_lines[name].value() == channel.z_gate
        assert view.noise_bands[name].getRegion() == pytest.approx((-1.0, 1.0))
        for point in points:
            song = next(s for s in songs if s.song_id == point.data())
            inf = song.channels[name]
            assert point.pos().x() == pytest.approx(inf.z)
            assert point.pos().y() == songs.index(song)
            want = channel_colour(name, k) if inf.qualifies else results.DIM
            assert _rgb(point.brush()) == want
            tip = view.scatters[name].opts["tip"](x=inf.z, y=0, data=point.data())
            assert song.title in tip and f"{100 * inf.confidence:.1f} %" in tip
        assert f"{name}: {channel.n_qualifying} of 5 library songs qualify" in view.caption.text()
    assert "Null: empirical" in view.caption.text()
    view.highlight(own)
    assert view.highlighted == own
    for name in CHANNELS:
        (ring,) = view.halos[name].points()
        assert ring.pos().x() == pytest.approx(result.songs()[0].channels[name].z)
    view.highlight(None)
    assert all(len(h.points()) == 0 for h in view.halos.values())
    view.set_result(None)
    assert view.is_empty() and not view.plots and not view.scatters


def test_confidence_view_names_the_analytic_null(qtbot, catalog, result, own):
    analytic = analyze_fingerprint(result.fingerprint, catalog[0], null="analytic")
    view = ConfidenceView()
    qtbot.addWidget(view)
    view.highlight(own)  # nothing drawn yet: remembered as nothing
    assert view.highlighted is None
    view.set_result(analytic)
    assert "Null: analytic" in view.caption.text()
    assert all(line.value() == analytic.channels[n].z_gate for n, line in view.gate_lines.items())
    view.highlight(own)
    view.set_result(result)  # the highlight survives a new result that lists the song
    assert view.highlighted == own and len(view.halos["composition"].points()) == 1


def test_default_sort_is_by_the_channel_that_named_songs(result):
    model = InfluenceTableModel()

    def named(**counts):
        channels = {c: dataclasses.replace(ch, n_qualifying=counts.get(c, 0))
                    for c, ch in result.channels.items()}
        return dataclasses.replace(result, channels=channels)

    model.set_result(named(production=1))  # composition named none: production's column
    assert model.default_sort_key == "conf:production"
    model.set_result(named(composition=2, production=1))
    assert model.default_sort_key == "conf:composition"
    model.set_result(named())
    assert model.default_sort_key == "conf:composition"


def test_table_follows_each_result_until_the_user_picks_a_column(qtbot, result):
    table = InfluenceTable()
    qtbot.addWidget(table)
    only_production = dataclasses.replace(result, channels={
        c: dataclasses.replace(ch, n_qualifying=int(c == "production"))
        for c, ch in result.channels.items()})
    header = table.horizontalHeader()
    assert table.textElideMode() == Qt.TextElideMode.ElideMiddle  # "Quiet…(Organ)"
    table.set_result(only_production)
    assert header.sortIndicatorSection() == table.source.column("conf:production")
    header.sectionClicked.emit(table.source.column("title"))  # the user's choice …
    table.sortByColumn(table.source.column("title"), Qt.SortOrder.AscendingOrder)
    table.set_result(result)  # … is kept for the next result
    assert header.sortIndicatorSection() == table.source.column("title")


def test_artist_column_makes_way_for_titles(qtbot, result):
    """Where the artist column would cut a title the table shows, it hides (the artist
    stays in the tooltip), and it comes back when there is room (issue 26: titles cut at
    1280 px)."""
    table = InfluenceTable()
    qtbot.addWidget(table)
    table.resize(1000, 300)
    table.show()
    table.set_result(result)
    artist = table.source.column("artist")
    qtbot.waitUntil(lambda: not table.isColumnHidden(artist), timeout=5000)
    header = table.horizontalHeader()
    numbers = sum(header.sectionSize(c) for c in range(2, table.source.columnCount()))
    # Room for the numbers and the artist, but not for the titles too: the artist goes.
    table.resize(numbers + 90 + 30, 300)
    qtbot.waitUntil(lambda: table.isColumnHidden(artist), timeout=5000)
    width = table.fontMetrics().horizontalAdvance
    title_room = header.sectionSize(0)
    assert title_room >= max(width(s.title) for s in result.songs())
    assert "Band" in str(table.source.data(table.source.index(0, 0),
                                           Qt.ItemDataRole.ToolTipRole))
    table.resize(1000, 300)
    qtbot.waitUntil(lambda: not table.isColumnHidden(artist), timeout=5000)
