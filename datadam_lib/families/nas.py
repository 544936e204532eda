"""The NAS family: small sets as proxies for architecture search (supplement
Sec. 2.3): 720 ConvNets (Table 4, Figs 7-8) and NAS-Bench-201 cells (Table 5).

A search trains every candidate architecture on every proxy, and on the
data that defines the ground truth, then asks how well each proxy's ranking
agrees with the ground truth's (Spearman's rho, ``method.nas.ranking``) and
how good the architecture it ranks first really is. ``nas_sweep`` runs the
search (two sweeps through the kit's executors, every training cached);
this module turns it into each target's table, figure and findings.

table4, fig7 and fig8 share one search (the same jobs, so the second and
third read the first's cache) and show different parts of it.

    result = nas.run("table4", RunOptions(scale="quick", dataset="digits"), architectures=24)
    result.show()
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from ..kit import plots, report
from ..kit.paths import display_dataset
from ..kit.registry import Setting, Target, register
from ..kit.run import Result, RunOptions, start
from .nas_sweep import SPACES, Search, search

# ---------------------------------------------------------------- proxies and metrics

# Supplement Table 4's columns; "early" (early stopping) and "whole" (the whole
# training data, the ground truth) are trainings, not sets.
TABLE4_PROXIES = ["random", "dsa", "dm", "cafe", "datadam", "early", "whole"]
# Supplement Table 5's columns the kit can make (KIP and MTT are not in the kit).
TABLE5_PROXIES = ["random", "dc", "dsa", "dm", "datadam", "whole"]
# What the kinds of set on main can make (the smoke scale's lists).
MAIN_SETS = ["random", "dm", "datadam"]

METRICS = {
    "spearman_all": "Spearman ρ, all candidates",
    "spearman_top20": "Spearman ρ, top 20 %",
    "spearman": "Spearman ρ",
    "top1_accuracy": "Performance (%)",
    "time_min": "Time (min)",
    "storage": "Storage (images)",
}


def kind_name(kind: str) -> str:
    """How tables name a proxy (the paper's KIP and MTT too, which the kit does not make)."""
    return {"kip": "KIP", "mtt": "MTT"}.get(kind) or report.kind_name(kind)


def metric_settings(names: tuple[str, ...]) -> list[Setting]:
    """The rows of a NAS table, as the Settings its paper numbers are keyed by."""
    return [Setting("metric", n, label=METRICS[n]) for n in names]


# ---------------------------------------------------------------- metrics

# a top set smaller than this is too few points for its Spearman to mean much (the paper's: 144)
FEW_TOP = 10


def _top(s: Search, fraction: float) -> list[int]:
    """Indices of the candidates best by the ground truth (the top ``fraction``)."""
    from ..method.nas.ranking import top
    return top(s.truth_rank, fraction)


def _pairs(s: Search, x: list[float], metric: str, f: float) -> tuple[list[float], list[float]]:
    """The (proxy, ground truth) pairs a Spearman metric ranks: the top
    ``f`` by the ground truth for ``spearman_top20``, else all."""
    from ..method.nas.ranking import restrict
    return restrict(x, s.truth_rank, _top(s, f)) if metric == "spearman_top20" else (x, s.truth_rank)


def _spearman(metric: str) -> Callable[[Search, list[float], float], tuple[float, int]]:
    def value(s: Search, x: list[float], f: float) -> tuple[float, int]:
        from ..method.nas.ranking import spearman
        a, b = _pairs(s, x, metric, f)
        return spearman(a, b), len(a)
    return value


def _top1(s: Search, x: list[float], f: float) -> tuple[float, int]:
    from ..method.nas.ranking import top1
    return top1(x, s.truth_report), len(x)


# The metrics: those a proxy's accuracies give against the ground truth (the value and how many candidates it
# rests on), those its trainings add up to, and the range each must lie in (Result.check).
METRIC_VALUES: dict[str, Callable[[Search, list[float], float], tuple[float, int]]] = {
    "spearman_all": _spearman("spearman_all"),
    "spearman": _spearman("spearman"),
    "spearman_top20": _spearman("spearman_top20"),
    "top1_accuracy": _top1,
}
METRIC_TOTALS: dict[str, Callable[[dict], float]] = {
    "time_min": lambda pts: sum(v["train_s"] for v in pts.values()) / 60,
    "storage": lambda pts: float(next(iter(pts.values()))["n_images"]),
}


def _is_rho(v: float) -> bool:
    return math.isnan(v) or -1 <= v <= 1


IN_RANGE: dict[str, Callable[[float], bool]] = {
    "spearman_all": _is_rho, "spearman": _is_rho, "spearman_top20": _is_rho,
    "top1_accuracy": lambda v: 0 <= v <= 100, "time_min": lambda v: v >= 0, "storage": lambda v: v >= 1,
}


def metric_value(s: Search, kind: str, metric: str, top_fraction: float) -> tuple[float, int]:
    """One cell of a NAS table and how many candidates it rests on."""
    if metric in METRIC_TOTALS:
        return METRIC_TOTALS[metric](s.points[kind]), len(s.candidates)
    if metric not in METRIC_VALUES:
        raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(METRICS)}")
    return METRIC_VALUES[metric](s, s.accuracies(kind), top_fraction)


