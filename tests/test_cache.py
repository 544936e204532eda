"""The cache of distilled sets and evaluations: miss then hit, --force, keys
that change with config/seed/dataset, atomic writes, unreadable entries."""
from __future__ import annotations

import os

import pytest
import torch

from datadam_lib import override
from datadam_lib.kit import cache
from datadam_lib.method.synthetic import SyntheticSet


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    return str(tmp_path / "cache")


@pytest.fixture
def cfg(small_config):
    return small_config(ipc=1, width=16, distill__iterations=2, evaluate__epochs=2, evaluate__num_models=1)


def _leftovers(d: str) -> list[str]:
    return [n for n in os.listdir(d) if n.startswith(".") or n.endswith(".tmp")] if os.path.isdir(d) else []


def test_miss_then_hit_returns_the_same_set(cfg, digits, root):
    syn, hit, entry = cache.distill_cached(cfg, digits)
    assert not hit and entry.startswith(root) and os.path.isfile(os.path.join(entry, SyntheticSet.FILE))
    again, hit2, entry2 = cache.distill_cached(cfg, digits)
    assert hit2 and entry2 == entry
    assert torch.equal(again.images, syn.images) and again.config == cfg
    # snapshots at the start, a quarter, half way and the end are kept for the notebooks
    assert set(again.snapshots) == set(cache.snapshot_schedule(cfg.distill.iterations))


def test_force_recomputes_and_overwrites(cfg, digits, root, monkeypatch):
    cache.distill_cached(cfg, digits)
    calls = []
    real = cache.make_set
    monkeypatch.setattr(cache, "make_set", lambda *a, **k: calls.append(1) or real(*a, **k))
    _, hit, _ = cache.distill_cached(cfg, digits)
    assert hit and not calls
    _, hit, _ = cache.distill_cached(cfg, digits, force=True)
    assert not hit and calls == [1]


def test_key_depends_on_config_seed_dataset_and_version(cfg, digits, tiny_data, monkeypatch):
    k = cache.distill_key(cfg, digits)
    assert k == cache.distill_key(cfg, digits)
    assert k != cache.distill_key(override(cfg, {"distill.method.power": 2}), digits)
    assert k != cache.distill_key(override(cfg, {"seed": 1}), digits)
    assert cache.dataset_identity(tiny_data(seed=0)) != cache.dataset_identity(tiny_data(seed=1))
    import datadam_lib.method
    monkeypatch.setattr(datadam_lib.method, "__version__", "9.9.9")
    assert k != cache.distill_key(cfg, digits)


def test_a_set_is_shared_by_every_evaluation_protocol_and_scale_name(cfg, digits):
    """Equal distillation values make equal sets: an evaluation ablation
    (Fig. 4) distils once; the evaluation key still tells protocols apart."""
    other = override(cfg, {"evaluate.augment": "none", "scale": "quick", "preset": "table2"})
    assert cache.distill_key(cfg, digits) == cache.distill_key(other, digits)
    assert cache.eval_key(cfg, digits, "datadam") != cache.eval_key(other, digits, "datadam")
    assert cache.distill_key(cfg, digits) != cache.distill_key(override(cfg, {"preprocess": "normalise"}), digits)


def test_random_baseline_key_ignores_the_method(cfg, digits):
    other = override(cfg, {"distill.method.power": 2})
    assert cache.eval_key(cfg, digits, "random") == cache.eval_key(other, digits, "random")
    assert cache.eval_key(cfg, digits, "datadam") != cache.eval_key(other, digits, "datadam")
    assert cache.eval_key(cfg, digits, "random") != cache.eval_key(override(cfg, {"distill.ipc": 2}), digits, "random")


def test_evaluation_hit_miss_force(cfg, digits, root):
    x, y = digits.x_train[digits.offsets], digits.y_train[digits.offsets]
    r1, hit, path = cache.evaluate_cached(cfg, digits, x, y, kind="random")
    assert not hit and os.path.isfile(path)
    r2, hit, _ = cache.evaluate_cached(cfg, digits, x, y, kind="random")
    assert hit and r2.accuracies == r1.accuracies
    _, hit, _ = cache.evaluate_cached(cfg, digits, x, y, kind="random", force=True)
    assert not hit


