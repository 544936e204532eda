"""The visuals family: distilled-image grids per dataset and IPC (supplement
Figs 14-22) and the progression of noise-initialised images over iterations
(Fig 3), shown through the inverse preprocessing (inverse ZCA where used,
``RealData.to_pixels``), as the supplement's Sec. 1.2 says it did.

A grid is a picture of its dataset's images, so it runs only on the paper's
dataset or a fixed part of the same files (``cifar10-5k`` for CIFAR-10): on
any other data a run of fig16 would show, say, digits under CIFAR-100's name,
and the same digits picture again as fig20-22. Where the figure's dataset is
not present the target says "needs DATASET" (and how to get it) instead of
drawing a stand-in; only the smoke scale, which checks code paths and is
never committed, runs on any dataset. Every title says what the set was made
with (dataset, IPC, iterations), marked apart from the paper's.
"""
from __future__ import annotations

import torch

from ..kit import plots, report
from ..kit.paths import display_dataset
from ..kit.registry import SCALES, Setting, Target, TargetError, register
from ..kit.run import Result, RunOptions, start
from ..kit.sweep import curve_job, run_sweep, set_job

# (figure, dataset, label, IPC, classes shown (0: all), images per class shown (0: all), GPU hours)
GRIDS = [(14, "cifar10", "CIFAR10", 10, 0, 0, 0.3), (15, "cifar10", "CIFAR10", 50, 0, 0, 1.0),
         (16, "cifar100", "CIFAR100", 10, 0, 0, 2.0), (17, "cifar100", "CIFAR100", 50, 0, 10, 4.0),
         (18, "tinyimagenet", "TinyImageNet", 1, 0, 0, 2.0), (19, "imagenet64", "ImageNet-1K (64x64)", 1, 100, 0, 15.0),
         (20, "imagenette", "ImageNette", 10, 0, 0, 2.0), (21, "imagewoof", "ImageWoof", 10, 0, 0, 2.0),
         (22, "imagesquawk", "ImageSquawk", 10, 0, 0, 2.0)]


def same_images(dataset: str, own: str) -> bool:
    """Whether ``dataset`` is made of ``own``'s images: ``own`` itself, or a
    registered dataset read from the same files (``cifar10-5k``, a fixed
    part of CIFAR-10), however its files are given (``NAME:npz:PATH``)."""
    from ..method.data import DATASETS
    head = dataset.split(":", 1)[0]
    return head == own or (head in DATASETS and own in DATASETS
                           and DATASETS[head].location == DATASETS[own].location)


def check_dataset(t: Target, dataset: str, scale: str) -> None:
    """A grid's picture must be of its own dataset's images (any data at
    smoke scale, which only checks code paths): else TargetError, one line."""
    if scale != "smoke" and not same_images(dataset, t.default_dataset):
        raise TargetError(f"{t.name} needs {t.default_dataset}: it is a picture of that dataset's images, and "
                          f"{display_dataset(dataset)} would stand under its name (`python -m datadam_lib datasets` "
                          f"says how to get it; --dataset {t.default_dataset}:npz:PATH reads its images from an .npz; "
                          "any dataset runs at --scale smoke, a code-path check)")


GRID_TARGETS = tuple(f"fig{n}" for n, *_ in GRIDS)


def refuses(name: str, dataset: str, scale: str) -> str | None:
    """Why target ``name`` will not run on ``dataset`` at ``scale`` (a grid
    on other images than its own: :func:`check_dataset`), else None; the
    runner asks before it starts a notebook."""
    if name not in GRID_TARGETS:
        return None
    from ..kit.registry import get
    try:
        check_dataset(get(name), dataset, scale)
    except TargetError as e:
        return str(e)
    return None


def _grid_params(ipc: int, classes: int, per_class: int) -> dict[str, dict]:
    return {s: {"ipc": 1 if s == "smoke" else ipc, "classes": classes, "per_class": per_class} for s in SCALES}


HELP = {
    "ipc": "images per class of the distilled set",
    "digits_ipc": "the IPC on digits where ipc is not given (Fig. 2's run on digits)",
    "iterations": "distillation iterations from Gaussian noise (the same run as fig2)",
    "points": "the iterations shown",
    "classes": "classes shown: 0 all, N that many random classes (chosen by the seed)",
    "per_class": "images shown per class: 0 all, N that many (random ones in a grid)",
}

register(
    Target("fig3", "Supplement Fig. 3: noise-initialised synthetic images over iterations (CIFAR10, IPC 50)",
           "visuals", ("cifar10",),
           {"smoke": {"ipc": 1, "iterations": 4, "points": [0, 2, 4], "per_class": 1},
            "quick": {"ipc": 10, "digits_ipc": 1, "iterations": 1000, "points": [0, 100, 200, 500, 1000],
                      "per_class": 1},   # Fig. 2's quick run (the same cached run and evaluations)
            "paper": {"ipc": 50, "iterations": 40000, "points": [0, 1000, 5000, 10000, 20000, 40000],
                      "per_class": 2}}, paper_gpu_h=8.0),
    *[Target(f"fig{n}", f"Supplement Fig. {n}: distilled images, {label}, IPC {ipc}", "visuals", (ds,),
             _grid_params(ipc, classes, per), paper_gpu_h=h, notebook_name="grid")
      for n, ds, label, ipc, classes, per, h in GRIDS],
    help=HELP,
)


