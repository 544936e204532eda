"""Configuration as frozen dataclasses, named presets and scales.

A *preset* fixes the method (``docs/presets.md`` lists every field where they
differ, with its evidence):

- ``paper`` (the default): the kit's best evidence of what the authors ran:
  Table 2's values, with the released code's loss scale (x100) and the
  DC/DSA/DM evaluation schedule (x0.1 at half of 1,000 epochs), where a literal
  reading of Table 2 contradicts their code;
- ``table2``: the supplement's Table 2 read literally (no x100, StepLR(15, 0.5));
- ``released``: what the authors' released code does.

A *scale* shrinks the work, never the method: ``smoke`` (seconds, for tests),
``quick`` (minutes on a 2-core CPU; meaningful on digits), ``paper`` (the
preset's full values).

    cfg = make_config("paper", scale="quick", dataset="digits", ipc=10)
    cfg = override(cfg, {"distill.method.power": 2})
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from typing import Any

from .augment import DSAConfig
from .baselines_config import NESTED as _BASELINES_NESTED
from .baselines_config import BaselinesConfig
from .models import EncoderSpec
from .validation import ConfigError, Rule, at_least, between, check_fields, non_negative, one_of, positive, subset_of

# The names each registry accepts (the registries live in the modules that
# use them, above this one; tests/test_config.py checks that they agree).
LOSS_COMPONENTS = ("sam", "mmd", "feature", "pixel")     # losses.Objective
INIT_METHODS = ("real", "noise", "kcenter")              # init.INITS
NORMALISATIONS = ("l2", "l1", "none")                    # losses.NORMALISATIONS (supplement Fig. 6)
DISTANCES = ("mse", "mae", "cosine")                     # losses.DISTANCES (supplement Fig. 5)
DEFAULT_SCALE = "quick"        # the scale of every entry point when none is given (CLI, runner, notebooks, make_config)
DEFAULT_DATASET = "digits"     # the library's and CLI's dataset when none is given (a target's own: registry)
SCHEDULES = ("half", "step")                             # training.lr_at
EVAL_AUGMENT_NAMES = ("dsa", "autoaugment", "randaugment", "none")  # training.EVAL_AUGMENTS
AUTOCAST = ("none", "bf16")                              # training.autocast

_SAM_LAYERS = Rule(lambda v: v in ("all_but_last", "all") if isinstance(v, str) else len(v) > 0 and min(v) >= 1,
                   "'all_but_last', 'all' or a tuple of 1-based layer numbers such as (1, 2)", full=True)


@dataclass(frozen=True)
class MethodConfig:
    """The DataDAM objective (main paper Sec. 3; supplement Sec. 2.2, Table 2).

    components: any of "sam" (attention matching), "mmd" (embedding MMD),
    "feature" (feature-map transfer, Fig. 11c), "pixel" (pixel-space MMD,
    Table 3). ``("sam", "mmd")`` is DataDAM, ``("mmd",)`` is DM.
    sam_layers: "all_but_last" (released default: every tap but the last),
    "all", or 1-based tap numbers such as (1,) or (1, 2) (Fig. 12)."""
    power: float = 4.0
    attention_norm: str = "l2"
    distance: str = "mse"
    sam_layers: str | tuple[int, ...] = "all_but_last"
    components: tuple[str, ...] = ("sam", "mmd")
    task_balance: float | None = None   # lambda; None: 0.01 at <= 32 px, 0.02 above (Table 2)
    loss_scale: float = 100.0           # x100 on both terms, as released (docs/presets.md: why); table2: 1

    def __post_init__(self):
        check_fields(self, power=positive(), attention_norm=one_of(NORMALISATIONS), distance=one_of(DISTANCES),
                     sam_layers=_SAM_LAYERS, components=subset_of(LOSS_COMPONENTS), task_balance=non_negative(),
                     loss_scale=positive())

    def lambda_for(self, im_size: int) -> float:
        if self.task_balance is not None:
            return self.task_balance
        return 0.01 if im_size <= 32 else 0.02


@dataclass(frozen=True)
class DistillConfig:
    ipc: int = 10
    iterations: int = 8000              # Table 2
    lr_images: float | None = None      # None: 1.0 for IPC <= 50, 10.0 above (Table 2)
    momentum: float = 0.5               # Table 2
    batch_real: int = 256               # Sec. 1.4: "256 real images from each class"
    init: str = "real"                  # real | noise | kcenter
    encoder: EncoderSpec = EncoderSpec(norm="instance")
    encoder_train_mode: bool = True     # BatchNorm uses batch statistics (as released)
    method: MethodConfig = MethodConfig()
    dsa: DSAConfig | None = DSAConfig()
    class_chunk: int | None = None      # classes per forward pass; None: as many as fit memory_budget_mb
    memory_budget_mb: int = 4096        # activation memory one class chunk may use (auto chunking)
    autocast: str = "none"              # none (fp32) | bf16: the encoder's passes under bf16 autocast (training.autocast)

    def __post_init__(self):
        check_fields(self, ipc=at_least(1), iterations=at_least(0), lr_images=positive(),
                     momentum=between(0, 1, hi_open=True), batch_real=at_least(1), init=one_of(INIT_METHODS),
                     class_chunk=at_least(1), memory_budget_mb=at_least(1), autocast=one_of(AUTOCAST))

    def image_lr(self) -> float:
        if self.lr_images is not None:
            return self.lr_images
        return 1.0 if self.ipc <= 50 else 10.0


@dataclass(frozen=True)
class EvalConfig:
    """Training fresh models on a (synthetic) set; Table 2 plus the DC/DSA/DM
    protocol where Table 2 is silent."""
    encoder: EncoderSpec = EncoderSpec(norm="instance")
    epochs: int = 1000                  # Table 2 silent: DC/DSA/DM use 1,000
    lr: float = 0.01                    # Table 2
    momentum: float = 0.9               # Table 2
    weight_decay: float = 5e-4          # Table 2
    batch_size: int = 256               # Table 2 silent: DC/DSA/DM use 256
    schedule: str = "half"              # half: x0.1 at epochs/2 (DC/DSA/DM, released); step: StepLR (Table 2)
    step_size: int = 15
    gamma: float = 0.5
    num_models: int = 10
    augment: str = "dsa"                # dsa | autoaugment | randaugment | none (Fig. 4)
    batch_test: int = 256
    autocast: str = "none"              # none (fp32) | bf16: training under bf16 autocast (training.autocast); tests in fp32

    def __post_init__(self):
        check_fields(self, epochs=at_least(1), lr=positive(), momentum=between(0, 1, hi_open=True),
                     weight_decay=non_negative(), batch_size=at_least(1), schedule=one_of(SCHEDULES),
                     step_size=at_least(1), gamma=positive(), num_models=at_least(1),
                     augment=one_of(EVAL_AUGMENT_NAMES), batch_test=at_least(1),
                     autocast=one_of(AUTOCAST))


PREPROCESS = {
    "mtt": "ZCA (kornia, eps 0.1) of the [0, 1] pixels for datasets that use it (CIFAR), without mean/std "
           "normalisation, as MTT's get_dataset (supplement Sec. 1.2: 'the same setting as [2]'); "
           "mean/std normalisation for the others",
    "normalise": "mean/std normalisation only (the released code's default: --zca False)",
    "normalise+zca": "mean/std normalisation, then ZCA where the dataset uses it (the released code with --zca)",
}


@dataclass(frozen=True)
class Config:
    """A run's every setting. Built directly it holds the preset's full,
    uncapped values (hence ``scale="paper"``); ``make_config`` caps them."""
    dataset: str = DEFAULT_DATASET
    preset: str = "paper"
    scale: str = "paper"
    seed: int = 0
    preprocess: str = "mtt"             # PREPROCESS: how images are normalised / whitened
    distill: DistillConfig = DistillConfig()
    evaluate: EvalConfig = EvalConfig()
    baselines: BaselinesConfig = BaselinesConfig()   # the other methods' own defaults (baselines_config.py)

    def __post_init__(self):
        # preset and scale are labels (make_config checks the names it is given)
        check_fields(self, dataset=Rule(bool, "a dataset name, npz:PATH or folder:PATH", full=True),
                     seed=between(0, 2**32 - 1), preprocess=one_of(PREPROCESS))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# The released ConvNet: BatchNorm; depth 3 at every size (its default model
# "ConvNet") but 6 for 128 px ("ConvNet128IN"); the first conv of 1-channel
# inputs padded by 3 (it turns MNIST's 28 px into 32).
_RELEASED_NET = EncoderSpec(norm="batch", depths=(3, 3, 6), gray_stem_padding=3)

PRESETS: dict[str, Config] = {
    "paper": Config(preset="paper"),
    "table2": Config(preset="table2", distill=DistillConfig(method=MethodConfig(loss_scale=1.0)),
                     evaluate=EvalConfig(schedule="step")),
    "released": Config(
        preset="released", preprocess="normalise",
        distill=DistillConfig(
            iterations=20_000, batch_real=64, lr_images=1.0, encoder=_RELEASED_NET,
            method=MethodConfig(power=1.0, loss_scale=100.0, task_balance=0.01)),
        evaluate=EvalConfig(encoder=_RELEASED_NET, epochs=1800, batch_size=64, schedule="half")),
}


@dataclass(frozen=True)
class Scale:
    """How much work a scale allows, never which method runs (issue 24: the
    one place scales are defined). ``iterations``, ``epochs``, ``num_models``
    and ``batch_real`` cap DataDAM's and the evaluation's config (``None``
    keeps the preset's value; DM's work too: ``baselines.sets.dm_config``);
    ``caps`` cap each baseline's own loop, ``{method: {field: cap}}``, read by
    ``baselines.common.capped`` (the methods and fields: docs/presets.md,
    "Work per scale")."""
    iterations: int | None = None
    epochs: int | None = None
    num_models: int | None = None
    batch_real: int | None = None
    description: str = ""
    caps: dict[str, dict[str, int]] = field(default_factory=dict, hash=False)

    def work(self) -> dict:
        """Every cap, without the description (what a cache key records)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "description"}