def summarize(s: Search, metrics: tuple[str, ...], run_: report.Run, top_fraction: float) -> list[dict]:
    """One row per (metric, proxy): the CSV and the table. A Spearman row
    also holds its 95 % bootstrap interval over the candidates (``lo``,
    ``hi``; ``ranking.spearman_interval``, seed 0)."""
    from ..method.nas.ranking import spearman_interval
    out = []
    for m in metrics:
        for kind in s.compared():
            v, n = metric_value(s, kind, m, top_fraction)
            lo, hi = spearman_interval(*_pairs(s, s.accuracies(kind), m, top_fraction)) \
                if m.startswith("spearman") else (math.nan, math.nan)
            out.append({"setting": f"metric={m}", "label": METRICS[m], "kind": kind, "value": v, "candidates": n,
                        "lo": lo, "hi": hi,
                        "dataset": run_.dataset, "scale": run_.scale, "preset": run_.preset,
                        "ipc": s.rows[0]["ipc"], "seeds": ";".join(map(str, run_.seeds))})
    return out


def _fmt(metric: str, v: float) -> str:
    if math.isnan(v):
        return "n/a"
    if metric.startswith("spearman"):
        return f"{v:.2f}"
    if metric == "storage":
        return f"{v:.0f}"
    return f"{v:.2f}" if metric == "time_min" and v < 10 else f"{v:.1f}"


_NOUNS = {"convnet": "ConvNets", "cells": "NAS-Bench-201 cells"}


def what_ran(s: Search, p: dict, run_: report.Run, subset: int | None = None) -> str:
    """What the search ran, from its trainings: the candidates (``subset``:
    how many of them a figure shows), the proxies, their IPC, the
    distillation iterations of its sets, the epochs on each proxy."""
    its = p.get("distill_iterations") or run_.config(p["ipc"]).distill.iterations
    noun = _NOUNS.get(s.space, "candidates")
    shown = (f"the {subset} of {len(s.candidates)} {noun} best by the ground truth" if subset is not None
             else f"{len(s.candidates)} {noun}")
    proxies = [k for k in s.compared() if k not in s.truth_kinds]
    return (f"{shown} ranked by {len(proxies)} proxies · proxy sets at IPC {p['ipc']}, {its:,} distillation "
            f"iterations · {p['proxy_epochs']} epoch{'s' if p['proxy_epochs'] != 1 else ''} on each proxy")


