"""DataDAM's losses (losses.py) and their composition (losses.Objective) on
small hand-computed cases."""
from __future__ import annotations

import math

import pytest
import torch

from datadam_lib.method import losses
from datadam_lib.method.config import MethodConfig
from datadam_lib.method.losses import Objective, attention_map, channel_power_sum, class_means, feature_map_loss, \
    mmd_loss, pixel_mmd_loss, sam_loss

D = torch.float64

# One sample, two channels, a 1x2 map: channel 0 = [1, -2], channel 1 = [3, 0.5].
F_1x2x1x2 = torch.tensor([[[[1.0, -2.0]], [[3.0, 0.5]]]], dtype=D)


def _by_hand(p: float) -> list[float]:
    """sum_c |f_c|^p at the two positions of F_1x2x1x2."""
    return [abs(1.0) ** p + abs(3.0) ** p, abs(-2.0) ** p + abs(0.5) ** p]


@pytest.mark.parametrize("p", [2, 4, 6])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("needs_grad", [False, True])
def test_channel_power_sum_same_on_either_layout_and_never_writes_its_input(p, layout, needs_grad):
    """The even-p fast paths (a 2-norm on channels_last, squared planes on NCHW,
    in place on a temporary when no gradient is needed) give the definition and
    leave the activations as they were."""
    g = torch.Generator().manual_seed(2)
    f = torch.randn(3, 5, 4, 4, generator=g, dtype=D).contiguous(memory_format=layout).requires_grad_(needs_grad)
    before = f.detach().clone()
    got = channel_power_sum(f, p)
    torch.testing.assert_close(got, before.pow(p).sum(1))
    assert torch.equal(f.detach(), before)
    if needs_grad:
        (grad,) = torch.autograd.grad(got.sum(), f)
        torch.testing.assert_close(grad, p * before.pow(p - 1))


@pytest.mark.parametrize("p", [2, 4, 6, 8])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_channel_power_sum_hand_written_gradient_equals_autograds(p, layout):
    """The even-p gradient p f^(p-1) g (written by hand, in place on its own
    temporaries) against autograd's through the definition, for an upstream
    gradient g that varies by position; and its own gradient (double backward)."""
    gen = torch.Generator().manual_seed(3)
    f = torch.randn(2, 3, 4, 5, generator=gen, dtype=D).contiguous(memory_format=layout).requires_grad_(True)
    g = torch.randn(2, 4, 5, generator=gen, dtype=D)
    got = channel_power_sum(f, p)
    assert type(got.grad_fn).__name__ == "_EvenPowerSumBackward"
    (grad,) = torch.autograd.grad(got, f, g)
    (want,) = torch.autograd.grad(f.pow(p).sum(1), f, g)
    torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradgradcheck(lambda t: channel_power_sum(t, p), (f.detach().clone().requires_grad_(True),))


@pytest.mark.parametrize("p", [2, 4, 6])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_channel_power_sum_on_a_scratch_tensor_gives_the_same_values(p, layout):
    """``scratch=True`` (the caller's temporary, overwritten in place) gives the
    values of the copy-making path bit for bit."""
    f = torch.randn(3, 5, 4, 4, generator=torch.Generator().manual_seed(4)).contiguous(memory_format=layout)
    want = channel_power_sum(f, p)
    got = channel_power_sum(f.clone(), p, scratch=True)
    assert torch.equal(got, want)


@pytest.mark.parametrize("p", [1, 2, 3, 4, 1.5, 6, 8])
def test_channel_power_sum_by_hand(p):
    got = channel_power_sum(F_1x2x1x2, p)
    assert got.shape == (1, 1, 2)
    torch.testing.assert_close(got.flatten(), torch.tensor(_by_hand(p), dtype=D))


@pytest.mark.parametrize("p", [1, 2, 3, 4, 1.5, 2.5, 6, 8, 16])
def test_channel_power_sum_matches_definition_on_random_data(p):
    g = torch.Generator().manual_seed(1)
    f = torch.randn(3, 5, 4, 4, generator=g, dtype=D)       # mixed signs: |.| matters for odd p
    torch.testing.assert_close(channel_power_sum(f, p), f.abs().pow(p).sum(1))


@pytest.mark.parametrize("p", [1, 2, 4, 3, 1.5])
def test_attention_map_by_hand_every_norm(p):
    a = _by_hand(p)
    l2 = math.sqrt(a[0] ** 2 + a[1] ** 2)
    l1 = a[0] + a[1]
    expect = {"none": a, "l2": [a[0] / l2, a[1] / l2], "l1": [a[0] / l1, a[1] / l1]}
    for norm, want in expect.items():
        got = attention_map(F_1x2x1x2, power=p, norm=norm)
        assert got.shape == (1, 2)                            # (N, H*W)
        torch.testing.assert_close(got, torch.tensor([want], dtype=D), msg=f"p={p} norm={norm}")