SCALES: dict[str, Scale] = {
    "smoke": Scale(iterations=3, epochs=4, num_models=1, batch_real=8,
                   description="seconds on a CPU: exercises every code path",
                   caps={"matching": {"iterations": 1, "outer": 2, "inner": 1},
                         "cafe": {"iterations": 1, "outer": 2, "inner": 2},
                         "generative": {"iterations": 2, "width": 8},
                         "coreset": {"feature_epochs": 1}}),
    "quick": Scale(iterations=200, epochs=300, num_models=3, batch_real=32,
                   description="minutes on a 2-core CPU: the settings differ on real images",
                   # DC/DSA (main.py: 1,000 iterations of `outer` image updates): about 10 image updates and
                   # at least one iteration (IPC 1: 10 iterations; IPC 10: 1, with 450 network epochs).
                   # CAFE (distill.py: 2,000 iterations of >= 10 updates and 100 network epochs each, hours
                   # on a CPU): 1 iteration, its loops stopped at 20 / 20. Generators: 300 updates at width
                   # 32; BigGAN-style makes 4 D steps of residual nets per update (~10x a cGAN update on a
                   # CPU): 60 at width 16. Coresets: the embedding network trained 5 epochs.
                   caps={"matching": {"updates": 10},
                         "cafe": {"iterations": 1, "outer": 20, "inner": 20},
                         "generative": {"iterations": 300, "width": 32},
                         "biggan": {"iterations": 60, "width": 16},
                         "coreset": {"feature_epochs": 5}}),
    "paper": Scale(description="the preset's full values"),
}


