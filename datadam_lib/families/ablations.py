"""The ablation family: settings -> distil -> evaluate -> bars, curves, images.

Every target here is a list of :class:`~datadam_lib.kit.registry.Setting`
(values on one axis of the method's config), distilled and evaluated through
the kit's cached sweep, drawn as bars (the accuracy of every evaluated model,
their mean ± std, the paper's number where it has one) and, for the image
ablations (supplement Figs 10-13), the learned images of each setting.
Fig 2 is a curve: one distillation evaluated at several of its iterations.
A notebook calls :func:`run` (or :func:`quickstart`, :func:`curve`) once and
shows what it returns.

    result = ablations.run("fig1", scale="quick", dataset="digits")
    result.show()

At the quick scale the ablations run at IPC 1 on digits: at IPC 10 digits is
saturated (Random is already ~95 %) and settings cannot differ; every figure
says so in its title.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ..kit import plots, report
from ..kit.registry import SCALES, Setting, Target, get, register, settings
from ..kit.sweep import get_data, job_config, run_sweep


@dataclass(frozen=True)
class Ablation:
    """How a target turns its parameters into settings, and how it is drawn."""
    settings: Callable[[dict], list[Setting]]
    xlabel: str
    kinds: tuple[str, ...] = ("datadam",)
    images: bool = False                  # also draw each setting's learned images


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
            if r.get("mean", "") != "":
                assert 0 <= float(r["mean"]) <= 100 and float(r["std"]) >= 0, r
                assert int(r["n_models"]) >= 1, r
        for part in self.figures:
            for ext in ("png", "pdf"):
                path = f"{self.run.figure_path(part)}.{ext}"
                assert os.path.isfile(path) and os.path.getsize(path) > 0, path
                assert os.path.isfile(path + ".manifest.json"), path
        assert os.path.isfile(self.run.results_path("md")), "markdown table not written"


def _method(field_: str, value) -> dict:
    return {f"distill.method.{field_}": value}


def _layers(v: str) -> dict:
    """Supplement Fig. 12: SAM on layer 1, layer 2, layers 1+2 (each without
    the embedding term), the last layer only (L_MMD), or all (DataDAM)."""
    table = {"1": {"sam_layers": (1,), "components": ("sam",)}, "2": {"sam_layers": (2,), "components": ("sam",)},
             "1+2": {"sam_layers": (1, 2), "components": ("sam",)}, "last": {"components": ("mmd",)},
             "all": {"components": ("sam", "mmd")}}
    return {f"distill.method.{k}": x for k, x in table[v].items()}


_LAYER_NAMES = {"1": "layer 1", "2": "layer 2", "1+2": "layers 1+2 (L_SAM)", "last": "last (L_MMD)",
                "all": "all (DataDAM)"}
_COMPONENTS = {"mmd": ("mmd",), "sam": ("sam",), "feature": ("feature",), "datadam": ("sam", "mmd")}
_COMPONENT_NAMES = {"mmd": "L_MMD only", "sam": "L_SAM only", "feature": "feature maps", "datadam": "DataDAM"}
_INIT_NAMES = {"real": "random real", "kcenter": "K-Center", "noise": "Gaussian noise"}
_ARCH_NAMES = {"convnet": "ConvNet", "alexnet": "AlexNet", "vgg11": "VGG-11"}

ABLATIONS: dict[str, Ablation] = {
    "fig1": Ablation(lambda p: settings("power", p["powers"], lambda v: _method("power", float(v))),
                     "power p of the attention map"),
    "fig4": Ablation(lambda p: settings("augment", p["augments"], lambda v: {"evaluate.augment": v}),
                     "augmentation while training the evaluation models"),
    "fig5": Ablation(lambda p: settings("distance", p["distances"], lambda v: _method("distance", v)),
                     "distance between attention maps in L_SAM"),
    "fig6": Ablation(lambda p: settings("norm", p["norms"], lambda v: _method("attention_norm", v)),
                     "normalisation of the attention maps"),
    "fig10": Ablation(lambda p: settings("arch", p["archs"], lambda v: {"distill.encoder.arch": v},
                                         _ARCH_NAMES.get), "encoder used for distillation (evaluated on ConvNet)",
                      images=True),
    "fig11": Ablation(lambda p: settings("loss", p["losses"], lambda v: _method("components", _COMPONENTS[v]),
                                         _COMPONENT_NAMES.get), "loss", images=True),
    "fig12": Ablation(lambda p: settings("layers", p["layers"], _layers, _LAYER_NAMES.get), "layers matched",
                      images=True),
    "fig13": Ablation(lambda p: settings("init", p["inits"], lambda v: {"distill.init": v}, _INIT_NAMES.get),
                      "initialisation of the synthetic images", images=True),
}


def _params(paper_ipc: int = 10, **axes) -> dict[str, dict]:
    """Per-scale parameters: IPC 1 at smoke; at quick scale the paper's IPC up
    to 10 on real images (``cifar10-5k``) and IPC 1 on digits (``digits_ipc``:
    digits saturates at IPC 10, every setting scores ~95 %); the paper's IPC at
    paper scale; the swept values everywhere."""
    return {"smoke": {"ipc": 1, **axes}, "quick": {"ipc": min(paper_ipc, 10), "digits_ipc": 1, **axes},
            "paper": {"ipc": paper_ipc, **axes}}


register(
    Target("quickstart", "DataDAM explained: attention maps, synthetic images as they are learned, "
           "DataDAM vs Random (IPC 1 and 10)", "ablations", ("digits",),
           {s: {"ipcs": [1, 10]} for s in SCALES},
           settings=lambda p: settings("ipc", p["ipcs"], lambda v: {"distill.ipc": v}),
           parts=("", "attention", "synthetic"), paper_gpu_h=1.0),
    Target("fig1", "Supplement Fig. 1: accuracy vs the power p of the attention map (p in 1, 2, 4, 6, 8)",
           "ablations", ("cifar10",), _params(powers=[1, 2, 4, 6, 8]), ABLATIONS["fig1"].settings, paper_gpu_h=1.7),
    Target("fig2", "Supplement Fig. 2: accuracy vs iterations from Gaussian-noise initialisation (CIFAR10, IPC 50)",
           "ablations", ("cifar10",),
           {"smoke": {"ipc": 1, "iterations": 4, "points": [0, 2, 4]},
            "quick": {"ipc": 10, "digits_ipc": 1, "iterations": 1000, "points": [0, 100, 200, 500, 1000]},
            "paper": {"ipc": 50, "iterations": 40000, "points": [0, 1000, 2500, 5000, 10000, 20000, 30000, 40000]}},
           settings=lambda p: settings("iterations", p["points"], lambda v: {"distill.iterations": v}),
           paper_gpu_h=8.0),
    Target("fig4", "Supplement Fig. 4: evaluation augmentation (AutoAugment, RandAugment, DSA, none)",
           "ablations", ("cifar10",), _params(augments=["autoaugment", "randaugment", "dsa", "none"]),
           ABLATIONS["fig4"].settings, paper_gpu_h=1.3),
    Target("fig5", "Supplement Fig. 5: the distance in L_SAM (MSE, MAE, cosine dissimilarity)", "ablations",
           ("cifar10",), _params(distances=["mse", "mae", "cosine"]), ABLATIONS["fig5"].settings, paper_gpu_h=1.0),
    Target("fig6", "Supplement Fig. 6: normalisation of the attention maps (L2, L1, none)", "ablations",
           ("cifar10",), _params(norms=["l2", "l1", "none"]), ABLATIONS["fig6"].settings, paper_gpu_h=1.0),
    Target("fig10", "Supplement Fig. 10: images distilled with ConvNet, AlexNet, VGG-11 (IPC 50)", "ablations",
           ("cifar10",), _params(50, archs=["convnet", "alexnet", "vgg11"]), ABLATIONS["fig10"].settings,
           parts=("", "images"), paper_gpu_h=3.0),
    Target("fig11", "Supplement Fig. 11: loss components (MMD only, SAM only, feature-map transfer, DataDAM)",
           "ablations", ("cifar10",), _params(losses=["mmd", "sam", "feature", "datadam"]),
           ABLATIONS["fig11"].settings, parts=("", "images"), paper_gpu_h=1.3),
    Target("fig12", "Supplement Fig. 12: layers matched (layer 1, layer 2, layers 1+2, last, all; IPC 10)",
           "ablations", ("cifar10",), _params(layers=["1", "2", "last", "1+2", "all"]), ABLATIONS["fig12"].settings,
           parts=("", "images"), paper_gpu_h=1.7),
    Target("fig13", "Supplement Fig. 13: initialisation (random real, K-Center, Gaussian noise; IPC 50)",
           "ablations", ("cifar10",), _params(50, inits=["real", "kcenter", "noise"]), ABLATIONS["fig13"].settings,
           parts=("", "images"), paper_gpu_h=3.0),
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
        text += ("The settings are within noise of each other here: that agrees with a claim of robustness, "
                 "but cannot confirm a small ranking.")
    else:
        text += "The gap is larger than twice the spread: the settings differ at this scale."
    moved = [r for r in rows if r.get("image_change_pct") is not None]
    if moved:
        lo, hi = min(r["image_change_pct"] for r in moved), max(r["image_change_pct"] for r in moved)
        text += f" Distillation moved the images by {lo:.0f}-{hi:.0f} % of their initial magnitude."
    return text


def _start(name: str, scale: str, dataset: str | None, preset: str, seeds, force: bool, executor: str,
           executor_config: str, data_root: str, params: dict) -> tuple[Target, dict, report.Run]:
    """The target, its parameters (a parameter left unset takes the target's
    default for the scale: None, [], "", -1, and 0 for counts where 0 means
    nothing, such as ipc and iterations) and the run."""
    t = get(name)
    unset = lambda k, v: v is None or v in ([], "", -1) or (v == 0 and k in ("ipc", "iterations"))  # noqa: E731
    given = {k: v for k, v in params.items() if not unset(k, v)}
    params = {**t.params_for(scale), **given, "seeds": list(seeds)}
    if (dataset or t.default_dataset) == "digits" and "digits_ipc" in params and "ipc" not in given:
        params["ipc"] = params["digits_ipc"]       # digits saturates at the real images' IPC
    run_ = report.start(name, scale, dataset or t.default_dataset, preset, data_root_=data_root or None,
                        params={**params, "force": force, "executor": executor, "executor_config": executor_config})
    return t, params, run_


def _title(t: Target, run_: report.Run) -> str:
    ipc = run_.params.get("ipc")
    note = " (IPC 1 where digits saturates at 10)" if run_.dataset == "digits" and ipc == 1 else ""
    return f"{t.title}\n{run_.label}{note}"


def run(name: str, *, scale: str = "quick", dataset: str | None = None, preset: str = "paper",
        seeds: list[int] = (0,), force: bool = False, executor: str = "inline", executor_config: str = "",
        data_root: str = "", **params) -> Result:
    """Run the ablation target ``name`` (fig1, fig4-6, fig10-13): its settings
    for ``params`` (the target's defaults for ``scale`` where not given),
    distilled and evaluated through the cache, drawn and tabulated."""
    t, params, run_ = _start(name, scale, dataset, preset, seeds, force, executor, executor_config, data_root,
                             params)
    ab = ABLATIONS[name]
    rows = run_sweep(ab.settings(params), seeds=params["seeds"], ipc=params["ipc"], kinds=ab.kinds, force=force,
                     executor=executor, executor_config=executor_config or None, **run_.sweep_args())
    summary = report.summarize(rows)
    extra = _add_image_stats(summary, rows, run_) if ab.images else ""
    run_.save_csv(summary, rows)
    figures = {"": plots.accuracy_bars(summary, xlabel=ab.xlabel, kinds=ab.kinds, title=_title(t, run_),
                                       paper=t.paper, names=report.KIND_NAMES)}
    run_.save_figure(figures[""])
    if ab.images:
        figures["images"] = _images(rows, run_, f"{t.title}: the learned images\n{run_.label}",
                                    per_class=min(params["ipc"], 5))
        run_.save_figure(figures["images"], "images")
    table = run_.table(summary, ab.kinds, setting_name=ab.xlabel, extra=extra)
    return Result(run_, rows, summary, figures, table, findings(summary))


def image_stats(pixels) -> tuple[list[float], list[float]]:
    """Per image, on the [0, 1] pixel scale (unclipped) x 100: brightness,
    the mean pixel value, and contrast, the pixels' standard deviation (RMS
    contrast): what supplement Figs. 10-13 call brighter and more contrasted."""
    flat = pixels.detach().float().flatten(1)
    return (100 * flat.mean(1)).tolist(), (100 * flat.std(1, correction=0)).tolist()


def _add_image_stats(summary: list[dict], rows: list[dict], run_: report.Run) -> str:
    """Each DataDAM row of ``summary`` gets its learned images' brightness and
    contrast (the first seed's set; one value per image); returns them as a
    markdown table."""
    from ..method.synthetic import SyntheticSet
    data = run_.load_data()
    lines = ["| setting | brightness (mean pixel, % of range) | contrast (pixel std, % of range) | images |",
             "|---|---|---|---|"]
    for r in summary:
        job = next((j for j in rows if j["setting"] == r["setting"] and j["kind"] == r["kind"]), None)
        if r["kind"] != "datadam" or job is None:
            continue
        syn = SyntheticSet.load(job["synthetic_dir"], data.device)
        bright, contrast = image_stats(data.to_pixels(syn.images, clip=False))
        r["brightness_values"] = ";".join(f"{v:.3f}" for v in bright)
        r["contrast_values"] = ";".join(f"{v:.3f}" for v in contrast)
        mean = lambda v: sum(v) / len(v)  # noqa: E731
        lines.append(f"| {r['label']} | {mean(bright):.1f} | {mean(contrast):.1f} | {len(bright)} |")
    return "*The learned images* (the first seed's set; the verdict compares them image by image):\n\n" + \
        "\n".join(lines)


def _images(rows: list[dict], run_: report.Run, title: str, per_class: int = 1):
    """One row of learned images per setting (the first seed's set)."""
    from ..method.synthetic import SyntheticSet
    data = run_.load_data()
    panels, seen = [], set()
    for r in rows:
        if r["kind"] != "datadam" or r["setting"] in seen:
            continue
        seen.add(r["setting"])
        syn = SyntheticSet.load(r["synthetic_dir"], data.device)
        panels.append((r["label"], data.to_pixels(syn.images)))
    return plots.setting_images(panels, data.classes, per_class, title)


# ---------------------------------------------------------------- the curve of Fig. 2

def curve_job(job: dict) -> dict:
    """One distillation evaluated at several of its iterations (a sweep job:
    module-level, picklable). The images at iteration k of an N-iteration run
    are the final images of a k-iteration run with the same seed (every draw
    happens in the same order; tests/test_families.py checks it), so each
    point is cached under the config of a k-iteration run."""
    from ..kit.cache import evaluate_cached, set_cached
    from ..method.config import override
    cfg = job_config(job)
    data = get_data(job["dataset"], job["data_root"], job.get("device"), cfg.preprocess)
    points = tuple(job["points"])
    syn, hit, entry = set_cached("datadam", cfg, data, force=job["force"], root=job["cache_root"], snapshot_at=points)
    out = []
    for k in points:
        cfg_k = override(cfg, {"distill.iterations": k})
        res, e_hit, _ = evaluate_cached(cfg_k, data, syn.snapshots[k].to(data.device), syn.labels, kind="datadam",
                                        force=job["force"], root=job["cache_root"])
        out.append({"x": k, "accuracies": res.accuracies, "eval_cached": e_hit, "eval_s": res.wall_time_s})
        print(f"{job['label']} | iteration {k}: {100 * res.mean:.2f} +- {100 * res.std:.2f} %", flush=True)
    return {"setting": job["setting"], "kind": "datadam", "seed": job["seed"], "synthetic_dir": entry,
            "distill_cached": hit, "distill_s": syn.info.get("wall_time_s"), "points": out,
            "dataset": job["dataset"], "scale": job["scale"], "preset": job["preset"], "ipc": cfg.distill.ipc}


def curve(name: str = "fig2", *, scale: str = "quick", dataset: str | None = None, preset: str = "paper",
          seeds: list[int] = (0,), force: bool = False, executor: str = "inline", executor_config: str = "",
          data_root: str = "", **params) -> Result:
    """Supplement Fig. 2: test accuracy over the iterations of one run from
    Gaussian noise (``points``: the iterations evaluated)."""
    t, params, run_ = _start(name, scale, dataset, preset, seeds, force, executor, executor_config, data_root,
                             params)
    points = sorted(set(params["points"]) | {params["iterations"]})
    base = Setting("init", "noise", (("distill.init", "noise"), ("distill.iterations", params["iterations"])),
                   "Gaussian noise")
    jobs = run_sweep([base], seeds=params["seeds"], ipc=params["ipc"], force=force, executor=executor,
                     executor_config=executor_config or None, job_fn=curve_job, points=points, **run_.sweep_args())
    rows = [{"setting": f"iterations={p['x']}", "label": str(p["x"]), "kind": "datadam", "seed": j["seed"],
             "accuracies": p["accuracies"], "dataset": j["dataset"], "scale": j["scale"], "preset": j["preset"],
             "ipc": j["ipc"], "overrides": "{}"} for j in jobs for p in j["points"]]
    summary = report.summarize(rows)
    for r in summary:
        r["x"] = int(r["setting"].split("=")[1])
    run_.save_csv(summary, jobs)
    paper_note = "" if run_.comparable else "the paper: CIFAR-10, IPC 50, 40,000 iterations (a plot only)"
    figures = {"": plots.accuracy_curve(summary, "distillation iteration", _title(t, run_), paper_note)}
    run_.save_figure(figures[""])
    table = run_.table(summary, ("datadam",), setting_name="iteration")
    first, last = summary[0], summary[-1]
    text = (f"**What this run shows:** from noise, accuracy goes from {first['mean']:.1f} % (iteration "
            f"{first['x']}) to {last['mean']:.1f} % (iteration {last['x']}); "
            f"{'still rising' if last['mean'] - summary[-2]['mean'] > max(last['std'], 0.5) else 'levelling off'}"
            " at the end.") if len(summary) > 1 else ""
    return Result(run_, rows, summary, figures, table, text)


# ---------------------------------------------------------------- the teaching notebook

def quickstart(*, scale: str = "quick", dataset: str = "digits", preset: str = "paper", ipcs: list[int] = (1, 10),
               seeds: list[int] = (0,), force: bool = False, executor: str = "inline", executor_config: str = "",
               data_root: str = "") -> Result:
    """The teaching notebook's computation: the attention maps of a random
    ConvNet, DataDAM vs Random at each IPC, the synthetic images of the
    largest IPC as they are learned."""
    import torch

    from ..method.config import make_config
    from ..method.models import build_encoder
    from ..method.synthetic import SyntheticSet
    t, params, run_ = _start("quickstart", scale, dataset, preset, seeds, force, executor, executor_config,
                             data_root, {"ipcs": list(ipcs)})
    data = run_.load_data()
    cfg = make_config(preset, scale, dataset, ipc=max(ipcs), seed=params["seeds"][0], overrides=run_.overrides)
    m = cfg.distill.method
    figures = {}
    examples = data.x_train[data.offsets]  # the first training image of each class
    encoder = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size,
                            torch.Generator(device=data.device).manual_seed(cfg.seed), data.device)
    maps = plots.attention_maps(encoder, examples, m.power, m.attention_norm)
    figures["attention"] = plots.attention_panel(data.to_pixels(examples), maps, data.classes,
                                                 title=f"attention maps (p = {m.power:g}), random ConvNet")
    run_.save_figure(figures["attention"], "attention")
    rows = run_sweep(t.settings(params), seeds=params["seeds"], kinds=("datadam", "random"), force=force,
                     executor=executor, executor_config=executor_config or None, **run_.sweep_args())
    summary = report.summarize(rows)
    run_.save_csv(summary, rows)
    largest = max(ipcs)
    syn = SyntheticSet.load(next(r["synthetic_dir"] for r in rows if r["kind"] == "datadam" and r["ipc"] == largest))
    figures["synthetic"] = plots.snapshots(syn.snapshots, data, per_class=1, losses=syn.losses,
                                           title=f"DataDAM on {dataset}, IPC {largest}: synthetic images by iteration")
    run_.save_figure(figures["synthetic"], "synthetic")
    figures[""] = plots.accuracy_bars(summary, xlabel="images per class", kinds=("datadam", "random"),
                                      title=f"DataDAM vs Random\n{run_.label}",
                                      paper=t.paper, names=report.KIND_NAMES)
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
            moved = f", images moved {r['image_change_pct']:.0f} %" if r.get("image_change_pct") is not None else ""
            lines.append(f"at {r['label']} images per class DataDAM is {r['mean'] - rnd['mean']:+.1f} points "
                         f"from Random ({r['mean']:.1f} vs {rnd['mean']:.1f} %{moved})")
    return ("**What this run shows:** " + "; ".join(lines) + ".") if lines else ""
