"""Every hyper-parameter reaches the code that uses it, and every config field
that changes a result changes the cache key of that result (issue 23: a
learning rate fixed in the optimiser, or a key that forgets a field, passes
every test that runs the defaults).

- the cache keys: one case per config field (a new field fails
  ``test_every_config_field_is_classified`` until it is given a value and
  the kinds of set it changes);
- DataDAM's loop: what each distillation field sets in one iteration;
- evaluation: train_model and the grouped ensemble against SGD written out
  by hand (lr, momentum, weight decay, epochs, batch, both schedules);
- the baselines' own settings (``cfg.baselines``): DM's, DC/DSA's, CAFE's, the
  coresets' and the generators', read off their optimisers and loops;
- DSA's magnitudes (``distill.dsa``): each one in the parameters it draws.

Each test was seen to fail with a planted bug (the field ignored) in a scratch copy.
"""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from datadam_lib import make_config, override
from datadam_lib.kit import cache
from datadam_lib.method import augment, ensemble
from datadam_lib.method import step as step_mod
from datadam_lib.method.baselines import cafe, coresets, generative
from datadam_lib.method.baselines import gradient_matching as gm
from datadam_lib.method.baselines.common import capped
from datadam_lib.method.baselines.sets import SET_KINDS, dm_config, get_kind
from datadam_lib.method.baselines_config import CAFEConfig
from datadam_lib.method.config import Config, EvalConfig
from datadam_lib.method.distill import distill
from datadam_lib.method.evaluate import train_model
from datadam_lib.method.models import EncoderSpec, build_encoder
from datadam_lib.method.training import model_generator

# ---------------------------------------------------------------- cache keys, field by field

ALL = tuple(SET_KINDS)
GENERATORS = tuple(generative.GENERATIVE)
COMPUTED = ("datadam", "dm", "dc", "dsa", "cafe", "herding", "kcenter")   # the kinds that run distill.encoder
EVALUATION = "evaluation"   # the field changes the evaluation of every kind, and no set


def _encoder(prefix: str, readers) -> dict:
    return {f"{prefix}.{k}": (v, readers) for k, v in {
        "arch": "alexnet", "width": 64, "depth": 2, "act": "leakyrelu", "norm": "batch", "pool": "max",
        "depths": (2, 3, 4), "gray_stem_padding": 3}.items()}


def _all(prefix: str, values: dict, readers) -> dict:
    return {f"{prefix}.{k}": (v, readers) for k, v in values.items()}


