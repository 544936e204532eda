"""The runner behind ``./reproduce.sh``: list the targets, run one target's
notebook with papermill, run them all, record measured costs.

    python -m datadam_lib.runner list
    python -m datadam_lib.runner run fig1 --scale quick --dataset digits
    python -m datadam_lib.runner all --scale smoke --dataset digits
    python -m datadam_lib.runner measure --scale quick     # record cold wall times in kit/measured.toml

A run writes into a staging directory and publishes its outputs only when the
notebook succeeds: a failed or interrupted run leaves the previous figures and
tables as they were (with their own manifests), and its executed notebook as
``results/<scale>/<target>.failed.ipynb`` beside a manifest saying why.
Each run stages in its own ``results/.stage-TARGET-PID-*`` (a new run
removes only the stages of runs no longer alive), so two runs of one target
at the same time both finish.
Publishing replaces only the kit's own files (``method/io.py``'s writer rule):
an output path holding a file the kit did not write stops the run before it
starts, unless ``--overwrite``.
"""
from __future__ import annotations

import argparse
import glob
import json
import logging
import os
import shutil
import sys
import tempfile
import textwrap
import time

from .families import load_all, visuals
from .kit.paths import absolute_dataset, cache_root, dataset_file, display_dataset, kit_root, output_root
from .kit.registry import MEASURED_FILE, SCALES, TargetError, dataset_present, get, measured, missing_dataset_message, \
    ordered
from .cli import Parser, overrides
from .kit.report import COMMAND_ENV, SET_ENV, now
from .method.config import DEFAULT_SCALE, PRESETS
from .method.io import OutputError, atomic_write_text, check_output_file, default_device, device_description, \
    manifest, write_json

WIDTH = 100


