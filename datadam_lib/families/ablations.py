"""The ablation family: settings -> distil -> evaluate -> bars, curves, images.

Every target here is a list of :class:`~datadam_lib.kit.registry.Setting`
(values on one axis of the method's config), distilled and evaluated through
the kit's cached sweep, drawn as bars (the accuracy of every evaluated model,
their mean ± std, the paper's number where it has one) and, for the image
ablations (supplement Figs 10-13), the learned images of each setting.
Fig 2 is a curve: one distillation evaluated at several of its iterations.
A notebook calls :func:`run` (or :func:`quickstart`, :func:`curve`) once and
shows what it returns.

    result = ablations.run("fig1", RunOptions(scale="quick", dataset="digits"), powers=[1, 4])
    result.show()

At the quick scale the ablations run at IPC 1 on digits: at IPC 10 digits is
saturated (Random is already ~95 %) and settings cannot differ; every figure
says so in its title.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..kit import plots, report
from ..kit.paths import display_dataset
from ..kit.registry import SCALES, Setting, Target, register, settings
from ..kit.run import Result, RunOptions, start
from ..kit.sweep import curve_job, run_sweep


@dataclass(frozen=True)
class Ablation:
    """How a target turns its parameters into settings, and how it is drawn."""
    settings: Callable[[dict], list[Setting]]
    xlabel: str
    kinds: tuple[str, ...] = ("datadam",)
    images: bool = False                  # also draw each setting's learned images


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


HELP = {
    "ipc": "images per class of every set (quick: the paper's IPC up to 10 on real images)",
    "digits_ipc": "the IPC on digits where ipc is not given (digits saturates at IPC 10: every setting ~95 %)",
    "ipcs": "images per class compared, DataDAM vs Random at each",
    "powers": "the values of p compared (supplement Fig. 1)",
    "iterations": "distillation iterations from Gaussian noise",
    "points": "the iterations at which the images are evaluated",
    "augments": "evaluation-time augmentations compared (supplement Fig. 4)",
    "distances": "the distances between attention maps compared (supplement Fig. 5)",
    "norms": "the normalisations of the attention maps compared (supplement Fig. 6)",
    "archs": "encoders used for distillation; every set is evaluated on ConvNet (supplement Fig. 10)",
    "losses": "loss components compared: mmd, sam, feature (feature maps), datadam (supplement Fig. 11)",
    "layers": "layers matched: SAM on 1, 2 or 1+2; last: L_MMD only; all: DataDAM (supplement Fig. 12)",
    "inits": "initialisations compared: real, kcenter, noise (supplement Fig. 13)",
}

register(
    *[Target(name, f"DataDAM explained{on}: attention maps, synthetic images as they are learned, DataDAM vs "
             "Random (IPC 1 and 10)", "ablations", (dataset,), {s: {"ipcs": [1, 10]} for s in SCALES},
             settings=lambda p: settings("ipc", p["ipcs"], lambda v: {"distill.ipc": v}),
             parts=("", "attention", "synthetic"), paper_gpu_h=1.0, notebook_name="quickstart")
      # the teaching notebook on the built-in digits (no download), and on real images: CIFAR-10's fixed
      # quick-scale subset (1,000 images of each training batch; method/data.py cifar10-5k)
      for name, dataset, on in (("quickstart", "digits", ""),
                                ("quickstart-cifar10", "cifar10-5k", " on real images (CIFAR-10, 5k subset)"))],
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
    help=HELP,
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


def _title(t: Target, run_: report.Run) -> str:
    ipc = run_.params.get("ipc")
    note = " (IPC 1 where digits saturates at 10)" if run_.dataset == "digits" and ipc == 1 else ""
    return f"{t.title}\n{run_.label}{note}"


def run(name: str, options: RunOptions = RunOptions(), **params) -> Result:
    """Run the ablation target ``name`` (fig1, fig4-6, fig10-13): its settings
    for ``params`` (the registry's for the scale where not given), distilled
    and evaluated through the cache, drawn and tabulated."""
    t, params, run_ = start(name, options, params)
    ab = ABLATIONS[name]
    settings_ = ab.settings(params)
    rows = run_sweep(settings_, seeds=params["seeds"], ipc=params["ipc"], kinds=ab.kinds, **run_.sweep_args())
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
    return Result(run_, rows, summary, figures, table, findings(summary), expected=len(settings_) * len(ab.kinds))


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

def curve(name: str = "fig2", options: RunOptions = RunOptions(), **params) -> Result:
    """Supplement Fig. 2: test accuracy over the iterations of one run from
    Gaussian noise (``points``: the iterations evaluated)."""
    t, params, run_ = start(name, options, params)
    points = sorted(set(params["points"]) | {params["iterations"]})
    base = Setting("init", "noise", (("distill.init", "noise"), ("distill.iterations", params["iterations"])),
                   "Gaussian noise")
    jobs = run_sweep([base], seeds=params["seeds"], ipc=params["ipc"], job_fn=curve_job, points=points,
                     **run_.sweep_args())
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
    return Result(run_, rows, summary, figures, table, text, expected=len(points))


# ---------------------------------------------------------------- the teaching notebook

def quickstart(name: str = "quickstart", options: RunOptions = RunOptions(), **params) -> Result:
    """The teaching notebook's computation (``quickstart`` on digits,
    ``quickstart-cifar10`` on CIFAR-10's 5k subset): the attention maps of a
    random ConvNet, DataDAM vs Random at each IPC, the synthetic images of
    the largest IPC as they are learned."""
    import torch

    from ..method.config import make_config
    from ..method.models import build_encoder
    from ..method.synthetic import SyntheticSet
    t, params, run_ = start(name, options, params)
    ipcs = params["ipcs"]
    data = run_.load_data()
    cfg = make_config(run_.preset, run_.scale, run_.dataset, ipc=max(ipcs), seed=params["seeds"][0],
                      overrides=run_.overrides)
    m = cfg.distill.method
    figures = {}
    examples = data.x_train[data.offsets]  # the first training image of each class
    encoder = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size,
                            torch.Generator(device=data.device).manual_seed(cfg.seed), data.device)
    maps = plots.attention_maps(encoder, examples, m.power, m.attention_norm)
    figures["attention"] = plots.attention_panel(data.to_pixels(examples), maps, data.classes,
                                                 title=f"attention maps (p = {m.power:g}), random ConvNet")
    run_.save_figure(figures["attention"], "attention")
    rows = run_sweep(t.settings(params), seeds=params["seeds"], kinds=("datadam", "random"), **run_.sweep_args())
    summary = report.summarize(rows)
    run_.save_csv(summary, rows)
    largest = max(ipcs)
    syn = SyntheticSet.load(next(r["synthetic_dir"] for r in rows if r["kind"] == "datadam" and r["ipc"] == largest))
    figures["synthetic"] = plots.snapshots(syn.snapshots, data, per_class=1, losses=syn.losses,
                                           title=f"DataDAM on {display_dataset(run_.dataset)}, IPC {largest}: synthetic images by "
                                                 "iteration")
    run_.save_figure(figures["synthetic"], "synthetic")
    figures[""] = plots.accuracy_bars(summary, xlabel="images per class", kinds=("datadam", "random"),
                                      title=f"DataDAM vs Random\n{run_.label}",
                                      paper=t.paper, names=report.KIND_NAMES)
    run_.save_figure(figures[""])
    table = run_.table(summary, kinds=("random", "datadam"), setting_name="IPC")
    return Result(run_, rows, summary, figures, table, _vs_random(summary), expected=2 * len(ipcs))


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