# Every field of Config: another valid value, and what it changes: the kinds of
# set whose result depends on it (their set and evaluation keys must change;
# so must the trained model's key of a kind that samples one, except for the
# IPC, which it serves whole), EVALUATION, or None (a name or a memory setting:
# equal values make equal results). Kinds left out may still key on a field.
FIELDS: dict[str, tuple[object, tuple[str, ...] | str | None]] = {
    "dataset": ("cifar10", None),                  # a name: the data's own identity is in every key (test_cache.py)
    "preset": ("table2", None),                    # a name: make_config copies the preset's values into the fields
    # the scale caps the baselines' work; only the trained models' payloads hold the capped values
    # (DM/DC/DSA/CAFE: test_the_scale_that_caps_a_baselines_work_is_in_its_key)
    "scale": ("quick", ("herding", "kcenter", *GENERATORS)),
    "seed": (1, ALL),
    "preprocess": ("normalise", ALL),
    "distill.ipc": (1, ALL),
    "distill.iterations": (7, ("datadam", "pixel-mmd")),
    "distill.lr_images": (0.5, ("datadam", "pixel-mmd")),
    "distill.momentum": (0.9, ("datadam", "dm", "pixel-mmd")),
    "distill.batch_real": (7, ("datadam", "pixel-mmd")),
    "distill.init": ("noise", ("datadam", "dm", "pixel-mmd")),
    **_encoder("distill.encoder", COMPUTED),
    "distill.encoder_train_mode": (False, ("datadam", "dm")),
    "distill.method.power": (2.0, ("datadam",)),
    "distill.method.attention_norm": ("l1", ("datadam",)),
    "distill.method.distance": ("mae", ("datadam",)),
    "distill.method.sam_layers": ((1, 2), ("datadam",)),
    "distill.method.components": (("mmd",), ("datadam",)),
    "distill.method.task_balance": (0.5, ("datadam",)),
    "distill.method.loss_scale": (1.0, ("datadam",)),
    "distill.dsa": (None, ("datadam", "dm", "dsa")),
    **_all("distill.dsa", {"brightness": 0.5, "saturation": 1.0, "contrast": 0.25, "crop": 0.25, "cutout": 0.25,
                           "flip": 0.25, "scale": 1.5, "rotate": 30.0, "ops": ("color",)}, ("datadam", "dm", "dsa")),
    "distill.class_chunk": (2, ("datadam",)),       # with BatchNorm, a chunk is what the statistics cover
    "distill.memory_budget_mb": (64, None),         # auto chunking: memory, not results
    "distill.autocast": ("bf16", ("datadam", "dm")),
    **_encoder("evaluate.encoder", EVALUATION),
    **_all("evaluate", {"epochs": 7, "lr": 0.02, "momentum": 0.5, "weight_decay": 0.0, "batch_size": 64,
                        "schedule": "step", "step_size": 5, "gamma": 0.1, "num_models": 3, "augment": "none",
                        "autocast": "bf16"}, EVALUATION),
    "evaluate.batch_test": (64, None),              # eval mode: the batch does not change a prediction
    **_all("baselines.matching", {"iterations": 5, "lr_images": 0.2, "momentum": 0.9, "lr_net": 0.02,
                                  "batch_real": 64, "batch_train": 64, "bn_images": 8, "outer_loop": 3,
                                  "inner_loop": 4}, ("dc", "dsa")),
    **_all("baselines.dm", {"iterations": 5, "lr_images": 0.5, "batch_real": 64}, ("dm",)),
    **_all("baselines.cafe", {"iterations": 5, "lr_images": 0.2, "momentum": 0.9, "lr_decay_at": (0.5,),
                              "lr_net": 0.02, "batch_real": 64, "batch_train": 64, "last_weight": 2.0,
                              "earlier_weight": 0.2, "pooled_weight": 2.0, "inner_weight": 0.1, "lambda_1": 0.1,
                              "lambda_2": 0.1, "window": 5, "check_images": 64, "max_outer": 7,
                              "max_inner": 7}, ("cafe",)),
    "baselines.coreset.feature_epochs": (5, ("herding", "kcenter")),
    **_all("baselines.generative", {"iterations": 100, "width": 32}, GENERATORS),
}


def _paths(obj, prefix: str = "") -> set[str]:
    out = set()
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        out |= _paths(v, f"{prefix}{f.name}.") if dataclasses.is_dataclass(v) else {prefix + f.name}
    return out


def test_every_config_field_is_classified():
    """A new config field must be added to FIELDS: what it changes decides
    which keys must hold it."""
    missing = _paths(Config()) - set(FIELDS)
    assert not missing, f"add these fields to FIELDS (a value and what they change): {sorted(missing)}"
    assert set(FIELDS) - _paths(Config()) == {"distill.dsa"}   # the whole DSA switched off


def _model_key(kind: str, cfg: Config, data) -> str | None:
    model = get_kind(kind).model
    return None if model is None else cache.make_key("model", model.payload(cfg), cache.dataset_identity(data),
                                                     cfg.seed)


@pytest.mark.parametrize("path", sorted(FIELDS))
def test_every_field_that_changes_a_result_changes_its_keys(path, tiny_data):
    data = tiny_data()
    base = make_config("paper", "paper", ipc=10)
    value, readers = FIELDS[path]
    other = override(base, {path: value})
    assert cache.canonical(other) != cache.canonical(base), f"{path}={value!r} is the default"
    if readers is None:
        return
    for kind in ALL:
        set_changed = cache.set_key(kind, base, data) != cache.set_key(kind, other, data)
        eval_changed = cache.eval_key(base, data, kind) != cache.eval_key(other, data, kind)
        if readers == EVALUATION:
            assert eval_changed and not set_changed, (kind, path)
        elif kind in readers:
            assert set_changed and eval_changed, f"the {kind} set's key ignores {path}"
            if get_kind(kind).model is not None:
                same_model = _model_key(kind, base, data) == _model_key(kind, other, data)
                assert same_model == (path == "distill.ipc"), f"the {kind} model's key and {path}"


