"""Segment matches through the façade: per channel and listed song in the result, in its JSON
(schema-valid with and without them) and in ``lumina attribute --segments``."""

from __future__ import annotations

import json

import jsonschema
import pytest

from lumina.analysis import analyze
from lumina.cli import main
from lumina.library import Library


@pytest.fixture(scope="module")
def long_song_result(catalog, fingerprinter):
    """The 16 s catalog song (two chunks) attributed against the library that holds it."""
    lib_path, songs = catalog
    return analyze(songs[4], lib_path, fingerprinter, top=3)


def _predicate(result) -> dict:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lumina.reports.report import report_predicate

    key = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    return report_predicate(json.loads(json.dumps(result.to_json())), key)


def test_every_listed_song_has_its_pairs_and_the_song_itself_maps_chunk_to_chunk(
        long_song_result, catalog):
    lib_path, _ = catalog
    result = long_song_result
    with Library.open(lib_path) as lib:
        own = lib.find_audio(result.fingerprint.audio_sha256).id
        n_chunks = {s.id: s.n_chunks for s in lib.songs()}
    for ch in result.channels.values():
        assert list(ch.segments) == [i.song_id for i in ch.influences]
        for sid, pairs in ch.segments.items():
            # 2 query chunks × the song's chunks, at most the default 3 pairs.
            assert len(pairs) == min(3, 2 * n_chunks[sid])
            assert [p.z for p in pairs] == sorted((p.z for p in pairs), reverse=True)
        best = ch.segments[own][0]
        # The track is the song: its best pair is a chunk with itself, at the same time.
        assert best.query_chunk == best.song_chunk
        assert (best.query_start, best.query_end) == (best.song_start, best.song_end)
        assert best.cosine == pytest.approx(1.0)
    assert result.parameters["segment_pairs"] == 3


def test_json_round_trip_and_schema_with_and_without_segments(long_song_result, catalog,
                                                              fingerprinter):
    from lumina.reports.report import schema

    validator = jsonschema.Draft202012Validator(schema())
    payload = json.loads(json.dumps(long_song_result.to_json()))
    for name, ch in long_song_result.channels.items():
        listed = payload["channels"][name]["segments"]
        assert [s["song_id"] for s in listed] == list(ch.segments)
        assert listed[0]["pairs"] == [p.to_json() for p in ch.segments[listed[0]["song_id"]]]
    validator.validate(_predicate(long_song_result))

    lib_path, songs = catalog
    without = analyze(songs[4], lib_path, fingerprinter, top=3, segments=0)
    predicate = _predicate(without)
    assert all("segments" not in ch for ch in predicate["channels"].values())
    assert "segment_pairs" not in predicate["parameters"]
    validator.validate(predicate)
    # Segments change nothing else of the result.
    assert without.timeline == long_song_result.timeline
    for name, ch in without.channels.items():
        assert ch.influences == long_song_result.channels[name].influences

    broken = _predicate(long_song_result)
    del broken["channels"]["production"]["segments"][0]["pairs"][0]["z"]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_attribute_cli_prints_segments_on_request(catalog, capsys):
    lib_path, songs = catalog
    args = ["attribute", str(songs[4]), "--library", str(lib_path), "--top", "2"]
    assert main(args) == 0
    assert "segments (" not in capsys.readouterr().out
    assert main([*args, "--segments"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("segments (production):"):]
    assert "Long" in block.splitlines()[1]
    assert "0:00.0-0:10.0 of the track <-> 0:00.0-0:10.0 of the song" in block
    assert "segments (composition):" in out
