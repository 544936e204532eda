"""The baselines family: DataDAM beside the other methods of the field, the
coresets and generative models (supplement Table 3, Fig. 9; main paper Table 1
and cross-architecture).

Every number comes from the kit's cached sweep: each (setting, kind, seed) is
a job that makes the set of that kind (``method.baselines.sets``: ``dc``, ``dsa``,
``dm``, ``cafe``, ``herding``, ``kcenter``, ``random``, ``datadam``, the
generators ``cgan``, ``biggan``, ``gmmn``, ``dc-vae`` and ``pixel-mmd``) and
evaluates it with the preset's protocol. A notebook calls one function here and
shows what it returns:

    result = baselines.table("table3", RunOptions(scale="quick", dataset="digits"))
    result.show()

Targets and their parameters per scale are declared below. At quick scale on
a 2-core CPU the work is cut (fewer evaluation epochs and models, IPC 50 left
to the paper scale where it does not fit in minutes, the baselines' own
per-scale caps in ``method/``); every table says what was cut.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..kit import plots, report
from ..kit.paths import display_dataset
from ..kit.registry import Setting, Target, get, register, settings
from ..kit.run import Result, RunOptions, start
from ..kit.sweep import run_sweep, set_job

TABLE3_KINDS = ["random", "dc-vae", "cgan", "biggan", "gmmn", "pixel-mmd", "datadam"]
TABLE1_KINDS = ["random", "herding", "kcenter", "dc", "dsa", "dm", "cafe", "datadam"]
FIG9_KINDS = ["dc", "dsa", "dm", "cafe", "datadam"]
CROSSARCH_KINDS = ["random", "dm", "datadam"]
ARCHS = ["convnet", "alexnet", "vgg11", "resnet18"]
ARCH_NAMES = {"convnet": "ConvNet", "alexnet": "AlexNet", "vgg11": "VGG-11", "resnet18": "ResNet-18"}


# ---------------------------------------------------------------- settings


def ipc_settings(p: dict) -> list[Setting]:
    """One setting per IPC (``ipc=10`` keys), each with the run's work
    overrides: ``epochs`` (evaluation epochs per IPC, aligned with ``ipcs``;
    0 or missing: the scale's), ``num_models`` (0: the scale's) and
    ``overrides`` (dotted config paths applied to every set)."""
    epochs = dict(zip(p["ipcs"], p.get("epochs") or []))

    def overrides(v: int) -> dict[str, Any]:
        o = {"distill.ipc": int(v), **p.get("overrides", {})}
        if epochs.get(v):
            o["evaluate.epochs"] = int(epochs[v])
        if p.get("num_models"):
            o["evaluate.num_models"] = int(p["num_models"])
        return o
    return settings("ipc", p["ipcs"], overrides)


def arch_settings(p: dict) -> list[Setting]:
    """One setting per evaluation architecture; the set is distilled once with
    the preset's ConvNet (a set's cache key leaves out its evaluation)."""
    base = dict(ipc_settings({**p, "ipcs": [p["ipc"]]})[0].overrides)
    return settings("arch", p["archs"], lambda a: {**base, "evaluate.encoder.arch": a}, labels=ARCH_NAMES.get)


# ---------------------------------------------------------------- targets

# Smoke runs the notebook's code paths in seconds: narrow networks, and at IPC
# 10 and 50 only Random and DataDAM (tests/test_baselines.py and
# tests/test_generative.py run every kind); the numbers mean nothing.
_SMOKE = {"overrides": {"distill.encoder.width": 16, "evaluate.encoder.width": 16}, "seeds": [0]}


def _smoke_skip(kinds: list[str]) -> dict[str, list[str]]:
    return {str(ipc): [k for k in kinds if k not in ("random", "datadam")] for ipc in (10, 50)}
# Quick: DC/DSA/CAFE's IPC-50 sets are left to the paper scale: one DC iteration
# there is 50 image updates and 490 network epochs on 500 images, tens of
# minutes on a 2-core CPU (at IPC 1 and 10 the methods' own quick caps apply:
# about 10 image updates, one iteration of CAFE).
_BILEVEL = ["dc", "dsa", "cafe"]

HELP = {
    "ipcs": "images per class, one setting each (the paper's: 1, 10, 50)",
    "ipc": "images per class of every set",
    "kinds": "the kinds of set compared (method/baselines/sets.py: random, herding, kcenter, dc, dsa, dm, cafe, "
             "datadam, dc-vae, cgan, biggan, gmmn, pixel-mmd)",
    "archs": "evaluation architectures; every set is distilled once with the preset's ConvNet",
    "epochs": "evaluation epochs per IPC, aligned with ipcs (absent: the preset's schedule)",
    "num_models": "evaluated models per set (absent: the scale's)",
    "overrides": "dotted config overrides for every set, e.g. {\"baselines.matching.iterations\": 5}",
    "skip": "kinds left out at an IPC, e.g. {\"50\": [\"dc\", \"dsa\", \"cafe\"]}: every cell runs where it is empty",
    "seeds": "seeds of the sets where the run gives none; each set is evaluated on fresh models",
    "quality_epochs": "epochs of the ConvNet, trained on the real training data, that recognises each kind's "
                      "largest-IPC images (GAN-test, the generators' sample-quality check; 0: no check)",
    "real_per_class": "real images per class in the t-SNE",
    "resnet_epochs": "epochs of the ResNet-18 trained on the real data for the embedding",
}

register(
    Target("table3", "Supplement Table 3: DataDAM vs generative models and pixel-space MMD (CIFAR10, IPC 1/10/50)",
           "baselines", ("cifar10",),
           {"smoke": {"ipcs": [1, 10, 50], "kinds": TABLE3_KINDS, "skip": _smoke_skip(TABLE3_KINDS),
                      "quality_epochs": 1, **_SMOKE},
            "quick": {"ipcs": [1, 10, 50], "kinds": TABLE3_KINDS, "epochs": [100, 50, 20], "num_models": 3,
                      "quality_epochs": 10, "seeds": [0]},
            "paper": {"ipcs": [1, 10, 50], "kinds": TABLE3_KINDS, "quality_epochs": 30, "seeds": [0]}},
           settings=ipc_settings, parts=("", "samples"), paper_gpu_h=6.0),
    Target("table1", "Main paper Table 1: DataDAM vs coresets and distillation baselines (IPC 1/10/50)",
           "baselines", ("cifar10", "cifar100", "tinyimagenet", "imagenet64"),
           {"smoke": {"ipcs": [1, 10, 50], "kinds": TABLE1_KINDS, "skip": _smoke_skip(TABLE1_KINDS), **_SMOKE},
            "quick": {"ipcs": [1, 10, 50], "kinds": TABLE1_KINDS, "epochs": [100, 50, 20], "num_models": 3,
                      "seeds": [0], "skip": {"50": _BILEVEL}},
            "paper": {"ipcs": [1, 10, 50], "kinds": TABLE1_KINDS, "seeds": [0]}},
           settings=ipc_settings, paper_gpu_h=40.0),
    Target("crossarch", "Main paper: cross-architecture generalisation (a set distilled with ConvNet, evaluated on "
           "ConvNet, AlexNet, VGG-11, ResNet-18)", "baselines", ("cifar10",),
           {"smoke": {"ipc": 1, "archs": ARCHS, "kinds": CROSSARCH_KINDS, **_SMOKE},
            "quick": {"ipc": 10, "archs": ARCHS, "kinds": CROSSARCH_KINDS, "epochs": [30], "num_models": 3,
                      "seeds": [0]},
            "paper": {"ipc": 50, "archs": ARCHS, "kinds": CROSSARCH_KINDS, "seeds": [0]}},
           settings=arch_settings, paper_gpu_h=8.0),
    Target("fig9", "Supplement Fig. 9: t-SNE of real and synthetic features (ResNet-18, CIFAR10, IPC 50)",
           "baselines", ("cifar10",),
           {"smoke": {"ipc": 1, "kinds": FIG9_KINDS, "real_per_class": 10, "resnet_epochs": 0, **_SMOKE},
            "quick": {"ipc": 10, "kinds": FIG9_KINDS, "real_per_class": 100, "resnet_epochs": 2, "seeds": [0]},
            "paper": {"ipc": 50, "kinds": FIG9_KINDS, "real_per_class": 500, "resnet_epochs": 30, "seeds": [0]}},
           paper_gpu_h=6.0),
    help=HELP,
)

# which paper_numbers.toml section holds the paper's Table 1 for each dataset
TABLE1_SECTIONS = {"cifar10": "table1", "cifar100": "table1_cifar100", "tinyimagenet": "table1_tinyimagenet",
                   "imagenet64": "table1_imagenet64"}


# ---------------------------------------------------------------- results


@dataclass
class TableResult(Result):
    """A table of kinds x settings; ``skipped`` lists the (setting, kind) cells
    deliberately not run (an IPC larger than the dataset's smallest class, or
    left to a larger scale), each explained in the table's notes."""
    skipped: list = field(default_factory=list)