def test_attention_map_p4_l2_worked_example():
    # p = 4: [1 + 81, 16 + 1/16] = [82, 16.0625]; L2 norm sqrt(82^2 + 16.0625^2).
    n = math.hypot(82.0, 16.0625)
    torch.testing.assert_close(attention_map(F_1x2x1x2, 4, "l2"), torch.tensor([[82 / n, 16.0625 / n]], dtype=D))


def test_attention_map_defaults_are_table2():
    # Table 2: p = 4 and L2 normalisation.
    torch.testing.assert_close(attention_map(F_1x2x1x2), attention_map(F_1x2x1x2, 4.0, "l2"))


def test_attention_map_is_per_sample_and_flattens_row_major():
    g = torch.Generator().manual_seed(2)
    f = torch.randn(4, 3, 2, 3, generator=g, dtype=D)
    a = attention_map(f, 2, "l2")
    assert a.shape == (4, 6)
    torch.testing.assert_close(a.norm(dim=1), torch.ones(4, dtype=D))
    # Sample i's map depends only on sample i; position (h, w) is entry h*W + w.
    raw = (f ** 2).sum(1)
    for i in range(4):
        torch.testing.assert_close(a[i], raw[i].flatten() / raw[i].norm())
    assert torch.all(attention_map(f, 1, "l1").sum(1).sub(1).abs() < 1e-12)


def test_attention_map_of_zero_activation_is_zero_not_nan():
    z = torch.zeros(2, 3, 2, 2, dtype=D)
    for norm in ("l2", "l1", "none"):
        a = attention_map(z, 4, norm)
        assert torch.isfinite(a).all() and torch.all(a == 0)


@pytest.mark.parametrize("p", [1, 2, 3, 4, 1.5])
@pytest.mark.parametrize("norm", ["l2", "l1", "none"])
def test_attention_map_gradcheck(p, norm):
    g = torch.Generator().manual_seed(3)
    # Away from 0 so |f|^p is smooth for p = 1 and 1.5.
    f = (torch.rand(2, 3, 2, 2, generator=g, dtype=D) + 0.2) * torch.where(
        torch.rand(2, 3, 2, 2, generator=g, dtype=D) < 0.5, -1.0, 1.0)
    f.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: attention_map(t, p, norm), (f,))


# ---------------------------------------------------------------- distances

def test_mse_mae_by_hand():
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0]], dtype=D)
    b = torch.tensor([[3.0, 5.0], [1.0, -1.0]], dtype=D)
    torch.testing.assert_close(losses.DISTANCES["mse"](a, b), torch.tensor([4.0 + 9.0, 1.0 + 1.0], dtype=D))
    torch.testing.assert_close(losses.DISTANCES["mae"](a, b), torch.tensor([2.0 + 3.0, 1.0 + 1.0], dtype=D))


def test_cosine_parallel_orthogonal_opposite():
    cos = losses.DISTANCES["cosine"]
    a = torch.tensor([[1.0, 2.0, 0.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=D)
    b = torch.tensor([[2.0, 4.0, 0.0], [0.0, 3.0, 0.0], [-2.0, -2.0, -2.0]], dtype=D)
    torch.testing.assert_close(cos(a, b), torch.tensor([0.0, 1.0, 2.0], dtype=D))
    # 45 degrees: 1 - 1/sqrt(2); a true dot product, not an element-wise product.
    torch.testing.assert_close(cos(torch.tensor([[1.0, 0.0]], dtype=D), torch.tensor([[1.0, 1.0]], dtype=D)),
                               torch.tensor([1 - 1 / math.sqrt(2)], dtype=D))


def test_cosine_is_scale_invariant_and_symmetric():
    g = torch.Generator().manual_seed(4)
    a, b = torch.randn(3, 7, generator=g, dtype=D), torch.randn(3, 7, generator=g, dtype=D)
    cos = losses.DISTANCES["cosine"]
    torch.testing.assert_close(cos(a, b), cos(5 * a, 0.1 * b))
    torch.testing.assert_close(cos(a, b), cos(b, a))


# ---------------------------------------------------------------- class means and the losses

def test_class_means_class_major_layout():
    # K = 3 classes, n = 2 each, laid out as consecutive blocks.
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0],        # class 0
                      [4.0, 4.0], [6.0, 8.0],        # class 1
                      [-1.0, 0.0], [1.0, 0.0]],      # class 2
                     dtype=D)
    torch.testing.assert_close(class_means(x, 3), torch.tensor([[1.0, 2.0], [5.0, 6.0], [0.0, 0.0]], dtype=D))
    # Any trailing shape is kept.
    x4 = torch.arange(2 * 3 * 1 * 2 * 2, dtype=D).view(6, 1, 2, 2)
    m = class_means(x4, 2)
    assert m.shape == (2, 1, 2, 2)
    torch.testing.assert_close(m[1], x4[3:].mean(0))


