"""Every artefact of the paper as a *target*: its notebook, its parameters per
scale, its outputs, the paper's numbers and a rough cost; plus the runner
behind ``./reproduce.sh`` and the helpers the notebooks use to write outputs
with provenance.

    python -m datadam_lib.targets list
    python -m datadam_lib.targets run fig1 --scale quick --dataset digits
    python -m datadam_lib.targets all --scale smoke --dataset digits

Numbering follows the supplement (``table3``..``table5``, ``fig1``..``fig22``).
The paper's numbers are copied from the kit's reference list of published
numbers; those it marks unverified are marked so here and wherever shown.

Where things go (``docs/targets.md``):
- executed notebooks, CSVs, markdown tables: ``results/<scale>/<target>.*``
- figures: ``figures/<target>[_part].png`` and ``.pdf``
- beside each: ``<file>.manifest.json`` (git SHA and dirty flag, package
  versions, device, seeds, scale, preset, parameters, start and end time)
- cache: ``cache/`` (``$DATADAM_CACHE``); datasets: ``data/`` (``$DATADAM_DATA``);
  ``$DATADAM_OUT`` moves figures/ and results/ elsewhere (the tests use it).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

SCALES = ("smoke", "quick", "paper")
PRESETS = ("paper", "released")


# ---------------------------------------------------------------- where things live

def kit_root() -> str:
    """The kit's checkout (the directory holding reproduce.sh): the package's
    parent for an editable install, else the nearest such directory above the
    working directory, else the working directory."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.isfile(os.path.join(here, "reproduce.sh")):
        return here
    d = os.getcwd()
    while True:
        if os.path.isfile(os.path.join(d, "reproduce.sh")) and os.path.isdir(os.path.join(d, "notebooks")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return os.getcwd()
        d = parent


def output_root() -> str:
    """Where figures/ and results/ are written: ``$DATADAM_OUT`` or the kit."""
    return os.path.abspath(os.environ["DATADAM_OUT"]) if os.environ.get("DATADAM_OUT") else kit_root()


def data_root(root: str | None = None) -> str:
    """Where datasets are looked for: ``root``, ``$DATADAM_DATA`` or ``data/`` in the kit."""
    if root:
        return os.path.abspath(root)
    if os.environ.get("DATADAM_DATA"):
        return os.path.abspath(os.environ["DATADAM_DATA"])
    return os.path.join(kit_root(), "data")


# ---------------------------------------------------------------- the registry

@dataclass(frozen=True)
class PaperRef:
    """One number of the paper: ``value`` as printed ("54.2 ± 0.8"), or ""
    where the paper shows it only in a figure."""
    setting: str
    value: str
    kind: str = "datadam"
    note: str = ""
    unverified: bool = False

    def text(self) -> str:
        if not self.value:
            return "figure only (no number in the text)"
        out = self.value + (" (unverified)" if self.unverified else "")
        return out + (f" [{self.note}]" if self.note else "")


@dataclass(frozen=True)
class PaperNumbers:
    source: str                 # where in the paper
    dataset: str                # the paper's dataset
    setup: str                  # IPC, network, protocol
    finding: str                # what the paper concludes
    rows: tuple[PaperRef, ...] = ()

    def lookup(self, setting: str, kind: str = "datadam") -> PaperRef | None:
        return next((r for r in self.rows if r.setting == setting and r.kind == kind), None)


Cost = dict[str, tuple[float | None, float | None]]   # scale -> (CPU minutes, GPU minutes); None: not practical


@dataclass(frozen=True)
class Target:
    name: str
    title: str                          # what it reproduces
    notebook: str                       # relative to the kit
    implemented: bool
    datasets: tuple[str, ...]           # the paper's datasets; the first is the notebook's default
    params_per_scale: dict[str, dict[str, Any]]   # papermill parameters the runner passes, per scale
    outputs: tuple[str, ...]            # relative to the output root; {scale} is filled in
    paper_numbers: PaperNumbers
    cost: Cost
    setting_name: str = "setting"       # column header of the settings in the table

    @property
    def default_dataset(self) -> str:
        return self.datasets[0]

    def outputs_for(self, scale: str) -> list[str]:
        return [o.format(scale=scale) for o in self.outputs]


# Rough cost of one distil-and-evaluate at each scale, (CPU min, GPU min). Quick
# CPU figures are measured on a shared 2-core CPU (digits: 2-8 min per IPC-10
# set depending on load, under 1 min at IPC 1); GPU and paper-scale figures
# are estimates.
_UNIT: dict[str, Cost] = {
    "ipc1": {"smoke": (0.2, 0.1), "quick": (1, 0.3), "paper": (900, 12)},
    "ipc10": {"smoke": (0.2, 0.1), "quick": (8, 0.7), "paper": (1500, 20)},
    "ipc50": {"smoke": (0.3, 0.1), "quick": (25, 1.5), "paper": (6000, 60)},
    "highres": {"smoke": (0.5, 0.1), "quick": (60, 3), "paper": (None, 120)},
    "imagenet1k": {"smoke": (2, 0.3), "quick": (300, 10), "paper": (None, 900)},
}


def _cost(**units: float) -> Cost:
    out: Cost = {}
    for s in SCALES:
        cpu = gpu = 0.0
        for unit, n in units.items():
            c, g = _UNIT[unit][s]
            cpu = None if cpu is None or c is None else cpu + n * c
            gpu = None if gpu is None or g is None else gpu + n * g
        out[s] = (cpu, gpu)
    return out


def _outputs(name: str, parts: tuple[str, ...] = ("",)) -> tuple[str, ...]:
    figs = tuple(f"figures/{name}{'_' + p if p else ''}.{ext}" for p in parts for ext in ("png", "pdf"))
    return figs + (f"results/{{scale}}/{name}.csv", f"results/{{scale}}/{name}.md",
                   f"results/{{scale}}/{name}.ipynb")


_C10 = "CIFAR-10"
_IPC10 = "IPC 10, ConvNet-3, 8,000 iterations, paper protocol"
_TABLE3 = "54.2 ± 0.8"   # DataDAM, CIFAR10 IPC 10 (supplement Table 3): the default configuration
_DEFAULT = "the default setting; supplement Table 3"


def _planned(name: str, title: str, datasets: tuple[str, ...], paper: PaperNumbers, cost: Cost,
             parts: tuple[str, ...] = ("",)) -> Target:
    return Target(name, title, f"notebooks/{name}.ipynb", False, datasets, {s: {} for s in SCALES},
                  _outputs(name, parts), paper, cost)


def _grid(n: int, dataset: str, label: str, ipc: int, unit: str) -> Target:
    return _planned(f"fig{n}", f"Supplement Fig. {n}: distilled images, {label}, IPC {ipc}", (dataset,),
                    PaperNumbers(f"Supplement Fig. {n}", label, f"IPC {ipc}", "images only; no numbers"),
                    _cost(**{unit: 1}))


_FIG_SWEEP_PARAMS = {"ipc": 10, "seeds": [0]}

TARGETS: dict[str, Target] = {t.name: t for t in [
    Target(
        "quickstart", "DataDAM explained: attention maps, synthetic images as they are learned, "
        "DataDAM vs Random (IPC 1 and 10)", "notebooks/quickstart.ipynb", True, ("digits",),
        {s: {"ipcs": [1, 10], "seeds": [0]} for s in SCALES},
        _outputs("quickstart", ("", "attention", "synthetic")),
        PaperNumbers("Main paper Table 1 / supplement Table 3", _C10, "ConvNet-3, paper protocol",
                     "DataDAM well above Random at every IPC",
                     (PaperRef("IPC 1", "14.4 ± 2.0", "random", "supplement Table 3"),
                      PaperRef("IPC 10", "26.0 ± 1.2", "random", "supplement Table 3"),
                      PaperRef("IPC 1", "32.0 ± 1.2", "datadam", "main paper Table 1", unverified=True),
                      PaperRef("IPC 10", _TABLE3, "datadam", "supplement Table 3"))),
        _cost(ipc1=2, ipc10=2)),
    Target(
        "fig1", "Supplement Fig. 1: accuracy vs the power p of the attention map (p in 1, 2, 4, 6, 8)",
        "notebooks/fig1.ipynb", True, ("cifar10",),
        {s: {**_FIG_SWEEP_PARAMS, "powers": [1, 2, 4, 6, 8]} for s in SCALES}, _outputs("fig1"),
        PaperNumbers("Supplement Fig. 1", _C10, _IPC10,
                     "robust over a broad range of p; p = 8 weights the most activated locations too "
                     "heavily and loses some accuracy",
                     (PaperRef("p=4", _TABLE3, note=_DEFAULT),)),
        _cost(ipc10=5), setting_name="p"),
    _planned("fig2", "Supplement Fig. 2: accuracy vs iterations from Gaussian-noise init (CIFAR10, IPC 50)",
             ("cifar10",), PaperNumbers(
                 "Supplement Fig. 2", _C10, "IPC 50, noise init, up to 40,000 iterations",
                 "noise init converges more slowly and ends below real/K-Center init, above KIP and DSA"),
             _cost(ipc50=8)),
    _planned("fig3", "Supplement Fig. 3: noise-initialised synthetic images over iterations (CIFAR10, IPC 50)",
             ("cifar10",), PaperNumbers("Supplement Fig. 3", _C10, "IPC 50, noise init",
                                        "information moves from the real data into the noise"), _cost(ipc50=1)),
    _planned("fig4", "Supplement Fig. 4: evaluation augmentation (AutoAugment, RandAugment, DSA, none)",
             ("cifar10",), PaperNumbers("Supplement Fig. 4", _C10, _IPC10,
                                        "DSA clearly best; no augmentation clearly worst",
                                        (PaperRef("dsa", _TABLE3, note=_DEFAULT),)), _cost(ipc10=4)),
    Target(
        "fig5", "Supplement Fig. 5: the distance in L_SAM (MSE, MAE, cosine dissimilarity)",
        "notebooks/fig5.ipynb", True, ("cifar10",),
        {s: {**_FIG_SWEEP_PARAMS, "distances": ["mse", "mae", "cosine"]} for s in SCALES}, _outputs("fig5"),
        PaperNumbers("Supplement Fig. 5", _C10, _IPC10,
                     "MSE best; the best configuration is up to 2.0 points above the worst; every "
                     "configuration still beats most baselines (not MTT)",
                     (PaperRef("mse", _TABLE3, note=_DEFAULT),)),
        _cost(ipc10=3), setting_name="distance"),
    Target(
        "fig6", "Supplement Fig. 6: normalisation of the attention maps (L2, L1, none)",
        "notebooks/fig6.ipynb", True, ("cifar10",),
        {s: {**_FIG_SWEEP_PARAMS, "norms": ["l2", "l1", "none"]} for s in SCALES}, _outputs("fig6"),
        PaperNumbers("Supplement Fig. 6", _C10, _IPC10,
                     "L2 best and L1 close to it; no normalisation degrades accuracy significantly",
                     (PaperRef("l2", _TABLE3, note=_DEFAULT),)),
        _cost(ipc10=3), setting_name="normalisation"),
    _planned("fig7", "Supplement Fig. 7: NAS rank correlation, proxy vs whole data, all 720 ConvNets",
             ("cifar10",), PaperNumbers("Supplement Fig. 7 / Sec. 2.3", _C10, "proxy IPC 50, 720 ConvNets",
                                        "DataDAM's points lie closest to the diagonal",
                                        (PaperRef("DataDAM, all 720", "0.72", note="Spearman"),)),
             _cost(ipc50=1) | {"paper": (None, 5200)}),
    _planned("fig8", "Supplement Fig. 8: NAS rank correlation over the top 20% (144 ConvNets)", ("cifar10",),
             PaperNumbers("Supplement Fig. 8 / Table 4", _C10, "proxy IPC 50, top 20% of 720 ConvNets",
                          "DataDAM above every method, early stopping close",
                          (PaperRef("DataDAM", "0.69"), PaperRef("Random", "0.44", "random"),
                           PaperRef("DSA", "0.57", "dsa"), PaperRef("DM", "0.51", "dm"),
                           PaperRef("CAFE", "0.36", "cafe"), PaperRef("Early stopping", "0.64", "early"))),
             _cost(ipc50=1) | {"paper": (None, 5200)}),
    _planned("fig9", "Supplement Fig. 9: t-SNE of real and synthetic features (ResNet-18, CIFAR10, IPC 50)",
             ("cifar10",), PaperNumbers("Supplement Fig. 9", _C10, "IPC 50, ResNet-18 embedding",
                                        "DataDAM, like DM, spreads evenly over each class"), _cost(ipc50=1)),
    _planned("fig10", "Supplement Fig. 10: synthetic images distilled with ConvNet, AlexNet, VGG-11 (IPC 50)",
             ("cifar10",), PaperNumbers("Supplement Fig. 10", _C10, "IPC 50",
                                        "deeper encoders give brighter, higher-contrast images"), _cost(ipc50=3)),
    _planned("fig11", "Supplement Fig. 11: loss components (MMD only, SAM only, feature-map transfer, DataDAM)",
             ("cifar10",), PaperNumbers("Supplement Fig. 11", _C10, "IPC 10",
                                        "DataDAM's images combine the SAM and MMD looks"), _cost(ipc10=4)),
    _planned("fig12", "Supplement Fig. 12: SAM on different layers (IPC 10)", ("cifar10",),
             PaperNumbers("Supplement Fig. 12", _C10, "IPC 10",
                          "all layers give the brightest, most contrasted images"), _cost(ipc10=5)),
    _planned("fig13", "Supplement Fig. 13: initialisation (random real, K-Center, Gaussian noise; IPC 50)",
             ("cifar10",), PaperNumbers("Supplement Fig. 13", _C10, "IPC 50",
                                        "real and K-Center look alike; noise differs but still learns"),
             _cost(ipc50=3)),
    _grid(14, "cifar10", "CIFAR10", 10, "ipc10"),
    _grid(15, "cifar10", "CIFAR10", 50, "ipc50"),
    _grid(16, "cifar100", "CIFAR100", 10, "highres"),
    _grid(17, "cifar100", "CIFAR100", 50, "highres"),
    _grid(18, "tinyimagenet", "TinyImageNet", 1, "highres"),
    _grid(19, "imagenet64", "ImageNet-1K (64x64)", 1, "imagenet1k"),
    _grid(20, "imagenette", "ImageNette", 10, "highres"),
    _grid(21, "imagewoof", "ImageWoof", 10, "highres"),
    _grid(22, "imagesquawk", "ImageSquawk", 10, "highres"),
    _planned("table3", "Supplement Table 3: DataDAM vs generative models and pixel-space MMD (CIFAR10, IPC 1/10/50)",
             ("cifar10",), PaperNumbers(
                 "Supplement Table 3 (partly garbled; legible cells only)", _C10, "ConvNet-3, IPC 1/10/50",
                 "DataDAM far above generative models; pixel MMD above Random but below DataDAM",
                 (PaperRef("IPC 1", "14.4 ± 2.0", "random"), PaperRef("IPC 10", "26.0 ± 1.2", "random"),
                  PaperRef("IPC 50", "43.4 ± 1.0", "random"),
                  PaperRef("IPC 1", "15.7 ± 2.1", "dc-vae"), PaperRef("IPC 10", "29.8 ± 1.0", "dc-vae"),
                  PaperRef("IPC 50", "44.0 ± 0.8", "dc-vae"), PaperRef("IPC 10", "27.9 ± 1.1", "cgan"),
                  PaperRef("IPC 10", "31.0 ± 1.4", "biggan"), PaperRef("IPC 10", "32.2 ± 1.3", "gmmn"),
                  PaperRef("IPC 10", "34.9 ± 0.3", "pixel-mmd"),
                  PaperRef("IPC 1", "32.0", "datadam", "main paper Table 1", unverified=True),
                  PaperRef("IPC 10", _TABLE3, "datadam"),
                  PaperRef("IPC 50", "67.0", "datadam", "main paper Table 1", unverified=True))),
             _cost(ipc1=2, ipc10=2, ipc50=2)),
    _planned("table4", "Supplement Table 4: NAS over 720 ConvNets (top 20%), proxy IPC 50", ("cifar10",),
             PaperNumbers("Supplement Table 4", _C10, "proxy IPC 50, top 20% of 720 ConvNets",
                          "DataDAM has the best rank correlation of the proxy sets",
                          (PaperRef("correlation", "0.44", "random"), PaperRef("correlation", "0.57", "dsa"),
                           PaperRef("correlation", "0.51", "dm"), PaperRef("correlation", "0.36", "cafe"),
                           PaperRef("correlation", "0.69", "datadam"), PaperRef("correlation", "0.64", "early"),
                           PaperRef("correlation", "1.00", "whole"), PaperRef("performance (%)", "88.9", "random"),
                           PaperRef("performance (%)", "83.6", "cafe"), PaperRef("performance (%)", "88.9", "early"),
                           PaperRef("performance (%)", "89.2", "whole"), PaperRef("time (min)", "33.0", "random"),
                           PaperRef("time (min)", "31.2", "dsa"), PaperRef("time (min)", "32.2", "dm"),
                           PaperRef("time (min)", "30.7", "cafe"), PaperRef("time (min)", "37.1", "early"),
                           PaperRef("time (min)", "5168.9", "whole"))),
             {"smoke": (2, 0.5), "quick": (None, 120), "paper": (None, 5500)}),
    _planned("table5", "Supplement Table 5: NAS-Bench-201, 100 random architectures, proxy IPC 50", ("cifar10",),
             PaperNumbers("Supplement Table 5", _C10, "proxy IPC 50, NAS-Bench-201 (needs its benchmark file)",
                          "most proxies correlate negatively; DataDAM slightly positive, best top-1",
                          (PaperRef("correlation", "-0.06", "random"), PaperRef("correlation", "-0.19", "dc"),
                           PaperRef("correlation", "-0.37", "dsa"), PaperRef("correlation", "-0.37", "dm"),
                           PaperRef("correlation", "-0.50", "kip"), PaperRef("correlation", "-0.09", "mtt"),
                           PaperRef("correlation", "0.07", "datadam"), PaperRef("correlation", "0.7487", "whole"),
                           PaperRef("top-1 (%)", "91.9", "random"), PaperRef("top-1 (%)", "86.44", "dc"),
                           PaperRef("top-1 (%)", "73.54", "dsa"), PaperRef("top-1 (%)", "92.16", "dm"),
                           PaperRef("top-1 (%)", "92.91", "kip"), PaperRef("top-1 (%)", "73.54", "mtt"),
                           PaperRef("top-1 (%)", "93.96", "datadam"), PaperRef("top-1 (%)", "93.5", "whole"))),
             {"smoke": (2, 0.5), "quick": (None, 200), "paper": (None, 3000)}),
]}

ORDER = ["quickstart", "table3", "table4", "table5"] + [f"fig{i}" for i in range(1, 23)]


class TargetError(Exception):
    """An unknown or unimplemented target, or bad arguments: a one-line message."""


def get(name: str, implemented: bool = True) -> Target:
    """The target ``name``; TargetError when unknown (or not implemented and ``implemented``)."""
    if name not in TARGETS:
        close = [n for n in ORDER if n.startswith(name[:3])] if len(name) >= 3 else []
        hint = f" (did you mean {', '.join(close[:4])}?)" if close else ""
        raise TargetError(f"unknown target {name!r}{hint}; `./reproduce.sh list` shows every target")
    t = TARGETS[name]
    if implemented and not t.implemented:
        done = ", ".join(n for n in ORDER if TARGETS[n].implemented)
        raise TargetError(f"target {name!r} ({t.title}) is registered but not implemented yet; "
                          f"implemented targets: {done}")
    return t


# ---------------------------------------------------------------- data checks

def dataset_present(name: str, root: str | None = None) -> bool | None:
    """True/False for a registered dataset (``npz:``/``folder:`` paths: whether they exist)."""
    from .data import dataset_status
    if name.startswith(("npz:", "folder:")):
        return os.path.exists(name.split(":", 1)[1])
    row = next((r for r in dataset_status(data_root(root)) if r["name"] == name), None)
    return None if row is None else bool(row["present"])


def missing_dataset_message(target: str, dataset: str, root: str | None = None) -> str:
    from .data import DATASETS
    where = data_root(root)
    spec = DATASETS.get(dataset)
    place = os.path.join(where, spec.location) if spec else dataset
    lines = [f"{target} needs dataset {dataset!r}, which is not at {place}.",
             f"  - run it on the built-in digits instead (numbers not comparable with the paper's): "
             f"./reproduce.sh {target} --dataset digits"]
    if dataset.startswith("cifar"):
        folder = spec.location if spec else "cifar-10-batches-py"
        lines += [f"  - or use a local copy: put {folder}/ under {where}, or pass --root /path/to/datasets "
                  "(env DATADAM_DATA), or --dataset npz:/path/to/cifar.npz (x_train, y_train, x_test, y_test)",
                  f"  - torchvision can download it: python -c \"import torchvision; "
                  f"torchvision.datasets.{'CIFAR10' if dataset == 'cifar10' else 'CIFAR100'}('{where}', download=True)\""]
    else:
        lines.append(f"  - or pass --root /path/to/datasets (env DATADAM_DATA); "
                     "`python -m datadam_lib datasets` lists where each dataset is looked for")
    return "\n".join(lines)


# ---------------------------------------------------------------- what a notebook uses

def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class Run:
    """One execution of a target's notebook: knows its outputs, writes them
    with a manifest beside each, and formats the table beside the paper's."""

    def __init__(self, target: Target, scale: str, dataset: str, preset: str, params: dict,
                 data_root_: str | None = None):
        self.target, self.scale, self.dataset, self.preset = target, scale, dataset, preset
        self.params = dict(params)
        self.data_root = data_root(data_root_)
        self.out = output_root()
        self.start_time = _now()
        self.seeds = list(self.params.get("seeds", [0]))
        self.summary: list[dict] | None = None   # the numbers, once saved: also in the figures' manifests

    # paths
    def figure_path(self, part: str = "") -> str:
        return os.path.join(self.out, "figures", self.target.name + (f"_{part}" if part else ""))

    def results_path(self, ext: str) -> str:
        return os.path.join(self.out, "results", self.scale, f"{self.target.name}.{ext}")

    @property
    def comparable(self) -> bool:
        return self.dataset == self.target.default_dataset and self.scale == "paper" and self.preset == "paper"

    @property
    def label(self) -> str:
        ipc = self.params.get("ipc")
        return (f"{self.dataset} · {self.scale} scale · {self.preset} preset"
                + (f" · IPC {ipc}" if ipc else "") + f" · seeds {self.seeds}")

    def sweep_args(self) -> dict:
        """The arguments every sweep of this run shares."""
        return {"dataset": self.dataset, "data_root": self.data_root, "preset": self.preset,
                "scale": self.scale, "label": self.target.name}

    def load_data(self):
        from .sweep import get_data
        return get_data(self.dataset, self.data_root)

    # provenance
    def manifest(self, output: str, **extra) -> dict:
        from .io import device_description, manifest
        from .sweep import default_device
        return manifest(target=self.target.name, output=os.path.relpath(output, self.out), scale=self.scale,
                        preset=self.preset, dataset=self.dataset, seed=self.seeds,
                        device=device_description(default_device()), parameters=self.params,
                        start_time=self.start_time, end_time=_now(), **extra)

    def _write_manifest(self, path: str, **extra) -> None:
        from .io import write_json
        write_json(self.manifest(path, **extra), path + ".manifest.json")

    def save_figure(self, fig, part: str = "") -> list[str]:
        """``figures/<target>[_part].png`` and ``.pdf``, each with its manifest
        (which also holds the numbers, once :meth:`save_csv` has them)."""
        from .plots import save
        paths = save(fig, self.figure_path(part))
        for p in paths:
            self._write_manifest(p, figure_part=part or None, numbers=self.summary)
        return paths

    def save_csv(self, summary: list[dict], rows: list[dict] | None = None) -> str:
        """``results/<scale>/<target>.csv`` (one row per setting) with its
        manifest, which also lists every job's row (cache hits, times)."""
        from .sweep import write_csv
        path = self.results_path("csv")
        self.summary = summary
        write_csv(summary, path)
        self._write_manifest(path, jobs=rows or [])
        return path

    def table(self, summary: list[dict], kinds: tuple[str, ...] = ("datadam",)) -> str:
        """Our numbers beside the paper's as markdown, written to
        ``results/<scale>/<target>.md`` (with its manifest) and returned."""
        from .io import atomic_write_text
        t, p = self.target, self.target.paper_numbers
        n_models = sorted({r["n_models"] for r in summary})
        head = [f"### {t.name}: {t.title}", "",
                f"**Ours:** {self.label} · {'/'.join(map(str, n_models))} evaluated models per setting "
                "(accuracy %, mean ± std over models and seeds).",
                f"**Paper:** {p.source} · {p.dataset} · {p.setup}."]
        if self.comparable:
            head.append("Same dataset, scale and preset as the paper: the columns are comparable.")
        else:
            head.append(f"**Not comparable:** ours are {self.dataset} at {self.scale} scale "
                        f"({self.preset} preset), the paper's are {p.dataset} at paper scale; compare our "
                        "settings with each other, not with the paper's numbers.")
        head.append("")
        settings = list(dict.fromkeys(r["setting"] for r in summary))
        moved = any(r.get("image_change_pct") is not None for r in summary)
        cols = [t.setting_name]
        for k in kinds:
            name = "DataDAM" if k == "datadam" else k.capitalize()
            cols += [f"{name}: ours ({self.dataset}, {self.scale})", f"{name}: paper ({p.dataset})"]
        cols += ["images moved (%)"] if moved else []
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for s in settings:
            cells = [s]
            for k in kinds:
                r = next((r for r in summary if r["setting"] == s and r["kind"] == k), None)
                cells.append(f"{r['mean']:.1f} ± {r['std']:.1f}" if r else "—")
                ref = p.lookup(s, k)
                cells.append(ref.text() if ref else "figure only (no number in the text)")
            if moved:
                r = next((r for r in summary if r["setting"] == s and r.get("image_change_pct") is not None), None)
                v = r["image_change_pct"] if r else None
                cells.append("—" if v is None else f"{v:.1f}" if v < 1000 else f"{v:.1e} (diverged)")
            lines.append("| " + " | ".join(cells) + " |")
        foot = ["", f"**The paper's finding:** {p.finding}."]
        if moved:
            foot.append("*Images moved:* mean |S − S₀| / mean |S₀|, how far distillation moved the synthetic "
                        "images from their initialisation (random real images: with the same IPC and seed, the "
                        "Random baseline's own images). Small values mean the run was too short for the "
                        "settings to differ much.")
        text = "\n".join(head + lines + foot)
        path = self.results_path("md")
        atomic_write_text(text + "\n", path)
        self._write_manifest(path)
        return text


def start(name: str, scale: str, dataset: str, preset: str = "paper", params: dict | None = None,
          data_root: str | None = None) -> Run:
    """Begin a target's run (called in its notebook's first code cell): check
    the arguments and that the dataset is there, with a message that says
    what to do when it is not."""
    from .data import DatasetNotFoundError
    t = get(name, implemented=False)
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {SCALES}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    if dataset_present(dataset, data_root) is False:
        raise DatasetNotFoundError(missing_dataset_message(name, dataset, data_root))
    return Run(t, scale, dataset, preset, {"scale": scale, "dataset": dataset, "preset": preset,
                                           **(params or {})}, data_root)


# ---------------------------------------------------------------- the runner (./reproduce.sh)

def _fmt_cost(c: tuple[float | None, float | None]) -> str:
    f = lambda v: "-" if v is None else (f"{v:.0f}" if v >= 10 else f"{v:.1f}".rstrip("0").rstrip("."))  # noqa: E731
    return f"{f(c[0])}/{f(c[1])}"


def list_targets(root: str | None = None, file=None) -> None:
    file = file or sys.stdout
    status = {}
    rows = []
    for n in ORDER:
        t = TARGETS[n]
        ds = t.default_dataset
        if ds not in status:
            status[ds] = dataset_present(ds, root)
        data = f"{ds}: {'present' if status[ds] else 'missing'}"
        rows.append((n, "yes" if t.implemented else "no", data,
                     *(_fmt_cost(t.cost[s]) for s in SCALES), t.notebook, t.title))
    head = ("TARGET", "IMPL", "DATA", "SMOKE", "QUICK", "PAPER", "NOTEBOOK")
    w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    print("Targets of the DataDAM supplement (cost: rough CPU min / GPU min per scale; -: not practical)",
          file=file)
    print("  ".join(h.ljust(w[i]) for i, h in enumerate(head)), file=file)
    for r in rows:
        print("  ".join(str(r[i]).ljust(w[i]) for i in range(len(head))).rstrip(), file=file)
        print(" " * (w[0] + 2) + r[-1], file=file)
    print("\nrun one: ./reproduce.sh TARGET [--scale smoke|quick|paper] [--dataset NAME] "
          "[--preset paper|released] [--force]", file=file)
    missing = sorted(d for d, ok in status.items() if not ok)
    if missing:
        print(f"missing data ({', '.join(missing)}): add --dataset digits to run on the built-in digits, "
              f"or see `python -m datadam_lib datasets`", file=file)


def _params(t: Target, a) -> dict:
    p = {**t.params_per_scale[a.scale], "scale": a.scale, "preset": a.preset, "force": bool(a.force)}
    if a.dataset:
        p["dataset"] = a.dataset
    if a.root:
        p["data_root"] = os.path.abspath(a.root)
    if a.executor:
        p["executor"] = a.executor
    if a.executor_config:
        p["executor_config"] = a.executor_config
    if a.seeds:
        p["seeds"] = list(a.seeds)
    return p


def _shown(path: str) -> str:
    rel = os.path.relpath(path, os.getcwd())
    return path if rel.startswith("..") else rel


def run_target(name: str, a) -> int:
    """Execute a target's notebook with papermill; 0 on success, 1 on failure."""
    import papermill as pm
    from .io import write_json
    t = get(name)
    dataset = a.dataset or os.environ.get("DATADAM_DATASET") or t.default_dataset
    if dataset_present(dataset, a.root) is False:
        raise TargetError(missing_dataset_message(name, dataset, a.root))
    params = _params(t, a)
    kit = kit_root()
    src = os.path.join(kit, t.notebook)
    if not os.path.isfile(src):
        raise TargetError(f"notebook {t.notebook} of target {name!r} is missing from {kit}")
    out = os.path.join(output_root(), "results", a.scale, f"{name}.ipynb")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    for var in ("DATADAM_DATA", "DATADAM_CACHE", "DATADAM_OUT"):   # the kernel runs in notebooks/
        if os.environ.get(var):
            os.environ[var] = os.path.abspath(os.environ[var])
    print(f"{name}: {t.title}\n  {dataset} · {a.scale} scale · {a.preset} preset"
          f"{' · --force' if a.force else ''} -> {_shown(out)}", file=sys.stderr)
    started, t0 = _now(), time.time()
    error = None
    try:
        pm.execute_notebook(src, out, parameters=params, kernel_name="python3", cwd=os.path.dirname(src),
                            progress_bar=not a.verbose and sys.stderr.isatty(), log_output=a.verbose,
                            stdout_file=None, stderr_file=None)
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue}"
    except Exception as e:  # a kernel that dies, an unreadable notebook
        error = f"{type(e).__name__}: {e}"
    from .io import device_description, manifest
    from .sweep import default_device
    write_json(manifest(target=name, output=os.path.relpath(out, output_root()), scale=a.scale,
                        preset=a.preset, dataset=dataset, seed=params.get("seeds"),
                        device=device_description(default_device()), parameters=params,
                        start_time=started, end_time=_now(), wall_time_s=round(time.time() - t0, 1),
                        status="failed" if error else "ok", error=error),
               out + ".manifest.json")
    if error:
        print(f"error: {name} failed: {error}\n  the executed notebook shows where: {out}", file=sys.stderr)
        return 1
    md = os.path.join(output_root(), "results", a.scale, f"{name}.md")
    if os.path.isfile(md):
        print(open(md).read())
    print(f"{name}: done in {time.time() - t0:.0f} s; outputs:", file=sys.stderr)
    for o in t.outputs_for(a.scale):
        p = os.path.join(output_root(), o)
        print(f"  {o}{'' if os.path.exists(p) else '  (not written)'}", file=sys.stderr)
    return 0


