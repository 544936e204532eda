"""The kit's iteration (step.step: draws first, class chunks, taps reduced as
they are made, fused first stage) against step.reference_step, the iteration
as the paper writes it in one pass: the same loss and the same gradient on
the images, for every loss component, attention setting and chunk size."""
from __future__ import annotations

import pytest
import torch

from datadam_lib.method.augment import DSAConfig
from datadam_lib.method.config import MethodConfig
from datadam_lib.method.losses import Objective
from datadam_lib.method.models import EncoderSpec, build_encoder, reset_parameters
from datadam_lib.method.step import reference_step, step

METHODS = {
    "paper": MethodConfig(),
    "p2, l1, cosine": MethodConfig(power=2, attention_norm="l1", distance="cosine"),
    "p1, mae, every layer": MethodConfig(power=1, distance="mae", sam_layers="all"),
    "all four terms": MethodConfig(components=("sam", "mmd", "feature", "pixel")),
    "pixel only": MethodConfig(components=("pixel",), loss_scale=1.0),
}


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _both(data, method: MethodConfig, dsa, chunk: int, batch_real: int = 3):
    """(loss, grad) of reference_step and of step from the same generator state."""
    out = []
    for run in ("reference", "kit"):
        enc = build_encoder(EncoderSpec(width=8), data.channels, data.num_classes, data.im_size, _gen(0))
        enc.requires_grad_(False).train(True)
        images = data.sample(2, _gen(1)).clone().requires_grad_(True)
        obj, g = Objective(method, data.im_size), _gen(7)
        if run == "reference":
            loss = reference_step(enc, obj, data, images, batch_real, dsa, g)
        else:
            loss = step(enc, obj, data, images, batch_real, dsa, g, chunk)
        out.append((loss, images.grad, g.get_state()))
    return out


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("chunk", [1, 4])
def test_the_kits_step_is_the_reference_step(tiny_data, name, chunk):
    data = tiny_data(counts=(4, 5, 4, 6), channels=3, size=16)
    (loss_r, grad_r, state_r), (loss_k, grad_k, state_k) = _both(data, METHODS[name], DSAConfig(), chunk)
    assert torch.equal(state_r, state_k), "the two steps drew different numbers from the generator"
    assert loss_r > 0 and grad_r.abs().sum() > 0
    torch.testing.assert_close(loss_k, loss_r, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(grad_k, grad_r, rtol=1e-4, atol=1e-5 * grad_r.abs().max().item())


def test_the_reference_step_is_the_papers_formula(tiny_data):
    """No DSA, the whole class as the real batch: L = 100 (L_SAM + 0.01 L_MMD)
    with the encoder the step drew, recomputed here from main paper Sec. 3."""
    data = tiny_data(counts=(4, 4, 4), size=16)
    enc = build_encoder(EncoderSpec(width=8), data.channels, 3, data.im_size, _gen(0)).requires_grad_(False)
    images = data.sample(2, _gen(1)).clone().requires_grad_(True)
    loss = reference_step(enc, Objective(MethodConfig(), data.im_size), data, images, 4, None, _gen(3))
    drawn = build_encoder(EncoderSpec(width=8), data.channels, 3, data.im_size, _gen(0)).requires_grad_(False)
    reset_parameters(drawn, _gen(3))                     # the fresh encoder the step drew first
    for a, b in zip(enc.parameters(), drawn.parameters()):
        assert torch.equal(a, b)
    syn = images.detach().clone().requires_grad_(True)
    taps_r, emb_r = drawn.forward_features(data.x_train)
    taps_s, emb_s = drawn.forward_features(syn)

    def sam_map(f):                                      # sum_c f_c^4, flattened, L2-normalised per image
        a = f.pow(4).sum(1).flatten(1)
        return a / a.norm(dim=1, keepdim=True)

    def means(x):
        return x.view(3, -1, *x.shape[1:]).mean(1)
    l_sam = ((means(sam_map(taps_r[0])) - means(sam_map(taps_s[0]))) ** 2).sum()
    l_mmd = ((means(emb_r) - means(emb_s)) ** 2).sum()
    want = 100 * (l_sam + 0.01 * l_mmd)
    want.backward()
    torch.testing.assert_close(loss, want.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(images.grad, syn.grad, rtol=1e-4, atol=1e-5 * syn.grad.abs().max().item())
