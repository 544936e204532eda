"""The attention explorer (kit/widgets.py): its maps and L_SAM against hand
computations and against distillation's own loss, the widget callbacks
driven as a reader would, and the kernel-less HTML explorer's data."""
from __future__ import annotations

import base64
import json
import re

import pytest
import torch

from datadam_lib.kit import widgets
from datadam_lib.kit.widgets import NORMS, POWERS, AttentionLab, Explorer
from datadam_lib.method.config import MethodConfig
from datadam_lib.method.losses import Objective
from datadam_lib.method.models import EncoderSpec, build_encoder

K, N_REAL, N_SYN = 2, 3, 2


@pytest.fixture(scope="module")
def lab():
    g = torch.Generator().manual_seed(0)
    enc = build_encoder(EncoderSpec(width=8, depth=3), 1, K, 16, torch.Generator().manual_seed(1))
    real = torch.randn(K * N_REAL, 1, 16, 16, generator=g)
    syn = torch.randn(K * N_SYN, 1, 16, 16, generator=g)
    noise = 3 * torch.randn(K * N_SYN, 1, 16, 16, generator=g)
    return AttentionLab.build(enc, real[:1], real[0].sigmoid(), "zero", 0,
                              {"real": real, "syn": syn, "noise": noise}, K, (0, 1), chunk=4)


def _taps(lab, x):
    with torch.no_grad():
        return lab.encoder.forward_features(x)[0]


def _hand_map(tap, p, norm):
    """sum_c |f_c|^p, flattened, normalised per image, by hand."""
    a = (tap.double().abs() ** p).sum(1).flatten(1)
    if norm == "l2":
        a = a / a.pow(2).sum(1, keepdim=True).sqrt()
    elif norm == "l1":
        a = a / a.sum(1, keepdim=True)
    return a


def _display(a, h, w):
    """plots.attention_maps's display scale: min to the 99th percentile, clipped."""
    lo, hi = a.min(), torch.quantile(a, 0.99)
    return ((a - lo) / (hi - lo)).clamp(0, 1).view(h, w)


@pytest.mark.parametrize("p, norm", [(1, "l1"), (4, "l2"), (8, "none"), (3, "l2")])
def test_maps_are_the_channel_power_sums_normalised(lab, p, norm):
    taps = _taps(lab, lab.image)
    got = lab.maps(p, norm)
    assert [tuple(m.shape) for m in got] == [(16, 16), (8, 8), (4, 4)] == [tuple(s) for s in lab.shapes]
    for m, t in zip(got, taps):
        want = _display(_hand_map(t, p, norm)[0].float(), *t.shape[-2:])
        torch.testing.assert_close(m, want, atol=1e-4, rtol=1e-4)
    # the display scale is per image, so it hides the normalisation; the peaks show it
    assert lab.peaks(p, norm) == pytest.approx([float(_hand_map(t, p, norm).max()) for t in taps], rel=1e-4)


@pytest.mark.parametrize("p, norm", [(1, "l2"), (4, "l2"), (2, "l1"), (6, "none")])
def test_sam_is_distillations_own_loss_on_the_same_batches(lab, p, norm):
    """L_SAM of the explorer == losses.Objective's loss with only the SAM
    term (x1), over the same layers, on the same images; and == a hand sum."""
    m = MethodConfig(power=float(p), attention_norm=norm, components=("sam",), loss_scale=1.0)
    obj = Objective(m, 16)
    assert tuple(obj.layers(3)) == lab.sam_layers
    g = torch.Generator().manual_seed(0)   # the fixture's batches, made again
    real = torch.randn(K * N_REAL, 1, 16, 16, generator=g)
    syn = torch.randn(K * N_SYN, 1, 16, 16, generator=g)
    with torch.no_grad():
        want = obj.loss(obj.statistics(real, _taps(lab, real), None, K), obj.statistics(syn, _taps(lab, syn), None, K))
    got = lab.sam(p, norm)
    assert set(got) == {"syn", "noise"}
    assert got["syn"] == pytest.approx(float(want), rel=1e-4)
    hand = 0.0
    for l in lab.sam_layers:
        r = _hand_map(_taps(lab, real)[l], p, norm).view(K, N_REAL, -1).mean(1)
        s = _hand_map(_taps(lab, syn)[l], p, norm).view(K, N_SYN, -1).mean(1)
        hand += float((r - s).pow(2).sum())
    assert got["syn"] == pytest.approx(hand, rel=1e-4)
    terms = lab.sam_terms(p, norm)["syn"]
    assert terms[2] is None and sum(terms[:2]) == pytest.approx(got["syn"])   # the last layer is left out