def _markdown(run_: report.Run, s: Search, summary: list[dict], metrics: tuple[str, ...], notes: list[str],
              what: str = "", judged: str = "") -> str:
    """Our table and the paper's: side by side where the ground truth is the
    paper's kind (whole data; NAS-Bench-201), apart when it is not."""
    pap = run_.target.paper
    beside = s.space == "convnet" or s.benchmark
    head = [run_.heading(*[what] if what else ()), "",
            f"**Ours:** {run_.label} · {len(s.candidates)} candidates · ground truth: {s.truth}.",
            f"**Paper:** {pap.source} · {pap.dataset} · {pap.setup}."]
    if not beside:
        head.append("**Not NAS-Bench-201:** our ground truth is self-trained on the data we have; the paper's "
                    "numbers (below, apart) rank against NAS-Bench-201's CIFAR-10 accuracies and are not comparable.")
    elif run_.comparable:
        head.append("Same dataset, scale and preset as the paper: the columns are comparable.")
    else:
        head.append(f"**Not comparable:** ours are {display_dataset(run_.dataset)} at {run_.scale} scale "
                    f"({run_.preset} preset), the "
                    f"paper's are {pap.dataset} at paper scale; compare our proxies with each other.")
    cols = ["method"] + [c for m in metrics for c in ([f"{METRICS[m]}: ours", "paper"] if beside else [METRICS[m]])]
    lines = ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for kind in s.compared():
        cells = [kind_name(kind)]
        for m in metrics:
            r = next(r for r in summary if r["kind"] == kind and r["setting"] == f"metric={m}")
            interval = "" if math.isnan(r.get("lo", math.nan)) else f" [{r['lo']:.2f}, {r['hi']:.2f}]"
            cells.append(_fmt(m, r["value"]) + interval)
            if beside:
                ref = pap.lookup(f"metric={m}", kind)
                cells.append(ref.text() if ref else "—")
        lines.append("| " + " | ".join(cells) + " |")
    if not beside and pap.numbers:
        kinds = list(dict.fromkeys(k for per in pap.numbers.values() for k in per))
        lines += ["", f"The paper's {pap.source} (NAS-Bench-201 ground truth, {pap.dataset}; not comparable with "
                      "the table above):", "",
                  "| | " + " | ".join(kind_name(k) for k in kinds) + " |", "|" + "---|" * (len(kinds) + 1)]
        for key, per in pap.numbers.items():
            label = METRICS[key.split("=", 1)[1]]
            lines.append(f"| {label} | " + " | ".join(per[k].text() if k in per else "—" for k in kinds) + " |")
    foot = ["", "—: the paper gives no number for this cell. n/a: undefined (a constant ranking). [lo, hi]: the "
            "95 % bootstrap interval of a Spearman ρ over the candidates (2,000 resamples of the candidates with "
            "replacement): how far the ranking could move with other candidates of the same space.", ""]
    foot += notes + ["", f"**The paper's finding:** {pap.finding}."] + (["", judged] if judged else [])
    text = "\n".join(head + lines + foot)
    run_.save_markdown(text)
    return text


def findings(s: Search, summary: list[dict], metric: str) -> str:
    """What this run shows: the proxies ordered by ``metric``, against the
    noise a rank correlation has over this many candidates."""
    rows = [r for r in summary if r["setting"] == f"metric={metric}" and r["kind"] not in s.truth_kinds
            and not math.isnan(r["value"])]
    if not rows:
        return ""
    n = rows[0]["candidates"]
    se = 1 / math.sqrt(n - 1) if n > 1 else math.nan
    order = sorted(rows, key=lambda r: -r["value"])
    ranked = ", ".join(f"{kind_name(r['kind'])} {r['value']:.2f}" for r in order)
    return (f"**What this run shows:** {METRICS[metric]} per proxy, best first: {ranked}. Over {n} candidates a "
            f"rank correlation of unrelated rankings has a standard deviation of about 1/√(n−1) = {se:.2f}, so "
            f"differences smaller than about {2 * se:.2f} between proxies are noise at this scale.")


