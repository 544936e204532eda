"""Differentiable siamese augmentation (augment.py): every op against a direct
computation, siamese sharing, per-sample evaluation mode, differentiability."""
from __future__ import annotations

import math

import pytest
import torch

from datadam_lib.method.augment import OPS, DSAConfig, apply, per_sample, sample, siamese, warp

CFG = DSAConfig()
OP = {name: i for i, name in enumerate(CFG.ops)}
D = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def images(n: int, c: int = 3, size: int = 16, seed: int = 0, dtype=D) -> torch.Tensor:
    return torch.rand(n, c, size, size, generator=gen(seed), dtype=dtype) + 0.1   # no exact zeros


def forced(op: str, n: int, size: int, seed: int = 0, **values) -> dict:
    """Parameters with every row on ``op`` and some fields set by hand."""
    p = sample(CFG, n, size, gen(seed), op=OP[op])
    for k, v in values.items():
        p[k] = torch.as_tensor(v).expand_as(p[k]).clone().to(p[k].dtype)
    return p


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Content moved by dx pixels along W and dy along H, zeros shifted in."""
    out = torch.zeros_like(x)
    H, W = x.shape[-2:]
    out[..., max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        x[..., max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return out


# ---------------------------------------------------------------- sampling

def test_table2_defaults():
    assert (CFG.brightness, CFG.saturation, CFG.contrast) == (1.0, 2.0, 0.5)
    assert (CFG.crop, CFG.cutout, CFG.flip, CFG.scale, CFG.rotate) == (0.125, 0.5, 0.5, 1.2, 15.0)
    assert CFG.ops == ("color", "crop", "cutout", "flip", "scale", "rotate")


def test_sample_ranges_and_shapes():
    n, size = 4000, 32
    p = sample(CFG, n, size, gen(0))
    assert set(p) == {"op", "brightness", "saturation", "contrast", "crop", "cutout", "flip", "scale", "rotate"}
    assert p["op"].shape == (n,) and set(p["op"].tolist()) == set(range(len(OPS)))
    assert p["brightness"].min() >= -0.5 and p["brightness"].max() <= 0.5
    assert p["saturation"].min() >= 0 and p["saturation"].max() <= 2.0
    assert p["contrast"].min() >= 0.5 and p["contrast"].max() <= 1.5
    assert p["crop"].shape == (n, 2) and p["crop"].dtype == torch.long
    assert set(p["crop"].flatten().tolist()) == set(range(-4, 5))          # 1/8 of 32 px
    assert p["cutout"].shape == (n, 2) and p["cutout"].min() >= 0 and p["cutout"].max() <= size
    assert p["flip"].dtype == torch.bool and 0.45 < p["flip"].float().mean() < 0.55
    assert p["scale"].shape == (n, 2) and p["scale"].min() >= 1 / 1.2 and p["scale"].max() <= 1.2
    assert p["rotate"].abs().max() <= math.radians(15) + 1e-7
    assert p["rotate"].abs().max() > math.radians(14)


def test_sample_is_deterministic_and_forced_op():
    a, b = sample(CFG, 8, 16, gen(3)), sample(CFG, 8, 16, gen(3))
    assert all(torch.equal(a[k], b[k]) for k in a)
    c = sample(CFG, 8, 16, gen(4))
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert torch.all(sample(CFG, 8, 16, gen(3), op=2)["op"] == 2)


def test_unknown_op_is_rejected():
    with pytest.raises(ValueError, match=r"ops=\('color', 'blur'\) is invalid: expected .*distinct names from"):
        DSAConfig(ops=("color", "blur"))


# ---------------------------------------------------------------- each op against a direct computation

def test_color_formulas():
    x = images(5, c=3, size=8, seed=1)
    p = forced("color", 5, 8, seed=2)
    b, s, c = (p[k].to(D)[:, None, None, None] for k in ("brightness", "saturation", "contrast"))
    want = x + b                                                         # brightness
    m = want.mean(dim=1, keepdim=True)
    want = (want - m) * s + m                                            # saturation around the channel mean
    m = want.mean(dim=(1, 2, 3), keepdim=True)
    want = (want - m) * c + m                                            # contrast around the image mean
    torch.testing.assert_close(apply(x, p, CFG), want, atol=1e-5, rtol=0)


def test_brightness_alone_adds_a_constant():
    x = images(2, c=3, size=4, seed=1)
    p = forced("color", 2, 4, brightness=0.25, saturation=1.0, contrast=1.0)
    torch.testing.assert_close(apply(x, p, CFG), x + 0.25, atol=1e-5, rtol=0)
    # saturation 0: every channel becomes the channel mean (grey)
    p = forced("color", 2, 4, brightness=0.0, saturation=0.0, contrast=1.0)
    torch.testing.assert_close(apply(x, p, CFG), x.mean(1, keepdim=True).expand_as(x), atol=1e-5, rtol=0)
    # contrast 0.5: halfway to the image mean
    p = forced("color", 2, 4, brightness=0.0, saturation=1.0, contrast=0.5)
    m = x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(apply(x, p, CFG), (x + m) / 2, atol=1e-5, rtol=0)


def test_crop_is_an_integer_shift_with_zero_fill():
    size = 16
    x = images(6, c=2, size=size, seed=3)
    p = forced("crop", 6, size, seed=4)
    p["crop"][:3] = torch.tensor([[2, 0], [0, -2], [-1, 2]])            # hand-picked (dx, dy) plus random rows
    out = apply(x, p, CFG)
    for r in range(6):
        dx, dy = p["crop"][r].tolist()
        torch.testing.assert_close(out[r], shift(x[r], dx, dy), atol=1e-5, rtol=0, msg=f"row {r}: {dx, dy}")
    assert p["crop"].abs().max() <= 2                                    # 1/8 of 16 px


def test_cutout_zeroes_a_square_of_half_the_side():
    size = 16
    x = images(4, c=3, size=size, seed=5)
    p = forced("cutout", 4, size)
    p["cutout"] = torch.tensor([[8, 8], [4, 12], [0, 16], [3, 9]])       # (row, column) centres
    out = apply(x, p, CFG)
    for r, (cy, cx) in enumerate(p["cutout"].tolist()):
        hole = torch.zeros(size, size, dtype=torch.bool)
        hole[max(cy - 4, 0):min(cy + 4, size), max(cx - 4, 0):min(cx + 4, size)] = True
        assert torch.all(out[r][:, hole] == 0)
        torch.testing.assert_close(out[r][:, ~hole], x[r][:, ~hole], atol=1e-5, rtol=0)
    # an interior centre cuts exactly (size/2)^2 pixels per channel; a corner one a quarter of that
    assert int((out[0, 0] == 0).sum()) == 8 * 8
    assert int((out[2, 0] == 0).sum()) == 4 * 4


def test_flip_equals_torch_flip_for_rows_that_flip():
    x = images(8, c=3, size=10, seed=6)
    p = forced("flip", 8, 10)
    p["flip"] = torch.tensor([True, False] * 4)
    out = apply(x, p, CFG)
    torch.testing.assert_close(out[0::2], torch.flip(x[0::2], dims=[-1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1::2], x[1::2], atol=1e-5, rtol=0)


def _coords(size: int) -> torch.Tensor:
    """grid_sample's normalised coordinates of the pixel centres (align_corners=True)."""
    return torch.linspace(-1, 1, size, dtype=D)