def _work(kind: str, cfg: Config) -> tuple:
    """What the scale lets DM / DC / DSA / CAFE do (their modules' caps)."""
    if kind == "dm":
        d = dm_config(cfg).distill
        return d.iterations, d.batch_real
    if kind == "cafe":
        c = cfg.baselines.cafe
        return tuple(capped(v, cfg, "cafe", n) for v, n in ((c.iterations, "iterations"), (c.max_outer, "outer")))
    return tuple(capped(v, cfg, "matching", n) for v, n in zip(gm.loops(10, cfg.baselines.matching), ("outer", "inner")))


def _smoke_and_quick() -> tuple[Config, Config]:
    """Smoke and quick configs whose distillation and baseline fields are equal (smoke's set to quick's)."""
    smoke = make_config("paper", "smoke", ipc=10, overrides={"distill.iterations": 200, "distill.batch_real": 32})
    return smoke, make_config("paper", "quick", ipc=10)


@pytest.mark.parametrize("kind", ["dm", "dc", "dsa", "cafe"])
def test_the_scale_caps_the_baselines_work(kind):
    smoke, quick = _smoke_and_quick()
    assert smoke.distill == quick.distill and smoke.baselines == quick.baselines
    assert _work(kind, smoke) != _work(kind, quick)


@pytest.mark.parametrize("kind", ["dm", "dc", "dsa", "cafe"])
def test_the_scale_that_caps_a_baselines_work_is_in_its_key(kind, tiny_data):
    """DM/DC/DSA/CAFE's configs are equal at smoke and quick scale here, but the
    scale caps their work (config.SCALES): their keys must differ (issue 23)."""
    smoke, quick = _smoke_and_quick()
    assert cache.set_key(kind, smoke, tiny_data()) != cache.set_key(kind, quick, tiny_data())
    assert cache.set_key("datadam", smoke, tiny_data()) == cache.set_key("datadam", quick, tiny_data())


# ---------------------------------------------------------------- a spy on SGD


@pytest.fixture
def sgd(monkeypatch) -> list:
    """Every torch.optim.SGD made while the test runs, counting its steps."""
    made = []

    class Spy(torch.optim.SGD):
        def __init__(self, params, *a, **k):
            super().__init__(params, *a, **k)
            self.steps = 0
            made.append(self)

        def step(self, closure=None):
            self.steps += 1
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", Spy)
    return made


def _image_optimiser(made: list, shape) -> torch.optim.Optimizer:
    [opt] = [o for o in made if o.param_groups[0]["params"][0].shape == shape]
    return opt


def _group(opt) -> tuple:
    g = opt.param_groups[0]
    return g["lr"], g["momentum"], g["weight_decay"]


# ---------------------------------------------------------------- DataDAM's loop


def test_every_distillation_field_reaches_the_loop(tiny_data, small_config, sgd, monkeypatch):
    data = tiny_data(counts=(3, 3, 3), size=16)
    cfg = small_config(ipc=2, width=8, distill__iterations=2, distill__lr_images=0.37, distill__momentum=0.2,
                       distill__batch_real=2, distill__encoder_train_mode=False, distill__class_chunk=2,
                       distill__encoder__norm="batch", distill__method__task_balance=0.3,
                       distill__dsa__ops=("color", "flip"))
    calls, real = [], step_mod.matched

    def spy(encoder, objective, data_, images, real_idx, params, dsa, chunk, classes=None, precision="none"):
        calls.append({"training": encoder.training, "width": encoder.stages[0].body[0].out_channels,
                      "bn": any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules()),
                      "batch": real_idx.shape, "dsa": dsa, "chunk": chunk, "method": objective.m,
                      "lam": objective.lam, "precision": precision})
        return real(encoder, objective, data_, images, real_idx, params, dsa, chunk, classes, precision)
    monkeypatch.setattr(step_mod, "matched", spy)
    distill(cfg, data, progress=False)
    assert len(calls) == 2
    c = calls[0]
    assert (c["training"], c["width"], c["bn"], c["batch"], c["chunk"]) == (False, 8, True, (3, 2), 2)
    assert c["dsa"] == cfg.distill.dsa and c["method"] == cfg.distill.method and c["lam"] == 0.3
    assert c["precision"] == cfg.distill.autocast
    opt = _image_optimiser(sgd, (6, 1, 16, 16))
    assert _group(opt)[:2] == (0.37, 0.2) and opt.steps == 2


