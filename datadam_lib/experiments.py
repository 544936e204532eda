"""Small experiment drivers shared by the CLI and the notebooks."""
from __future__ import annotations

from dataclasses import dataclass

from .config import make_config
from .data import RealData
from .distill import distill
from .evaluate import EvalResult, evaluate, random_subset


@dataclass
class Comparison:
    ipc: int
    datadam: EvalResult
    random: EvalResult
    distill_s: float


def compare_with_random(data: RealData, ipcs=(1, 10), preset: str = "paper", scale: str = "quick",
                        seed: int = 0, progress: bool = True) -> list[Comparison]:
    """Distil ``data`` at each IPC, then evaluate the distilled set and an
    equally sized random real subset with the same protocol and seeds."""
    rows = []
    for ipc in ipcs:
        cfg = make_config(preset, scale, data.name, ipc, seed)
        syn = distill(cfg, data, progress=progress)
        dam = evaluate(syn.images, syn.labels, data, cfg.evaluate, seed, progress)
        rnd = evaluate(*random_subset(data, ipc, seed), data, cfg.evaluate, seed, progress)
        rows.append(Comparison(ipc, dam, rnd, syn.info["wall_time_s"]))
    return rows


def comparison_table(rows: list[Comparison], title: str) -> str:
    """A markdown table of DataDAM vs Random accuracy (%)."""
    out = [title, "", "| IPC | Random | DataDAM | distil (s) | eval (s) |", "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r.ipc} | {100 * r.random.mean:.1f} +- {100 * r.random.std:.1f} "
                   f"| {100 * r.datadam.mean:.1f} +- {100 * r.datadam.std:.1f} | {r.distill_s:.0f} "
                   f"| {r.datadam.wall_time_s + r.random.wall_time_s:.0f} |")
    return "\n".join(out)
