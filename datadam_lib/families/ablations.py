"""The ablation family: settings -> distil -> evaluate -> bars, curves, images.

Every target here is a list of :class:`~datadam_lib.kit.registry.Setting`
(one axis of the method's config), distilled and evaluated through the kit's
cached sweep, drawn as bars (accuracy per setting, with every model's
accuracy, the paper's number where it has one) and, for the image ablations,
the learned images of each setting. A notebook calls :func:`run` once and
shows what it returns.

    result = ablations.run("fig1", scale="quick", dataset="digits")
    result.show()
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ..kit import plots, report
from ..kit.registry import Setting, Target, register, settings
from ..kit.sweep import run_sweep


@dataclass(frozen=True)
class Ablation:
    """How a target of this family turns its parameters into settings, and
    how its figure is labelled."""
    settings: Callable[[dict], list[Setting]]
    xlabel: str
    kinds: tuple[str, ...] = ("datadam",)


@dataclass
class Result:
    """What a family call returns: the run (paths, provenance), every job's
    row, the summary per setting, the figures, the markdown table and what
    this run shows."""
    run: report.Run
    rows: list[dict]
    summary: list[dict]
    figures: dict[str, Any] = field(default_factory=dict)
    table: str = ""
    findings: str = ""

    def show(self) -> None:
        for fig in self.figures.values():
            plots.show(fig)
        report.show_markdown(self.table)
        if self.findings:
            report.show_markdown(self.findings)

    def check(self, settings: int, kinds: int = 1) -> None:
        """Fail loudly when the run did not produce what it should: one CSV
        row per setting and kind, accuracies that are percentages, every
        figure and table file written. The notebooks end with this call, so
        the test suite (nbval) fails on a broken pipeline."""
        rows = report.read_csv(self.run.results_path("csv"))
        assert len(rows) == settings * kinds, f"{len(rows)} CSV rows, expected {settings} x {kinds}"
        for r in rows:
            assert 0 <= float(r["mean"]) <= 100 and float(r["std"]) >= 0, r
            assert int(r["n_models"]) >= 1, r
        for part in self.figures:
            for ext in ("png", "pdf"):
                path = f"{self.run.figure_path(part)}.{ext}"
                assert os.path.getsize(path) > 0 and os.path.isfile(path + ".manifest.json"), path
        assert os.path.isfile(self.run.results_path("md")), "markdown table not written"


def _common_params(ipc: int = 10, **extra) -> dict[str, dict]:
    return {s: {"ipc": ipc, "seeds": [0], **extra} for s in ("smoke", "quick", "paper")}


ABLATIONS: dict[str, Ablation] = {
    "fig1": Ablation(lambda p: settings("power", p["powers"], lambda v: {"distill.method.power": float(v)}),
                     "power p of the attention map"),
    "fig5": Ablation(lambda p: settings("distance", p["distances"], lambda v: {"distill.method.distance": v}),
                     "distance between attention maps in L_SAM"),
    "fig6": Ablation(lambda p: settings("norm", p["norms"], lambda v: {"distill.method.attention_norm": v}),
                     "normalisation of the attention maps"),
}

register(
    Target("quickstart", "DataDAM explained: attention maps, synthetic images as they are learned, "
           "DataDAM vs Random (IPC 1 and 10)", "ablations", ("digits",),
           {s: {"ipcs": [1, 10], "seeds": [0]} for s in ("smoke", "quick", "paper")},
           settings=lambda p: settings("ipc", p["ipcs"], lambda v: {"distill.ipc": v}),
           parts=("", "attention", "synthetic"), paper_gpu_h=1.0),
    Target("fig1", "Supplement Fig. 1: accuracy vs the power p of the attention map (p in 1, 2, 4, 6, 8)",
           "ablations", ("cifar10",), _common_params(powers=[1, 2, 4, 6, 8]),
           settings=ABLATIONS["fig1"].settings, paper_gpu_h=1.7),
    Target("fig5", "Supplement Fig. 5: the distance in L_SAM (MSE, MAE, cosine dissimilarity)", "ablations",
           ("cifar10",), _common_params(distances=["mse", "mae", "cosine"]),
           settings=ABLATIONS["fig5"].settings, paper_gpu_h=1.0),
    Target("fig6", "Supplement Fig. 6: normalisation of the attention maps (L2, L1, none)", "ablations",
           ("cifar10",), _common_params(norms=["l2", "l1", "none"]),
           settings=ABLATIONS["fig6"].settings, paper_gpu_h=1.0),
    Target("fig2", "Supplement Fig. 2: accuracy vs iterations from Gaussian-noise init (CIFAR10, IPC 50)",
           "ablations", ("cifar10",), implemented=False, paper_gpu_h=8.0),
    Target("fig4", "Supplement Fig. 4: evaluation augmentation (AutoAugment, RandAugment, DSA, none)",
           "ablations", ("cifar10",), implemented=False, paper_gpu_h=1.3),
    Target("fig10", "Supplement Fig. 10: synthetic images distilled with ConvNet, AlexNet, VGG-11 (IPC 50)",
           "ablations", ("cifar10",), implemented=False, paper_gpu_h=3.0),
    Target("fig11", "Supplement Fig. 11: loss components (MMD only, SAM only, feature-map transfer, DataDAM)",
           "ablations", ("cifar10",), implemented=False, paper_gpu_h=1.3),
    Target("fig12", "Supplement Fig. 12: SAM on different layers (IPC 10)", "ablations", ("cifar10",),
           implemented=False, paper_gpu_h=1.7),
    Target("fig13", "Supplement Fig. 13: initialisation (random real, K-Center, Gaussian noise; IPC 50)",
           "ablations", ("cifar10",), implemented=False, paper_gpu_h=3.0),
)


def findings(summary: list[dict], kind: str = "datadam") -> str:
    """What this run shows, in words: the best and worst setting and whether
    their gap exceeds the model-to-model spread."""
    rows = [r for r in summary if r["kind"] == kind]
    if len(rows) < 2:
        return ""
    best, worst = max(rows, key=lambda r: r["mean"]), min(rows, key=lambda r: r["mean"])
    gap = best["mean"] - worst["mean"]
    noise = max(r["std"] for r in rows)
    n = min(r["n_models"] for r in rows)
    text = (f"**What this run shows:** best {best['label']} ({best['mean']:.1f} ± {best['std']:.1f} %), "
            f"worst {worst['label']} ({worst['mean']:.1f} ± {worst['std']:.1f} %): a gap of {gap:.1f} points "
            f"against a model-to-model spread of up to {noise:.1f} ({n} models per setting). ")
    if gap <= 2 * noise:
        text += ("The settings are within noise of each other here; that agrees with a claim of robustness, "
                 "but cannot confirm a small ranking.")
    else:
        text += "The gap is larger than twice the spread: the settings differ at this scale."
    return text


def run(name: str, *, scale: str = "quick", dataset: str | None = None, preset: str = "paper",
        seeds: list[int] = (0,), force: bool = False, executor: str = "inline", executor_config: str = "",
        data_root: str = "", **params) -> Result:
    """Run the ablation target ``name`` (fig1, fig5, fig6, ...): its settings
    for ``params`` (the target's defaults for ``scale`` where not given),
    distilled and evaluated through the cache, drawn and tabulated."""
    from ..kit.registry import get
    t = get(name)
    ab = ABLATIONS[name]
    # a parameter left at 0 / empty takes the target's default for the scale
    params = {**t.params_for(scale), **{k: v for k, v in params.items() if v not in (0, None, [], "")},
              "seeds": list(seeds)}
    run_ = report.start(name, scale, dataset or t.default_dataset, preset, data_root_=data_root or None,
                        params={**params, "force": force, "executor": executor, "executor_config": executor_config})
    rows = run_sweep(ab.settings(params), seeds=seeds, ipc=params.get("ipc", 10), kinds=ab.kinds, force=force,
                     executor=executor, executor_config=executor_config or None, **run_.sweep_args())
    summary = report.summarize(rows)
    run_.save_csv(summary, rows)
    fig = plots.accuracy_bars(summary, xlabel=ab.xlabel, kinds=ab.kinds, title=f"{t.title}\n{run_.label}")
    run_.save_figure(fig)
    table = run_.table(summary, ab.kinds, setting_name=ab.xlabel)
    return Result(run_, rows, summary, {"": fig}, table, findings(summary))


def quickstart(*, scale: str = "quick", dataset: str = "digits", preset: str = "paper", ipcs: list[int] = (1, 10),
               seeds: list[int] = (0,), force: bool = False, executor: str = "inline", executor_config: str = "",
               data_root: str = "") -> Result:
    """The teaching notebook's computation: the attention maps of a random
    ConvNet, DataDAM vs Random at each IPC, the synthetic images of the
    largest IPC as they are learned."""
    import torch

    from ..method.config import make_config
    from ..method.distill import SyntheticSet
    from ..method.models import build_encoder
    t_params = {"ipcs": list(ipcs), "seeds": list(seeds)}
    run_ = report.start("quickstart", scale, dataset, preset, data_root_=data_root or None,
                        params={**t_params, "force": force, "executor": executor, "executor_config": executor_config})
    data = run_.load_data()
    cfg = make_config(preset, scale, dataset, ipc=max(ipcs), seed=seeds[0])
    m = cfg.distill.method
    figures = {}
    examples = data.x_train[data.offsets]  # the first training image of each class
    encoder = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size,
                            torch.Generator(device=data.device).manual_seed(seeds[0]), data.device)
    maps = plots.attention_maps(encoder, examples, m.power, m.attention_norm)
    figures["attention"] = plots.attention_panel(data.to_pixels(examples), maps, data.classes,
                                                 title=f"attention maps (p = {m.power:g}), random ConvNet")
    run_.save_figure(figures["attention"], "attention")
    rows = run_sweep(run_.target.settings(t_params), seeds=seeds, kinds=("datadam", "random"), force=force,
                     executor=executor, executor_config=executor_config or None, **run_.sweep_args())
    summary = report.summarize(rows)
    run_.save_csv(summary, rows)
    largest = max(ipcs)
    syn = SyntheticSet.load(next(r["synthetic_dir"] for r in rows if r["kind"] == "datadam" and r["ipc"] == largest))
    figures["synthetic"] = plots.snapshots(syn.snapshots, data, per_class=1, losses=syn.losses,
                                           title=f"DataDAM on {dataset}, IPC {largest}: synthetic images by iteration")
    run_.save_figure(figures["synthetic"], "synthetic")
    figures[""] = plots.accuracy_bars(summary, xlabel="images per class", kinds=("datadam", "random"),
                                      title=f"DataDAM vs Random: {run_.label}")
    run_.save_figure(figures[""])
    table = run_.table(summary, kinds=("random", "datadam"), setting_name="IPC")
    return Result(run_, rows, summary, figures, table, _vs_random(summary))


def _vs_random(summary: list[dict]) -> str:
    lines = []
    for r in summary:
        if r["kind"] != "datadam":
            continue
        rnd = next((x for x in summary if x["setting"] == r["setting"] and x["kind"] == "random"), None)
        if rnd:
            lines.append(f"at {r['label']} images per class DataDAM is {r['mean'] - rnd['mean']:+.1f} points "
                         f"from Random ({r['mean']:.1f} vs {rnd['mean']:.1f} %)")
    return ("**What this run shows:** " + "; ".join(lines) + ".") if lines else ""
