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
