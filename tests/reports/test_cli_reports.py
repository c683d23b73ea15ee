"""End to end through the command line: index, attribute with signed reports, verify, keys."""

from __future__ import annotations

import json
import stat

import jsonschema
import pytest
import soundfile as sf

from lumina.cli import main
from lumina.demo.synth import random_music
from lumina.reports.report import schema
from lumina.reports.verify import read_envelope


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_model):
    import torch

    from lumina.models.transformers_folder import save_transformers_folder

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("e2e")
    model_dir = save_transformers_folder(tiny_model, root / "model")
    songs = root / "songs"
    songs.mkdir()
    for i in range(4):
        sf.write(songs / f"Act {i} - Tune {i}.wav", random_music(6.0, 32000, 500 + i), 32000)
    assert main(["index", str(songs), "--library", str(root / "lib"), "--model",
                 str(model_dir)]) == 0
    return root, songs


@pytest.fixture(autouse=True)
def keys_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LUMINA_HOME", str(tmp_path / "home"))


def test_attribute_writes_signed_json_and_pdf_that_verify(setup, tmp_path, capsys):
    root, songs = setup
    track = songs / "Act 2 - Tune 2.wav"
    out_json, out_pdf = tmp_path / "r.json", tmp_path / "r.pdf"
    assert main(["attribute", str(track), "--library", str(root / "lib"), "--json",
                 str(out_json), "--pdf", str(out_pdf)]) == 0
    printed = capsys.readouterr().out
    assert "Tune 2" in printed and "signed" in printed
    envelope = read_envelope(out_json)
    assert read_envelope(out_pdf) == envelope
    import base64

    predicate = json.loads(base64.b64decode(envelope["payload"]))["predicate"]
    jsonschema.Draft202012Validator(schema()).validate(predicate)
    top = predicate["channels"]["composition"]["influences"][0]
    assert top["title"] == "Tune 2"  # the track itself is in the library

    pub = tmp_path / "signer.pub"
    assert main(["keys", "export-public", "--out", str(pub)]) == 0
    for report in (out_json, out_pdf):
        assert main(["verify", str(report), "--key", str(pub), "--audio", str(track)]) == 0

    data = json.loads(out_json.read_text())
    data["payload"] = data["payload"][:-8] + ("A" * 8 if data["payload"][-8:] != "A" * 8
                                              else "B" * 8)
    tampered = tmp_path / "t.json"
    tampered.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["verify", str(tampered)]) in (1, 2)
    assert main(["verify", str(out_json), "--audio", str(songs / "Act 0 - Tune 0.wav")]) == 1
    err = capsys.readouterr().err
    assert "digest" in err and "Traceback" not in err


def test_verify_unreadable_exits_2(tmp_path, capsys):
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"%PDF-1.7 truncated")
    assert main(["verify", str(junk)]) == 2
    assert main(["verify", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("lumina: error:") for line in err)


def test_keys_show_and_mode(tmp_path, capsys):
    assert main(["keys", "show"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SHA256:")
    key_file = tmp_path / "home" / "signing-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert main(["keys", "show"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == out.splitlines()[0]  # same key
