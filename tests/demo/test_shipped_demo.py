"""``lumina demo`` with the shipped lumina-tiny on the full demo catalog: is the answer right?

Issue 19's acceptance test, for the shipped query (``DEMO_SONG``) and for a second song drawn
before the model was trained (``numpy.random.default_rng(20261203)`` over the 32 songs →
c7-t3), not the best of many. For both, the production channel ranks the true source first
and neither channel names a wrong song. The shipped query's source is also named (z 4.6
against a false-discovery threshold of 2.96); the second song's is not (z 1.89, the next
song 1.79), as the study's row 4 predicts (the default gate names 30 % of true sources). The
composition channel is measured to miss on this model (the tiny codec loses pitch:
docs/validation.md).
"""

from __future__ import annotations

import pytest

from lumina.demo.run import DEMO_SONG, run_demo

#: Drawn before training, see the module docstring.
SECOND_SONG = "c7-t3"


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One demo cache for both songs: the catalog is rendered and indexed once."""
    return tmp_path_factory.mktemp("shipped-demo-cache")


@pytest.mark.parametrize("song_id", [DEMO_SONG, SECOND_SONG])
def test_the_demo_ranks_the_true_source_first_in_production(song_id, shared_cache, tmp_path,
                                                      monkeypatch):
    monkeypatch.setenv("LUMINA_CACHE", str(shared_cache))
    demo = run_demo(tmp_path, song_id=song_id, write_pdf=False, say=lambda line: None)
    source = demo.source_title
    production = demo.result.channels["production"]
    assert production.influences[0].title == source
    for channel in demo.result.channels.values():
        assert all(i.title == source for i in channel.influences if i.qualifies)
    if song_id == DEMO_SONG:
        assert [i.title for i in production.influences if i.qualifies] == [source]
