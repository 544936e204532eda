"""Reports: one :class:`Run` per execution of a target writes its figures,
its CSV and its markdown table beside the paper's numbers, each with a
provenance manifest, and shows them in the notebook.

Where things go (``docs/targets.md``), under the output root (``$DATADAM_OUT``
or the kit):

- figures: ``figures/<scale>/<target>[_part].png`` and ``.pdf`` (a run at one
  scale never overwrites another scale's figures; the committed ones are
  ``figures/quick/``);
- numbers: ``results/<scale>/<target>.csv`` (one row per setting and kind),
  ``results/<scale>/<target>.md`` (the table beside the paper's), and the
  executed notebook ``results/<scale>/<target>.ipynb``;
- beside each: ``<file>.manifest.json`` (git SHA and whether the code was
  modified, packages, device, seeds, scale, preset, parameters, times).

The writer rule (``method/io.py``): a run replaces only files the kit wrote
(those with a manifest beside them); a file of someone else's at one of these
paths is refused with an OutputError before it is touched.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import time

from ..method.io import atomic_write_text, check_output_file, default_device, device_description, manifest, write_json
from .paths import data_root, display_dataset, output_root
from .registry import SCALES, Setting, Target, TargetError, dataset_present, get, missing_dataset_message


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ---------------------------------------------------------------- tables of rows

def summarize(rows: list[dict]) -> list[dict]:
    """One row per (setting, kind), in first-seen order: mean and std (%, over
    every evaluated model of every seed), model and seed counts. ``rows`` are
    job rows with ``setting`` (a Setting key), ``label``, ``kind``, ``seed``
    and ``accuracies`` (fractions)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["setting"], r["kind"]), []).append(r)
    out = []
    for (setting, kind), rs in groups.items():
        accs = [a for r in rs for a in r["accuracies"]]
        m = sum(accs) / len(accs)
        sd = math.sqrt(sum((a - m) ** 2 for a in accs) / len(accs))
        out.append({"setting": setting, "label": rs[0].get("label", setting), "kind": kind, "mean": 100 * m,
                    "std": 100 * sd, "n_models": len(accs), "seeds": ";".join(str(r["seed"]) for r in rs),
                    "dataset": rs[0]["dataset"], "scale": rs[0]["scale"], "preset": rs[0]["preset"],
                    "ipc": rs[0]["ipc"], "overrides": rs[0]["overrides"],
                    "image_change_pct": _mean_pct(rs, "image_change"),
                    "accuracies": ";".join(f"{100 * a:.2f}" for a in accs)})
    return out


def spread(row: dict) -> str:
    """A summary row's accuracy as tables print it: mean ± std over its
    models, or the one model's accuracy and "n = 1" (no spread to give)."""
    if int(row["n_models"]) == 1:
        return f"{float(row['mean']):.1f} (n = 1)"
    return f"{float(row['mean']):.1f} ± {float(row['std']):.1f}"


def _mean_pct(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return 100 * sum(vals) / len(vals) if vals else None


def write_csv(rows: list[dict], path: str) -> None:
    """Rows as CSV (lists joined with ';'), written atomically."""
    if not rows:
        raise ValueError("no rows to write")
    fields = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ";".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in r.items()})
    atomic_write_text(buf.getvalue(), path)


def read_csv(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


TITLE_WIDTH = 90   # characters per line of a figure's title (a figure is at most plots.MAX_WIDTH wide)

KIND_NAMES = {"datadam": "DataDAM", "random": "Random", "dm": "DM", "dc": "DC", "dsa": "DSA", "cafe": "CAFE",
              "kcenter": "K-Center", "herding": "Herding", "whole": "Whole dataset", "early": "Early stopping",
              "dc-vae": "DC-VAE (reduced)", "cgan": "cGAN", "biggan": "BigGAN-style (reduced)",
              "gmmn": "GMMN (conditional)", "pixel-mmd": "MMD (pixel)"}


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, kind)


# ---------------------------------------------------------------- one run of a target