def _cells(params: dict, data) -> tuple[dict[int, list[str]], list[tuple[str, str]], list[str]]:
    """Which kinds run at which IPC: all of ``kinds``, except the kinds
    ``skip[str(ipc)]`` leaves to a larger scale, and no kind at an IPC larger
    than the dataset's smallest class (random, coresets and real-initialised
    methods need that many real images per class). Returns
    ``(kinds per ipc, skipped (setting, kind) cells, notes)``."""
    smallest, kinds = int(data.counts.min()), list(params["kinds"])
    plan, skipped, notes = {}, [], []
    for ipc in params["ipcs"]:
        if ipc > smallest:
            k = int(data.counts.argmin())
            notes.append(f"IPC {ipc} left out: class {data.classes[k]!r} of {display_dataset(data.name)} has only {smallest} "
                         "training images, fewer than a set of real images would hold.")
            skipped += [(f"ipc={ipc}", kind) for kind in kinds]
            continue
        left = [k for k in kinds if k in params.get("skip", {}).get(str(ipc), [])]
        if left:
            notes.append(f"IPC {ipc}: {', '.join(map(report.kind_name, left))} not run at this scale (the "
                         "target's `skip` parameter; every cell runs at the paper scale).")
        skipped += [(f"ipc={ipc}", kind) for kind in left]
        plan[ipc] = [k for k in kinds if k not in left]
    return plan, skipped, notes


