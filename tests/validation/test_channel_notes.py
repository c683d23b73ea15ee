"""channels.json is written from a study's row 3, and only survives on the same weights."""

import json

from lumina.models import channel_notes, model_scope
from lumina.validation.channel_notes import notes_from_study, write_channel_notes


def _study(rendering: str, comp: float, prod: float, digest: str = "a" * 64,
           output_function: str | None = None) -> dict:
    return {
        "protocol": {"model": {"name": "m", "weights_sha256": digest},
                     "config": {"composition_rendering": rendering},
                     "fingerprint": ({"output_function": output_function}
                                     if output_function else {})},
        "rows": [
            {"id": "3.composition", "value": comp, "chance": 0.1},
            {"id": "3.production", "value": prod, "chance": 0.25},
        ],
        "details": {"separation": {"top1_same": {"composition": {"timbre": 0.2}}}},
    }


class _Model:
    name = "m"
    channels = ("composition", "production")

    def __init__(self, folder):
        self.source = str(folder)


def test_notes_follow_the_measured_fractions():
    notes = notes_from_study(_study("shepard", comp=0.91, prod=0.4))
    assert notes["renderings"]["shepard/1"]["composition"]["separates"] is True
    assert notes["channels"]["production"]["separates"] is False
    assert "40%" in notes["channels"]["production"]["note"]
    assert "composition" not in notes["channels"]  # the plain audio was not measured


def test_written_notes_reach_the_reports_and_old_weights_are_dropped(tmp_path):
    (tmp_path / "channels.json").write_text(json.dumps({
        "weights_sha256": "b" * 64, "scope": "a demonstration model",
        "channels": {"composition": {"separates": False, "note": "old plain note"}},
        "renderings": {"onset-clicks/1": {"composition": {"separates": False,
                                                          "note": "old"}}}}))
    write_channel_notes(_study("shepard/1", comp=0.5, prod=0.95), tmp_path)
    data = json.loads((tmp_path / "channels.json").read_text())
    assert data["weights_sha256"] == "a" * 64
    assert "onset-clicks/1" not in data["renderings"]
    model = _Model(tmp_path)
    assert model_scope(model) == "a demonstration model"
    notes = channel_notes(model, "shepard/1")
    assert set(notes) == {"composition"}  # production separates: no note
    assert "50%" in notes["composition"]
    assert "not been measured" in channel_notes(model, "onset-clicks/1")["composition"]


def test_same_weights_keep_other_renderings(tmp_path):
    write_channel_notes(_study("plain", comp=0.3, prod=0.3), tmp_path, scope="demo only")
    write_channel_notes(_study("shepard/1", comp=0.9, prod=0.3), tmp_path)
    data = json.loads((tmp_path / "channels.json").read_text())
    assert data["scope"] == "demo only"
    assert "composition" in data["channels"] and "shepard/1" in data["renderings"]


def test_notes_belong_to_the_output_function_they_were_measured_with(tmp_path):
    write_channel_notes(_study("shepard/1", comp=0.3, prod=0.3), tmp_path)  # paper's loss
    write_channel_notes(_study("shepard/1", comp=0.5, prod=0.95,
                               output_function="tempered/1"), tmp_path)
    data = json.loads((tmp_path / "channels.json").read_text())
    assert data["output_function"] == "tempered/1"
    model = _Model(tmp_path)
    notes = channel_notes(model, "shepard/1", "tempered/1")
    assert set(notes) == {"composition"} and "50%" in notes["composition"]
    # a library of the paper's loss: these notes describe other fingerprints
    other = channel_notes(model, "shepard/1")
    assert set(other) == {"composition", "production"}
    assert "not been measured" in other["production"]
    assert "with the paper's loss" in other["production"]
