"""Behaviours a reviewer's plausible edit would break silently (issue 23): each
test asserts what the code must do, and each was seen to fail with the bug it
names planted in a scratch copy.

- the synthetic images' learning rate and momentum reach their optimiser;
- DataDAM draws a fresh random encoder every iteration (Alg. 1, line 1);
- evaluation tests a model in eval mode (BatchNorm uses its running statistics);
- DSA's real batch goes through the same augmentation as the synthetic one;
- coresets select with the trained feature network they are given;
- a class-conditional generator's samples depend on the class asked for;
- the NAS top-20 % set is the ground truth's best, not the proxy's.

The cache keys (learned sets and distill.iterations, the coresets' feature
network and the encoder spec) are guarded field by field in
tests/test_hyperparameters.py::test_every_field_that_changes_a_result_changes_its_keys.
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from datadam_lib.method import step as step_mod
from datadam_lib.method.baselines import coresets
from datadam_lib.method.baselines import generative as gen_mod
from datadam_lib.method.baselines import gradient_matching as gm
from datadam_lib.method.baselines.common import class_labels
from datadam_lib.method.config import EvalConfig
from datadam_lib.method.distill import distill
from datadam_lib.method.evaluate import random_subset, train_model
from datadam_lib.method.evaluate import test_accuracy as accuracy_of
from datadam_lib.method.models import EncoderSpec, build_encoder


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tiny(tiny_data):
    return tiny_data(counts=(3, 3, 3), size=16)


def _snapshots(cfg, data, upto: int) -> dict[int, torch.Tensor]:
    return distill(cfg, data, snapshot_at=tuple(range(upto + 1)), progress=False).snapshots


# ---------------------------------------------------------------- the synthetic images' optimiser


def test_one_step_moves_the_images_by_lr_times_the_gradient(tiny_data, small_config):
    """The first SGD step is x1 = x0 - lr * grad(x0): the gradient does not
    depend on lr, so the move scales exactly with distill.lr_images."""
    data = _tiny(tiny_data)
    moves = {}
    for lr in (0.5, 1.5):
        s = _snapshots(small_config(ipc=2, width=8, distill__iterations=1, distill__lr_images=lr), data, 1)
        moves[lr] = s[1] - s[0]
    assert moves[0.5].abs().max() > 0
    torch.testing.assert_close(moves[1.5], 3 * moves[0.5], rtol=1e-4, atol=1e-6 * float(moves[1.5].abs().max()))


def test_the_second_step_carries_momentum_times_the_first_gradient(tiny_data, small_config):
    """SGD with momentum m: x2 = x1 - lr * (m * g0 + g1). x1 and g1 do not
    depend on m, so two runs that differ only in m differ at step 2 by
    (m_a - m_b) * (x1 - x0)."""
    data = _tiny(tiny_data)
    runs = {m: _snapshots(small_config(ipc=2, width=8, distill__iterations=2, distill__momentum=m), data, 2)
            for m in (0.9, 0.5)}
    a, b = runs[0.9], runs[0.5]
    assert torch.equal(a[1], b[1])                       # the first step has no momentum term yet
    first = a[1] - a[0]
    got = (a[2] - a[1]) - (b[2] - b[1])
    assert first.abs().max() > 0
    torch.testing.assert_close(got, 0.4 * first, rtol=1e-3, atol=1e-4 * float(first.abs().max()))


# ---------------------------------------------------------------- a fresh encoder per iteration


_MATCHED = step_mod.matched


def _encoders_seen(cfg, data, monkeypatch) -> list[torch.Tensor]:
    """Every parameter of the encoder each iteration's loss was computed with."""
    seen = []

    def spy(encoder, *a, **k):
        out = _MATCHED(encoder, *a, **k)
        seen.append(torch.cat([p.detach().flatten() for p in encoder.parameters()]).clone())
        return out
    monkeypatch.setattr(step_mod, "matched", spy)
    distill(cfg, data, progress=False)
    return seen