def cap(value: int, limit: int | None) -> int:
    """``value`` under a scale's cap (``None``: no cap)."""
    return value if limit is None else min(value, limit)


def make_config(preset: str = "paper", scale: str = DEFAULT_SCALE, dataset: str = DEFAULT_DATASET, ipc: int = 10,
                seed: int = 0, overrides: dict[str, Any] | None = None) -> Config:
    """The config of ``preset`` with the work capped by ``scale``."""
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    if scale not in SCALES:
        raise KeyError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
    base, s = PRESETS[preset], SCALES[scale]
    d, e = base.distill, base.evaluate
    cfg = override(base, {"dataset": dataset, "scale": scale, "seed": seed, "distill.ipc": ipc,
                          "distill.iterations": cap(d.iterations, s.iterations),
                          "distill.batch_real": cap(d.batch_real, s.batch_real),
                          **scale_evaluation(e, scale)})
    return override(cfg, overrides or {})


def scale_evaluation(e: EvalConfig, scale: str) -> dict[str, int]:
    """The overrides that cap the evaluation ``e`` at ``scale`` (``evaluate DIR
    --scale``: a set distilled at one scale evaluated at another)."""
    s = SCALES[scale]
    return {"evaluate.epochs": cap(e.epochs, s.epochs), "evaluate.num_models": cap(e.num_models, s.num_models)}


def override(cfg, changes: dict[str, Any]):
    """Replace nested fields by dotted path: ``{"distill.method.power": 2}``.
    Lists become tuples (as in ``from_dict``); a bad value raises ConfigError
    naming the whole dotted path."""
    for path, value in changes.items():
        head, _, rest = path.partition(".")
        if not dataclasses.is_dataclass(cfg) or head not in {f.name for f in dataclasses.fields(cfg)}:
            raise KeyError(f"no config field {path!r} in {type(cfg).__name__}")
        if rest:
            try:
                value = override(getattr(cfg, head), {rest: value})
            except KeyError:  # name the whole dotted path the user gave, not its last part
                raise KeyError(f"no config field {path!r} in {type(cfg).__name__}") from None
            except ConfigError as e:
                raise e.under(head) from None
        cfg = replace(cfg, **{head: tuple(value) if isinstance(value, list) else value})
    return cfg


def canonical(obj) -> dict:
    """A config dataclass as a dict with each float field holding a float:
    ``power=4`` (from an override) and ``power=4.0`` (the default) are the
    same config (cache keys, checkpoint matching)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            v = canonical(v)
        elif isinstance(v, int) and not isinstance(v, bool) and "float" in str(f.type):
            v = float(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted paths where two (canonical) config dicts differ, with both values."""
    out = []
    for k in sorted(set(a) | set(b)):
        x, y = a.get(k, "<absent>"), b.get(k, "<absent>")
        if isinstance(x, dict) and isinstance(y, dict):
            out += differences(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}: {x!r} vs {y!r}")
    return out


_NESTED = {"distill": DistillConfig, "evaluate": EvalConfig, "method": MethodConfig,
           "encoder": EncoderSpec, "dsa": DSAConfig, **_BASELINES_NESTED}


def from_dict(d: dict, cls: type = Config):
    """Inverse of ``Config.to_dict`` (JSON lists become tuples again); a bad
    value raises ConfigError naming its dotted path."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in d:
            v = d[f.name]
            if isinstance(v, dict):
                try:
                    v = from_dict(v, _NESTED[f.name])
                except ConfigError as e:
                    raise e.under(f.name) from None
            elif isinstance(v, list):
                v = tuple(v)
            kwargs[f.name] = v
    return cls(**kwargs)