def _fmt_minutes(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds < 600 else f"{seconds / 60:.0f} min"


def _quick_time(t) -> str:
    """A target's cold time alone; else the compute of the sets and
    evaluations it shared with other targets (marked ~); else its time within
    the whole kit's run (marked *)."""
    cold, work, in_all = t.measured_s("quick"), t.measured_s("quick", "work"), t.measured_s("quick", "in_all")
    if cold is not None:
        return _fmt_minutes(cold)
    if work is not None:
        return f"~{_fmt_minutes(work)}"
    return f"{_fmt_minutes(in_all)}*" if in_all is not None else "-"


def list_targets(root: str | None = None, file=None) -> None:
    """Every target on two lines of at most 100 columns: name, implemented,
    the dataset it needs and whether it is here, the measured cold time at
    quick scale, a paper-scale GPU estimate; then its title."""
    file = file or sys.stdout
    m = measured()
    machine = m.get("machine", {}).get("quick", "")
    print(textwrap.fill("Targets of the DataDAM supplement. QUICK: measured at quick scale on the data of the "
                        "committed outputs (named under each target): the wall time cold and alone; ~ the compute of "
                        "the sets and evaluations it shared with other targets, each timed when first made; * the "
                        "wall time within the whole kit's run. PAPER: a rough estimate on one GPU, not a "
                        "measurement.", WIDTH), file=file)
    w = max(len(t.name) for t in ordered())
    head = f"{'TARGET':<{w}} {'DONE':<4} {'NEEDS':<30} {'QUICK':>9} {'PAPER':>9}"
    print(head, file=file)
    present: dict[str, bool | None] = {}
    for t in ordered():
        ds = t.default_dataset
        if ds not in present:
            present[ds] = dataset_present(ds, root)
        needs = f"{ds} ({'here' if present[ds] or ds == 'digits' else 'missing'})"
        if t.needs:
            needs += f" + {t.needs}"
        gpu = "-" if t.paper_gpu_h is None else f"~{t.paper_gpu_h:g} GPU-h"
        print(f"{t.name:<{w}} {'yes' if t.implemented else 'no':<4} {needs:<30} "
              f"{_quick_time(t) if t.implemented else '':>9} {gpu:>9}", file=file)
        nb = f" [{t.notebook}]" if t.implemented and os.path.isfile(os.path.join(kit_root(), t.notebook)) else ""
        where = m.get(t.name, {})
        if where.get("quick_dataset"):
            made = ", ".join(filter(None, (where["quick_dataset"], where.get("quick_params"))))
            nb += f" (quick: {made}, {where.get('quick_machine') or machine})"
        for line in textwrap.wrap(t.title + nb, WIDTH - 12):
            print(" " * 12 + line, file=file)
    impl = [t for t in ordered() if t.implemented]
    timed = [t.measured_s("quick") for t in impl if t.measured_s("quick")]
    print("\n" + textwrap.fill(f"quick scale, each target alone from an empty cache: {len(timed)} of {len(impl)} "
                              f"implemented targets measured, {_fmt_minutes(sum(timed))} together", WIDTH), file=file)
    qs = m.get("quickstart", {})
    if qs.get("quick_cold_s") and qs.get("quick_cold_busy_s"):   # what a newcomer's first run takes: a range
        print(textwrap.fill(f"./reproduce.sh quickstart from an empty cache: {_fmt_minutes(qs['quick_cold_s'])} on the "
                            f"quiet machine above to {_fmt_minutes(qs['quick_cold_busy_s'])} with other jobs on its "
                            "cores (the time follows the free CPU cores); the very first call also creates .venv",
                            WIDTH), file=file)
    whole = m.get("all", {})
    if whole.get("quick_s") is not None:
        print(textwrap.fill(f"the whole kit at quick scale (./reproduce.sh all --scale quick, dataset "
                            f"{whole.get('quick_dataset')}), from an empty cache, sets shared between targets: "
                            f"{whole.get('quick_targets')} targets in {_fmt_minutes(whole['quick_s'])} "
                            f"({whole['quick_s'] / 3600:.1f} h; {whole.get('quick_date')}; aim: under 3 h)", WIDTH),
              file=file)
    else:
        print("the whole kit at quick scale: not measured yet", file=file)
    print(textwrap.fill("to measure: ./reproduce.sh all --scale quick --dataset digits from an empty cache, then "
                        "python -m datadam_lib.runner measure --machine '...'", WIDTH), file=file)
    print(textwrap.fill("run one: ./reproduce.sh TARGET [--scale smoke|quick|paper] [--dataset NAME] "
                        f"[--preset {'|'.join(PRESETS)}] [--force]", WIDTH, subsequent_indent="  "), file=file)
    missing = sorted(d for d, ok in present.items() if ok is False)
    grids = [t.name for t in ordered() if t.name in visuals.GRID_TARGETS and present.get(t.default_dataset) is False]
    if grids:
        print(textwrap.fill(f"image grids without their data: {', '.join(grids)} run only on their own dataset's "
                            "images (or a fixed part of them, e.g. cifar10-5k) and on any other data say \"needs "
                            "DATASET\" rather than draw a stand-in under its name (any data at --scale smoke)", WIDTH),
              file=file)
    if missing:
        print(textwrap.fill(f"missing data ({', '.join(missing)}): add --dataset digits to run on the built-in "
                            "digits, or see `python -m datadam_lib datasets`", WIDTH), file=file)


def _params(t, a) -> dict:
    # the family fills in the target's defaults for the scale (registry Target.params)
    p = {"scale": a.scale, "preset": a.preset, "force": bool(a.force)}
    if t.notebook_name:   # a notebook shared by several targets: which one this run is
        p["target"] = t.name
    if a.dataset:
        p["dataset"] = absolute_dataset(a.dataset)
    if a.root:
        p["data_root"] = os.path.abspath(a.root)
    if a.executor:
        p["executor"] = a.executor
    if a.executor_config:
        p["executor_config"] = os.path.abspath(a.executor_config)
    if a.seeds:
        p["seeds"] = list(a.seeds)
    if getattr(a, "param", None):       # the target's own parameters (the registry's where not named)
        p["params"] = _given_params(t, a)
    return p


def _given_params(t, a) -> dict:
    """``--param NAME=VALUE`` as a dict, checked against the target's
    parameters (a name it does not take: one line that lists them)."""
    from .kit.run import RunOptions, resolve
    try:
        given = overrides(a.param or [], "--param", "powers=[1,4]")
    except ValueError as e:
        raise TargetError(str(e)) from None
    resolve(t, RunOptions(scale=a.scale), given)
    return given


def command_line(name: str, a, dataset: str) -> str:
    """The command that makes this run's outputs again, as they name it: the
    options that change results (not --force, --executor, --root, --verbose),
    a dataset file without its local directory (as titles show it)."""
    import re
    import shlex
    path = dataset_file(dataset)
    shown = dataset if path is None else dataset.replace(path, os.path.join("…", os.path.basename(path.rstrip("/"))))
    words = ["./reproduce.sh", name, "--scale", a.scale, "--preset", a.preset, "--dataset", shown]
    words += ["--seeds", *map(str, a.seeds)] if a.seeds else []
    words += [w for kv in a.set or [] for w in ("--set", kv)]
    words += [w for kv in getattr(a, "param", None) or [] for w in ("--param", kv)]
    return " ".join(shlex.quote(w) if re.search(r"[^\w@%+=:,./…-]", w) else w for w in words)


def _set_env(a) -> dict:
    """``--set FIELD=VALUE`` as the kernel sees it (``report.SET_ENV``): config
    overrides under every setting of the run, recorded in its outputs."""
    try:
        sets = overrides(a.set or [])
    except ValueError as e:
        raise TargetError(str(e)) from None
    if sets:
        os.environ[SET_ENV] = json.dumps(sets, sort_keys=True)
    else:
        os.environ.pop(SET_ENV, None)
    return sets


def _shown(path: str) -> str:
    rel = os.path.relpath(path, os.getcwd())
    return path if rel.startswith("..") else rel


def _check_outputs(paths: list[str], overwrite: bool) -> None:
    """The writer rule for every path a run may replace (and its manifest):
    one TargetError naming the first that the kit did not write."""
    try:
        for p in paths:
            check_output_file(p, overwrite)
            if not p.endswith(".manifest.json"):
                check_output_file(p + ".manifest.json", overwrite)
    except OutputError as e:
        raise TargetError(str(e)) from None


def _publish(stage: str, out: str, overwrite: bool) -> list[str]:
    """Move every file written under ``stage`` to the same place under
    ``out`` (one rename each), replacing only those files, and only files
    the kit wrote (all are checked before any moves)."""
    pairs = [(src, os.path.join(out, os.path.relpath(src, stage)))
             for src in glob.glob(os.path.join(stage, "**", "*"), recursive=True) if os.path.isfile(src)]
    _check_outputs([dst for _, dst in pairs], overwrite)
    for src, dst in pairs:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.replace(src, dst)
    return [dst for _, dst in pairs]


class _QuietDeadKernel(logging.Filter):
    """papermill logs "Kernel died while waiting for execute reply." when
    Ctrl-C stops the kernel; the runner says why a run stopped in its own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Kernel died while waiting")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:      # another user's process
        return True
    return True


def _new_stage(results: str, name: str) -> str:
    """A staging directory of this run, ``.stage-TARGET-PID-*``, after
    removing those that runs now dead left behind (killed); a live run's stage
    is its own business (two runs of one target each publish their outputs)."""
    prefix = f".stage-{name}-"
    for stale in glob.glob(os.path.join(results, prefix + "*")):
        pid = os.path.basename(stale)[len(prefix):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=results)


def run_target(name: str, a) -> int:
    """Execute a target's notebook with papermill; 0 on success, 1 on failure."""
    import papermill as pm

    from .kit.kernels import papermill_options
    t = get(name)
    dataset = a.dataset or os.environ.get("DATADAM_DATASET") or t.default_dataset
    if dataset_present(dataset, a.root) is False:
        raise TargetError(missing_dataset_message(name, dataset, a.root))
    if why := visuals.refuses(name, dataset, a.scale):    # a grid of other images under its dataset's name
        raise TargetError(why)
    params = _params(t, a)
    sets = _set_env(a)
    kit = kit_root()
    src = os.path.join(kit, t.notebook)
    if not os.path.isfile(src):
        raise TargetError(f"notebook {t.notebook} of target {name!r} is missing from {kit}")
    out_root = output_root()
    results = os.path.join(out_root, "results", a.scale)
    overwrite = bool(getattr(a, "overwrite", False))
    _check_outputs([os.path.join(out_root, o) for o in t.outputs_for(a.scale)]
                   + [os.path.join(results, f"{name}.failed.ipynb")], overwrite)
    os.makedirs(results, exist_ok=True)
    stage = _new_stage(os.path.join(out_root, "results"), name)
    staged_nb = os.path.join(stage, "results", a.scale, f"{name}.ipynb")
    os.makedirs(os.path.dirname(staged_nb))
    for var in ("DATADAM_DATA", "DATADAM_CACHE"):   # the kernel runs in notebooks/
        if os.environ.get(var):
            os.environ[var] = os.path.abspath(os.environ[var])
    print(f"{name}: {t.title}\n  {dataset} · {a.scale} scale · {a.preset} preset"
          f"{''.join(f' · {k}={v}' for k, v in sets.items())}{' · --force' if a.force else ''} -> {_shown(os.path.join(results, name + '.ipynb'))}", file=sys.stderr)
    started, t0 = now(), time.time()
    error = None
    old_out = os.environ.get("DATADAM_OUT")
    os.environ["DATADAM_OUT"] = stage        # the notebook writes every output into the stage
    command = os.environ[COMMAND_ENV] = command_line(name, a, dataset)   # which its outputs name
    quiet = _QuietDeadKernel()
    logging.getLogger("papermill").addFilter(quiet)
    try:
        pm.execute_notebook(src, staged_nb, parameters=params, kernel_name="python3", cwd=os.path.dirname(src),
                            progress_bar=not a.verbose and sys.stderr.isatty(), log_output=a.verbose,
                            stdout_file=None, stderr_file=None,
                            **papermill_options())   # IPC, not TCP: no "without encryption" warning
    except pm.PapermillExecutionError as e:
        error = f"{e.ename}: {e.evalue}"
    except KeyboardInterrupt:
        error = "interrupted"
        # nbclient's cell task, cut short, would be logged as "Task exception was never retrieved" at exit
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    except Exception as e:  # a kernel that dies, an unreadable notebook
        error = f"{type(e).__name__}: {e}"
    finally:
        logging.getLogger("papermill").removeFilter(quiet)
        os.environ.pop(COMMAND_ENV, None)
        if old_out is None:
            os.environ.pop("DATADAM_OUT", None)
        else:
            os.environ["DATADAM_OUT"] = old_out
    wall = round(time.time() - t0, 1)
    info = dict(target=name, scale=a.scale, preset=a.preset, dataset=dataset, seed=params.get("seeds"), set=sets,
                command=command, device=device_description(default_device()), parameters=params, start_time=started,
                end_time=now(), wall_time_s=wall)
    if error:
        failed = os.path.join(results, f"{name}.failed.ipynb")
        where = "; no notebook was executed"
        if os.path.isfile(staged_nb):     # else an earlier failure's notebook and manifest stay as they were
            os.replace(staged_nb, failed)
            write_json(manifest(output=os.path.relpath(failed, out_root), status="failed", error=error, **info),
                       failed + ".manifest.json")
            where = f"; the executed notebook shows where it stopped: {_shown(failed)}"
        shutil.rmtree(stage, ignore_errors=True)
        if error == "interrupted":        # main() says it in one line
            raise KeyboardInterrupt(f"{name}: the previous outputs are unchanged{where}")
        print(f"error: {name} failed: {error}\n  the previous outputs are unchanged{where}", file=sys.stderr)
        return 1
    final_nb = os.path.join(results, f"{name}.ipynb")
    try:
        moved = _publish(stage, out_root, overwrite)
    except TargetError as e:
        raise TargetError(f"{e} (this run's outputs are kept in {_shown(stage)})") from None
    shutil.rmtree(stage, ignore_errors=True)
    for stale in (os.path.join(results, f"{name}.failed.ipynb"), os.path.join(results, f"{name}.failed.ipynb.manifest.json")):
        if os.path.isfile(stale):
            os.remove(stale)
    write_json(manifest(output=os.path.relpath(final_nb, out_root), status="ok", **info), final_nb + ".manifest.json")
    md = os.path.join(results, f"{name}.md")
    if os.path.isfile(md):
        print(open(md).read())
    print(f"{name}: done in {wall:.0f} s; outputs:", file=sys.stderr)
    for p in sorted(moved):
        if not p.endswith(".manifest.json"):
            print(f"  {_shown(p)}", file=sys.stderr)
    return 0


def _cache_is_empty() -> bool:
    """No distilled set and no evaluation cached yet: the next run is cold."""
    root = cache_root()
    return not any(os.listdir(d) for d in (os.path.join(root, "sets"), os.path.join(root, "eval")) if os.path.isdir(d))


SKIPPED_NEEDS = "skipped: needs "   # all: a target that cannot run on this data (an image grid), not a failure
ALL_RECORD = "all.json"   # results/<scale>/all.json: the last `all` run, target by target (runner measure reads it)


def run_all(a) -> int:
    """Every implemented target in order; then ``results/<scale>/all.json``:
    each target's status and wall time, the whole run's, and whether it
    started from an empty cache (a cold run of the whole kit)."""
    cold, started, t_all = _cache_is_empty(), now(), time.time()
    results: list[tuple[str, str, float | None]] = []     # (target, status, seconds)
    for t in ordered():
        if not t.implemented:
            continue
        n = t.name
        dataset = a.dataset or os.environ.get("DATADAM_DATASET") or t.default_dataset
        b = a
        if visuals.refuses(n, dataset, a.scale) or (n in visuals.GRID_TARGETS and a.scale != "smoke"
                                                    and dataset_present(dataset, a.root) is False):
            results.append((n, f"{SKIPPED_NEEDS}{t.default_dataset} (an image grid draws no stand-in)", None))
            continue
        if dataset_present(dataset, a.root) is False:
            if a.scale != "smoke":
                results.append((n, f"skipped: {dataset} not present (add --dataset digits, or --root PATH)", None))
                continue
            # a smoke run checks code paths, its numbers mean nothing: digits will do
            print(f"{n}: {dataset} not present; smoke run on digits instead", file=sys.stderr)
            b = argparse.Namespace(**{**vars(a), "dataset": "digits"})
        t0 = time.time()
        try:
            rc = run_target(n, b)
        except TargetError as e:
            print(f"error: {e}", file=sys.stderr)
            rc = 1
        status = ("ok" + (" (on digits)" if b is not a else "")) if rc == 0 else "FAILED"
        results.append((n, status, round(time.time() - t0, 1)))
    wall = round(time.time() - t_all, 1)
    os.makedirs(os.path.join(output_root(), "results", a.scale), exist_ok=True)   # every target may have been skipped
    write_json(manifest(scale=a.scale, dataset=a.dataset, preset=a.preset, started=started, wall_time_s=wall,
                        cold_start=cold, device=device_description(default_device()),
                        targets=[{"target": n, "status": st, "wall_time_s": sec} for n, st, sec in results]),
               os.path.join(output_root(), "results", a.scale, ALL_RECORD))
    print("\nsummary:", file=sys.stderr)
    for n, st, sec in results:
        print(f"  {n:<12} {st}" + (f" in {sec:.0f} s" if sec is not None else ""), file=sys.stderr)
    print(f"  {'all':<12} {wall:.0f} s ({_fmt_minutes(wall)}){', from an empty cache' if cold else ''}",
          file=sys.stderr)
    return 1 if any(st == "FAILED" for _, st, _ in results) else 0


def jobs_compute_s(jobs: list[dict]) -> float:
    """The compute behind a run's rows, each set and each evaluation counted
    once (fig4 evaluates one set four ways) with the time it took when it was
    first made: what a cold run of the target would compute."""
    sets = {j.get("synthetic_dir") or id(j): j.get("distill_s") or 0 for j in jobs}
    evals = {j.get("eval_path") or id(j): j.get("eval_s") or 0 for j in jobs}
    points = sum(p.get("eval_s") or 0 for j in jobs for p in j.get("points", []))   # a curve's evaluations
    return sum(sets.values()) + sum(evals.values()) + points


def record_measured(scale: str, machine: str, targets: list[str] | None = None) -> str:
    """Read the wall times of the executed notebooks' manifests under
    ``results/<scale>/`` and write them to ``kit/measured.toml`` (cold runs
    only: a run that read any cached result is skipped), and the whole kit's
    from ``results/<scale>/all.json`` when that run started from an empty
    cache and every target succeeded."""
    import json
    import tomllib
    data = {}
    if os.path.isfile(MEASURED_FILE):
        with open(MEASURED_FILE, "rb") as f:
            data = tomllib.load(f)
    results = os.path.join(output_root(), "results", scale)
    runs = sorted(glob.glob(os.path.join(results, "*.ipynb.manifest.json")))
    unrun = set(targets or ()) - {os.path.basename(p)[:-len(".ipynb.manifest.json")] for p in runs}
    if unrun:
        raise TargetError(f"no run of {', '.join(sorted(unrun))} under {results}: measure reads the outputs of the "
                          "last runs there (the committed ones: --publish, or DATADAM_OUT=the kit)")
    for path in runs:
        m = json.load(open(path))
        csv_manifest = path.replace(".ipynb.manifest.json", ".csv.manifest.json")
        jobs = json.load(open(csv_manifest)).get("jobs", []) if os.path.isfile(csv_manifest) else []
        if m.get("status") != "ok" or (targets and m["target"] not in targets):
            continue
        entry = data.setdefault(m["target"], {})
        entry.update({f"{scale}_dataset": display_dataset(m.get("dataset") or ""), f"{scale}_machine": machine,
                      f"{scale}_date": m.get("start_time", "")[:10]})
        params = (m.get("parameters") or {}).get("params") or {}   # a committed output made with --param overrides
        if params:
            entry[f"{scale}_params"] = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
        else:
            entry.pop(f"{scale}_params", None)
        # a job that reused anything (a set, an evaluation, a NAS training: "cached") makes the run warm:
        # its cold cost is then the compute of every set and evaluation it used, each timed when first made
        if any(j.get(k) for j in jobs for k in ("eval_cached", "distill_cached", "cached")):
            entry.pop(f"{scale}_cold_s", None)
            entry[f"{scale}_work_s"] = round(jobs_compute_s(jobs), 1)
        else:
            entry.pop(f"{scale}_work_s", None)
            entry[f"{scale}_cold_s"] = m["wall_time_s"]
    whole = os.path.join(output_root(), "results", scale, ALL_RECORD)
    if os.path.isfile(whole):   # the whole kit, when it ran from an empty cache and every target succeeded
        w = json.load(open(whole))
        ran = [t for t in w["targets"] if not t["status"].startswith(SKIPPED_NEEDS)]   # grids without their data
        if w.get("cold_start") and ran and all(t["status"].startswith("ok") for t in ran):
            data.setdefault("all", {}).update({f"{scale}_s": w["wall_time_s"], f"{scale}_targets": len(ran),
                                               f"{scale}_dataset": w.get("dataset") or "each target's own",
                                               f"{scale}_date": w["started"][:10]})
            for t in ran:
                data.setdefault(t["target"], {})[f"{scale}_in_all_s"] = t["wall_time_s"]
    if not targets:   # the machine line under `list` describes a whole measurement, not one re-measured target
        data.setdefault("machine", {})[scale] = machine
    lines = ["# Measured cold wall times (seconds) of each target's notebook, written by",
             "# `python -m datadam_lib.runner measure`; `./reproduce.sh list` shows them.", ""]
    for key in sorted(k for k in data if k != "machine"):
        lines.append(f"[{key}]")
        lines += [f"{k} = {json.dumps(v) if isinstance(v, str) else v}" for k, v in sorted(data[key].items())]
        lines.append("")
    lines.append("[machine]")
    lines += [f'{k} = "{v}"' for k, v in sorted(data.get("machine", {}).items())]
    atomic_write_text("\n".join(lines) + "\n", MEASURED_FILE)
    measured.cache_clear()
    return MEASURED_FILE


VERDICTS = ("<!-- verdicts: written by `python -m datadam_lib.runner verdicts --write` -->", "<!-- /verdicts -->")


def write_verdicts(scale: str, path: str | None) -> int:
    """The computed verdicts of ``results/<scale>/*.md`` (kit/verdict.py) as
    one table, printed or written between the VERDICTS markers of ``path``."""
    from .kit.verdict import table
    results = os.path.join(output_root(), "results", scale)
    if path is None:
        print(table(results, ordered()))
        return 0
    text = open(path).read()
    if VERDICTS[0] not in text or VERDICTS[1] not in text:
        raise TargetError(f"{path} has no verdicts block; add the two lines {VERDICTS[0]} and {VERDICTS[1]}")
    link = os.path.relpath(results, os.path.dirname(os.path.abspath(path)))
    head, rest = text.split(VERDICTS[0], 1)
    atomic_write_text(f"{head}{VERDICTS[0]}\n{table(results, ordered(), link)}\n{VERDICTS[1]}"
                      f"{rest.split(VERDICTS[1], 1)[1]}", path)
    print(f"wrote the verdicts of {_shown(results)} into {path}")
    return 0


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", default=DEFAULT_SCALE, choices=SCALES,
                   help=f"how much work, never the method (default: {DEFAULT_SCALE})")
    p.add_argument("--dataset", help="dataset name, npz:PATH or folder:PATH (default: the paper's; "
                                     "$DATADAM_DATASET overrides)")
    p.add_argument("--preset", default="paper", choices=sorted(PRESETS),
                   help="paper: the authors' evidence (default); table2: Table 2 read literally; released: their code")
    p.add_argument("--force", action="store_true", help="recompute cached distilled sets and evaluations")
    p.add_argument("--executor", help="where sweep jobs run: inline (default), local or slurm")
    p.add_argument("--executor-config", help="the executor's settings file (docs/cluster.md)")
    p.add_argument("--root", help="where datasets live (default $DATADAM_DATA or data/)")
    p.add_argument("--seeds", type=int, nargs="+", help="distillation seeds (default: the target's)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field for every setting, e.g. evaluate.autocast=bf16 (repeatable; "
                        "recorded in the outputs and their titles)")
    p.add_argument("--verbose", action="store_true", help="stream the notebook's output")
    p.add_argument("--overwrite", action="store_true",
                   help="replace output files even where the kit did not write them (no manifest beside them)")


