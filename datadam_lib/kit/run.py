"""One run of a target, the same for every family: the options a run takes
(:class:`RunOptions`), the one way a run begins (:func:`start`) and what a
family returns (:class:`Result`).

The options say *how* a target runs (scale, dataset, preset, seeds, where its
jobs go); the target's *parameters* (the swept values, IPCs, kinds of set)
belong to the registry (``Target.params``, per scale). A notebook or a caller
changes a parameter by naming it; a parameter it does not name takes the
registry's value for the scale. There is no "unset" value to remember:

    from datadam_lib.families import ablations
    from datadam_lib.kit.run import RunOptions

    result = ablations.run("fig1", RunOptions(scale="smoke", dataset="digits"), powers=[1, 4])
    result.show()
    result.check()
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..method.config import DEFAULT_SCALE
from . import plots, report
from .registry import Target, TargetError, get


@dataclass(frozen=True)
class RunOptions:
    """How a target runs, never what it computes (papermill passes these to
    every notebook; the CLI's run options)."""
    scale: str = DEFAULT_SCALE     # smoke | quick | paper: how much work
    dataset: str = ""              # "": the target's own (the paper's); a name, npz:PATH or folder:PATH
    preset: str = "paper"          # paper | table2 | released (method/config.py PRESETS)
    seeds: tuple[int, ...] = ()    # (): the target's ``seeds`` parameter, else (0,)
    force: bool = False            # recompute cached sets and evaluations
    executor: str = "inline"       # where sweep jobs run: inline, local, slurm (kit/executors.py)
    executor_config: str = ""      # the executor's settings file ("" for its defaults)
    data_root: str = ""            # where datasets live ("": $DATADAM_DATA or the kit's data/)


def parameter_names(t: Target) -> set[str]:
    """Every parameter ``t`` takes: the keys of its parameters at any scale."""
    return {k for scale in t.params.values() for k in scale}


def resolve(t: Target, options: RunOptions, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a run of ``t`` uses: the registry's for the scale with
    ``params`` over them (a name ``t`` does not take is a TargetError that
    lists its parameters) and the seeds (the options', else the target's,
    else 0). On digits a target with a ``digits_ipc`` runs at that IPC unless
    ``ipc`` is given: digits saturates at the real images' IPC."""
    unknown = sorted(set(params) - parameter_names(t))
    if unknown:
        raise TargetError(f"{t.name} has no parameter {', '.join(map(repr, unknown))}; its parameters: "
                          f"{', '.join(sorted(parameter_names(t)))}")
    p = {**t.params_for(options.scale), **params}
    p["seeds"] = [int(s) for s in (options.seeds or p.get("seeds") or (0,))]
    if (options.dataset or t.default_dataset) == "digits" and "digits_ipc" in p and "ipc" not in params:
        p["ipc"] = p["digits_ipc"]
    return p


def describe(name: str, options: RunOptions = RunOptions(), params: dict[str, Any] | None = None) -> str:
    """A markdown table of target ``name``'s parameters: the value this run
    uses, the registry's at the scale where ``params`` changes it, and what it
    means (the notebooks show it under their parameters cell)."""
    t = get(name)
    given = dict(params or {})
    p = resolve(t, options, given)
    lines = [f"**{name}'s parameters** at {options.scale} scale (change any with the notebook's `params`, e.g. "
             "`params = {\"ipc\": 1}`, or `./reproduce.sh TARGET --param ipc=1`; the registry's value stands for "
             "every one not named):", "",
             "| parameter | this run | meaning |", "|---|---|---|"]
    for k in sorted(parameter_names(t)):
        if k not in p:
            value = "—"
        elif k in given:
            value = f"`{p[k]!r}` (yours; the scale's: `{t.params_for(options.scale).get(k, '—')!r}`)"
        else:
            value = f"`{p[k]!r}`"
        lines.append(f"| `{k}` | {value} | {t.help.get(k, '')} |")
    return "\n".join(lines)


def start(name: str, options: RunOptions, params: dict[str, Any]) -> tuple[Target, dict, report.Run]:
    """Begin target ``name``'s run: its parameters (:func:`resolve`) and the
    :class:`report.Run` that writes the outputs (which checks the scale,
    preset and dataset, and says what to do where the dataset is missing)."""
    t = get(name)
    p = resolve(t, options, params)
    dataset = options.dataset or t.default_dataset
    run_ = report.start(name, options.scale, dataset, options.preset, data_root_=options.data_root or None,
                        params={**p, "force": options.force, "executor": options.executor,
                                "executor_config": options.executor_config})
    return t, p, run_


@dataclass
class Result:
    """What a family returns: the run (paths, provenance), every job's row,
    the summary per setting, the figures, the markdown table, what this run
    shows, and how many CSV rows the run was asked for (``expected``)."""
    run: report.Run
    rows: list[dict]
    summary: list[dict]
    figures: dict[str, Any] = field(default_factory=dict)
    table: str = ""
    findings: str = ""
    expected: int = 0

    def show(self) -> None:
        for fig in self.figures.values():
            plots.show(fig)
        report.show_markdown(self.table)
        if self.findings:
            report.show_markdown(self.findings)

    def check(self) -> None:
        """Fail loudly when the run did not produce what it was asked for:
        ``expected`` CSV rows (one per setting and kind), accuracies that are
        percentages, every figure and table file written. The notebooks end
        with this call, so the test suite (nbval) fails on a broken pipeline."""
        rows = report.read_csv(self.run.results_path("csv"))
        assert len(rows) == self.expected, f"{len(rows)} CSV rows, expected {self.expected}"
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