def test_bad_states_and_batches_are_refused(lab):
    with pytest.raises(ValueError, match="p in 1..8"):
        lab.maps(9, "l2")
    with pytest.raises(ValueError, match="choose one of"):
        lab.sam(4, "l3")
    with pytest.raises(ValueError, match="layers 1..3"):
        lab.class_means(4, "l2", 3)
    with pytest.raises(ValueError, match="class-major"):
        AttentionLab.build(lab.encoder, lab.image, lab.pixels, "zero", 0,
                           {"real": torch.zeros(K * N_REAL, 1, 16, 16), "syn": torch.zeros(3, 1, 16, 16)}, K, (0, 1))
    with pytest.raises(ValueError, match="real batch"):
        AttentionLab.build(lab.encoder, lab.image, lab.pixels, "zero", 0, {"syn": torch.zeros(2, 1, 16, 16)}, K, (0,))


def _drawn_maps(fig):
    """The attention maps an attention_panel figure shows (row 0 is the image)."""
    return [torch.tensor(ax.get_images()[0].get_array()) for ax in fig.axes[1:]]


def test_the_widget_redraws_the_maps_and_the_loss_as_the_sliders_move(lab):
    ex = Explorer(lab)
    assert (ex.power.value, ex.norm.value, ex.layer.value) == (4, "l2", 1)
    assert (ex.power.min, ex.power.max, list(ex.norm.options), ex.layer.max) == (1, 8, list(NORMS), 3)
    for drawn, want in zip(_drawn_maps(ex.figures["maps"]), lab.maps(4, "l2")):
        torch.testing.assert_close(drawn.float(), want)
    before = _drawn_maps(ex.figures["maps"])

    ex.power.value = 1                                   # the reader moves p
    after = _drawn_maps(ex.figures["maps"])
    for drawn, want in zip(after, lab.maps(1, "l2")):
        torch.testing.assert_close(drawn.float(), want)
    assert any(not torch.allclose(a, b) for a, b in zip(before, after))
    assert f"L_SAM(real, syn) = {lab.sam(1, 'l2')['syn']:.4g}" in ex.text.value

    ex.norm.value = "none"                               # then the normalisation
    assert [ax.get_xlabel() for ax in ex.figures["maps"].axes[1:]] == [f"max {v:.2g}" for v in lab.peaks(1, "none")]
    assert f"L_SAM(real, noise) = {lab.sam(1, 'none')['noise']:.4g}" in ex.text.value
    assert f"layer 1: {lab.sam_terms(1, 'none')['syn'][0]:.4g}" in ex.text.value
    shown = torch.tensor(ex.figures["sam"].axes[1].get_images()[0].get_array())
    torch.testing.assert_close(shown.float().flatten(), lab.class_means(1, "none", 0)["syn"][0].float())

    ex.layer.value = 3                                   # the last layer: shown, but not in L_SAM
    assert tuple(ex.figures["sam"].axes[0].get_images()[0].get_array().shape) == (4, 4)
    assert "left out of L_SAM" in ex.text.value
    highlighted = [ax for ax in ex.figures["maps"].axes if ax.spines["left"].get_visible()
                   and ax.spines["left"].get_linewidth() == 3]
    assert highlighted == [ex.figures["maps"].axes[3]]


def test_the_page_explorer_holds_every_state(lab):
    page = widgets.static_html(lab, "x1")
    data = json.loads(re.search(r'<script type="application/json" id="x1-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert set(data["states"]) == {f"{p}|{n}" for p in POWERS for n in NORMS}
    s = data["states"]["6|l1"]
    assert s["terms"].keys() == {"syn", "noise"}
    assert s["terms"]["syn"][:2] == pytest.approx(lab.sam_terms(6, "l1")["syn"][:2]) and s["terms"]["syn"][2] is None
    assert s["peaks"] == pytest.approx(lab.peaks(6, "l1"))
    for b64, m in zip(s["maps"], lab.maps(6, "l1")):
        q = torch.frombuffer(bytearray(base64.b64decode(b64)), dtype=torch.uint8).float() / 255
        torch.testing.assert_close(q, m.flatten(), atol=1 / 255, rtol=0)
    assert 'class="dd-p" type="range" min="1" max="8"' in page and "<option value=\"none\">" in page