def test_scale_by_hand_on_linear_ramps():
    # Bilinear sampling is exact on linear images: a ramp u(x) = x becomes s_x * x.
    size = 17
    xs = _coords(size)
    ramp_x = xs.view(1, 1, 1, size).expand(1, 1, size, size)
    ramp_y = xs.view(1, 1, size, 1).expand(1, 1, size, size)
    x = torch.cat([ramp_x, ramp_y]).clone()
    p = forced("scale", 2, size)
    p["scale"] = torch.tensor([[0.9, 0.95], [0.97, 0.85]])   # zoom in: every sample inside
    out = apply(x, p, CFG)
    torch.testing.assert_close(out[0, 0], 0.9 * ramp_x[0, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1, 0], 0.85 * ramp_y[0, 0], atol=1e-5, rtol=0)
    # zoomed out (s > 1): inside the sampled range still s * x, zero beyond it
    inside = (1.2 * xs).abs() <= 1
    p["scale"] = torch.tensor([[1.2, 1.0], [1.0, 1.2]])
    out = apply(x, p, CFG)
    torch.testing.assert_close(out[0, 0][:, inside], (1.2 * ramp_x[0, 0])[:, inside], atol=1e-5, rtol=0)
    assert torch.all(out[0, 0][:, (1.2 * xs).abs() > 1 + 2 / (size - 1)] == 0)
    torch.testing.assert_close(out[1, 0][inside, :], (1.2 * ramp_y[0, 0])[inside, :], atol=1e-5, rtol=0)


