"""The registry of the paper's artefacts (*targets*): what each reproduces,
which family computes it, its parameters per scale, and the paper's numbers.

Families (``datadam_lib/families/*.py``) declare their targets next to their
code with :func:`register`; the entry points import every family
(``families.load_all()``) before they look a target up. The paper's numbers
are data, ``paper_numbers.toml`` beside this file, keyed by the same
:class:`Setting` objects a family generates (``Setting.key``) and by the kind
of set (``datadam``, ``random``, ``dm``, ...): a number can never be attached
to a setting by a hand-typed label that drifts from the code.

Numbering follows the supplement (``table3``..``table5``, ``fig1``..``fig22``),
plus ``quickstart`` and the main paper's ``table1`` and ``crossarch``.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, Callable

from ..method.config import SCALES as _SCALES
from .paths import data_root, dataset_file

SCALES = tuple(_SCALES)    # smoke, quick, paper: defined once, in method/config.py
NUMBERS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paper_numbers.toml")
MEASURED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "measured.toml")


class TargetError(Exception):
    """An unknown or unimplemented target, or bad arguments: a one-line message."""


# ---------------------------------------------------------------- settings

def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "+".join(_fmt(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Setting:
    """One point of a target's sweep: ``value`` on ``axis`` and the config
    overrides it stands for (dotted paths, ``config.override``). ``key``
    (``"power=4"``) is what the paper's numbers, CSV rows and tables use."""
    axis: str
    value: Any
    overrides: tuple[tuple[str, Any], ...] = ()
    label: str = ""

    @property
    def key(self) -> str:
        return f"{self.axis}={_fmt(self.value)}"

    @property
    def name(self) -> str:
        """How a figure or table shows it (``label``, or the value)."""
        return self.label or _fmt(self.value)

    def config_overrides(self) -> dict[str, Any]:
        return dict(self.overrides)


def settings(axis: str, values, to_overrides: Callable[[Any], dict[str, Any]],
             labels: Callable[[Any], str] | None = None) -> list[Setting]:
    """One :class:`Setting` per value: ``settings("power", [1, 4], lambda p: {"distill.method.power": p})``."""
    return [Setting(axis, v, tuple(to_overrides(v).items()), labels(v) if labels else "") for v in values]


# ---------------------------------------------------------------- the paper's numbers

@dataclass(frozen=True)
class PaperRef:
    """One number of the paper, as printed (``"54.2 ± 0.8"``)."""
    value: str
    note: str = ""
    unverified: bool = False

    def text(self) -> str:
        out = self.value + (" (unverified)" if self.unverified else "")
        return out + (f" [{self.note}]" if self.note else "")


@dataclass(frozen=True)
class PaperNumbers:
    source: str = ""                # where in the paper
    dataset: str = ""               # the paper's dataset
    setup: str = ""                 # IPC, network, protocol
    finding: str = ""               # what the paper concludes
    numbers: dict[str, dict[str, PaperRef]] = field(default_factory=dict)   # setting key -> kind -> number
    claims: tuple[str, ...] = ()    # the finding as comparisons of a run's cells (kit/verdict.py)

    def lookup(self, setting: Setting | str, kind: str = "datadam") -> PaperRef | None:
        key = setting.key if isinstance(setting, Setting) else setting
        return self.numbers.get(key, {}).get(kind)


@cache
def _numbers_file() -> dict:
    with open(NUMBERS_FILE, "rb") as f:
        return tomllib.load(f)


def paper_numbers(target: str) -> PaperNumbers:
    d = dict(_numbers_file().get(target, {}))
    nums = {k: {kind: PaperRef(**ref) for kind, ref in kinds.items()} for k, kinds in d.pop("numbers", {}).items()}
    claims = tuple(d.pop("claims", ()))
    return PaperNumbers(**d, numbers=nums, claims=claims)


@cache
def measured() -> dict:
    """Measured cold wall times per target and scale (``measured.toml``,
    written by ``python -m datadam_lib.runner measure``)."""
    if not os.path.isfile(MEASURED_FILE):
        return {}
    with open(MEASURED_FILE, "rb") as f:
        return tomllib.load(f)


# ---------------------------------------------------------------- targets

