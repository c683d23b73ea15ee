"""The seeded Kronecker projection and its hooks against exact gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lumina.demo.synth import random_music
from lumina.fingerprint.projection import GradientProjector, LayerProjection, kronecker_factors


def _exact_channel_gradients(model, codes):
    """Flattened exact weight gradients per channel, float64, one row per example."""
    modules = {c: model.channel_modules(c) for c in model.channels}
    names = [n for c in model.channels for n in modules[c]]
    weights = [dict(model.decoder.named_modules())[n].weight for n in names]
    per_example = []
    for b in range(codes.shape[0]):
        grads = torch.autograd.grad(model.per_example_loss(codes[b:b + 1]).sum(), weights)
        per_example.append(dict(zip(names, grads, strict=True)))
    return modules, per_example


@pytest.fixture(scope="module")
def two_tracks(tiny_model):
    audio = np.stack([random_music(10.0, tiny_model.sample_rate, seed=s) for s in (11, 12)])
    return tiny_model.encode(torch.from_numpy(audio))


def test_factors():
    assert kronecker_factors(512) == (16, 32)
    assert kronecker_factors(64) == (8, 8)
    k_out, k_in = kronecker_factors(384)
    assert k_out * k_in == 384
    assert kronecker_factors(512, blocks=32) == (4, 4)
    with pytest.raises(ValueError):
        kronecker_factors(512, blocks=3)


def test_blocks_reference_matches_single_block_formula():
    """With one block the reference is vec(B G Aᵀ) exactly as DESIGN §1 step 3 writes it."""
    proj = LayerProjection.create("x.q_proj", 24, 20, 64, seed=0, blocks=1)
    g = torch.randn(24, 20, dtype=torch.float64)
    expected = (proj.b.double() @ g @ proj.a.double().T).reshape(-1)
    assert torch.allclose(proj.project_gradient(g), expected)
    multi = LayerProjection.create("x.q_proj", 24, 20, 64, seed=0, blocks=4)
    assert multi.project_gradient(g).shape == (64,)


def test_projection_is_seeded_by_name_and_reproducible():
    a = LayerProjection.create("x.q_proj", 64, 32, 512, seed=0)
    b = LayerProjection.create("x.q_proj", 64, 32, 512, seed=0)
    c = LayerProjection.create("x.k_proj", 64, 32, 512, seed=0)
    d = LayerProjection.create("x.q_proj", 64, 32, 512, seed=1)
    assert torch.equal(a.a, b.a) and torch.equal(a.b, b.b)
    assert not torch.equal(a.a, c.a) and not torch.equal(a.a, d.a)


def test_hooks_equal_projection_of_exact_gradient(tiny_model, two_tracks):
    with GradientProjector(tiny_model, dim=512, seed=0) as proj:
        tiny_model.per_example_loss(two_tracks).sum().backward()
        hooked = proj.collect()
    _, exact = _exact_channel_gradients(tiny_model, two_tracks)
    for b in range(2):
        reference = proj.project_gradients(exact[b])
        for channel in tiny_model.channels:
            got = hooked[channel][b].cpu()
            rel = float((got - reference[channel]).norm() / reference[channel].norm())
            assert rel < 1e-5, (channel, rel)


def test_projected_cosine_tracks_exact_cosine(tiny_model, two_tracks):
    modules, exact = _exact_channel_gradients(tiny_model, two_tracks)
    for channel in tiny_model.channels:
        flat = [torch.cat([g[n].double().reshape(-1) for n in modules[channel]]) for g in exact]
        exact_cos = float(torch.nn.functional.cosine_similarity(flat[0], flat[1], dim=0))
        projected = []
        for seed in range(5):
            with GradientProjector(tiny_model, dim=512, seed=seed) as proj:
                tiny_model.per_example_loss(two_tracks).sum().backward()
                v = proj.collect()[channel]
            projected.append(float(torch.nn.functional.cosine_similarity(v[0], v[1], dim=0)))
        assert abs(np.mean(projected) - exact_cos) < 0.05, (channel, exact_cos, projected)


def test_weights_get_no_grad_and_flags_are_restored(tiny_model, two_tracks):
    before = {n: p.requires_grad for n, p in tiny_model.decoder.named_parameters()}
    tiny_model.decoder.zero_grad(set_to_none=True)
    with GradientProjector(tiny_model) as proj:
        tiny_model.per_example_loss(two_tracks).sum().backward()
        proj.collect()
        assert all(p.grad is None for p in tiny_model.decoder.parameters())
    assert before == {n: p.requires_grad for n, p in tiny_model.decoder.named_parameters()}


def test_collect_without_backward_fails(tiny_model):
    with GradientProjector(tiny_model) as proj, pytest.raises(RuntimeError):
        proj.collect()