def test_rotate_by_hand_on_a_linear_ramp():
    size = 21
    xs = _coords(size)
    X, Y = xs.view(1, size).expand(size, size), xs.view(size, 1).expand(size, size)
    x = X.expand(3, 1, size, size).clone()
    p = forced("rotate", 3, size)
    p["rotate"] = torch.tensor([math.radians(15), math.radians(-7), 0.0])
    out = apply(x, p, CFG)
    for r, a in enumerate(p["rotate"].tolist()):
        u, v = math.cos(a) * X + math.sin(a) * Y, -math.sin(a) * X + math.cos(a) * Y   # where each pixel samples
        inside = (u.abs() <= 1) & (v.abs() <= 1)
        assert inside.float().mean() > 0.6
        torch.testing.assert_close(out[r, 0][inside], u[inside], atol=1e-5, rtol=0)
    # the centre pixel is fixed by a rotation
    assert abs(out[0, 0, size // 2, size // 2]) < 1e-6


NEUTRAL = {"color": dict(brightness=0.0, saturation=1.0, contrast=1.0), "crop": dict(crop=0),
           "flip": dict(flip=False), "scale": dict(scale=1.0), "rotate": dict(rotate=0.0)}


@pytest.mark.parametrize("op", sorted(NEUTRAL))
def test_ops_not_chosen_leave_images_unchanged(op):
    """With the chosen op at its neutral magnitude, the (random) magnitudes of
    every other op must have no effect."""
    x = images(6, c=3, size=12, seed=7)
    p = forced(op, 6, 12, seed=8, **NEUTRAL[op])
    torch.testing.assert_close(apply(x, p, CFG), x, atol=1e-5, rtol=0)


def test_cutout_rows_only_change_the_hole():
    x = images(6, c=3, size=12, seed=9)
    p = forced("cutout", 6, 12, seed=10)
    out = apply(x, p, CFG)
    changed = (out - x).abs() > 1e-5
    assert torch.all(out[changed] == 0)
    assert torch.all(changed.sum(dim=(1, 2, 3)) > 0)


def test_rows_are_independent_in_a_mixed_batch():
    """Rows that picked different ops in one batch: each row equals the same
    row applied on its own (through ``rows``)."""
    x = images(12, c=3, size=12, seed=11)
    p = sample(CFG, 12, 12, gen(12))
    assert len(set(p["op"].tolist())) >= 4
    out = apply(x, p, CFG)
    for r in range(12):
        torch.testing.assert_close(out[r:r + 1], apply(x[r:r + 1], p, CFG, rows=torch.tensor([r])),
                                   atol=1e-10, rtol=0)


def test_ops_subset_config():
    x = images(4, c=1, size=8, seed=13)
    only_flip = DSAConfig(ops=("flip",), flip=1.0)
    p = sample(only_flip, 4, 8, gen(0))
    assert torch.all(p["op"] == 0)
    torch.testing.assert_close(apply(x, p, only_flip), torch.flip(x, dims=[-1]), atol=1e-5, rtol=0)
    only_color = DSAConfig(ops=("color",))
    p = sample(only_color, 4, 8, gen(0))
    assert not torch.allclose(apply(x, p, only_color), x)


# ---------------------------------------------------------------- differentiability

@pytest.mark.parametrize("op", OPS)
def test_every_op_is_differentiable(op):
    x = images(2, c=2, size=6, seed=14).requires_grad_(True)
    p = sample(CFG, 2, 6, gen(15), op=OP[op])
    if op == "flip":
        p["flip"] = torch.tensor([True, False])
    assert torch.autograd.gradcheck(lambda t: apply(t, p, CFG), (x,))
    w = torch.randn(2, 2, 6, 6, generator=gen(16), dtype=D)
    (apply(x, p, CFG) * w).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("size", [(8, 8), (7, 10)])
def test_deterministic_warp_has_grid_samples_forward_and_gradient(size):
    """The CUDA path's atomic-free backward (augment.warp) is the transpose of
    bilinear sampling: on DSA's own affine maps (crop, flip, scale, rotate
    rows) and on arbitrary maps reaching outside the image, forward and input
    gradient equal grid_sample's in float64."""
    n, (h, w) = 8, size
    x = torch.randn(n, 3, h, w, generator=gen(40), dtype=D, requires_grad=True)
    rows = sample(CFG, n, w, gen(41))
    rows["op"] = torch.tensor([OP[o] for o in ("crop", "flip", "scale", "rotate")] * 2)
    rows["flip"] = torch.ones(n, dtype=torch.bool)
    from datadam_lib.method.augment import _affine
    dsa = _affine(rows, CFG.ops, w).to(D)
    wild = torch.eye(2, 3, dtype=D) + 0.4 * torch.randn(n, 2, 3, generator=gen(42), dtype=D)
    g_out = torch.randn(n, 3, h, w, generator=gen(43), dtype=D)
    for theta in (dsa, wild):
        grid = torch.nn.functional.affine_grid(theta, [n, 3, h, w], align_corners=True)
        ref = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        out = warp(x, grid, deterministic=True)
        assert torch.equal(out, ref)
        (a,), (b,) = torch.autograd.grad(ref, x, g_out), torch.autograd.grad(out, x, g_out)
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
        assert a.abs().sum() > 0


def test_warp_takes_the_atomic_free_path_only_where_asked_and_a_gradient_is_needed():
    x = torch.rand(2, 1, 5, 5, generator=gen(44), dtype=D)
    grid = torch.nn.functional.affine_grid(torch.eye(2, 3, dtype=D).repeat(2, 1, 1), [2, 1, 5, 5], align_corners=True)
    assert warp(x, grid, deterministic=True).grad_fn is None              # no gradient: plain grid_sample
    y = warp(x.requires_grad_(True), grid, deterministic=True)
    assert type(y.grad_fn).__name__ == "_DeterministicWarpBackward"
    assert "GridSampler" in type(warp(x, grid).grad_fn).__name__         # CPU default: grid_sample
    assert torch.allclose(y, x)                                           # identity map


def test_siamese_is_differentiable_for_the_synthetic_batch():
    real = images(6, c=1, size=8, seed=17, dtype=torch.float32)
    syn = images(2, c=1, size=8, seed=18, dtype=torch.float32).requires_grad_(True)
    r, s = siamese(CFG, [real, syn], sample(CFG, 2, 8, gen(0)))
    (s.sum() + r.sum()).backward()
    assert torch.isfinite(syn.grad).all() and syn.grad.abs().sum() > 0


# ---------------------------------------------------------------- siamese and per-sample use

def test_siamese_same_transform_per_class_for_real_and_synthetic():
    K, size = 6, 12
    z = images(1, c=3, size=size, seed=19, dtype=torch.float32)
    real, syn = z.expand(K * 3, -1, -1, -1).clone(), z.expand(K * 2, -1, -1, -1).clone()
    differs = False
    for seed in range(3):
        r, s = siamese(CFG, [real, syn], sample(CFG, K, size, gen(seed)))
        r, s = r.view(K, 3, *z.shape[1:]), s.view(K, 2, *z.shape[1:])
        for k in range(K):
            for j in range(3):
                assert torch.equal(r[k, j], r[k, 0])
            for j in range(2):
                assert torch.equal(s[k, j], r[k, 0])
        differs |= any(not torch.allclose(r[k, 0], r[0, 0]) for k in range(1, K))
    assert differs, "every class got the same transform"


def test_siamese_same_transform_for_different_images_of_a_class():
    K = 4
    real = images(K * 3, c=3, size=12, seed=20, dtype=torch.float32)
    syn = real.view(K, 3, 3, 12, 12)[:, :2].reshape(K * 2, 3, 12, 12).clone()   # the first 2 real images per class
    r, s = siamese(CFG, [real, syn], sample(CFG, K, 12, gen(21)))
    torch.testing.assert_close(s.view(K, 2, 3, 12, 12), r.view(K, 3, 3, 12, 12)[:, :2], atol=0, rtol=0)


def test_siamese_is_deterministic():
    x = images(8, c=1, size=8, seed=22, dtype=torch.float32)
    a = siamese(CFG, [x], sample(CFG, 4, 8, gen(5)))[0]
    b = siamese(CFG, [x], sample(CFG, 4, 8, gen(5)))[0]
    assert torch.equal(a, b)


def test_siamese_on_a_slice_of_classes_uses_their_rows():
    """step.step augments class chunks lo..hi-1 with rows lo..hi-1 of
    parameters drawn for every class: the same images as augmenting all."""
    K = 5
    x = images(K * 2, c=1, size=8, seed=25, dtype=torch.float32)
    p = sample(CFG, K, 8, gen(6))
    whole = siamese(CFG, [x], p)[0]
    part = siamese(CFG, [x[4:8]], p, classes=(2, 4))[0]
    torch.testing.assert_close(part, whole[4:8], atol=0, rtol=0)


def test_per_sample_draws_per_image_parameters():
    z = images(1, c=3, size=12, seed=23, dtype=torch.float32)
    x = z.expand(16, -1, -1, -1).clone()
    for seed in range(6):
        out = per_sample(CFG, x, gen(seed))
        assert out.shape == x.shape
        distinct = {tuple(o.flatten().tolist()) for o in out}
        assert len(distinct) > 1, f"seed {seed}: all 16 identical images came out identical"
    torch.testing.assert_close(per_sample(CFG, x, gen(3)), per_sample(CFG, x, gen(3)), atol=0, rtol=0)


def test_per_sample_uses_one_op_for_the_batch():
    # With only colour and cutout enabled, rows cannot mix them: either every
    # row has a zero square (cutout) or no row has an exact zero (colour of
    # positive images keeps them non-zero almost surely).
    cfg = DSAConfig(ops=("color", "cutout"))
    x = images(12, c=1, size=8, seed=24, dtype=torch.float32)
    kinds = set()
    for seed in range(8):
        out = per_sample(cfg, x, gen(seed))
        has_hole = (out == 0).flatten(1).any(1)
        assert has_hole.all() or not has_hole.any()
        kinds.add(bool(has_hole.all()))
    assert kinds == {True, False}
