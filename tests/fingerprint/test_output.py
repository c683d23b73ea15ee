"""Output functions (issue 19): named and versioned, recorded by fingerprints and libraries,
refused across, and the paper's loss still available bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lumina.errors import LuminaError
from lumina.fingerprint.output import (
    DEFAULT_OUTPUT_FUNCTION,
    OUTPUT_FUNCTIONS,
    get_output_function,
    output_function_id,
)
from lumina.library import LibraryError, output_function_for


def test_names_versions_and_what_is_recorded():
    assert get_output_function("tempered").id == "tempered/1"
    assert get_output_function("tempered/1") is OUTPUT_FUNCTIONS["tempered"]
    assert get_output_function(None).temperature == 1.0  # absent: the paper's loss
    assert output_function_id("loss") is None and output_function_id("tempered") == "tempered/1"
    with pytest.raises(ValueError, match="known: loss, tempered"):
        get_output_function("logit")
    with pytest.raises(ValueError, match="this software makes tempered/1"):
        get_output_function("tempered/2")


def test_model_loss_at_a_temperature_is_the_cross_entropy_of_scaled_logits(tiny_model):
    codes = torch.randint(0, tiny_model.card, (2, tiny_model.num_codebooks, 20),
                          generator=torch.Generator().manual_seed(3))
    logits, targets, valid = tiny_model.teacher_forced_logits(codes)
    for t in (1.0, 20.0):
        nll = torch.nn.functional.cross_entropy(
            (logits / t).reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
        nll = (nll.reshape(targets.shape) * valid).sum(dim=(1, 2)) / valid.sum(dim=(1, 2))
        torch.testing.assert_close(tiny_model.per_example_loss(codes, t), nll)


def test_fingerprints_record_the_output_function_and_keep_the_model_loss(tiny_model):
    from lumina.fingerprint.fingerprinter import Fingerprinter

    rng = np.random.default_rng(5)
    audio = (0.1 * rng.standard_normal(32000 * 4)).astype(np.float32)
    paper = Fingerprinter(tiny_model, device="cpu", output_function="loss")
    default = Fingerprinter(tiny_model, device="cpu")
    a, b = paper.fingerprint_audio(audio), default.fingerprint_audio(audio)
    assert DEFAULT_OUTPUT_FUNCTION == "tempered"
    assert "output_function" not in a.parameters()  # as before output functions existed
    assert b.parameters()["output_function"] == "tempered/1"
    assert b.to_json()["output_function"] == "tempered/1"
    np.testing.assert_array_equal(a.loss, b.loss)  # the loss reported is the model's own
    for channel in a.channels:
        cos = float(a.channels[channel] @ b.channels[channel]) / (
            np.linalg.norm(a.channels[channel]) * np.linalg.norm(b.channels[channel]))
        assert cos < 0.999  # another function, another gradient
    with pytest.raises(LuminaError, match="unknown output function 'logit'"):
        Fingerprinter(tiny_model, device="cpu", output_function="logit")


def test_library_keeps_its_output_function_and_refuses_another(tmp_path, tiny_model,
                                                                music_files):
    from lumina.fingerprint.fingerprinter import Fingerprinter
    from lumina.workspace import Workspace, fingerprinter_for

    with Workspace.open_or_create(tmp_path / "paper", loaded_model=tiny_model,
                                  output_function="loss") as ws:
        assert ws.fingerprinter.output_function is None
        manifest = json.loads((tmp_path / "paper" / "manifest.json").read_text())
        assert "output_function" not in manifest  # a paper-mode manifest is unchanged
        ws.library.writer().close()
    with Workspace.open_or_create(tmp_path / "new", loaded_model=tiny_model,
                                  composition_rendering="plain") as ws:
        assert ws.fingerprinter.output_function == "tempered/1"
        mf = ws.library.manifest
        assert mf.output_function == "tempered/1"
        # an existing library keeps its own when none is asked for, refuses another
        assert output_function_for(mf) == "tempered/1"
        with pytest.raises(LibraryError, match="gradients of the tempered/1 output function, "
                                               "not of the paper's loss"):
            output_function_for(mf, "loss")
        # fingerprints of the paper's loss are refused in one line
        fp = Fingerprinter(tiny_model, device="cpu", output_function="loss"
                           ).fingerprint_file(music_files[0])
        with pytest.raises(LibraryError, match="fingerprints of different output functions "
                                               "cannot be compared"):
            mf.check_compatible(fp.parameters())
        assert fingerprinter_for(ws.library, model=tiny_model).output_function == "tempered/1"


def test_manifest_with_an_unknown_output_function_is_one_line(tmp_path, tiny_model):
    from lumina.library import Library
    from lumina.workspace import Workspace

    with Workspace.open_or_create(tmp_path / "lib", loaded_model=tiny_model):
        pass
    path = tmp_path / "lib" / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "output_function": "tempered/9"}))
    with pytest.raises(LibraryError, match="output function 'tempered/9' is not one this "
                                           "LUMINA knows"):
        Library.open(tmp_path / "lib")