class Run:
    """One execution of a target: knows its outputs, writes them with a
    manifest beside each, and formats the table beside the paper's."""

    def __init__(self, target: Target, scale: str, dataset: str, preset: str, params: dict,
                 data_root_: str | None = None):
        self.target, self.scale, self.dataset, self.preset = target, scale, dataset, preset
        self.params = dict(params)
        self.data_root = data_root(data_root_)
        self.out = output_root()
        self.start_time = now()
        self.seeds = list(self.params.get("seeds", [0]))
        self.overrides = dict(self.params.get("overrides") or {})   # the run's --set, under every setting
        self.summary: list[dict] | None = None   # the numbers, once saved: also in the figures' manifests
        # the command behind the outputs (the runner says it; a notebook opened by hand has none)
        self.command = os.environ.get(COMMAND_ENV) or f"{target.notebook}, run by hand"
        self.machine = device_description(default_device())

    # paths
    def figure_path(self, part: str = "") -> str:
        return os.path.join(self.out, "figures", self.scale, self.target.name + (f"_{part}" if part else ""))

    def results_path(self, ext: str) -> str:
        return os.path.join(self.out, "results", self.scale, f"{self.target.name}.{ext}")

    @property
    def comparable(self) -> bool:
        return self.dataset == self.target.default_dataset and self.scale == "paper" and self.preset == "paper"

    @property
    def label(self) -> str:
        ipc = self.params.get("ipc")
        seeds = ", ".join(map(str, self.seeds))
        return (f"{display_dataset(self.dataset)} · {self.scale} scale · {self.preset} preset"
                + (f" · IPC {ipc}" if ipc else "") + f" · seed{'s' if len(self.seeds) > 1 else ''} {seeds}"
                + "".join(f" · {k}={v}" for k, v in sorted(self.overrides.items())))

    def sweep_args(self) -> dict:
        """The arguments every sweep of this run shares (``run_sweep``'s)."""
        return {"dataset": self.dataset, "data_root": self.data_root, "preset": self.preset,
                "scale": self.scale, "label": self.target.name, "run_overrides": self.overrides,
                "force": bool(self.params.get("force")), "executor": self.params.get("executor") or "inline",
                "executor_config": self.params.get("executor_config") or None}

    def load_data(self):
        """The run's dataset, preprocessed as its preset says."""
        from ..method.config import PRESETS
        from .sweep import get_data
        return get_data(self.dataset, self.data_root, preprocess=PRESETS[self.preset].preprocess)

    # provenance
    @property
    def made_by(self) -> str:
        """The command and the machine behind this run's outputs, as every
        figure's footer and table's last line say it."""
        return f"made by {self.command} · on {self.machine}"

    def manifest(self, output: str, **extra) -> dict:
        return manifest(target=self.target.name, output=os.path.relpath(output, self.out), scale=self.scale,
                        preset=self.preset, dataset=self.dataset, seed=self.seeds, command=self.command,
                        device=self.machine, parameters=self.params, start_time=self.start_time, end_time=now(),
                        **extra)

    def _write_manifest(self, path: str, **extra) -> None:
        write_json(self.manifest(path, **extra), path + ".manifest.json")

    def save_figure(self, fig, part: str = "") -> list[str]:
        """``figures/<scale>/<target>[_part].png`` and ``.pdf``, each with its
        manifest (which also holds the numbers, once :meth:`save_csv` has them)."""
        from .plots import footnote, save
        for ext in ("png", "pdf"):
            check_output_file(f"{self.figure_path(part)}.{ext}")
        footnote(fig, self.made_by)
        paths = save(fig, self.figure_path(part))
        for p in paths:
            self._write_manifest(p, figure_part=part or None, numbers=self.summary)
        return paths

    def save_csv(self, summary: list[dict], rows: list[dict] | None = None) -> str:
        """``results/<scale>/<target>.csv`` (one row per setting) with its
        manifest, which also lists every job's row (cache hits, times)."""
        path = self.results_path("csv")
        check_output_file(path)
        self.summary = summary
        write_csv(summary, path)
        self._write_manifest(path, jobs=rows or [])
        return path

    def table(self, summary: list[dict], kinds: tuple[str, ...] = ("datadam",), setting_name: str = "setting",
              extra: str = "", what: str = "") -> str:
        """Our numbers beside the paper's as markdown, written to
        ``results/<scale>/<target>.md`` (with its manifest) and returned,
        headed by what ran (``what``, default :meth:`facts`). A kind whose sets
        moved (``image_change_pct``) gets its own "images moved" column after
        its accuracy."""
        p = self.target.paper
        n_models = sorted({r["n_models"] for r in summary})
        head = [self.heading(*[what] if what else ()), "",
                f"**Ours:** {self.label} · {'/'.join(map(str, n_models))} evaluated "
                f"model{'s' if max(n_models) > 1 else ''} per setting "
                "(accuracy %, mean ± std over models and seeds; one model: its accuracy and n = 1).",
                f"**Paper:** {p.source} · {p.dataset} · {p.setup}."]
        if self.comparable:
            head.append("Same dataset, scale and preset as the paper: the columns are comparable.")
        else:
            head.append(f"**Not comparable:** ours are {display_dataset(self.dataset)} at {self.scale} scale "
                        f"({self.preset} preset), the paper's are {p.dataset} at paper scale; compare our "
                        "settings with each other, not with the paper's numbers.")
        head.append("")
        settings = list(dict.fromkeys(r["setting"] for r in summary))
        labels = {r["setting"]: r.get("label", r["setting"]) for r in summary}
        cell = {(r["setting"], r["kind"]): r for r in summary}
        moved = [k for k in kinds if any(r["kind"] == k and r.get("image_change_pct") is not None for r in summary)]
        cols = [setting_name]
        for k in kinds:
            cols += [f"{kind_name(k)}: ours", f"{kind_name(k)}: paper"]
            cols += [f"{kind_name(k)}: images moved (%)"] if k in moved else []
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for s in settings:
            cells = [labels[s]]
            for k in kinds:
                r = cell.get((s, k))
                cells.append(spread(r) if r else "—")
                ref = p.lookup(s, k)
                cells.append(ref.text() if ref else "—")
                if k in moved:
                    v = r.get("image_change_pct") if r else None
                    cells.append("—" if v is None else f"{v:.1f}" if v < 1000 else f"{v:.1e} (diverged)")
            lines.append("| " + " | ".join(cells) + " |")
        foot = ["", "—: the paper gives no number for this cell (a plot only, or not run).",
                "", f"**The paper's finding:** {p.finding}."]
        if moved:
            foot.append("*Images moved:* mean |S − S₀| / mean |S₀| of that kind's set, how far its own method "
                        "moved the synthetic images from their initialisation.")
        if extra:
            foot += ["", extra]
        foot += ["", self.verdict(summary)]
        text = "\n".join(head + lines + foot)
        self.save_markdown(text)
        return text

    def verdict(self, summary: list[dict]) -> str:
        """Whether this run's own numbers show the paper's finding
        (``kit/verdict.py``, from the target's claims in paper_numbers.toml)."""
        from .verdict import section
        return section(list(self.target.paper.claims), summary)

    # what ran, in words (titles and headings say this, not the paper's setting)
    def config(self, ipc: int | None = None):
        """The config this run's settings start from: the preset capped by the
        scale, at ``ipc`` (default the run's), with the run's ``--set``."""
        from ..method.config import make_config
        return make_config(self.preset, self.scale, self.dataset, ipc=ipc or self.params.get("ipc") or 1,
                           overrides=self.overrides)

    def facts(self, iterations: int | None = None, ipc: int | None = None) -> str:
        """What every setting of this run did unless a setting says otherwise,
        from its parameters and config: distillation iterations (``iterations``,
        else the run's ``iterations`` parameter, else the config's) and the
        evaluation (models x epochs)."""
        cfg = self.config(ipc)
        its = iterations if iterations is not None else self.params.get("iterations") or cfg.distill.iterations
        e = cfg.evaluate
        return (f"{its:,} distillation iterations · evaluated on {e.num_models} model{'s' if e.num_models > 1 else ''}"
                f" × {e.epochs:,} epochs")

    def title(self, *what: str) -> str:
        """A figure's title, from what ran: ``what`` (counts, IPC, iterations;
        default :meth:`facts`), the run's label (dataset, scale, preset, IPC,
        seeds), and the paper's artefact it reproduces, marked as the paper's.
        Lines wrapped for a figure of bounded width."""
        import textwrap
        lines = [f"{self.target.name} as run: " + " · ".join(what or (self.facts(),)), self.label,
                 f"the paper's: {self.target.title}"]
        return "\n".join(textwrap.fill(line, TITLE_WIDTH) for line in lines)

    def heading(self, *what: str) -> str:
        """A markdown table's heading: the target, then as in :meth:`title`."""
        first = f"{self.target.name} as run: " + " · ".join(what or (self.facts(),))
        return f"### {first}\n\n*The paper's:* {self.target.title}."

    def save_markdown(self, text: str) -> str:
        """``results/<scale>/<target>.md`` (the table beside the paper's) with
        its manifest; for families that lay out their own table."""
        path = self.results_path("md")
        check_output_file(path)
        atomic_write_text(f"{text}\n\n*Made by* `{self.command}` *on {self.machine}.*\n", path)
        self._write_manifest(path)
        return path