def test_an_interrupted_distill_write_leaves_no_entry(cfg, digits, root, monkeypatch):
    def interrupted(*a, **k):
        raise KeyboardInterrupt
    save = torch.save
    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.distill_cached(cfg, digits)
    monkeypatch.setattr(torch, "save", save)
    d = os.path.join(root, "sets")
    assert not os.path.exists(os.path.join(d, cache.distill_key(cfg, digits)))
    assert _leftovers(d) == []
    _, hit, _ = cache.distill_cached(cfg, digits)
    assert not hit


def test_an_interrupted_evaluation_write_leaves_no_entry(cfg, digits, root, monkeypatch):
    x, y = digits.x_train[digits.offsets], digits.y_train[digits.offsets]

    def interrupted(src, dst):
        raise KeyboardInterrupt
    replace = os.replace
    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.evaluate_cached(cfg, digits, x, y, kind="random")
    monkeypatch.setattr(os, "replace", replace)
    d = os.path.join(root, "eval")
    assert not os.path.exists(os.path.join(d, cache.eval_key(cfg, digits, "random") + ".json"))
    assert _leftovers(d) == []


def test_an_unreadable_entry_is_recomputed(cfg, digits, root, capsys):
    _, _, entry = cache.distill_cached(cfg, digits)
    with open(os.path.join(entry, SyntheticSet.FILE), "wb") as f:
        f.write(b"not a torch file")
    syn, hit, _ = cache.distill_cached(cfg, digits)
    assert not hit and len(syn.images) == digits.num_classes
    assert "recomputing" in capsys.readouterr().err


def test_cache_root_from_argument_env_or_kit(tmp_path, monkeypatch):
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "env"))
    assert cache.cache_root() == str(tmp_path / "env")
    assert cache.cache_root(str(tmp_path / "arg")) == str(tmp_path / "arg")
    monkeypatch.delenv("DATADAM_CACHE")
    from datadam_lib.kit.paths import kit_root
    assert cache.cache_root() == os.path.join(kit_root(), "cache")


def test_an_integer_override_of_a_float_field_shares_the_entry(cfg, digits):
    """``{"distill.method.power": 4}`` from a sweep is the default ``power=4.0``."""
    as_int = override(cfg, {"distill.method.power": 4, "evaluate.lr": 1})
    as_float = override(cfg, {"distill.method.power": 4.0, "evaluate.lr": 1.0})
    assert cache.distill_key(as_int, digits) == cache.distill_key(as_float, digits)
    assert cache.eval_key(as_int, digits, "datadam") == cache.eval_key(as_float, digits, "datadam")
    assert cache.eval_key(as_int, digits, "random") == cache.eval_key(as_float, digits, "random")
    assert cache.distill_key(override(cfg, {"distill.ipc": 2}), digits) != cache.distill_key(cfg, digits)


def test_the_gan_test_classifier_is_trained_once_per_protocol_dataset_and_seed(cfg, digits, root, monkeypatch):
    from dataclasses import replace
    ec = replace(cfg.evaluate, epochs=1, augment="none")
    net, hit = cache.classifier_cached(ec, digits, seed=0)
    trained = []
    real = cache.train_model
    monkeypatch.setattr(cache, "train_model", lambda *a, **k: trained.append(1) or real(*a, **k))
    again, hit2 = cache.classifier_cached(ec, digits, seed=0)
    assert not hit and hit2 and not trained and not again.training
    x = digits.x_test[:8]
    assert torch.equal(again(x), net(x))   # the stored weights, not a fresh draw
    for other in [dict(ec=replace(ec, epochs=2)), dict(seed=1)]:   # another protocol or seed: trained anew
        _, hit = cache.classifier_cached(other.get("ec", ec), digits, seed=other.get("seed", 0))
        assert not hit
    assert len(trained) == 2