def verdict(s: Search, metrics: tuple[str, ...], top_fraction: float) -> str:
    """The paper's finding (supplement Sec. 2.3: DataDAM "has the best rank
    correlation" of the proxy sets) as claims judged on this run's numbers:
    for each Spearman metric of the view, DataDAM's rho above each other proxy
    *set*'s (the space's trainings on the real data, ``Space.trained``, are not
    sets: the paper has early stopping "close behind", and table5's whole part
    is its ground truth's cheaper cousin). A claim shows when the 95 %
    paired bootstrap interval of the difference over the candidates
    (``ranking.spearman_difference_interval``) lies above 0, is reversed below
    0, else does not show; the overall word as ``kit.verdict.overall`` gives it."""
    from ..kit.verdict import MARK, NO_VERDICT, NOT_SHOWN, REVERSED, SHOWS, Claim, Outcome, overall
    from ..method.nas.ranking import spearman, spearman_difference_interval
    rivals = [k for k in s.compared() if k not in (*s.truth_kinds, *SPACES[s.space].trained, "datadam")]
    rhos = [m for m in metrics if m.startswith("spearman")]
    if "datadam" not in s.compared() or not rivals or not rhos:
        return f"{MARK}: {NO_VERDICT}** (no DataDAM proxy, or no other proxy set, to compare with)."
    outcomes = []
    for m in rhos:
        ours, truth = _pairs(s, s.accuracies("datadam"), m, top_fraction)
        for k in rivals:
            theirs, _ = _pairs(s, s.accuracies(k), m, top_fraction)
            lo, hi = spearman_difference_interval(truth, ours, theirs)
            d = spearman(ours, truth) - spearman(theirs, truth)
            status = NO_VERDICT if math.isnan(lo) else SHOWS if lo > 0 else REVERSED if hi < 0 else NOT_SHOWN
            outcomes.append(Outcome(Claim("datadam", ">", (k,), m), status,
                                    f"DataDAM above {kind_name(k)} in {METRICS[m]}: {d:+.2f} [{lo:+.2f}, {hi:+.2f}], "
                                    f"{len(truth)} candidates"))
    shown = sum(o.status == SHOWS for o in outcomes)
    return "\n".join([f"{MARK}: {overall(outcomes)}** ({shown} of {len(outcomes)} claims show; computed from this "
                      "run's numbers: a difference of two proxies' Spearman ρ counts when its 95 % paired bootstrap "
                      "interval over the candidates lies on one side of 0)."]
                     + [f"- {o.status}: {o.detail}" for o in outcomes])


# ---------------------------------------------------------------- figures

def _scatter(s: Search, subset: list[int] | None, title: str) -> Any:
    from ..method.nas import ranking as nr
    idx = list(range(len(s.candidates))) if subset is None else subset
    y = [s.truth_rank[i] for i in idx]
    panels = []
    for kind in (k for k in s.compared() if k not in s.truth_kinds):      # not the ground truth against itself
        x = [s.accuracies(kind)[i] for i in idx]
        panels.append({"name": kind_name(kind), "kind": kind, "x": x, "y": y, "rho": nr.spearman(x, y),
                       "chosen": x.index(max(x))})
    return plots.rank_scatter(panels, "trained on the proxy: validation acc. (%)", s.truth_axis, title)


def _figure_bars(s: Search, summary: list[dict], run_: report.Run, p: dict) -> Any:
    value = {(r["kind"], r["setting"]): r["value"] for r in summary}
    values = {kind_name(k): {m: value[(k, f"metric={m}")] for m in ("spearman_all", "spearman_top20")}
              for k in s.compared() if k not in s.truth_kinds}
    n_top = len(_top(s, p["top_fraction"]))
    few = " (too few for its ρ to mean much)" if n_top < FEW_TOP else ""
    return plots.metric_bars(values, METRICS, title=run_.title(what_ran(s, p, run_), f"top "
                                                               f"{100 * p['top_fraction']:.0f} % = {n_top} of "
                                                               f"{len(s.candidates)} candidates{few}"))


def _figure_all(s: Search, summary: list[dict], run_: report.Run, p: dict) -> Any:
    return _scatter(s, None, run_.title(what_ran(s, p, run_)))


def _figure_top(s: Search, summary: list[dict], run_: report.Run, p: dict) -> Any:
    idx = _top(s, p["top_fraction"])
    return _scatter(s, idx, run_.title(what_ran(s, p, run_, len(idx))))


FIGURES: dict[str, Callable[[Search, list[dict], report.Run, dict], Any]] = {
    "bars": _figure_bars, "scatter_all": _figure_all, "scatter_top": _figure_top}


