"""Configuration (config.py): presets match their sources, scales cap only the
work, overrides and serialisation round trips."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest

from datadam_lib import PRESETS, SCALES, Config, make_config, override
from datadam_lib.method.augment import DSAConfig
from datadam_lib.method.config import from_dict


def test_table2_preset_is_table2_read_literally():
    cfg = make_config("table2", scale="paper")
    d, m, e = cfg.distill, cfg.distill.method, cfg.evaluate
    assert (m.power, m.attention_norm, m.distance) == (4.0, "l2", "mse")
    assert m.components == ("sam", "mmd") and m.loss_scale == 1.0 and cfg.preprocess == "mtt"
    assert m.lambda_for(32) == 0.01 and m.lambda_for(64) == 0.02 and m.lambda_for(128) == 0.02
    assert d.encoder.norm == "instance" and e.encoder.norm == "instance" and d.encoder.arch == "convnet"
    assert d.encoder.width == 128 and d.encoder.depth is None
    assert d.batch_real == 256 and d.iterations == 8000 and d.momentum == 0.5 and d.init == "real"
    assert (e.lr, e.momentum, e.weight_decay) == (0.01, 0.9, 5e-4)
    assert (e.schedule, e.step_size, e.gamma) == ("step", 15, 0.5)
    assert d.dsa == DSAConfig() and d.encoder.depths == (3, 4, 5) and d.encoder.gray_stem_padding == 1


def test_paper_preset_is_table2_with_the_release_loss_scale_and_a_schedule_that_trains():
    """docs/presets.md: the two judgment calls of the default preset, and nothing else."""
    paper, literal = make_config("paper", scale="paper"), make_config("table2", scale="paper")
    assert paper.distill.method.loss_scale == 100.0 and paper.evaluate.schedule == "half"
    assert paper.evaluate.epochs == 1000 and paper.evaluate.batch_size == 256
    assert dataclasses.replace(
        paper, preset="table2", distill=dataclasses.replace(
            paper.distill, method=dataclasses.replace(paper.distill.method, loss_scale=1.0)),
        evaluate=dataclasses.replace(paper.evaluate, schedule="step")) == literal

@pytest.mark.parametrize("ipc,lr", [(1, 1.0), (10, 1.0), (50, 1.0), (51, 10.0), (100, 10.0)])
def test_image_lr_is_1_up_to_ipc_50_then_10(ipc, lr):
    assert make_config("paper", ipc=ipc).distill.image_lr() == lr
    assert make_config("paper", ipc=ipc, overrides={"distill.lr_images": 3.0}).distill.image_lr() == 3.0


def test_released_preset():
    cfg = make_config("released", scale="paper")
    d, e = cfg.distill, cfg.evaluate
    assert d.method.power == 1.0 and d.method.loss_scale == 100.0
    assert d.encoder.norm == "batch" and e.encoder.norm == "batch"
    assert d.batch_real == 64 and d.iterations == 20_000
    assert e.epochs == 1800 and e.schedule == "half" and e.batch_size == 64
    # lambda 0.01 at every size, no ZCA by default (--zca False), the release's ConvNet depths and stem
    assert d.method.lambda_for(128) == 0.01 and cfg.preprocess == "normalise"
    assert d.encoder.depths == e.encoder.depths == (3, 3, 6) and d.encoder.gray_stem_padding == 3
    # the method otherwise as the paper's
    assert (d.method.attention_norm, d.method.distance, d.momentum) == ("l2", "mse", 0.5)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("scale", sorted(SCALES))
def test_scales_cap_work_but_not_the_method(preset, scale):
    base, s = PRESETS[preset], SCALES[scale]
    cfg = make_config(preset, scale=scale, dataset="cifar10", ipc=7, seed=3)
    assert (cfg.preset, cfg.scale, cfg.dataset, cfg.seed, cfg.distill.ipc) == (preset, scale, "cifar10", 3, 7)
    cap = (lambda v, c: v if c is None else min(v, c))
    assert cfg.distill.iterations == cap(base.distill.iterations, s.iterations)
    assert cfg.distill.batch_real == cap(base.distill.batch_real, s.batch_real)
    assert cfg.evaluate.epochs == cap(base.evaluate.epochs, s.epochs)
    assert cfg.evaluate.num_models == cap(base.evaluate.num_models, s.num_models)
    # everything that defines the method is the preset's
    assert cfg.distill.method == base.distill.method
    assert cfg.distill.encoder == base.distill.encoder and cfg.distill.dsa == base.distill.dsa
    assert cfg.evaluate.encoder == base.evaluate.encoder and cfg.evaluate.schedule == base.evaluate.schedule
    assert (cfg.evaluate.lr, cfg.distill.momentum, cfg.distill.init) == (base.evaluate.lr, base.distill.momentum,
                                                                        base.distill.init)


def test_scale_values():
    smoke = make_config("paper", scale="smoke")
    assert (smoke.distill.iterations, smoke.evaluate.epochs, smoke.evaluate.num_models, smoke.distill.batch_real) \
        == (3, 4, 1, 8)
    quick = make_config("paper", scale="quick")
    assert (quick.distill.iterations, quick.evaluate.epochs, quick.evaluate.num_models, quick.distill.batch_real) \
        == (200, 300, 3, 32)
    full = make_config("paper", scale="paper")
    assert (full.distill.iterations, full.evaluate.epochs, full.evaluate.num_models) == (8000, 1000, 10)


def test_unknown_preset_and_scale():
    with pytest.raises(KeyError, match="unknown preset 'papr'.*paper.*released.*table2"):
        make_config("papr")
    with pytest.raises(KeyError, match="unknown scale 'huge'.*quick.*smoke"):
        make_config("paper", scale="huge")


def test_override_dotted_paths():
    cfg = make_config("paper", scale="smoke")
    new = override(cfg, {"distill.method.power": 2, "evaluate.epochs": 9, "seed": 5,
                         "distill.encoder.norm": "batch", "distill.dsa": None})
    assert new.distill.method.power == 2 and new.evaluate.epochs == 9 and new.seed == 5
    assert new.distill.encoder.norm == "batch" and new.distill.dsa is None
    assert new.evaluate.encoder.norm == "instance"                        # only the named field changes
    assert new.distill.method.attention_norm == "l2" and new.distill.iterations == 3
    assert cfg.distill.method.power == 4.0                                # the original is untouched (frozen)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1                                                       # type: ignore[misc]
    assert make_config("paper", overrides={"distill.method.power": 3}).distill.method.power == 3


@pytest.mark.parametrize("path", ["distill.method.pwer", "nothing", "distill.ipc.value", "evaluate..epochs"])
def test_override_unknown_field(path):
    # the message names the whole path that was asked for
    with pytest.raises(KeyError, match=re.escape(f"no config field {path!r} in Config")):
        override(make_config(), {path: 1})
    with pytest.raises(KeyError, match=re.escape(f"no config field {path!r}")):
        make_config("paper", overrides={path: 1})
    with pytest.raises(KeyError, match=re.escape("no config field 'power.x' in MethodConfig")):
        override(make_config().distill.method, {"power.x": 1})


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_dict_and_json_round_trip(preset):
    cfg = make_config(preset, scale="smoke", dataset="digits", ipc=3, seed=2)
    assert from_dict(cfg.to_dict()) == cfg
    assert from_dict(json.loads(cfg.to_json())) == cfg
    odd = override(cfg, {"distill.method.sam_layers": (1, 2), "distill.method.components": ("mmd", "pixel"),
                         "distill.dsa": DSAConfig(ops=("flip", "crop")), "distill.method.task_balance": 0.5,
                         "distill.class_chunk": 3})
    back = from_dict(json.loads(odd.to_json()))
    assert back == odd and isinstance(back.distill.method.sam_layers, tuple)
    nodsa = override(cfg, {"distill.dsa": None})
    assert from_dict(json.loads(nodsa.to_json())) == nodsa


def test_to_json_is_stable_and_sorted():
    cfg = make_config("paper", scale="smoke")
    text = cfg.to_json()
    assert text == make_config("paper", scale="smoke").to_json()
    keys = list(json.loads(text))
    assert keys == sorted(keys) and set(keys) == {f.name for f in dataclasses.fields(Config)}


# ---------------------------------------------------------------- validation where each field is defined

@pytest.mark.parametrize("path,value,expected", [
    ("distill.ipc", "abc", "an integer >= 1"),
    ("distill.ipc", 2.0, "an integer >= 1"),
    ("distill.ipc", True, "an integer >= 1"),
    ("distill.iterations", -1, "an integer >= 0"),
    ("distill.momentum", 1.0, "a number in [0, 1)"),
    ("distill.lr_images", 0, "a number > 0 or None"),
    ("distill.class_chunk", 0, "an integer >= 1 or None"),
    ("distill.init", "zeros", "one of 'kcenter', 'noise', 'real'"),
    ("distill.method.power", -1, "a number > 0"),
    ("distill.method.power", float("inf"), "a number > 0"),
    ("distill.method.distance", "foo", "one of 'cosine', 'mae', 'mse'"),
    ("distill.method.attention_norm", "l3", "one of 'l1', 'l2', 'none'"),
    ("distill.method.components", ("sam", "sam"), "a non-empty tuple of distinct names from"),
    ("distill.method.components", (), "a non-empty tuple of distinct names from"),
    ("distill.method.sam_layers", (0, 1), "'all_but_last', 'all' or a tuple of 1-based layer numbers"),
    ("distill.method.task_balance", -0.1, "a number >= 0 or None"),
    ("distill.encoder.norm", "batchnorm", "one of 'batch', 'group', 'instance', 'layer', 'none'"),
    ("distill.encoder.depths", (3, 4), "a tuple of 3 integers >= 1"),
    ("distill.dsa.flip", 1.5, "a number in [0, 1]"),
    ("distill.dsa", "on", "a DSAConfig or None"),
    ("evaluate.epochs", 0, "an integer >= 1"),
    ("evaluate.num_models", 0, "an integer >= 1"),
    ("evaluate.batch_size", 0, "an integer >= 1"),
    ("evaluate.schedule", "cosine", "one of 'half', 'step'"),
    ("evaluate.augment", "mixup", "one of 'autoaugment', 'dsa', 'none', 'randaugment'"),
    ("evaluate.encoder.arch", "vit", "one of 'alexnet', 'convnet', 'resnet18', 'vgg11'"),
    ("seed", -1, "an integer in [0, 4294967295]"),
    ("preprocess", "zca", "one of 'mtt', 'normalise', 'normalise+zca'"),
    ("dataset", "", "a dataset name, npz:PATH or folder:PATH"),
])
def test_every_field_is_checked_where_it_is_defined(path, value, expected):
    """One ConfigError naming the whole dotted path, the value and what is
    expected, whichever way the value arrives: override, make_config, a saved config."""
    from datadam_lib.method.validation import ConfigError
    want = re.escape(f"{path}={value!r} is invalid: expected {expected}")
    with pytest.raises(ConfigError, match=want):
        override(make_config("paper", "smoke"), {path: value})
    with pytest.raises(ConfigError, match=want):
        make_config("paper", "smoke", overrides={path: value})
    d = make_config("paper", "smoke").to_dict()
    *outer, last = path.split(".")
    node = d
    for k in outer:
        node = node[k]
    node[last] = value
    with pytest.raises(ConfigError, match=want):
        from_dict(d)


def test_good_values_of_other_types_pass():
    cfg = make_config("paper", "smoke", overrides={"distill.method.power": 3, "evaluate.lr": 1,
                                                   "distill.method.components": ["sam"],    # a list from --set
                                                   "distill.dsa": None, "distill.method.sam_layers": (1, 2)})
    assert cfg.distill.method.power == 3 and cfg.distill.method.components == ("sam",)


def test_the_choices_are_the_registries_names():
    """config.py lists the names of registries that live above it: they must agree."""
    from datadam_lib.method import config, losses, training
    from datadam_lib.method.init import INITS
    from datadam_lib.method.losses import Objective
    assert set(config.INIT_METHODS) == set(INITS)
    assert config.NORMALISATIONS == tuple(losses.NORMALISATIONS) and config.DISTANCES == tuple(losses.DISTANCES)
    assert set(config.EVAL_AUGMENT_NAMES) == set(training.EVAL_AUGMENTS)
    for s in config.SCHEDULES:
        training.lr_at(dataclasses.replace(make_config().evaluate, schedule=s), 0)
    assert set(config.LOSS_COMPONENTS) == {"sam", "mmd", "feature", "pixel"}
    objective = Objective(dataclasses.replace(make_config().distill.method, components=config.LOSS_COMPONENTS), 32)
    assert set(objective.m.components) == set(config.LOSS_COMPONENTS)


def test_canonical_makes_integer_floats_floats():
    from datadam_lib.method.config import canonical, differences
    a = canonical(make_config(overrides={"distill.method.power": 4}))
    b = canonical(make_config(overrides={"distill.method.power": 4.0}))
    assert a == b and isinstance(a["distill"]["method"]["power"], float)
    c = canonical(make_config(overrides={"distill.method.power": 2, "seed": 3}))
    assert differences(a, c) == ["distill.method.power: 4.0 vs 2.0", "seed: 0 vs 3"]