def run_all(a) -> int:
    results = []
    for n in ORDER:
        t = TARGETS[n]
        if not t.implemented:
            continue
        dataset = a.dataset or os.environ.get("DATADAM_DATASET") or t.default_dataset
        b = a
        if dataset_present(dataset, a.root) is False:
            if a.scale != "smoke":
                results.append((n, f"skipped: {dataset} not present (add --dataset digits, or --root PATH)"))
                continue
            # a smoke run checks code paths, its numbers mean nothing: digits will do
            print(f"{n}: {dataset} not present; smoke run on digits instead", file=sys.stderr)
            b = argparse.Namespace(**{**vars(a), "dataset": "digits"})
        try:
            rc = run_target(n, b)
        except TargetError as e:
            print(f"error: {e}", file=sys.stderr)
            rc = 1
        results.append((n, ("ok" + (" (on digits)" if b is not a else "")) if rc == 0 else "FAILED"))
    print("\nsummary:", file=sys.stderr)
    for n, s in results:
        print(f"  {n:<12} {s}", file=sys.stderr)
    return 1 if any(s == "FAILED" for _, s in results) else 0


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", default="quick", choices=SCALES, help="how much work (never the method)")
    p.add_argument("--dataset", help="dataset name, npz:PATH or folder:PATH (default: the paper's; "
                                     "$DATADAM_DATASET overrides)")
    p.add_argument("--preset", default="paper", choices=PRESETS, help="paper: Table 2; released: the authors' code")
    p.add_argument("--force", action="store_true", help="recompute cached distilled sets and evaluations")
    p.add_argument("--executor", help="where sweep jobs run: inline (default), or one executors.py provides")
    p.add_argument("--executor-config", help="the executor's settings (passed to executors.run_jobs)")
    p.add_argument("--root", help="where datasets live (default $DATADAM_DATA or data/)")
    p.add_argument("--seeds", type=int, nargs="+", help="distillation seeds (default: the target's)")
    p.add_argument("--verbose", action="store_true", help="stream the notebook's output")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m datadam_lib.targets", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="every target: notebook, implemented, data present, cost")
    ls.add_argument("--root", help="where datasets live")
    r = sub.add_parser("run", help="run one target's notebook")
    r.add_argument("target")
    _run_options(r)
    al = sub.add_parser("all", help="run every implemented target")
    _run_options(al)
    a = p.parse_args(argv)
    try:
        if a.cmd == "list":
            list_targets(a.root)
            return 0
        if a.cmd == "run":
            return run_target(a.target, a)
        return run_all(a)
    except TargetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; cached results so far are kept (cache writes are atomic)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