def _sweep_cells(plan: dict[int, list[str]], params: dict, run_: report.Run) -> list[dict]:
    """One sweep per distinct list of kinds (most often one sweep in all)."""
    rows, epochs = [], dict(zip(params["ipcs"], params.get("epochs") or []))
    for kinds in dict.fromkeys(tuple(v) for v in plan.values()):
        ipcs = [i for i, v in plan.items() if tuple(v) == kinds]
        part = {**params, "ipcs": ipcs, "epochs": [epochs.get(i, 0) for i in ipcs]}   # epochs stay with their IPC
        rows += run_sweep(ipc_settings(part), kinds=kinds, seeds=params["seeds"], **run_.sweep_args())
    return rows


def _work_note(rows: list[dict]) -> str:
    """What each kind's set cost at this scale, from the sets' manifests (the
    methods cap their own work per scale: ``method/*.py`` ``CAPS``)."""
    work: dict[str, dict[str, str]] = {}
    for r in rows:
        path = os.path.join(r.get("synthetic_dir") or "", "manifest.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            info = json.load(f)
        bits = [f"{k.replace('_', ' ')} {info[k]}" for k in ("iterations", "outer_loop", "width", "feature_epochs")
                if info.get(k) is not None]
        if bits:
            work.setdefault(r["kind"], {})[r["setting"]] = ", ".join(bits)
    parts = []
    for kind, per in work.items():
        same = len(set(per.values())) == 1
        detail = (f"{next(iter(per.values()))} at every IPC" if same
                  else "; ".join(f"{s.replace('ipc=', 'IPC ')}: {w}" for s, w in per.items()))
        parts.append(f"{report.kind_name(kind)}: {detail}")
    return ("**Work behind each set at this scale** (iterations of the method's own loop):\n"
            + "\n".join(f"- {p}" for p in parts)) if parts else ""


def _vs_others(summary: list[dict]) -> str:
    """DataDAM against the best other kind and Random, per setting."""
    lines = []
    for s in dict.fromkeys(r["setting"] for r in summary):
        rows = [r for r in summary if r["setting"] == s]
        dd = next((r for r in rows if r["kind"] == "datadam"), None)
        others = [r for r in rows if r["kind"] != "datadam"]
        if not dd or not others:
            continue
        best = max(others, key=lambda r: r["mean"])
        lines.append(f"{dd['label']}: DataDAM {dd['mean']:.1f} %, best other {report.kind_name(best['kind'])} "
                     f"{best['mean']:.1f} % ({dd['mean'] - best['mean']:+.1f})")
    return ("**What this run shows:** " + "; ".join(lines) + ".") if lines else ""


def _reduced_note(run_, params: dict, models_default: int) -> str:
    if run_.scale == "paper":
        return ""
    ipcs = params.get("ipcs") or [params.get("ipc")]
    epochs = params.get("epochs") or []
    bits = [f"{params.get('num_models') or models_default} evaluated models per set"]
    if epochs:
        bits.append("evaluation epochs " + ", ".join(f"{e} at IPC {i}" for i, e in zip(ipcs, epochs)))
    if params.get("overrides"):
        bits.append(f"config overrides {params['overrides']}")
    return f"*Reduced for the {run_.scale} scale:* " + "; ".join(bits) + "."


# ---------------------------------------------------------------- Table 1, Table 3


def table(name: str, options: RunOptions = RunOptions(), **params) -> TableResult:
    """Run ``table3`` or ``table1``: every kind of ``params["kinds"]`` at every
    IPC of ``params["ipcs"]``, made and evaluated through the cache; bars, a
    CSV and the markdown table beside the paper's numbers."""
    from ..method.config import SCALES
    _, params, run_ = start(name, options, params)
    data = run_.load_data()
    kinds = list(params["kinds"])
    plan, skipped, notes = _cells(params, data)
    rows = _sweep_cells(plan, params, run_)
    summary = report.summarize(rows)
    run_.save_csv(summary, rows)
    what = what_ran(summary, params, run_)
    figures = {"": plots.accuracy_bars(summary, xlabel="images per class", kinds=tuple(kinds), names=report.kind_name,
                                       title=run_.title(what))}
    run_.save_figure(figures[""])
    if "samples" in get(name).parts:
        figures["samples"] = _samples_figure(rows, data, kinds, run_.label)
        run_.save_figure(figures["samples"], "samples")
    notes += [_reduced_note(run_, params, SCALES[run_.scale].num_models or 10), _work_note(rows),
              _table1_reference(name, run_), _sample_quality(rows, data, run_, kinds, params.get("quality_epochs", 0))]
    text = run_.table(summary, tuple(kinds), setting_name="IPC", extra="\n\n".join(n for n in notes if n),
                      what=what)
    return TableResult(run_, rows, summary, figures, text, _vs_others(summary),
                       len(params["ipcs"]) * len(kinds) - len(skipped), skipped)


def what_ran(summary: list[dict], params: dict, run_, archs: list[str] = ()) -> str:
    """What a table's run made and evaluated, from its rows: the kinds of set
    per IPC, the evaluation architectures (``archs``), the models and epochs
    per set; the titles say this, and the paper's setting apart."""
    ipcs = sorted({int(r["ipc"]) for r in summary})
    per_ipc = [len({r["kind"] for r in summary if int(r["ipc"]) == i}) for i in ipcs]
    models = sorted({int(r["n_models"]) for r in summary})
    epochs = params.get("epochs") or [run_.config(i).evaluate.epochs for i in ipcs]
    on = f", evaluated on {', '.join(ARCH_NAMES.get(a, a) for a in archs)}" if archs else ""
    one = lambda xs: str(xs[0]) if len(set(xs)) == 1 else "/".join(map(str, xs))   # 4/4/4 -> 4
    return (f"{one(per_ipc)} kinds of set at IPC {'/'.join(map(str, ipcs))}{on} · {one(models)} evaluated "
            f"model{'s' if max(models) > 1 else ''} per set × {one(epochs)} epochs")


def _table1_reference(name: str, run_) -> str:
    """Table 1's paper columns are CIFAR-10's (the target's first dataset); the
    paper's other datasets follow as small tables (the run's dataset first)."""
    if name != "table1":
        return ""
    from ..kit.registry import paper_numbers
    order = sorted((d for d in TABLE1_SECTIONS if d != "cifar10"), key=lambda d: d != run_.dataset)
    out = ["The paper's columns above are CIFAR-10's. **The paper's other datasets** (accuracy %; DataDAM's "
           "row recalled, the baselines' from third-party tables: all unverified):"]
    for ds in order:
        p = paper_numbers(TABLE1_SECTIONS[ds])
        kinds = list(dict.fromkeys(k for v in p.numbers.values() for k in v))
        out += ["", f"*{p.dataset}*{' (this run)' if ds == run_.dataset else ''}", "",
                "| | " + " | ".join(s.replace("ipc=", "IPC ") for s in p.numbers) + " |",
                "|---|" + "---|" * len(p.numbers)]
        for k in kinds:
            cells = [p.numbers[s][k].value if k in p.numbers[s] else "—" for s in p.numbers]
            out.append(f"| {report.kind_name(k)} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _sample_quality(rows: list[dict], data, run_, kinds: list[str], epochs: int) -> str:
    """GAN-test (``evaluate.recognised``) of each kind's images at the largest
    IPC it ran at, by one ConvNet (the preset's evaluation network, no
    augmentation) trained ``epochs`` epochs on the whole real training set,
    beside the same network's accuracy on the real test images: a generator
    whose samples it recognises near chance is undertrained, whatever its
    set scores. "" when ``epochs`` is 0."""
    if not epochs:
        return ""
    from dataclasses import replace

    from ..kit.cache import classifier_cached
    from ..method.evaluate import recognised, test_accuracy
    from ..method.synthetic import SyntheticSet
    cfg = run_.config(max(r["ipc"] for r in rows))
    ec = replace(cfg.evaluate, epochs=int(epochs), augment="none", num_models=1)
    net, _ = classifier_cached(ec, data, cfg.seed, force=bool(run_.params.get("force")))
    cells = []
    for k in kinds:
        r = max((r for r in rows if r["kind"] == k), key=lambda r: r["ipc"])
        syn = SyntheticSet.load(r["synthetic_dir"], data.device)
        cells.append(f"{report.kind_name(k)} {100 * recognised(net, syn.images, syn.labels):.0f} % "
                     f"(IPC {r['ipc']})")
    return (f"**Sample quality** (GAN-test, Shmelkov et al. 2018): the share of each set's images that a ConvNet "
            f"trained {epochs} epoch{'s' if epochs != 1 else ''} on the real training data assigns to their class; "
            f"the same network recognises {100 * test_accuracy(net, data):.0f} % of the real test images, chance is "
            f"{100 / data.num_classes:.0f} %: " + "; ".join(cells) + ". A generator near chance draws images that "
            "carry little of their class: undertrained at this scale, not a measure of the method.")


def _samples_figure(rows: list[dict], data, kinds: list[str], label: str):
    """One image per class of each kind's set at the largest IPC it was run at
    (rows: kinds; a scale may leave a kind out at the larger IPCs)."""
    import torch

    from ..method.synthetic import SyntheticSet
    x, names = [], []
    for k in kinds:
        r = max((r for r in rows if r["kind"] == k), key=lambda r: r["ipc"])
        syn = SyntheticSet.load(r["synthetic_dir"], data.device)
        x.append(data.to_pixels(syn.images.view(data.num_classes, r["ipc"], *syn.images.shape[1:])[:, 0], clip=False))
        names.append(f"{report.kind_name(k)} (IPC {r['ipc']})")
    return plots.image_grid(torch.cat(x), len(kinds), names, title=f"one image per class of each set\n{label}")


# ---------------------------------------------------------------- cross-architecture


def crossarch(options: RunOptions = RunOptions(), **params) -> TableResult:
    """Each kind's set, made once with the preset's ConvNet, evaluated on every
    architecture of ``params["archs"]``."""
    from ..method.config import SCALES
    _, params, run_ = start("crossarch", options, params)
    data = run_.load_data()
    kinds = list(params["kinds"])
    if params["ipc"] > int(data.counts.min()):
        raise ValueError(_cells({"ipcs": [params["ipc"]], "kinds": kinds}, data)[2][0])
    rows = run_sweep(arch_settings(params), ipc=params["ipc"], kinds=kinds, seeds=params["seeds"], **run_.sweep_args())
    summary = report.summarize(rows)
    run_.save_csv(summary, rows)
    fig = plots.accuracy_bars(summary, xlabel=f"evaluation architecture (set distilled with ConvNet, IPC "
                              f"{params['ipc']})", kinds=tuple(kinds), names=report.kind_name,
                              title=run_.title(what_ran(summary, params, run_, params["archs"])))
    run_.save_figure(fig)
    notes = [_reduced_note(run_, params, SCALES[run_.scale].num_models or 10),
             "Every architecture uses the preset's evaluation protocol and norm (instance norm, as DC/DSA/DM's "
             "default networks; AlexNet has none)."]
    text = run_.table(summary, tuple(kinds), setting_name="evaluated on", extra="\n\n".join(n for n in notes if n),
                      what=what_ran(summary, params, run_, params["archs"]))
    return TableResult(run_, rows, summary, {"": fig}, text, _drop(summary), len(params["archs"]) * len(kinds))


def _drop(summary: list[dict]) -> str:
    """How much each kind loses from ConvNet to its worst architecture."""
    lines = []
    for k in dict.fromkeys(r["kind"] for r in summary):
        rs = {r["setting"]: r for r in summary if r["kind"] == k}
        conv = rs.get("arch=convnet")
        if conv and len(rs) > 1:
            worst = min(rs.values(), key=lambda r: r["mean"])
            lines.append(f"{report.kind_name(k)} {conv['mean']:.1f} % on ConvNet, lowest {worst['mean']:.1f} % "
                         f"on {worst['label']}")
    return ("**What this run shows:** " + "; ".join(lines) + ".") if lines else ""


# ---------------------------------------------------------------- Fig 9


@dataclass
class Fig9Result(Result):
    def check(self) -> None:
        """One CSV row per synthetic set (``expected``: the kinds plus the
        Random reference), the placement numbers in range, the figure and
        table written."""
        rows = report.read_csv(self.run.results_path("csv"))
        assert len(rows) == self.expected, f"{len(rows)} CSV rows, expected {self.expected} (the sets and Random)"
        for r in rows:
            assert 0 <= float(r["agreement"]) <= 100 and float(r["coverage"]) > 0, r
        for ext in ("png", "pdf"):
            assert os.path.getsize(f"{self.run.figure_path()}.{ext}") > 0
        assert os.path.isfile(self.run.results_path("md"))


def fig9(options: RunOptions = RunOptions(), **params) -> Fig9Result:
    """Supplement Fig. 9: the sets of ``params["kinds"]`` and a real subsample in
    one t-SNE of a ResNet-18's embedding (``method/baselines/tsne.py``), one panel per set."""
    import torch

    from ..method.baselines.tsne import embed, embedding_network, joint_tsne, placement
    from ..method.config import make_config
    from ..method.io import atomic_write_text, write_json
    from ..method.synthetic import SyntheticSet
    _, params, run_ = start("fig9", options, params)
    data = run_.load_data()
    kinds, ipc, seed = list(params["kinds"]), int(params["ipc"]), int(params["seeds"][0])
    if ipc > int(data.counts.min()):
        raise ValueError(_cells({"ipcs": [ipc], "kinds": kinds}, data)[2][0])
    setting = Setting("ipc", ipc, tuple({"distill.ipc": ipc, **params.get("overrides", {})}.items()))
    rows = run_sweep([setting], kinds=kinds + ["random"], job_fn=set_job, ipc=ipc, seeds=[seed], **run_.sweep_args())
    cfg = make_config(run_.preset, run_.scale, run_.dataset, ipc, seed,
                      {**run_.overrides, **setting.config_overrides()})
    g = torch.Generator(device=data.device).manual_seed(seed)
    net = embedding_network(cfg, data, int(params["resnet_epochs"]), g)
    real_idx = data.sample_indices(min(int(params["real_per_class"]), int(data.counts.min())), g).flatten()
    real_y = data.y_train[real_idx].cpu().numpy()
    sets = {r["kind"]: SyntheticSet.load(r["synthetic_dir"], data.device) for r in rows}
    feats = [embed(net, data.x_train[real_idx])] + [embed(net, sets[k].images) for k in kinds + ["random"]]
    xy, pca = joint_tsne(feats, seed)
    labels = {k: sets[k].labels.cpu().numpy() for k in sets}
    fig = plots.tsne_panels(xy[0], real_y, {k: (xy[i + 1], labels[k]) for i, k in enumerate(kinds)}, data.classes,
                            names=report.kind_name, title=run_.title(_fig9_what(params, len(real_y))))
    summary = []
    for i, k in enumerate(kinds + ["random"]):
        summary.append({"kind": k, "ipc": ipc, **placement(pca[0], real_y, pca[i + 1], labels[k]),
                        "n_images": len(labels[k]), "dataset": data.name, "scale": run_.scale, "preset": run_.preset,
                        "seed": seed, "resnet_epochs": params["resnet_epochs"], "real_points": len(real_y)})
    run_.save_csv(summary, rows)
    run_.save_figure(fig)
    text = _fig9_table(run_, summary, params)
    path = run_.results_path("md")
    atomic_write_text(text + "\n", path)
    write_json(run_.manifest(path), path + ".manifest.json")
    best = max(summary[:-1], key=lambda r: r["agreement"])
    spread = min(summary[:-1], key=lambda r: r["coverage"])
    finding = (f"**What this run shows:** {report.kind_name(best['kind'])} has the most synthetic points among real "
               f"points of their own class ({best['agreement']:.0f} %); {report.kind_name(spread['kind'])} spreads "
               f"widest over its classes (coverage {spread['coverage']:.2f}; Random real images: "
               f"{summary[-1]['coverage']:.2f}).")
    return Fig9Result(run_, rows, summary, {"": fig}, text, finding, len(kinds) + 1)


def _fig9_what(params: dict, real_points: int) -> str:
    return (f"t-SNE of {len(params['kinds'])} sets at IPC {params['ipc']} and {real_points} real images · features of "
            f"a ResNet-18 trained {params['resnet_epochs']} epochs on the real data")


def _fig9_table(run_, summary: list[dict], params: dict) -> str:
    p = run_.target.paper
    lines = [run_.heading(_fig9_what(params, summary[0]["real_points"])), "",
             f"**Ours:** {run_.label} · IPC {params['ipc']} · ResNet-18 trained {params['resnet_epochs']} epochs on "
             f"the real data · {summary[0]['real_points']} real points · one joint PCA (50-d) + t-SNE.",
             f"**Paper:** {p.source} · {p.dataset} · {p.setup}. The paper gives no numbers; these put numbers on "
             "what its figure shows, in the 50-d PCA space the t-SNE starts from.", "",
             "| set | images | own-class neighbourhood (%) | coverage (lower: spreads over its class) |",
             "|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {report.kind_name(r['kind'])}{' (reference)' if r['kind'] == 'random' else ''} | "
                     f"{r['n_images']} | {r['agreement']:.1f} | {r['coverage']:.2f} |")
    lines += ["", "*Own-class neighbourhood:* % of synthetic points whose 10 nearest real points are mostly of "
              "their class (the paper's \"false positives\" are the rest). *Coverage:* mean distance from a real "
              "point to the nearest synthetic point of its class, in units of its distance to its nearest real "
              "neighbour of the class.", "", f"**The paper's finding:** {p.finding}."]
    if run_.scale != "paper":
        lines.append(f"*Reduced for the {run_.scale} scale:* IPC {params['ipc']} (paper: 50), "
                     f"{params['resnet_epochs']} ResNet-18 epochs, overrides {params.get('overrides', {})}.")
    return "\n".join(lines)