@dataclass(frozen=True)
class Target:
    """One artefact. ``params`` are the papermill parameters the runner passes
    at each scale; ``settings(params)`` lists the settings the family
    generates for them (for targets that sweep settings); ``parts`` the
    figure files it writes (``""`` for ``<target>.png``, ``"x"`` for
    ``<target>_x.png``); ``paper_gpu_h`` a rough estimate of one paper-scale
    run on one GPU (None: not estimated)."""
    name: str
    title: str
    family: str
    datasets: tuple[str, ...]                     # the paper's; the first is the notebook's default
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    settings: Callable[[dict], list[Setting]] | None = None
    parts: tuple[str, ...] = ("",)
    implemented: bool = True
    paper_gpu_h: float | None = None
    needs: str = ""                               # what the target needs beyond its dataset
    notebook_name: str = ""                       # a notebook shared by several targets (the runner passes
                                                  # it ``target=NAME``); "": the target's own
    help: dict[str, str] = field(default_factory=dict)   # what each parameter means (``register(help=...)``)

    @property
    def notebook(self) -> str:
        return f"notebooks/{self.notebook_name or self.name}.ipynb"

    @property
    def default_dataset(self) -> str:
        return self.datasets[0]

    @property
    def paper(self) -> PaperNumbers:
        return paper_numbers(self.name)

    def params_for(self, scale: str) -> dict[str, Any]:
        return dict(self.params.get(scale, self.params.get("quick", {})))

    def outputs_for(self, scale: str) -> list[str]:
        figs = [f"figures/{scale}/{self.name}{'_' + p if p else ''}.{ext}" for p in self.parts for ext in ("png", "pdf")]
        return figs + [f"results/{scale}/{self.name}.{ext}" for ext in ("csv", "md", "ipynb")]

    def measured_s(self, scale: str, how: str = "cold") -> float | None:
        """Measured time: "cold" (wall time alone, from an empty cache),
        "work" (the compute of every set and evaluation it used, each timed
        when first made, when it shared them with other targets) or "in_all"
        (wall time within the whole kit's run, reusing earlier targets' sets)."""
        return measured().get(self.name, {}).get(f"{scale}_{how}_s")


TARGETS: dict[str, Target] = {}


def register(*targets: Target, help: dict[str, str] | None = None) -> None:
    """Add targets to the registry (each family does this at import), each
    with what its parameters mean (``help``: the family's, one line each;
    tests/test_run_options.py checks that every parameter has one)."""
    for t in targets:
        if help:
            t = replace(t, help={k: v for k, v in help.items() if any(k in p for p in t.params.values())})
        if t.name in TARGETS and TARGETS[t.name] != t:
            raise ValueError(f"target {t.name!r} registered twice")
        TARGETS[t.name] = t


def order_key(name: str) -> tuple:
    """quickstart, the tables, then the figures by number."""
    digits = "".join(c for c in name if c.isdigit())
    group = 0 if name.startswith("quickstart") else 1 if name.startswith("table") else 2 if name.startswith("fig") else 3
    return (group, int(digits) if digits else 0, name)


def ordered() -> list[Target]:
    return [TARGETS[n] for n in sorted(TARGETS, key=order_key)]


def get(name: str, implemented: bool = True) -> Target:
    """The target ``name``; TargetError when unknown (or not implemented and ``implemented``)."""
    if name not in TARGETS:
        close = [t.name for t in ordered() if t.name.startswith(name[:3])] if len(name) >= 3 else []
        hint = f" (did you mean {', '.join(close[:4])}?)" if close else ""
        raise TargetError(f"unknown target {name!r}{hint}; `./reproduce.sh list` shows every target")
    t = TARGETS[name]
    if implemented and not t.implemented:
        done = ", ".join(t.name for t in ordered() if t.implemented)
        raise TargetError(f"target {name!r} ({t.title}) is registered but not implemented yet; "
                          f"implemented targets: {done}")
    return t


# ---------------------------------------------------------------- data checks

def dataset_present(name: str, root: str | None = None) -> bool | None:
    """True/False for a registered dataset (``npz:``/``folder:`` paths: whether they exist)."""
    from ..method.data import dataset_status
    if dataset_file(name) is not None:
        return os.path.exists(dataset_file(name))
    row = next((r for r in dataset_status(data_root(root)) if r["name"] == name), None)
    return None if row is None else bool(row["present"])


def missing_dataset_message(target: str, dataset: str, root: str | None = None) -> str:
    from ..method.data import DATASETS
    where = data_root(root)
    spec = DATASETS.get(dataset)
    place = os.path.join(where, spec.location) if spec else os.path.abspath(dataset_file(dataset) or dataset)
    lines = [f"{target} needs dataset {dataset!r}, which is not at {place}.",
             f"  - run it on the built-in digits instead (numbers not comparable with the paper's): "
             f"./reproduce.sh {target} --dataset digits"]
    if dataset.startswith("cifar"):
        folder = spec.location if spec else "cifar-10-batches-py"
        npz = (f"--dataset {dataset}:npz:/path/to/cifar.npz (an .npz whose training split is the first M >= "
               f"{spec.subset.per_block:,} images of each batch in order; docs/targets.md)") if spec and spec.subset else \
            "--dataset npz:/path/to/cifar.npz (x_train, y_train, x_test, y_test)"
        lines += [f"  - or use a local copy: put {folder}/ under {where}, or pass --root /path/to/datasets "
                  f"(env DATADAM_DATA), or {npz}",
                  f"  - torchvision can download it: python -c \"import torchvision; "
                  f"torchvision.datasets.{'CIFAR100' if dataset.startswith('cifar100') else 'CIFAR10'}('{where}', download=True)\""]
    else:
        lines.append("  - or pass --root /path/to/datasets (env DATADAM_DATA); "
                     "`python -m datadam_lib datasets` lists where each dataset is looked for and how to get it")
    return "\n".join(lines)