def _choose(n: int, k: int, generator: torch.Generator) -> torch.Tensor:
    """``k`` of ``range(n)`` at random (all, in order, when k is 0 or >= n)."""
    if not k or k >= n:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)[:k].sort().values


def grid(name: str, options: RunOptions = RunOptions(), **params) -> Result:
    """Distil the figure's dataset at its IPC (cached) and draw the set,
    ``classes`` random classes (0: all) with ``per_class`` random images each
    (0: all), chosen by the seed."""
    from ..kit.registry import get
    from ..method.synthetic import SyntheticSet
    check_dataset(get(name), options.dataset or get(name).default_dataset, options.scale)
    t, params, run_ = start(name, options, params)
    base = Setting("ipc", params["ipc"], (("distill.ipc", params["ipc"]),))
    rows = run_sweep([base], seeds=params["seeds"][:1], ipc=params["ipc"], job_fn=set_job, **run_.sweep_args())
    data = run_.load_data()
    syn = SyntheticSet.load(rows[0]["synthetic_dir"], data.device)
    g = torch.Generator().manual_seed(params["seeds"][0])
    classes = _choose(data.num_classes, params["classes"], g)
    per = _choose(params["ipc"], params["per_class"], g)
    pix = data.to_pixels(syn.images, clip=False).view(data.num_classes, params["ipc"], *syn.images.shape[1:])
    pix = pix[classes][:, per].flatten(0, 1).cpu()
    iterations = run_.config(params["ipc"]).distill.iterations
    made = (f"DataDAM images of {display_dataset(run_.dataset)}, IPC {params['ipc']}, {iterations:,} distillation "
            f"iterations; shown: {len(classes)} of {data.num_classes} classes × {len(per)} of {params['ipc']} images")
    fig = plots.class_grid(pix, [data.classes[int(i)] for i in classes], len(per), title=run_.title(made))
    run_.save_figure(fig)
    summary = [{"setting": base.key, "label": str(params["ipc"]), "kind": "datadam", "dataset": run_.dataset,
                "ipc": params["ipc"], "iterations": iterations, "images": len(syn.images),
                "classes_shown": len(classes),
                "per_class_shown": len(per), "image_change_pct": rows[0]["image_change_pct"],
                "final_loss": rows[0]["final_loss"], "distill_s": rows[0]["distill_s"]}]
    run_.save_csv(summary, rows)
    text = (f"{run_.heading(made)}\n\n**Ours:** {run_.label}: {len(syn.images)} images "
            f"({data.num_classes} classes x {params['ipc']}, {iterations:,} distillation iterations); shown: "
            f"{len(classes)} classes x {len(per)} images, through the inverse preprocessing; {plots.range_note(pix)}. "
            f"Distillation moved the images by {rows[0]['image_change_pct']:.0f} % of their initial magnitude.\n\n"
            f"**Paper:** {t.paper.source or t.title}: images only, no numbers.")
    _write_md(run_, text)
    return Result(run_, rows, summary, {"": fig}, text, "", expected=1)


def _write_md(run_: report.Run, text: str) -> None:
    from ..method.io import atomic_write_text
    atomic_write_text(text + "\n", run_.results_path("md"))
    run_._write_manifest(run_.results_path("md"))


def progression(name: str = "fig3", options: RunOptions = RunOptions(), **params) -> Result:
    """Supplement Fig. 3: ``per_class`` images of every class at each
    evaluated iteration of Fig. 2's run from Gaussian noise (the same cached
    run and evaluations as Fig. 2 at the same parameters)."""
    from ..method.synthetic import SyntheticSet
    _, params, run_ = start(name, options, params)
    points = sorted(set(params["points"]) | {params["iterations"]})
    base = Setting("init", "noise", (("distill.init", "noise"), ("distill.iterations", params["iterations"])),
                   "Gaussian noise")
    jobs = run_sweep([base], seeds=params["seeds"][:1], ipc=params["ipc"], job_fn=curve_job, points=points,
                     **run_.sweep_args())
    data = run_.load_data()
    syn = SyntheticSet.load(jobs[0]["synthetic_dir"], data.device)
    snaps = {k: syn.snapshots[k] for k in points}
    made = (f"DataDAM from Gaussian noise, {params['iterations']:,} distillation iterations, "
            f"{params['per_class']} image{'s' if params['per_class'] > 1 else ''} per class at iterations "
            + ", ".join(map(str, points)))
    fig = plots.snapshots(snaps, data, per_class=params["per_class"], losses=syn.losses, title=run_.title(made))
    run_.save_figure(fig)
    summary = [{"setting": f"iterations={p['x']}", "label": str(p["x"]), "kind": "datadam",
                "mean": 100 * sum(p["accuracies"]) / len(p["accuracies"]), "std": _std(p["accuracies"]),
                "n_models": len(p["accuracies"]), "dataset": run_.dataset, "ipc": params["ipc"]}
               for p in jobs[0]["points"]]
    run_.save_csv(summary, jobs)
    lines = " · ".join(f"{r['label']}: {r['mean']:.1f} %" for r in summary)
    text = (f"{run_.heading(made)}\n\n**Ours:** {run_.label}, from Gaussian noise; accuracy of the images shown "
            f"(the models of Fig. 2): {lines}.\n\n**Paper:** images only.")
    _write_md(run_, text)
    return Result(run_, jobs, summary, {"": fig}, text, "", expected=len(points))


def _std(accs: list[float]) -> float:
    m = sum(accs) / len(accs)
    return 100 * (sum((a - m) ** 2 for a in accs) / len(accs)) ** 0.5