@dataclass(frozen=True)
class View:
    """What a target shows of its space's search: its table's metrics, its
    figure, the metric its findings order the proxies by."""
    space: str
    metrics: tuple[str, ...]
    figure: str
    finding: str


VIEWS: dict[str, View] = {
    "table4": View("convnet", ("spearman_all", "spearman_top20", "top1_accuracy", "time_min", "storage"), "bars",
                   "spearman_top20"),
    "fig7": View("convnet", ("spearman_all", "top1_accuracy"), "scatter_all", "spearman_all"),
    "fig8": View("convnet", ("spearman_top20", "top1_accuracy"), "scatter_top", "spearman_top20"),
    "table5": View("cells", ("spearman", "top1_accuracy", "time_min", "storage"), "scatter_all", "spearman"),
}


# ---------------------------------------------------------------- the family's entry point

@dataclass
class SearchResult(Result):
    """What :func:`run` returns: a :class:`~datadam_lib.kit.run.Result` (its
    rows: every training; its summary: one row per (metric, proxy)) with the
    search itself and the parameters it ran with."""
    search: Search | None = None
    params: dict = field(default_factory=dict)

    def check(self, candidates: int | None = None, proxies: int | None = None) -> None:
        """Fail loudly when the run did not produce what it should: the
        candidates and proxies its parameters ask for (or those given), every
        candidate trained on every proxy with every seed, one CSV row per
        (metric, proxy) with values in range, the figure and table written."""
        s, p = self.search, self.params
        space = SPACES[s.space]
        candidates = candidates or space.count(p)
        proxies = proxies or len([k for k in dict.fromkeys([*p["proxies"], *s.truth_kinds]) if k != "truth"])
        assert len(s.candidates) == candidates, f"{len(s.candidates)} candidates, expected {candidates}"
        assert len(s.compared()) == proxies, f"{len(s.compared())} proxies, expected {proxies}"
        assert len(s.rows) == candidates * len(s.proxies) * len(p["seeds"]), f"{len(s.rows)} trainings"
        rows = report.read_csv(self.run.results_path("csv"))
        metrics = VIEWS[self.run.target.name].metrics
        assert len(rows) == len(metrics) * proxies, f"{len(rows)} CSV rows, expected {len(metrics)} x {proxies}"
        for r in rows:
            assert IN_RANGE[r["setting"].split("=", 1)[1]](float(r["value"])), r
        for part in self.figures:
            for ext in ("png", "pdf"):
                path = f"{self.run.figure_path(part)}.{ext}"
                assert os.path.getsize(path) > 0 and os.path.isfile(path + ".manifest.json"), path
        assert os.path.isfile(self.run.results_path("md")), "markdown table not written"


def _notes(s: Search, p: dict, run_: report.Run, metrics: tuple[str, ...] = ()) -> list[str]:
    """The protocol of this run, in words, under the table (``metrics``: the
    table's columns)."""
    paper_kinds = list(dict.fromkeys(k for per in run_.target.paper.numbers.values() for k in per))
    absent = [kind_name(k) for k in paper_kinds if k not in s.proxies]
    sets = "; ".join(f"{kind_name(x['kind'])} {x['make_s'] or 0:.0f} s" for x in s.sets)
    notes = SPACES[s.space].notes(s, p, run_)
    notes.insert(-1, f"*Ranking:* by validation accuracy, mean over training seeds {', '.join(map(str, p['seeds']))}. "
                 "*Performance:* the ground truth's test accuracy of the candidate a proxy ranks first (the mean "
                 "over candidates tied first). *Time:* the proxy's trainings summed, on this run's device (cached "
                 f"results keep the time they were computed in); making the sets is not counted ({sets or 'none'}). "
                 f"*Storage:* images trained on. Proxy sets: IPC {p['ipc']}.")
    n_top = len(_top(s, p["top_fraction"]))
    if n_top < FEW_TOP and any(m.startswith("spearman_top") for m in metrics):   # say when a number means little
        notes.insert(-1, f"*Few candidates:* the top {100 * p['top_fraction']:.0f} % here is {n_top} candidates, so "
                     "its Spearman takes only a few values (one swap moves it by 0.5 or more) and says little; the "
                     "paper's is over 144. The correlation over all candidates is the one to read at this scale.")
    if absent:
        notes.insert(-1, f"*Not run here:* {', '.join(absent)} (the paper's; not in this kit or not asked for).")
    return notes