def main(argv: list[str] | None = None) -> int:
    load_all()
    p = Parser(prog="python -m datadam_lib.runner", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="every target: implemented, data, measured cost")
    ls.add_argument("--root", help="where datasets live")
    r = sub.add_parser("run", help="run one target's notebook")
    r.add_argument("target")
    _run_options(r)
    r.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="change one of the target's parameters, e.g. powers=[1,4] (repeatable; `params TARGET` "
                        "lists them; recorded in the outputs)")
    pa = sub.add_parser("params", help="a target's parameters at a scale: their values and what each means")
    pa.add_argument("target")
    pa.add_argument("--scale", default=DEFAULT_SCALE, choices=SCALES)
    pa.add_argument("--dataset", default="", help="the dataset it would run on (default: the target's own)")
    pa.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="as `run --param`")
    al = sub.add_parser("all", help="run every implemented target")
    _run_options(al)
    me = sub.add_parser("measure", help="record the cold wall times of the last runs in kit/measured.toml")
    me.add_argument("--scale", default=DEFAULT_SCALE, choices=SCALES)
    me.add_argument("--machine", required=True, help="the machine they ran on, e.g. '2-core Xeon (AMX), 24 GB'")
    me.add_argument("--targets", nargs="+", help="record only these targets (default: every one with outputs)")
    vd = sub.add_parser("verdicts", help="every results .md's computed verdict, as one table")
    vd.add_argument("--scale", default=DEFAULT_SCALE, choices=SCALES)
    vd.add_argument("--write", metavar="FILE.md", help=f"replace the block between {VERDICTS[0]} and {VERDICTS[1]} "
                    "in this file (docs/targets.md) instead of printing")
    a = p.parse_args(argv)
    try:
        if a.cmd == "list":
            list_targets(a.root)
            return 0
        if a.cmd == "measure":
            print(f"wrote {record_measured(a.scale, a.machine, a.targets)}")
            return 0
        if a.cmd == "verdicts":
            return write_verdicts(a.scale, a.write)
        if a.cmd == "params":
            from .kit.run import RunOptions, describe
            print(describe(a.target, RunOptions(scale=a.scale, dataset=a.dataset), _given_params(get(a.target), a)))
            return 0
        if a.cmd == "run":
            return run_target(a.target, a)
        return run_all(a)
    except TargetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"interrupted{f' ({e.args[0]})' if e.args else ''}; finished jobs are cached (cache writes are "
              "atomic): run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