# ---------------------------------------------------------------- evaluation: SGD by hand


def _lr(cfg: EvalConfig, epoch: int) -> float:
    if cfg.schedule == "step":                                       # StepLR (Table 2)
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    return cfg.lr * (0.1 if epoch >= cfg.epochs // 2 else 1.0)      # x0.1 half way (DC/DSA/DM)


def _sgd_by_hand(x, y, data, cfg: EvalConfig, g: torch.Generator):
    """Plain SGD written out: v = m v + (grad + wd p) (v = grad + wd p at the
    first step), p -= lr v, over shuffled batches of cfg.batch_size."""
    model = build_encoder(cfg.encoder, data.channels, data.num_classes, data.im_size, g)
    params, bufs = list(model.parameters()), {}
    for epoch in range(cfg.epochs):
        for idx in torch.randperm(len(x), generator=g).split(cfg.batch_size):
            grads = torch.autograd.grad(F.cross_entropy(model(x[idx]), y[idx]), params)
            with torch.no_grad():
                for i, (p, gr) in enumerate(zip(params, grads)):
                    d = gr + cfg.weight_decay * p
                    bufs[i] = d if i not in bufs else cfg.momentum * bufs[i] + d
                    p -= _lr(cfg, epoch) * bufs[i]
    return model


@pytest.mark.parametrize("schedule", ["half", "step"])
def test_evaluation_training_is_sgd_with_the_configs_values(tiny_data, float64, schedule):
    data = tiny_data(counts=(3, 3), size=8)
    data = dataclasses.replace(data, x_train=data.x_train.double(), x_test=data.x_test.double())
    cfg = EvalConfig(encoder=EncoderSpec(width=8), epochs=4, lr=0.05, momentum=0.5, weight_decay=1e-3,
                     batch_size=4, schedule=schedule, step_size=2, gamma=0.3, augment="none")
    x, y = data.x_train, data.y_train
    want = [_sgd_by_hand(x, y, data, cfg, model_generator(0, k, "cpu")) for k in range(2)]
    alone = [train_model(x, y, data, cfg, model_generator(0, k, "cpu")) for k in range(2)]
    together = ensemble.train_models(x, y, data, cfg, [model_generator(0, k, "cpu") for k in range(2)])
    for w, a, t in zip(want, alone, together, strict=True):
        for (name, p), q, r in zip(w.named_parameters(), a.parameters(), t.parameters(), strict=True):
            torch.testing.assert_close(q, p, atol=1e-10, rtol=0, msg=f"train_model: {name}")
            torch.testing.assert_close(r, p, atol=1e-10, rtol=0, msg=f"ensemble: {name}")


def test_evaluation_augments_when_asked(tiny_data):
    data = tiny_data(counts=(3, 3), size=8)
    cfg = EvalConfig(encoder=EncoderSpec(width=8), epochs=2, batch_size=4, augment="none")
    plain = train_model(data.x_train, data.y_train, data, cfg, torch.Generator().manual_seed(0))
    dsa = train_model(data.x_train, data.y_train, data, override(cfg, {"augment": "dsa"}),
                      torch.Generator().manual_seed(0))
    assert not torch.equal(plain.classifier.weight, dsa.classifier.weight)


# ---------------------------------------------------------------- the baselines' own settings


def test_dm_runs_with_its_own_settings():
    cfg = make_config("paper", "paper", ipc=10, overrides={"baselines.dm.iterations": 123,
                                                           "baselines.dm.lr_images": 0.7,
                                                           "baselines.dm.batch_real": 17})
    d = dm_config(cfg).distill
    assert (d.iterations, d.lr_images, d.batch_real) == (123, 0.7, 17)
    assert (d.method.components, d.method.lambda_for(32), d.method.loss_scale) == (("mmd",), 1.0, 1.0)


def _paper(ipc: int, **changes) -> Config:
    """Paper-scale config (no caps) with a tiny encoder: every baseline setting counts."""
    return make_config("paper", "paper", ipc=ipc, overrides={"distill.encoder.width": 8, **changes})


def test_dc_and_dsa_run_with_their_own_settings(tiny_data, sgd, monkeypatch):
    data = tiny_data(counts=(3, 3, 3), size=16)
    m = "baselines.matching."
    cfg = _paper(1, **{"distill.encoder.norm": "batch", m + "iterations": 2, m + "outer_loop": 3, m + "inner_loop": 2,
                       m + "lr_images": 0.37, m + "momentum": 0.2, m + "lr_net": 0.05, m + "batch_real": 2,
                       m + "batch_train": 2, m + "bn_images": 1})
    seen = {"loss": [], "train": [], "bn": []}
    for name, key, pick in (("matching_loss", "loss", lambda a: a[3]), ("train_network", "train", lambda a: a[4:6]),
                            ("freeze_batchnorm", "bn", lambda a: len(a[1]))):
        real = getattr(gm, name)
        monkeypatch.setattr(gm, name, lambda *a, _r=real, _k=key, _p=pick: seen[_k].append(_p(a)) or _r(*a))
    syn = gm.condense(cfg, data, siamese=True)
    assert len(syn.losses) == 2 and (syn.info["outer_loop"], syn.info["inner_loop"]) == (3, 2)
    assert seen["loss"] == [2] * 6 and seen["bn"] == [3] * 6             # 2 iterations x 3 outer steps
    assert seen["train"] == [(2, 2)] * 4                                 # (inner epochs, batch) between outer steps
    opt = _image_optimiser(sgd, (3, 1, 16, 16))
    assert _group(opt)[:2] == (0.37, 0.2) and opt.steps == 6
    nets = [o for o in sgd if o is not opt]
    assert len(nets) == 2 and all(_group(o)[:2] == (0.05, 0) for o in nets)


def test_cafe_loss_weights_by_hand():
    """test_baselines.py's hand-computed case with every weight changed."""
    c = CAFEConfig(last_weight=2.0, earlier_weight=0.3, pooled_weight=0.5, inner_weight=0.2)
    real_taps = [torch.tensor([1.0, 2.0]).view(2, 1, 1, 1), torch.tensor([1.0, 1.0]).view(2, 1, 1, 1)]
    syn_taps = [torch.tensor([0.0, 0.0]).view(2, 1, 1, 1), torch.tensor([2.0, 1.0]).view(2, 1, 1, 1)]
    real_emb, syn_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    layers = 0.3 * (1 + 4) + 2.0 * 1
    embedding = (0.5 + 1.0) * 1
    discrimination = math.log(1 + math.exp(-1)) + math.log(2)
    got = cafe.cafe_loss(real_taps, real_emb, syn_taps, syn_emb, torch.tensor([0, 1]), 2, c)
    assert got.item() == pytest.approx(layers + embedding + 0.2 * discrimination, rel=1e-6)
    assert [cafe.image_lr(CAFEConfig(lr_images=1.0, lr_decay_at=(0.5,)), 10, it) for it in (4, 5)] == [1.0, 0.5]


@pytest.mark.parametrize("loops, outer_steps, inner_epochs", [
    # lambda_1 < 0: the outer loop never settles (max_outer steps); lambda_2 > 1: no inner loop spreads (max_inner)
    ({"lambda_1": -1.0, "lambda_2": 2.0, "max_outer": 3, "max_inner": 2}, 3, 3 * 2),
    # lambda_1 > 1: the outer loop settles once its window of 2 is full; lambda_2 < 0: so does the inner loop
    ({"lambda_1": 2.0, "lambda_2": -1.0, "max_outer": 5, "max_inner": 4}, 2, 2),
])
def test_cafe_runs_with_its_own_settings(loops, outer_steps, inner_epochs, tiny_data, sgd, monkeypatch):
    data = tiny_data(counts=(3, 3, 3), size=16)
    c = "baselines.cafe."
    cfg = _paper(1, **{c + "iterations": 1, c + "lr_images": 0.37, c + "momentum": 0.2, c + "lr_net": 0.05,
                       c + "batch_real": 2, c + "batch_train": 2, c + "check_images": 1, c + "window": 2,
                       **{c + k: v for k, v in loops.items()}})
    seen = {"real": [], "train": [], "check": []}
    real_loss, real_train, real_acc = cafe.cafe_loss, cafe.train_network, cafe.real_accuracy
    monkeypatch.setattr(cafe, "cafe_loss", lambda *a: seen["real"].append(len(a[1])) or real_loss(*a))
    monkeypatch.setattr(cafe, "train_network", lambda *a: seen["train"].append(a[4:6]) or real_train(*a))
    monkeypatch.setattr(cafe, "real_accuracy", lambda *a: seen["check"].append(a[2]) or real_acc(*a))
    syn = cafe.condense(cfg, data)
    assert syn.info["outer_steps"] == [outer_steps] and syn.info["inner_epochs"] == [inner_epochs]
    assert seen["real"] == [3 * 2] * outer_steps and seen["train"] == [(1, 2)] * inner_epochs
    assert set(seen["check"]) == {1}
    opt = _image_optimiser(sgd, (3, 1, 16, 16))
    assert _group(opt)[:2] == (0.37, 0.2) and opt.steps == outer_steps
    assert [_group(o)[:2] for o in sgd if o is not opt] == [(0.05, 0)]


def test_coreset_feature_network_trains_for_its_epochs(tiny_data, sgd):
    data = tiny_data(counts=(3, 3, 3), size=16)
    state = coresets.train(_paper(1, **{"baselines.coreset.feature_epochs": 3}), data)
    [opt] = sgd
    assert state["epochs"] == 3 and opt.steps == 3                       # 9 images: one batch per epoch


@pytest.mark.parametrize("name, layer, units", [("cgan", "D.body.0.weight", 4),    # DCGAN's ndf = width
                                                 ("gmmn", "G.net.0.weight", 16 * 4)])  # GMMN: 16 x width units
def test_generators_train_with_their_own_work(name, layer, units, tiny_data):
    data = tiny_data(counts=(3, 3, 3), size=8)
    cfg = _paper(1, **{"baselines.generative.iterations": 3, "baselines.generative.width": 4})
    state = generative.train(name, cfg, data)
    assert (state["iterations"], state["width"]) == (3, 4) and all(len(v) == 3 for v in state["losses"].values())
    assert state["weights"][layer].shape[0] == units


# ---------------------------------------------------------------- DSA's magnitudes (Table 2)


def _draw(n: int = 400, **changes) -> dict:
    return augment.sample(augment.DSAConfig(**changes), n, 16, torch.Generator().manual_seed(0))


def test_each_dsa_magnitude_reaches_its_draws():
    """Same generator, one magnitude changed: the draws follow it (brightness and
    saturation scale, contrast shifts, the others bound their range)."""
    torch.testing.assert_close(_draw(brightness=2.0)["brightness"], 2 * _draw(brightness=1.0)["brightness"])
    torch.testing.assert_close(_draw(saturation=3.0)["saturation"], 1.5 * _draw(saturation=2.0)["saturation"])
    torch.testing.assert_close(_draw(contrast=0.7)["contrast"], _draw(contrast=0.5)["contrast"] + 0.2)
    for crop, shift in ((0.125, 2), (0.25, 4)):                          # int(16 * crop + 0.5) pixels
        assert int(_draw(crop=crop)["crop"].abs().max()) == shift
    for flip in (0.0, 1.0):
        assert float(_draw(flip=flip)["flip"].float().mean()) == flip
    for scale in (1.0, 1.5):
        s = _draw(scale=scale)["scale"]
        assert 1 / scale - 1e-6 <= float(s.min()) and float(s.max()) <= scale + 1e-6 and float(s.max()) > scale - 0.05
    for rotate in (0.0, 30.0):
        r = _draw(rotate=rotate)["rotate"].abs().max()
        assert float(r) == pytest.approx(rotate / 180 * math.pi, abs=0.01)


@pytest.mark.parametrize("cutout, side", [(0.25, 4), (0.5, 8)])
def test_dsa_cutout_erases_a_square_of_its_size(cutout, side):
    """A centred cutout (row forced to the middle) zeroes side x side pixels, side = int(16 * cutout + 0.5)."""
    cfg = augment.DSAConfig(ops=("cutout",), cutout=cutout)
    p = augment.sample(cfg, 1, 16, torch.Generator().manual_seed(0))
    p["cutout"] = torch.tensor([[8, 8]])
    out = augment.apply(torch.ones(1, 1, 16, 16), p, cfg)
    assert int((out == 0).sum()) == side * side