def run(name: str, options: RunOptions = RunOptions(), **params) -> SearchResult:
    """Run the NAS target ``name`` (table4, fig7, fig8, table5): its search
    for ``params`` (the registry's for the scale where not given), its table
    beside the paper's, its figure."""
    view = VIEWS[name]
    if view.space == "cells" and "nb201_path" not in params and os.environ.get("DATADAM_NB201"):
        params = {**params, "nb201_path": os.environ["DATADAM_NB201"]}     # the benchmark file, where the user keeps it
    _, p, run_ = start(name, options, params)
    s = search(view.space, p, run_)
    summary = summarize(s, view.metrics, run_, p["top_fraction"])
    run_.save_csv(summary, s.rows)
    fig = FIGURES[view.figure](s, summary, run_, p)
    run_.save_figure(fig)
    table = _markdown(run_, s, summary, view.metrics, _notes(s, p, run_, view.metrics), what_ran(s, p, run_),
                      verdict(s, view.metrics, p["top_fraction"]))
    return SearchResult(run_, s.rows, summary, {"": fig}, table, findings(s, summary, view.finding), search=s,
                        params=p)


# ---------------------------------------------------------------- the targets

# The parameters every scale shares: the search protocol's seeds and split, the top fraction the
# top-k metrics read, the candidates' training augmentation (ConvNets), whether proxy labels are
# shuffled (a control) and the NAS-Bench-201 file ("": a self-trained ground truth; cells).
_CONVNET_SHARED = {"arch_seed": 0, "val_fraction": 0.1, "split_seed": 0, "set_seed": 0, "top_fraction": 0.2,
                   "augment": "none"}
_CELL_SHARED = {"cell_seed": 0, "val_fraction": 0.2, "split_seed": 0, "set_seed": 0, "top_fraction": 0.2,
                "shuffle_proxy": False, "nb201_path": ""}
# per scale (distill_iterations 0: the preset's)
CONVNET_PARAMS = {
    "smoke": {"ipc": 1, "architectures": 3, "depths": [1, 2], "widths": [4], "proxies": MAIN_SETS + ["early", "whole"],
              "proxy_epochs": 2, "whole_epochs": 1, "distill_iterations": 0, "seeds": [0]},
    "quick": {"ipc": 10, "architectures": 12, "depths": [1, 2, 3, 4], "widths": [4, 8, 16, 32],
              "proxies": TABLE4_PROXIES, "proxy_epochs": 50, "whole_epochs": 30, "distill_iterations": 50,
              "seeds": [0]},
    "paper": {"ipc": 50, "architectures": 720, "depths": [1, 2, 3, 4], "widths": [32, 64, 128, 256],
              "proxies": TABLE4_PROXIES, "proxy_epochs": 200, "whole_epochs": 200, "distill_iterations": 0,
              "seeds": [0]},
}
CELL_PARAMS = {
    "smoke": {"ipc": 1, "cells": 3, "cell_channels": 4, "proxies": MAIN_SETS + ["whole"], "proxy_epochs": 1,
              "whole_epochs": 1, "truth_epochs": 1, "truth_cells_per_stage": 1, "truth_augment": "crop",
              "distill_iterations": 0, "seeds": [0]},
    "quick": {"ipc": 10, "cells": 10, "cell_channels": 8, "proxies": TABLE5_PROXIES, "proxy_epochs": 50,
              "whole_epochs": 10, "truth_epochs": 10, "truth_cells_per_stage": 1, "truth_augment": "crop",
              "distill_iterations": 50, "seeds": [0]},
    "paper": {"ipc": 50, "cells": 100, "cell_channels": 16, "proxies": TABLE5_PROXIES, "proxy_epochs": 50,
              "whole_epochs": 10, "truth_epochs": 200, "truth_cells_per_stage": 5, "truth_augment": "crop_flip",
              "distill_iterations": 0, "seeds": [0, 1, 2, 3, 4]},
}
CONVNET_PARAMS = {scale: {**_CONVNET_SHARED, **p} for scale, p in CONVNET_PARAMS.items()}
CELL_PARAMS = {scale: {**_CELL_SHARED, **p} for scale, p in CELL_PARAMS.items()}

