"""Distillation (distill.py): k-center init, one step's gradients, determinism,
checkpoint/resume, class chunking, saving and loading synthetic sets."""
from __future__ import annotations

import importlib
import math
import os

import pytest
import torch

import datadam_lib
from datadam_lib import CheckpointError, DataError, SyntheticSet, distill, override
from datadam_lib.method.augment import DSAConfig
from datadam_lib.method.config import MethodConfig
from datadam_lib.method.distill import check_config
from datadam_lib.method.init import kcenter_indices
from datadam_lib.method.losses import Objective, attention_map, class_means
from datadam_lib.method.models import EncoderSpec, build_encoder
from datadam_lib.method.step import step
from datadam_lib.method.validation import ConfigError


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- k-center

def brute_force_kcenter(emb: list[list[float]], labels: list[int], num_classes: int, k: int) -> list[list[int]]:
    """Per class, in plain Python: the point nearest the class mean, then
    repeatedly the point whose distance to its nearest chosen point is largest."""
    out = []
    for c in range(num_classes):
        idx = [i for i, y in enumerate(labels) if y == c]
        mean = [sum(emb[i][d] for i in idx) / len(idx) for d in range(len(emb[0]))]
        chosen = [min(idx, key=lambda i: math.dist(emb[i], mean))]
        while len(chosen) < k:
            rest = [i for i in idx if i not in chosen]
            chosen.append(max(rest, key=lambda i: min(math.dist(emb[i], emb[j]) for j in chosen)))
        out.append(chosen)
    return out


@pytest.mark.parametrize("counts,k,dim,seed", [((12, 15, 13), 4, 3, 0), ((5, 9), 5, 2, 1), ((20, 7, 11, 8), 7, 6, 2)])
def test_kcenter_matches_brute_force(counts, k, dim, seed):
    g = gen(seed)
    labels = torch.arange(len(counts)).repeat_interleave(torch.tensor(counts))
    emb = torch.randn(len(labels), dim, generator=g, dtype=torch.float64)
    got = kcenter_indices(emb, labels, len(counts), k)
    assert got.shape == (len(counts), k)
    assert got.tolist() == brute_force_kcenter(emb.tolist(), labels.tolist(), len(counts), k)


def test_kcenter_properties():
    counts = (30, 25, 40)
    labels = torch.arange(3).repeat_interleave(torch.tensor(counts))
    emb = torch.randn(len(labels), 4, generator=gen(3), dtype=torch.float64)
    idx = kcenter_indices(emb, labels, 3, 6)
    for c in range(3):
        row = idx[c].tolist()
        assert len(set(row)) == 6, "duplicates"
        assert all(labels[i] == c for i in row), "a point of another class"
        members = (labels == c).nonzero().flatten()
        mean = emb[members].mean(0)
        assert row[0] == members[(emb[members] - mean).norm(dim=1).argmin()]
        for j in range(1, 6):
            # farthest-first: the new point is the farthest from those chosen before it
            mind = torch.cdist(emb[members], emb[row[:j]]).min(1).values
            assert math.isclose(mind.max().item(), torch.cdist(emb[[row[j]]], emb[row[:j]]).min().item())
    # k = the size of a class takes every point of it exactly once
    small = kcenter_indices(emb[:30], labels[:30], 1, 30)
    assert sorted(small[0].tolist()) == list(range(30))