def test_sam_loss_by_hand_every_distance():
    # Two layers, K = 2 classes; layer maps of different lengths.
    r1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=D)
    s1 = torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=D)
    r2 = torch.tensor([[1.0, 1.0, 1.0], [3.0, 0.0, 0.0]], dtype=D)
    s2 = torch.tensor([[2.0, 2.0, 2.0], [0.0, 0.0, 4.0]], dtype=D)
    # mse: layer 1: 1 + 1; layer 2: 3 + (9 + 16)
    torch.testing.assert_close(sam_loss([r1, r2], [s1, s2], "mse"), torch.tensor(1 + 1 + 3 + 25.0, dtype=D))
    # mae: layer 1: 1 + 1; layer 2: 3 + (3 + 4)
    torch.testing.assert_close(sam_loss([r1, r2], [s1, s2], "mae"), torch.tensor(1 + 1 + 3 + 7.0, dtype=D))
    # cosine: layer 1: class 0 vs zero vector -> 1 (eps), class 1 parallel -> 0;
    # layer 2: parallel -> 0, orthogonal -> 1
    torch.testing.assert_close(sam_loss([r1, r2], [s1, s2], "cosine"), torch.tensor(2.0, dtype=D))


def test_sam_loss_rejects_mismatched_layer_lists():
    r = [torch.zeros(2, 3)]
    with pytest.raises(ValueError):
        sam_loss(r, r + r)


def test_mmd_loss_by_hand():
    real = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=D)
    syn = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=D)
    # (0 + 4 + 9) + (1 + 1 + 1)
    torch.testing.assert_close(mmd_loss(real, syn), torch.tensor(16.0, dtype=D))
    assert mmd_loss(real, real).item() == 0.0


def test_feature_maps_are_flattened_and_unit_length_per_image():
    from datadam_lib.method.losses import feature_map
    f = torch.tensor([[[[3.0, 0.0]], [[0.0, 4.0]]], [[[0.0, 0.0]], [[0.0, 2.0]]]], dtype=D)   # (2, 2, 1, 2)
    torch.testing.assert_close(feature_map(f), torch.tensor([[0.6, 0.0, 0.0, 0.8], [0.0, 0.0, 0.0, 1.0]], dtype=D))


def test_feature_map_loss_by_hand():
    r = [torch.ones(2, 1, 2, 2, dtype=D), torch.zeros(2, 3, 1, 1, dtype=D)]
    s = [torch.zeros(2, 1, 2, 2, dtype=D), torch.full((2, 3, 1, 1), 2.0, dtype=D)]
    # 8 entries of (1-0)^2 + 6 entries of (0-2)^2
    torch.testing.assert_close(feature_map_loss(r, s), torch.tensor(8.0 + 24.0, dtype=D))


def test_pixel_mmd_by_hand():
    # K = 2 classes; real n = 2, synthetic n = 1; 1x1x2 images.
    real = torch.tensor([[1.0, 3.0], [3.0, 5.0],       # class 0, mean [2, 4]
                         [0.0, 0.0], [2.0, 2.0]],      # class 1, mean [1, 1]
                        dtype=D).view(4, 1, 1, 2)
    syn = torch.tensor([[2.0, 2.0], [1.0, 4.0]], dtype=D).view(2, 1, 1, 2)
    # class 0: (0)^2 + (2)^2 ; class 1: 0 + 9
    torch.testing.assert_close(pixel_mmd_loss(real, syn, 2), torch.tensor(13.0, dtype=D))


def test_only_class_means_matter_not_pairing():
    g = torch.Generator().manual_seed(5)
    real = torch.randn(6, 4, generator=g, dtype=D)
    syn = torch.randn(4, 4, generator=g, dtype=D)
    perm_within_class = torch.tensor([2, 0, 1, 4, 5, 3])
    a = mmd_loss(class_means(real, 2), class_means(syn, 2))
    b = mmd_loss(class_means(real[perm_within_class], 2), class_means(syn[[1, 0, 3, 2]], 2))
    torch.testing.assert_close(a, b)


# ---------------------------------------------------------------- the objective

def test_lambda_table2_and_override():
    m = MethodConfig()
    assert m.lambda_for(32) == 0.01 and m.lambda_for(28) == 0.01
    assert m.lambda_for(64) == 0.02 and m.lambda_for(128) == 0.02
    assert MethodConfig(task_balance=0.5).lambda_for(32) == 0.5