HELP = {
    "ipc": "images per class of every proxy set",
    "seeds": "training seeds where the run gives none: every candidate is trained once per seed on every proxy "
             "and ranked by its mean",
    "architectures": "candidate ConvNets: a stratified subset of the depth x width x norm x act x pool grid "
                     "(paper: all 720)",
    "arch_seed": "the seed that draws the stratified subset (method/nas/space.py)",
    "depths": "the depth axis of the ConvNet grid",
    "widths": "the width axis of the ConvNet grid (quick: 8x narrower than the paper's, minutes on a CPU)",
    "augment": "the candidates' training augmentation on every proxy (none, as DC-Bench)",
    "cells": "random NAS-Bench-201 cells",
    "cell_seed": "the seed that draws the cells (method/nas/cells.py)",
    "cell_channels": "C, the channels of the cell networks' first stage (paper: 16, as NAS-Bench-201 and DC-Bench)",
    "proxies": "what candidates train on (sets: random, dc, dsa, dm, cafe, datadam; early: the whole search "
               "split, stopped after as many steps as a proxy's training; whole: all of it, trained fully)",
    "proxy_epochs": "epochs on each proxy set",
    "whole_epochs": "epochs on the whole search split (the 'whole' proxy)",
    "distill_iterations": "iterations making the DM and DataDAM proxies (0: the preset's)",
    "val_fraction": "the share of the training set held out to rank the candidates",
    "split_seed": "the seed of the held-out split (val_fraction)",
    "set_seed": "the seed of the proxy sets",
    "top_fraction": "the share of the candidates, best by the ground truth, that the top-k metrics read",
    "shuffle_proxy": "False: each proxy in its stored, class-sorted order, as DC-Bench's loader; True: shuffled",
    "nb201_path": "the NAS-Bench-201 file, the ground truth (\"\": $DATADAM_NB201, else a self-trained ground "
                  "truth labelled 'not NAS-Bench-201')",
    "truth_epochs": "self-trained ground truth: epochs (paper: 200, as NAS-Bench-201)",
    "truth_cells_per_stage": "self-trained ground truth: cells per stage N (paper: 5, as NAS-Bench-201)",
    "truth_augment": "self-trained ground truth: crop_flip (NAS-Bench-201), crop, none (flips change digits)",
}

register(
    Target("table4", "Supplement Table 4: NAS over 720 ConvNets (top 20%), proxy IPC 50", "nas", ("cifar10",),
           CONVNET_PARAMS, settings=lambda p: metric_settings(VIEWS["table4"].metrics), paper_gpu_h=90.0),
    Target("fig7", "Supplement Fig. 7: NAS rank correlation, proxy vs whole data, all 720 ConvNets", "nas",
           ("cifar10",), CONVNET_PARAMS, settings=lambda p: metric_settings(VIEWS["fig7"].metrics),
           paper_gpu_h=90.0),
    Target("fig8", "Supplement Fig. 8: NAS rank correlation over the top 20% (144 ConvNets)", "nas", ("cifar10",),
           CONVNET_PARAMS, settings=lambda p: metric_settings(VIEWS["fig8"].metrics), paper_gpu_h=90.0),
    Target("table5", "Supplement Table 5: NAS-Bench-201, 100 random architectures, proxy IPC 50 (the benchmark's "
           "file optional: without it a self-trained ground truth)", "nas", ("cifar10",), CELL_PARAMS,
           settings=lambda p: metric_settings(VIEWS["table5"].metrics), paper_gpu_h=7.0),
    help=HELP,
)