def start(name: str, scale: str, dataset: str, preset: str = "paper", params: dict | None = None,
          data_root_: str | None = None) -> Run:
    """Begin a target's run (a family's entry function calls it): check the
    arguments and that the dataset is there, with a message that says what to
    do when it is not."""
    from ..method.config import PRESETS
    from ..method.data import DatasetNotFoundError
    t = get(name, implemented=False)
    if scale not in SCALES:
        raise TargetError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if preset not in PRESETS:
        raise TargetError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    if dataset_present(dataset, data_root_) is False:
        raise DatasetNotFoundError(missing_dataset_message(name, dataset, data_root_))
    params = dict(params or {})
    if "overrides" not in params and os.environ.get(SET_ENV):
        params["overrides"] = json.loads(os.environ[SET_ENV])    # the runner's --set, passed to the kernel
    if params.get("overrides"):
        from ..method.config import make_config
        try:
            make_config(preset, scale, dataset, overrides=params["overrides"])
        except (KeyError, ValueError, TypeError) as e:
            raise TargetError(f"--set: {e}") from None
    return Run(t, scale, dataset, preset, {"scale": scale, "dataset": dataset, "preset": preset, **params},
               data_root_)


SET_ENV = "DATADAM_SET"   # JSON {field: value}: config overrides for every setting of a run (runner --set)
COMMAND_ENV = "DATADAM_COMMAND"   # the runner's command line for a run, which its outputs name


def show_markdown(text: str) -> None:
    """Render markdown in a notebook (plain text elsewhere)."""
    try:
        from IPython.display import Markdown, display
        display(Markdown(text))
    except ImportError:  # pragma: no cover - IPython ships with the notebook extras
        print(text)


__all__ = ["Run", "Setting", "start", "summarize", "spread", "write_csv", "read_csv", "show_markdown", "kind_name"]