def test_every_iteration_draws_a_fresh_encoder_from_the_runs_generator(tiny_data, small_config, monkeypatch):
    """Main paper Alg. 1: each iteration samples a new randomly initialised
    network. Successive iterations see different weights; the same seed sees
    the same sequence, another seed another one."""
    data = _tiny(tiny_data)
    cfg = small_config(ipc=2, width=8, distill__iterations=3)
    seen = _encoders_seen(cfg, data, monkeypatch)
    assert len(seen) == 3
    for i in range(3):
        for j in range(i):
            assert not torch.equal(seen[i], seen[j]), f"iterations {j} and {i} used the same encoder"
    again = _encoders_seen(cfg, data, monkeypatch)
    assert all(torch.equal(a, b) for a, b in zip(seen, again, strict=True))
    other = _encoders_seen(small_config(ipc=2, width=8, seed=1, distill__iterations=3), data, monkeypatch)
    assert not any(torch.equal(a, b) for a, b in zip(seen, other, strict=True))


# ---------------------------------------------------------------- evaluation in eval mode


def test_accuracy_is_measured_in_eval_mode(digits):
    """A trained BatchNorm model is returned in train mode; its test accuracy
    uses the running statistics, so it does not depend on the test batch
    (one image at a time = all at once) and equals the eval-mode count."""
    x, y = random_subset(digits, 10, seed=0)
    cfg = EvalConfig(encoder=EncoderSpec(width=16, depth=2, norm="batch"), epochs=4, batch_size=50, augment="none")
    model = train_model(x, y, digits, cfg, gen(0))
    assert model.training
    probe = copy.deepcopy(model)
    with torch.no_grad():
        want = (probe.eval()(digits.x_test).argmax(1) == digits.y_test).float().mean().item()
        # the same model normalising each test image by its own statistics predicts otherwise
        batch_stats = copy.deepcopy(model).train()
        one_by_one = sum(int(batch_stats(digits.x_test[i:i + 1]).argmax(1) == digits.y_test[i])
                         for i in range(len(digits.y_test))) / len(digits.y_test)
    assert one_by_one != pytest.approx(want)             # the test below can tell the two apart
    assert accuracy_of(copy.deepcopy(model), digits, batch=1) == pytest.approx(want)
    assert accuracy_of(copy.deepcopy(model), digits, batch=len(digits.y_test)) == pytest.approx(want)


# ---------------------------------------------------------------- DSA: siamese augmentation