def test_kcenter_covers_separated_clusters():
    # Class 0 is made of 3 tight clusters: 3 centres take one point from each.
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
    pts = centres.repeat_interleave(5, 0) + 0.01 * torch.randn(15, 2, generator=gen(4), dtype=torch.float64)
    idx = kcenter_indices(pts, torch.zeros(15, dtype=torch.long), 1, 3)[0]
    assert sorted(i // 5 for i in idx.tolist()) == [0, 1, 2]


# ---------------------------------------------------------------- one step

def _setup_step(data, width=8, norm="instance", method=MethodConfig(), seed=0, ipc=2):
    enc = build_encoder(EncoderSpec(width=width, norm=norm), data.channels, data.num_classes, data.im_size, gen(seed))
    enc.requires_grad_(False).train(True)
    images = data.sample(ipc, gen(seed + 1)).clone().requires_grad_(True)
    return enc, Objective(method, data.im_size), images


def test_step_gradients_reach_only_the_synthetic_images(digits):
    enc, obj, images = _setup_step(digits, width=16)
    loss = step(enc, obj, digits, images, 8, DSAConfig(), gen(2), digits.num_classes)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0 and not loss.requires_grad
    assert all(p.grad is None and not p.requires_grad for p in enc.parameters())
    assert digits.x_train.grad is None and not digits.x_train.requires_grad
    assert images.grad is not None and torch.isfinite(images.grad).all()
    per_class = images.grad.view(10, -1).abs().sum(1)
    assert torch.all(per_class > 0), "some class got no gradient"


def test_step_gradient_equals_autograd_of_the_loss(tiny_data):
    """batch_real = the whole class and no DSA: the real batch is fixed, so the
    step's gradient can be recomputed with the encoder it drew."""
    data = tiny_data(counts=(4, 4, 4), size=16)
    enc, obj, images = _setup_step(data, width=8, ipc=2)
    loss = step(enc, obj, data, images, 4, None, gen(3), data.num_classes)
    syn = images.detach().clone().requires_grad_(True)
    taps_r, emb_r = enc.forward_features(data.x_train)
    taps_s, emb_s = enc.forward_features(syn)
    assert len(taps_r) == 2                                       # ConvNet-2 at 16 px: SAM on tap 1 only
    sam = ((class_means(attention_map(taps_r[0], 4, "l2"), 3) - class_means(attention_map(taps_s[0], 4, "l2"), 3))
           ** 2).sum()
    mmd = ((class_means(emb_r, 3) - class_means(emb_s, 3)) ** 2).sum()
    want = 100 * (sam + 0.01 * mmd)                               # the paper preset's loss scale
    want.backward()
    torch.testing.assert_close(loss, want.detach(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(images.grad, syn.grad, rtol=1e-4, atol=1e-5 * syn.grad.abs().max().item())


def test_pixel_mmd_step_gradient_by_hand(tiny_data):
    # L = sum_k ||mu_real_k - mu_syn_k||^2  =>  dL/ds_i = -2 (mu_real_k - mu_syn_k) / ipc
    data = tiny_data(counts=(3, 3), size=4)
    enc, obj, images = _setup_step(data, method=MethodConfig(components=("pixel",), loss_scale=1.0), ipc=2)
    assert not obj.needs_encoder
    step(enc, obj, data, images, 3, None, gen(0), 2)
    mu_r = data.x_train.view(2, 3, -1).mean(1)
    mu_s = images.detach().view(2, 2, -1).mean(1)
    want = (-2 * (mu_r - mu_s) / 2).repeat_interleave(2, 0).view_as(images)
    torch.testing.assert_close(images.grad, want)


def test_step_class_chunks_give_the_same_gradient(tiny_data):
    data = tiny_data(counts=(4, 5, 4, 6, 4), size=16)
    grads = []
    for chunk in (5, 2, 1):
        enc, obj, images = _setup_step(data, width=8)
        loss = step(enc, obj, data, images, 3, DSAConfig(), gen(5), chunk)
        grads.append((loss, images.grad))
    for loss, g in grads[1:]:
        torch.testing.assert_close(loss, grads[0][0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g, grads[0][1], rtol=1e-4, atol=1e-5 * grads[0][1].abs().max().item())


def test_batchnorm_encoders_see_every_class_in_one_pass(digits, small_config):
    """With BatchNorm in train mode (the released preset) the batch statistics
    span every class of the pass, as in the release: automatic chunking must
    not split the classes, whatever the memory budget. An explicit
    class_chunk still does (and then changes the result)."""
    cfg = small_config(ipc=1, distill__encoder__norm="batch", distill__iterations=2)
    one_pass = distill(override(cfg, {"distill.class_chunk": 10}), digits, progress=False).images
    tiny_budget = distill(override(cfg, {"distill.memory_budget_mb": 1}), digits, progress=False).images
    torch.testing.assert_close(tiny_budget, one_pass, rtol=0, atol=0)
    chunked = distill(override(cfg, {"distill.class_chunk": 1}), digits, progress=False).images
    assert not torch.allclose(chunked, one_pass, atol=1e-6)


# ---------------------------------------------------------------- whole runs on digits

@pytest.fixture(scope="module")
def baseline(digits, small_config):
    """One uninterrupted smoke run (ipc 2, seed 0)."""
    cfg = small_config(ipc=2, seed=0)
    return cfg, distill(cfg, digits, progress=False)


def test_distill_result(baseline, digits):
    cfg, syn = baseline
    assert syn.images.shape == (20, 1, 32, 32) and torch.isfinite(syn.images).all()
    assert syn.labels.tolist() == [k for k in range(10) for _ in range(2)]
    assert syn.classes == digits.classes and syn.config == cfg
    assert len(syn.losses) == cfg.distill.iterations and all(math.isfinite(v) and v > 0 for v in syn.losses)
    assert not syn.images.requires_grad
    for key in ("git_sha", "packages", "device", "seed", "wall_time_s", "iterations"):
        assert key in syn.info
    assert syn.info["seed"] == 0 and syn.info["iterations"] == cfg.distill.iterations


def test_same_seed_same_images_different_seed_differs(baseline, digits):
    cfg, syn = baseline
    again = distill(cfg, digits, progress=False)
    assert torch.equal(again.images, syn.images)
    assert again.losses == syn.losses
    other = distill(override(cfg, {"seed": 1}), digits, progress=False)
    assert not torch.allclose(other.images, syn.images)


def test_cuda_graph_switch_is_ignored_off_cuda(baseline, digits):
    """On a CPU ``cuda_graph=True`` runs the eager step: the same set, and the
    manifest says no graph was used."""
    cfg, syn = baseline
    again = distill(cfg, digits, progress=False, cuda_graph=True)
    assert torch.equal(again.images, syn.images) and again.info["cuda_graph"] is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU; benchmarks/gpu_check.py part 4 checks it there")
@pytest.mark.parametrize("preset", ["paper", "released"])
def test_cuda_graph_steps_give_the_same_set_bit_for_bit(preset, digits):
    data = datadam_lib.load_dataset("digits", device="cuda")
    cfg = datadam_lib.make_config(preset, scale="smoke", dataset="digits", ipc=2)
    eager, graphed = (distill(cfg, data, progress=False, cuda_graph=c) for c in (False, True))
    assert graphed.info["cuda_graph"] is True
    assert torch.equal(eager.images, graphed.images) and eager.losses == graphed.losses


def test_checkpoint_and_resume_equal_an_uninterrupted_run(baseline, digits, tmp_path):
    cfg, syn = baseline
    assert cfg.distill.iterations > 2
    ck = str(tmp_path / "run.checkpoint.pt")
    part = distill(cfg, digits, checkpoint=ck, checkpoint_every=1, stop_after=2, progress=False)
    assert os.path.isfile(ck) and len(part.losses) == 2
    state = torch.load(ck, weights_only=True)
    assert state["iteration"] == 2 and torch.equal(state["images"], part.images)
    resumed = distill(cfg, digits, checkpoint=ck, checkpoint_every=1, progress=False)
    assert torch.equal(resumed.images, syn.images)
    assert resumed.losses == syn.losses
    assert torch.load(ck, weights_only=True)["iteration"] == cfg.distill.iterations


def test_class_chunking_matches_no_chunking(baseline, digits):
    cfg, syn = baseline
    assert cfg.distill.encoder.norm == "instance"
    chunked = distill(override(cfg, {"distill.class_chunk": 3}), digits, progress=False)
    torch.testing.assert_close(chunked.images, syn.images, rtol=1e-4, atol=1e-4)
    assert chunked.losses == pytest.approx(syn.losses, rel=1e-4)


def test_resume_rejects_a_checkpoint_of_another_config(baseline, digits, tmp_path):
    cfg, _ = baseline
    ck = str(tmp_path / "c.pt")
    distill(override(cfg, {"distill.iterations": 1}), digits, checkpoint=ck, checkpoint_every=1, progress=False)
    with pytest.raises(CheckpointError, match=r"different config \(distill.iterations: 1 vs 3: checkpoint vs now\)"):
        distill(cfg, digits, checkpoint=ck, checkpoint_every=1, progress=False)


def test_resume_treats_an_integer_float_field_as_the_same_config(baseline, digits, tmp_path):
    """``--set distill.method.power=4`` is the default power 4.0: the same run."""
    cfg, syn = baseline
    ck = str(tmp_path / "c.pt")
    distill(override(cfg, {"distill.method.power": 4.0}), digits, checkpoint=ck, checkpoint_every=1, stop_after=1,
            progress=False)
    resumed = distill(override(cfg, {"distill.method.power": 4}), digits, checkpoint=ck, checkpoint_every=1,
                      progress=False)
    assert torch.equal(resumed.images, syn.images)


def test_resume_rejects_a_checkpoint_of_other_data(tiny_data, small_config, tmp_path):
    """The same name and shapes with other contents (a dataset file replaced
    at the same path) must not resume the old run on the new data."""
    cfg = small_config(ipc=2, width=8, dataset="tiny")
    old, new = tiny_data(counts=(4, 4, 4), seed=0), tiny_data(counts=(4, 4, 4), seed=1)
    ck = str(tmp_path / "c.pt")
    distill(cfg, old, checkpoint=ck, checkpoint_every=1, stop_after=1, progress=False)
    with pytest.raises(CheckpointError, match=r"other data than 'tiny' holds now \(digest: '[0-9a-f]+' vs '[0-9a-f]+'"):
        distill(cfg, new, checkpoint=ck, checkpoint_every=1, progress=False)
    distill(cfg, old, checkpoint=ck, checkpoint_every=1, progress=False)          # the old data still resume


def test_a_checkpoint_without_a_data_fingerprint_is_refused(baseline, digits, tmp_path):
    cfg, _ = baseline
    ck = tmp_path / "c.pt"
    distill(cfg, digits, checkpoint=str(ck), checkpoint_every=1, stop_after=1, progress=False)
    state = torch.load(ck, weights_only=True)
    del state["dataset"]
    torch.save(state, ck)
    with pytest.raises(CheckpointError, match="does not record which data"):
        distill(cfg, digits, checkpoint=str(ck), checkpoint_every=1, progress=False)


def test_a_resumed_run_reports_its_total_wall_time_and_where_it_resumed(baseline, digits, tmp_path):
    cfg, syn = baseline
    assert syn.info["resumed_at"] == []
    ck = str(tmp_path / "c.pt")
    distill(cfg, digits, checkpoint=ck, checkpoint_every=1, stop_after=1, progress=False)
    first = torch.load(ck, weights_only=True)["wall_time_s"]
    distill(cfg, digits, checkpoint=ck, checkpoint_every=1, stop_after=2, progress=False)
    second = torch.load(ck, weights_only=True)
    assert second["wall_time_s"] > first and second["resumed_at"] == [1]
    done = distill(cfg, digits, checkpoint=ck, checkpoint_every=1, progress=False)
    assert done.info["resumed_at"] == [1, 2]
    assert done.info["wall_time_s"] > second["wall_time_s"]                    # the whole run, not the last part
    assert torch.equal(done.images, syn.images)


def _interrupt_at(monkeypatch, iterations: set[int], times: int = 1):
    """Deliver Ctrl-C (a real SIGINT) ``times`` times during each of ``iterations``."""
    import signal
    distill_mod = importlib.import_module("datadam_lib.method.distill")
    real, count = distill_mod.step, []

    def step(*a, **k):
        count.append(1)
        if len(count) in iterations:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        return real(*a, **k)
    monkeypatch.setattr(distill_mod, "step", step)


def test_ctrl_c_finishes_the_iteration_writes_a_checkpoint_and_resumes_exactly(baseline, digits, tmp_path,
                                                                                monkeypatch):
    import signal

    from datadam_lib.method.checkpoint import Interrupted
    cfg, syn = baseline
    ck = str(tmp_path / "c.pt")
    _interrupt_at(monkeypatch, {2})
    with pytest.raises(Interrupted) as e:
        distill(cfg, digits, checkpoint=ck, checkpoint_every=100, progress=False)
    assert e.value.iteration == 2 and e.value.checkpoint == ck
    assert torch.load(ck, weights_only=True)["iteration"] == 2
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler      # restored
    monkeypatch.undo()
    resumed = distill(cfg, digits, checkpoint=ck, checkpoint_every=100, progress=False)
    assert torch.equal(resumed.images, syn.images) and resumed.losses == syn.losses


def test_a_second_ctrl_c_stops_at_once(baseline, digits, tmp_path, monkeypatch):
    from datadam_lib.method.checkpoint import Interrupted
    cfg, _ = baseline
    _interrupt_at(monkeypatch, {2}, times=2)
    with pytest.raises(KeyboardInterrupt) as e:
        distill(cfg, digits, checkpoint=str(tmp_path / "c.pt"), checkpoint_every=100, progress=False)
    assert not isinstance(e.value, Interrupted) and not (tmp_path / "c.pt").exists()


def test_resume_from_a_garbage_checkpoint(baseline, digits, tmp_path):
    cfg, _ = baseline
    ck = tmp_path / "c.pt"
    ck.write_bytes(b"\x00garbage, not a torch file" * 20)
    with pytest.raises(CheckpointError, match="corrupted or not a DataDAM file"):
        distill(cfg, digits, checkpoint=str(ck), progress=False)
    torch.save({"iteration": 1}, ck)
    with pytest.raises(CheckpointError, match="lacks"):
        distill(cfg, digits, checkpoint=str(ck), progress=False)


# ---------------------------------------------------------------- initialisation and validation

@pytest.mark.parametrize("init", ["real", "kcenter"])
def test_real_and_kcenter_init_pick_distinct_images_of_the_class(tiny_data, small_config, init):
    data = tiny_data(counts=(5, 6, 4), size=16)
    cfg = small_config(ipc=3, width=8, distill__init=init, distill__iterations=0, dataset="tiny")
    syn = distill(cfg, data, progress=False, snapshot_at=(0,))
    assert syn.losses == [] and torch.equal(syn.snapshots[0], syn.images)
    for k in range(3):
        picked = []
        for img in syn.images[3 * k:3 * k + 3]:
            hits = [i for i in range(len(data.x_train)) if torch.equal(data.x_train[i], img)]
            assert len(hits) == 1 and data.y_train[hits[0]] == k
            picked.append(hits[0])
        assert len(set(picked)) == 3


def test_noise_init_and_snapshots(tiny_data, small_config):
    data = tiny_data(counts=(2, 2), size=8)
    cfg = small_config(ipc=5, width=8, distill__init="noise", dataset="tiny")     # ipc above the class size is fine
    syn = distill(cfg, data, progress=False, snapshot_at=(0, 1))
    assert syn.images.shape == (10, 1, 8, 8)
    assert set(syn.snapshots) == {0, 1}
    assert abs(syn.snapshots[0].mean().item()) < 0.5 and 0.7 < syn.snapshots[0].std().item() < 1.3   # N(0, 1)
    assert not torch.equal(syn.snapshots[0], syn.snapshots[1])


def test_ipc_larger_than_a_class(digits, small_config):
    cfg = small_config(ipc=500)
    with pytest.raises(DataError, match=r"ipc 500 is larger than class \d .* which has 139 training images"):
        distill(cfg, digits, progress=False)


@pytest.mark.parametrize("change,match", [
    ({"distill.ipc": 0}, r"distill.ipc=0 is invalid: expected an integer >= 1"),
    ({"distill.init": "zeros"}, r"distill.init='zeros' is invalid: expected one of 'kcenter', 'noise', 'real'"),
    ({"distill.batch_real": 0}, r"distill.batch_real=0 is invalid: expected an integer >= 1")])
def test_bad_distill_settings(small_config, change, match):
    # caught where the config is made, before any data is loaded
    with pytest.raises(ConfigError, match=match):
        override(small_config(width=8), change)


def test_batch_real_is_capped_by_the_smallest_class(tiny_data, small_config):
    assert check_config(small_config(distill__batch_real=256), tiny_data(counts=(4, 7))) == 4


# ---------------------------------------------------------------- saving and loading

def _small_set(small_config, seed=0):
    g = gen(seed)
    return SyntheticSet(torch.randn(6, 1, 4, 4, generator=g), torch.arange(3).repeat_interleave(2), ["a", "b", "c"],
                        small_config(ipc=2), [3.0, 2.0], {0: torch.zeros(6, 1, 4, 4)}, {"seed": seed})


def test_save_load_round_trip(tmp_path, small_config):
    s = _small_set(small_config)
    out = str(tmp_path / "out")
    s.save(out)
    assert sorted(os.listdir(out)) == ["config.json", "manifest.json", "synthetic.pt"]
    t = SyntheticSet.load(out)
    assert torch.equal(t.images, s.images) and torch.equal(t.labels, s.labels)
    assert t.classes == s.classes and t.config == s.config and t.losses == s.losses
    assert t.info == {**s.info, "datadam_lib": datadam_lib.__version__}      # the record marks a kit output
    assert set(t.snapshots) == {0} and torch.equal(t.snapshots[0], s.snapshots[0])
    # saving again replaces the directory whole
    s2 = _small_set(small_config, seed=1)
    s2.save(out)
    assert torch.equal(SyntheticSet.load(out).images, s2.images)
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_load_garbage_synthetic_pt(tmp_path, small_config):
    out = tmp_path / "out"
    _small_set(small_config).save(str(out))
    (out / "synthetic.pt").write_bytes(b"not a checkpoint" * 50)
    with pytest.raises(CheckpointError, match="corrupted"):
        SyntheticSet.load(str(out))


def test_load_missing_or_inconsistent(tmp_path, small_config):
    with pytest.raises(CheckpointError, match="not found"):
        SyntheticSet.load(str(tmp_path / "nothing"))
    out = tmp_path / "out"
    s = _small_set(small_config)
    s.images[0, 0, 0, 0] = float("nan")
    s.save(str(out))
    with pytest.raises(CheckpointError, match="not finite"):
        SyntheticSet.load(str(out))
    _small_set(small_config).save(str(out))
    os.remove(out / "config.json")
    with pytest.raises(CheckpointError, match="config.json or manifest.json is missing"):
        SyntheticSet.load(str(out))


@pytest.mark.parametrize("fail", ["torch.save", "write_json"])
def test_failed_save_leaves_nothing_half_written(tmp_path, small_config, monkeypatch, fail):
    synthetic_mod = importlib.import_module("datadam_lib.method.synthetic")

    def boom(*args, **kwargs):
        raise OSError("disk full")
    if fail == "torch.save":
        monkeypatch.setattr(torch, "save", boom)
    else:
        monkeypatch.setattr(synthetic_mod, "write_json", boom)
    out = tmp_path / "out"
    with pytest.raises(OSError, match="disk full"):
        _small_set(small_config).save(str(out))
    assert not out.exists()
    assert os.listdir(tmp_path) == [], "temporary directories left behind"


def test_failed_save_keeps_the_previous_set(tmp_path, small_config, monkeypatch):
    synthetic_mod = importlib.import_module("datadam_lib.method.synthetic")
    out = tmp_path / "out"
    old = _small_set(small_config)
    old.save(str(out))

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(synthetic_mod, "write_json", boom)
    with pytest.raises(OSError):
        _small_set(small_config, seed=1).save(str(out))
    monkeypatch.undo()
    assert torch.equal(SyntheticSet.load(str(out)).images, old.images)
    assert os.listdir(tmp_path) == ["out"]
