"""The teaching family: notebooks that explain the method rather than
reproduce an artefact of the paper.

- ``attention`` (``notebooks/attention.ipynb``): one real image's attention
  maps at every layer of a random ConvNet, and L_SAM between a real batch and
  a distilled set (and the real images it started from), as p, the
  normalisation and the layer move (``kit/widgets.py``: live sliders in
  Jupyter, the same explorer precomputed for a page without a kernel).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..kit import report
from ..kit.registry import Setting, Target, register
from ..kit.run import Result, RunOptions, start
from ..kit.sweep import run_sweep, set_job
from ..kit.widgets import NORMS, POWERS, AttentionLab, draw

register(
    Target("attention", "DataDAM explained, interactively: attention maps and L_SAM as p, the normalisation "
           "and the layer move", "teaching", ("digits",),
           {"smoke": {"ipc": 1, "per_class": 4}, "quick": {"ipc": 10, "per_class": 16},
            "paper": {"ipc": 10, "per_class": 32}}, parts=("", "sam")),
    help={"ipc": "images per class of the distilled set (quick: 10, the quickstart's set, reused from the cache)",
          "per_class": "real images per class in the batch L_SAM compares against"},
)


@dataclass
class Lesson(Result):
    """What :func:`attention` returns: a :class:`~datadam_lib.kit.run.Result`
    (its rows: L_SAM at every p, normalisation and synthetic batch; the
    default state's figures; their table) with the explorer's data (``lab``)."""
    lab: AttentionLab | None = None

    def check(self) -> None:
        """Fail loudly when an output is missing or a loss is not a finite,
        non-negative number (the notebook ends with this call)."""
        import math
        import os
        assert len(self.rows) == len(POWERS) * len(NORMS) * len(self.lab.synthetic), len(self.rows)
        for r in self.rows:
            assert math.isfinite(r["l_sam"]) and r["l_sam"] >= 0, r
        for p in (self.run.figure_path() + ".png", self.run.results_path("csv"), self.run.results_path("md")):
            assert os.path.isfile(p), p


def attention(options: RunOptions = RunOptions(), **params) -> Lesson:
    """Distil (or load from the cache: the quickstart's IPC 10 set at the
    same scale) a DataDAM set; draw a random ConvNet as distillation does
    (the config's encoder, seeded by the run's seed); take the first
    training image of class 0 and ``per_class`` random real images per
    class; precompute the explorer's data (:class:`~datadam_lib.kit.widgets.AttentionLab`)
    with the set and its initialisation as the synthetic batches. Writes the
    default state's figure, and L_SAM at every p and normalisation as CSV and
    markdown."""
    from ..method.config import make_config
    from ..method.losses import Objective
    from ..method.models import build_encoder
    from ..method.synthetic import SyntheticSet
    t, params, run_ = start("attention", options, params)
    seed = params["seeds"][0]
    base = Setting("ipc", params["ipc"], (("distill.ipc", params["ipc"]),))
    rows = run_sweep([base], seeds=[seed], ipc=params["ipc"], job_fn=set_job, **run_.sweep_args())
    data = run_.load_data()
    cfg = make_config(run_.preset, run_.scale, run_.dataset, ipc=params["ipc"], seed=seed, overrides=run_.overrides)
    syn = SyntheticSet.load(rows[0]["synthetic_dir"], data.device)
    g = torch.Generator(device=data.device).manual_seed(seed)
    encoder = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size, g, data.device)
    real = data.sample(params["per_class"], torch.Generator(device=data.device).manual_seed(seed + 1))
    batches = {"real": real, f"DataDAM (IPC {params['ipc']})": syn.images}
    if 0 in syn.snapshots:
        batches["its initialisation"] = syn.snapshots[0].float().to(data.device)
    first = data.x_train[data.offsets[:1]]
    n_taps = len(encoder.stages)
    lab = AttentionLab.build(encoder, first, data.to_pixels(first)[0], data.classes[0], 0, batches,
                             data.num_classes, Objective(cfg.distill.method, data.im_size).layers(n_taps),
                             cfg.distill.method.distance)
    m = cfg.distill.method
    power = int(m.power) if float(m.power).is_integer() and int(m.power) in POWERS else 4
    norm = m.attention_norm if m.attention_norm in NORMS else "l2"
    figures = draw(lab, power, norm, 0)
    run_.save_figure(figures["maps"])
    run_.save_figure(figures["sam"], "sam")
    table_rows = []
    for p in POWERS:
        for n in NORMS:
            for name, terms in lab.sam_terms(p, n).items():
                table_rows.append({"setting": f"power={p},norm={n}", "power": p, "norm": n, "synthetic": name,
                                   "l_sam": sum(x for x in terms if x is not None),
                                   **{f"layer{l + 1}": x for l, x in enumerate(terms) if x is not None}})
    run_.save_csv(table_rows, rows)
    table = _table(t, run_, lab, table_rows, power, norm)
    run_.save_markdown(table)
    return Lesson(run_, table_rows, table_rows, figures, table, lab=lab)


def _table(t: Target, run_: report.Run, lab: AttentionLab, rows: list[dict], power: int, norm: str) -> str:
    """L_SAM of each synthetic batch at every p (rows) and normalisation (columns)."""
    names = lab.synthetic
    cols = [f"{n}: {s}" for s in names for n in NORMS]
    per_class = len(lab.sums["real"][1][0]) // lab.num_classes
    layers = ", ".join(str(l + 1) for l in lab.sam_layers)
    lines = [f"### {t.name}: {t.title}", "",
             (f"**Ours:** {run_.label} · a random ConvNet (never trained) · {per_class} real images per class · "
              f"L_SAM over layers {layers} of {lab.layers}, without the preset's x{_scale(run_)} and without "
              "augmentation."),
             ("**Paper:** no table; the method's loss (main paper Sec. 3), its p and normalisation ablated in "
              "supplement Figs 1 and 6 (accuracy, not L_SAM)."), "",
             "| p | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for p in POWERS:
        cells = []
        for s in names:
            for n in NORMS:
                r = next(r for r in rows if r["power"] == p and r["norm"] == n and r["synthetic"] == s)
                v = f"{r['l_sam']:.3g}"
                cells.append(f"**{v}**" if (p, n) == (power, norm) else v)
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", (f"Bold: the preset's setting (p = {power}, {norm}), which the set was distilled with. Values "
                   "are comparable down a column only: the normalisation sets the maps' scale (L2: unit length, "
                   "L1: unit sum, none: raw powers).")]
    return "\n".join(lines)


def _scale(run_: report.Run) -> str:
    from ..method.config import make_config
    return f"{make_config(run_.preset, run_.scale, run_.dataset).distill.method.loss_scale:g}"