def test_dsa_augments_the_real_batch_as_the_synthetic_one(tiny_data, small_config, monkeypatch):
    """One image per class: DSA's real batch and its synthetic set (initialised
    from real images) are the same images, and siamese augmentation applies the
    same parameters to both, so the first matching step sees identical real and
    synthetic inputs, and they are not the images as stored."""
    data = tiny_data(counts=(1, 1, 1), size=16)
    cfg = small_config(ipc=1, width=8, distill__dsa__ops=("color",))   # an op that always changes the image
    seen, real = [], gm.class_gradients
    monkeypatch.setattr(gm, "class_gradients", lambda net, p, x, c: seen.append(x.detach()) or real(net, p, x, c))
    gm.condense(cfg, data, siamese=True)
    real_in, syn_in = seen[0], seen[1]                   # the first outer step: real, then synthetic
    stored = data.x_train.view(real_in.shape)
    assert not torch.allclose(real_in, stored), "the real batch was not augmented"
    torch.testing.assert_close(real_in, syn_in, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- coresets


def _herding_by_hand(emb: torch.Tensor, labels: torch.Tensor, k: int) -> list[list[int]]:
    """Greedy herding written out per class with a Python loop (Welling 2009)."""
    out = []
    for c in labels.unique().tolist():
        rows = (labels == c).nonzero().flatten().tolist()
        mu, chosen = emb[rows].mean(0), []
        for t in range(1, k + 1):
            total = sum((emb[i] for i in chosen), torch.zeros_like(mu))
            best = min((i for i in rows if i not in chosen), key=lambda i: float((mu - (total + emb[i]) / t).norm()))
            chosen.append(best)
        out.append(chosen)
    return out


def test_coresets_select_with_the_feature_network_they_are_given(digits, small_config):
    """select() embeds the images with the weights of ``state``: the choice is
    the one herding makes in that network's embedding, not in an untrained
    network's. And train() returns trained weights (its loss on the training
    set is below the initial network's)."""
    cfg = small_config(ipc=2, width=8)
    spec = cfg.distill.encoder
    given = build_encoder(spec, 1, 10, 32, gen(7))
    untrained = build_encoder(spec, 1, 10, 32, None)
    syn = coresets.select(cfg, digits, {"weights": given.state_dict(), "epochs": 0}, kind="herding")
    with torch.no_grad():
        want = _herding_by_hand(given.eval().embed(digits.x_train), digits.y_train, 2)
        other = _herding_by_hand(untrained.eval().embed(digits.x_train), digits.y_train, 2)
    assert want != other                                 # the embedding decides the choice
    assert syn.info["indices"] == [i for c in want for i in c]
    # train(): the network it returns fits the training set better than where it started
    state = coresets.train(cfg, digits)
    trained = build_encoder(spec, 1, 10, 32, None)
    trained.load_state_dict(state["weights"])
    start = build_encoder(spec, 1, 10, 32, gen(cfg.seed))
    with torch.no_grad():
        ce = [float(F.cross_entropy(net.eval()(digits.x_train), digits.y_train)) for net in (trained, start)]
    assert ce[0] < ce[1] - 0.1


# ---------------------------------------------------------------- generative baselines


@pytest.mark.parametrize("name", sorted(gen_mod.GENERATIVE))
def test_generated_images_are_of_the_class_they_are_labelled(name, digits, small_config):
    """Each image is generated for its own label: sample() equals the trained
    generator asked for class-major labels 0..K-1 with the seed's z; and the
    generator depends on the class (the same z for class 0 gives other images)."""
    cfg = small_config(ipc=2, seed=1)
    state = gen_mod.train(name, cfg, digits)
    syn = gen_mod.sample(name, cfg, digits, state)
    nets = gen_mod.build(name, digits, int(state["width"]))
    nets.load_state_dict(state["weights"])
    nets.eval()
    labels = torch.arange(10).repeat_interleave(2)
    assert torch.equal(syn.labels, labels) and torch.equal(class_labels(digits, 2), labels)
    spec = gen_mod.GENERATIVE[name]
    with torch.no_grad():
        own = spec.sample(nets, labels, gen(cfg.seed))
        zero = spec.sample(nets, torch.zeros_like(labels), gen(cfg.seed))
    assert (own - zero)[2:].abs().amax(dim=(1, 2, 3)).min() > 0   # every class but 0 changes every image
    torch.testing.assert_close(syn.images, digits.from_pixels((own.clamp(-1, 1) + 1) / 2))


# ---------------------------------------------------------------- NAS: the top 20 %


def test_the_top_set_is_the_ground_truths_best():
    """Five candidates, top 20 % = the truth's best two (c3, c4), on which the
    proxy agrees with the truth (rho +1); the proxy's own best two (c0, c1)
    are the truth's worst, where they disagree (rho -1)."""
    from datadam_lib.families import nas, nas_sweep
    from datadam_lib.kit.registry import Setting
    truth, proxy = [50.0, 60.0, 70.0, 80.0, 90.0], [5.0, 4.0, 3.0, 1.0, 2.0]
    cands = [Setting("arch", f"c{i}") for i in range(5)]
    pts = {k: {c.key: {"label": c.value, "val": v[i], "test": v[i], "train_s": 1.0, "n_images": 10}
               for i, c in enumerate(cands)} for k, v in (("random", proxy), ("whole", truth))}
    s = nas_sweep.Search("convnet", cands, ["random", "whole"], [], [], pts, truth, truth, "hand-made")
    assert nas.metric_value(s, "random", "spearman_top20", 0.2) == (pytest.approx(1.0), 2)
    assert nas.metric_value(s, "random", "spearman_all", 0.2) == (pytest.approx(-0.9), 5)