def test_objective_layers():
    o = Objective(MethodConfig(), 32)
    assert o.layers(3) == [0, 1]               # all_but_last (released default)
    assert o.layers(1) == []                   # depth 1: no layer but the last, so no SAM term (as released)
    assert Objective(MethodConfig(sam_layers="all"), 32).layers(3) == [0, 1, 2]
    assert Objective(MethodConfig(sam_layers=(1, 3)), 32).layers(3) == [0, 2]
    with pytest.raises(ValueError, match="out of range"):
        Objective(MethodConfig(sam_layers=(4,)), 32).layers(3)


def test_objective_rejects_unknown_or_empty_components():
    # refused where the config is made (MethodConfig.__post_init__), before any Objective
    with pytest.raises(ValueError, match=r"components=\('sam', 'kl'\) is invalid: expected a non-empty tuple"):
        MethodConfig(components=("sam", "kl"))
    with pytest.raises(ValueError, match=r"components=\(\) is invalid"):
        MethodConfig(components=())


@pytest.mark.parametrize("power,norm,distance", [(4.0, "l2", "mse"), (1.0, "l1", "mae"), (3.0, "none", "cosine"),
                                                 (1.5, "l2", "mse")])
def test_objective_loss_equals_formula(power, norm, distance):
    """loss_scale * (L_SAM + lambda * L_MMD + L_feature + L_pixel) from
    class-major taps, built here from the primitive definitions."""
    g = torch.Generator().manual_seed(6)
    K, nr, ns = 2, 3, 2
    taps_r = [torch.randn(K * nr, 4, 4, 4, generator=g, dtype=D), torch.randn(K * nr, 4, 2, 2, generator=g, dtype=D),
              torch.randn(K * nr, 4, 1, 1, generator=g, dtype=D)]
    taps_s = [torch.randn(K * ns, *t.shape[1:], generator=g, dtype=D) for t in taps_r]
    emb_r, emb_s = torch.randn(K * nr, 5, generator=g, dtype=D), torch.randn(K * ns, 5, generator=g, dtype=D)
    img_r, img_s = torch.randn(K * nr, 1, 2, 2, generator=g, dtype=D), torch.randn(K * ns, 1, 2, 2, generator=g, dtype=D)
    m = MethodConfig(power=power, attention_norm=norm, distance=distance, components=("sam", "mmd", "feature", "pixel"),
                     loss_scale=3.0)
    o = Objective(m, im_size=64)                                  # lambda 0.02 above 32 px
    got = o.loss(o.statistics(img_r, taps_r, emb_r, K), o.statistics(img_s, taps_s, emb_s, K))

    def cm(t, n):
        return t.reshape(K, n, *t.shape[1:]).mean(1)

    def amap(t):
        a = t.abs().pow(power).sum(1).flatten(1)
        if norm == "l2":
            a = a / a.norm(dim=1, keepdim=True)
        elif norm == "l1":
            a = a / a.sum(1, keepdim=True)
        return a

    def dist(a, b):
        if distance == "mse":
            return ((a - b) ** 2).sum()
        if distance == "mae":
            return (a - b).abs().sum()
        return (1 - (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).sum()

    sam = sum(dist(cm(amap(r), nr), cm(amap(s), ns)) for r, s in zip(taps_r[:2], taps_s[:2]))   # all but last
    mmd = ((cm(emb_r, nr) - cm(emb_s, ns)) ** 2).sum()
    unit = lambda t: t.flatten(1) / t.flatten(1).norm(dim=1, keepdim=True)  # noqa: E731
    feat = sum(((cm(unit(r), nr) - cm(unit(s), ns)) ** 2).sum() for r, s in zip(taps_r[:2], taps_s[:2]))
    pix = ((cm(img_r.flatten(1), nr) - cm(img_s.flatten(1), ns)) ** 2).sum()
    torch.testing.assert_close(got, 3.0 * (sam + 0.02 * mmd + feat + pix))


def test_objective_component_subsets():
    g = torch.Generator().manual_seed(7)
    taps = [torch.randn(4, 2, 2, 2, generator=g, dtype=D), torch.randn(4, 2, 1, 1, generator=g, dtype=D)]
    emb, img = torch.randn(4, 3, generator=g, dtype=D), torch.randn(4, 1, 2, 2, generator=g, dtype=D)
    dm = Objective(MethodConfig(components=("mmd",)), 32)
    stats = dm.statistics(img, taps, emb, 2)
    assert set(stats) == {"mmd"}
    assert dm.needs_encoder
    pix = Objective(MethodConfig(components=("pixel",)), 32)
    assert not pix.needs_encoder
    assert set(pix.statistics(img, None, None, 2)) == {"pixel"}
    # DataDAM's default statistics: one SAM map per chosen layer and the embedding mean.
    dam = Objective(MethodConfig(), 32)
    s = dam.statistics(img, taps, emb, 2)
    assert set(s) == {"sam", "mmd"} and len(s["sam"]) == 1 and s["sam"][0].shape == (2, 4)
    assert dam.loss(s, s).item() == 0.0
