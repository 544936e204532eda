"""Kinds of set (method/baselines/sets.py): DM is DataDAM's embedding term alone at
weight 1, Random is DataDAM's real initialisation, unknown kinds are refused."""
from __future__ import annotations

import pytest
import torch

from datadam_lib import override, random_subset
from datadam_lib.method import step as step_mod
from datadam_lib.method.baselines.sets import DM_OVERRIDES, SET_KINDS, make_set, register
from datadam_lib.method.losses import Objective, class_means, mmd_loss


def test_dm_loss_is_the_plain_embedding_mmd(small_config):
    """DM (Zhao & Bilen): sum_k ||mean real emb - mean syn emb||^2, no lambda, no x100."""
    cfg = override(small_config(ipc=1), DM_OVERRIDES)
    obj = Objective(cfg.distill.method, 32)
    g = torch.Generator().manual_seed(0)
    real, syn = torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g)
    stats = lambda e: {"mmd": [e]}  # noqa: E731
    assert obj.loss(stats(real), stats(syn)).item() == pytest.approx(mmd_loss(real, syn).item(), rel=1e-6)


def test_dm_and_random_sets(tiny_data, small_config, monkeypatch):
    """make_set("dm") runs DM: each iteration's loss is, by hand from that
    iteration's encoder and real batch, sum_k ||mean real emb - mean syn emb||^2
    (no SAM term, no lambda, no x100), for DM's own number of iterations."""
    data = tiny_data(counts=(3, 3, 3), size=16)
    cfg = small_config(ipc=2, seed=3, width=8, distill__dsa=None, baselines__dm__iterations=2)
    want, real = [], step_mod.matched

    def spy(encoder, objective, data_, images, real_idx, *a, **k):
        with torch.no_grad():
            mu_real = class_means(encoder.embed(data_.x_train[real_idx.flatten()]), 3)
            want.append(float((mu_real - class_means(encoder.embed(images), 3)).pow(2).sum()))
        return real(encoder, objective, data_, images, real_idx, *a, **k)
    monkeypatch.setattr(step_mod, "matched", spy)
    dm = make_set("dm", cfg, data, snapshot_at=(0,))
    assert len(dm.losses) == 2 and cfg.distill.iterations == 3
    assert dm.losses == pytest.approx(want, rel=1e-5) and want[0] > 0
    rnd = make_set("random", cfg, data)
    x, y = random_subset(data, 2, seed=3)
    assert torch.equal(rnd.images, x) and torch.equal(rnd.labels, y)
    # DataDAM and DM start from the very images Random evaluates (same seed)
    assert torch.equal(dm.snapshots[0], x)
    assert SET_KINDS["random"].depends_on_distill is False and SET_KINDS["dm"].depends_on_distill


def test_unknown_kind_and_double_registration(digits, small_config):
    with pytest.raises(ValueError, match="unknown kind of set 'gan'"):
        make_set("gan", small_config(), digits)
    register("dm", SET_KINDS["dm"])                       # the same registration again is harmless
    with pytest.raises(ValueError, match="twice"):
        register("dm", SET_KINDS["random"])
