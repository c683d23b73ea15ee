"""The model object: codes, delay pattern, teacher-forced loss, channels."""

from __future__ import annotations

import math

import torch

from lumina.demo.synth import random_music


def test_music_uses_many_codes_per_codebook(tiny_model):
    audio = torch.from_numpy(random_music(10.0, tiny_model.sample_rate, seed=7))[None]
    codes = tiny_model.encode(audio)
    assert codes.shape == (1, tiny_model.num_codebooks, 500)
    for k in range(tiny_model.num_codebooks):
        assert len(torch.unique(codes[0, k])) >= 64, f"codebook {k} collapsed"


def test_delay_pattern_places_every_code_once(tiny_model):
    b, k, t = 2, tiny_model.num_codebooks, 30
    codes = torch.randint(0, tiny_model.card, (b, k, t))
    inputs, targets = tiny_model.delayed_sequence(codes)
    assert inputs.shape == (b * k, t + k - 1)
    assert targets.shape == (b, k, t + k - 1)
    pad = tiny_model.pad_token_id
    for cb in range(k):
        valid = targets[:, cb] != pad
        assert int(valid.sum()) == b * t  # every code is a target exactly once
        # codebook cb is delayed by cb steps: code j is the target at position cb + j
        assert torch.equal(targets[:, cb, cb:cb + t], codes[:, cb])
    # the input is the target shifted by one (teacher forcing)
    assert torch.equal(inputs.reshape(b, k, -1)[..., 1:], targets[..., :-1])


def test_untrained_loss_is_near_uniform_and_per_example(tiny_model):
    codes = torch.randint(0, tiny_model.card, (3, tiny_model.num_codebooks, 40))
    loss = tiny_model.per_example_loss(codes)
    assert loss.shape == (3,)
    assert torch.all((loss - math.log(tiny_model.card)).abs() < 0.5)
    single = tiny_model.per_example_loss(codes[1:2])
    assert torch.allclose(single, loss[1:2], rtol=1e-5)


def test_channels_are_disjoint_and_skip_cross_attention(tiny_model):
    comp = tiny_model.channel_modules("composition")
    prod = tiny_model.channel_modules("production")
    assert set(comp).isdisjoint(prod)
    assert not any("encoder_attn" in name for name in [*comp, *prod])
    assert all(".self_attn." in name for name in comp)
    assert len(comp) == 4 * tiny_model.decoder.config.num_hidden_layers
    assert len(prod) == tiny_model.num_codebooks
    comp_params = {id(m.weight) for m in comp.values()}
    prod_params = {id(m.weight) for m in prod.values()}
    assert comp_params.isdisjoint(prod_params)


def test_null_conditioning_gives_no_gradient_to_cross_attention(tiny_model):
    codes = torch.randint(0, tiny_model.card, (1, tiny_model.num_codebooks, 20))
    tiny_model.decoder.zero_grad()
    tiny_model.per_example_loss(codes).sum().backward()
    for name, param in tiny_model.decoder.named_parameters():
        if "encoder_attn.k_proj" in name or "encoder_attn.q_proj" in name:
            assert param.grad is None or float(param.grad.abs().max()) == 0.0, name
    tiny_model.decoder.zero_grad(set_to_none=True)
