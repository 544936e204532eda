"""The runner behind ``./reproduce.sh`` (list, errors, one smoke run end to
end, failures that leave the previous outputs alone) and the reports and
manifests written beside every output."""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import time

import papermill
import pytest

from datadam_lib import runner
from datadam_lib.families import load_all
from datadam_lib.kit import report
from datadam_lib.kit.paths import kit_root
from datadam_lib.kit.registry import TARGETS, ordered
from datadam_lib.kit.run import RunOptions
from datadam_lib.method.data import DatasetNotFoundError
from datadam_lib.runner import main

load_all()
KIT = kit_root()
ORDER = [t.name for t in ordered()]
IMPLEMENTED = [n for n in ORDER if TARGETS[n].implemented]
MANIFEST_KEYS = {"git_sha", "git_dirty", "packages", "device", "seed", "scale", "preset", "parameters",
                 "start_time", "end_time", "target", "dataset", "command"}


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_the_notebook_declares_what_the_runner_passes(name):
    t = TARGETS[name]
    declared = {p["name"]: p for p in papermill.inspect_notebook(os.path.join(KIT, t.notebook)).values()}
    # the run options (kit/run.py RunOptions, what the runner passes) and one `params` dict: the target's own
    # parameters (its sweep axes) live in the registry only, so a notebook cannot drift from them
    options = {f.name for f in dataclasses.fields(RunOptions)}
    assert set(declared) == options | {"params"} | ({"target"} if t.notebook_name else set())
    assert declared["params"]["default"] == "{}"
    assert 'os.environ.get("DATADAM_SCALE", "quick")' in declared["scale"]["default"]
    args = argparse.Namespace(scale="smoke", preset="paper", force=True, dataset="digits", root="/d", executor="local",
                              executor_config="/c.json", seeds=[1])
    assert set(runner._params(t, args)) <= set(declared)


def test_list_shows_every_target_within_100_columns(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for n in ORDER:
        assert re.search(rf"^{n}\s+(yes|no)\s", out, re.M), n
    assert re.search(r"^fig1\s+yes\s+cifar10 \((here|missing)\)", out, re.M)
    assert re.search(r"^quickstart\s+yes\s+digits \(here\)", out, re.M)
    assert max(len(line) for line in out.splitlines()) <= 100
    # only notebooks that exist are named
    for path in re.findall(r"\[(notebooks/\S+)\]", out):
        assert os.path.isfile(os.path.join(KIT, path)), path


@pytest.mark.parametrize("argv, message", [
    (["run", "fig99"], "unknown target 'fig99'"),
    (["run", "planned"], "registered but not implemented yet; implemented targets: quickstart"),
    (["run", "fig1", "--preset", "nope"], None),
])
def test_cli_errors_are_one_clear_line(argv, message, capsys, monkeypatch):
    from datadam_lib.kit import registry
    monkeypatch.setitem(registry.TARGETS, "planned", registry.Target("planned", "a planned target", "ablations",
                                                                     ("digits",), implemented=False))
    if message is None:       # an argparse choice: usage plus one error line
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
        return
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_bad_scale_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", "fig1", "--scale", "huge"])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_missing_dataset_says_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DATADAM_DATASET", raising=False)
    assert main(["run", "fig1", "--scale", "smoke", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fig1 needs dataset 'cifar10'" in err and "--dataset digits" in err and "--root" in err
    assert "Traceback" not in err
    with pytest.raises(DatasetNotFoundError, match="--dataset digits"):
        report.start("fig1", "smoke", "cifar10", data_root_=str(tmp_path))


def test_reproduce_sh_unknown_target(tmp_path):
    venv = os.path.dirname(os.path.dirname(sys.executable))
    env = {**os.environ, "VIRTUAL_ENV": venv, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    r = subprocess.run([os.path.join(KIT, "reproduce.sh"), "nosuchtarget"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 2 and "unknown target 'nosuchtarget'" in r.stderr and "Traceback" not in r.stderr


def test_manifests_beside_figure_csv_and_table(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    run = report.start("fig1", "smoke", "digits", params={"seeds": [3], "powers": [1, 2]})
    fig = Figure()
    fig.subplots().plot([1, 2])
    paths = run.save_figure(fig)
    assert paths == [str(tmp_path / "figures" / "smoke" / "fig1.png"), str(tmp_path / "figures" / "smoke" / "fig1.pdf")]
    summary = [{"setting": "power=1", "label": "1", "kind": "datadam", "mean": 50.0, "std": 1.0, "n_models": 2},
               {"setting": "power=4", "label": "4", "kind": "datadam", "mean": 60.0, "std": 2.0, "n_models": 2}]
    csv = run.save_csv(summary, rows=[{"setting": "power=1", "seed": 3}])
    assert csv == str(tmp_path / "results" / "smoke" / "fig1.csv")
    table = run.table(summary)
    for p in paths + [csv, str(tmp_path / "results" / "smoke" / "fig1.md")]:
        assert os.path.isfile(p)
        with open(p + ".manifest.json") as f:
            m = json.load(f)
        assert MANIFEST_KEYS <= set(m), p
        assert m["scale"] == "smoke" and m["preset"] == "paper" and m["seed"] == [3] and m["dataset"] == "digits"
        assert m["parameters"]["powers"] == [1, 2] and m["start_time"] <= m["end_time"]
        assert m["packages"]["torch"] and isinstance(m["git_dirty"], (bool, type(None)))
    # labelled with dataset, scale and preset, and never presented as comparable with the paper
    assert "digits · smoke scale · paper preset" in table and "Not comparable" in table
    assert "| 4 | 60.0 ± 2.0 | 54.2 ± 0.8" in table and "| 1 | 50.0 ± 1.0 | — |" in table


def test_run_a_target_end_to_end_then_from_the_cache(tmp_path, monkeypatch, capsys):
    """fig6 at smoke scale on digits through papermill: executed notebook,
    figure, CSV, table, manifests; the second run reuses the cache."""
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    argv = ["run", "fig6", "--scale", "smoke", "--dataset", "digits"]
    assert main(argv) == 0
    for o in TARGETS["fig6"].outputs_for("smoke"):
        assert os.path.isfile(tmp_path / o), o
        assert os.path.isfile(str(tmp_path / o) + ".manifest.json"), o
    with open(tmp_path / "results" / "smoke" / "fig6.ipynb.manifest.json") as f:
        m = json.load(f)
    assert m["status"] == "ok" and m["parameters"]["dataset"] == "digits" and MANIFEST_KEYS <= set(m)
    out = capsys.readouterr().out
    assert "| l2 |" in out and "Not comparable" in out and "What this run shows" not in out
    command = "./reproduce.sh fig6 --scale smoke --preset paper --dataset digits"   # what its outputs name
    with open(tmp_path / "results" / "smoke" / "fig6.md.manifest.json") as f:
        kernel = json.load(f)["device"]                               # the kernel's threads, not the runner's
    assert m["command"] == command and out.rstrip().endswith(f"*Made by* `{command}` *on {kernel}.*")
    with open(tmp_path / "figures" / "smoke" / "fig6.png.manifest.json") as f:
        assert json.load(f)["command"] == command
    with open(tmp_path / "results" / "smoke" / "fig6.ipynb") as f:
        assert "(computed," in f.read()
    t0 = time.time()
    assert main(argv) == 0
    with open(tmp_path / "results" / "smoke" / "fig6.ipynb") as f:
        text = f.read()
    assert "(computed," not in text and "(cached," in text
    assert time.time() - t0 < 120


def test_a_failed_run_leaves_the_previous_outputs_alone(tmp_path, monkeypatch, capsys):
    """A run whose notebook fails publishes nothing: the previous figure, CSV
    and their manifests stay as they were; the failed notebook and a manifest
    saying why sit apart from them."""
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    argv = ["run", "fig6", "--scale", "smoke", "--dataset", "digits"]
    assert main(argv) == 0
    fig = tmp_path / "figures" / "smoke" / "fig6.png"
    before = {p: p.read_bytes() for p in (fig, tmp_path / "results" / "smoke" / "fig6.csv",
                                          tmp_path / "results" / "smoke" / "fig6.csv.manifest.json")}
    # an executor that does not exist makes the notebook's sweep fail
    assert main(argv + ["--executor", "nosuch", "--force"]) == 1
    assert {p: p.read_bytes() for p in before} == before
    failed = tmp_path / "results" / "smoke" / "fig6.failed.ipynb"
    assert failed.is_file()
    with open(str(failed) + ".manifest.json") as f:
        m = json.load(f)
    assert m["status"] == "failed" and "nosuch" in m["error"]
    assert not list((tmp_path / "results").glob(".stage-*"))
    assert "previous outputs are unchanged" in capsys.readouterr().err
    assert main(argv) == 0 and not failed.exists()


def test_measure_records_cold_runs_and_the_compute_of_warm_ones(tmp_path, monkeypatch):
    """``runner measure``: a run is cold when none of its jobs reused a cached
    set, evaluation or NAS training ("cached"); a warm run records the compute
    of the sets and evaluations it used, each counted once (fig4 evaluates one
    set four ways); failed runs never count."""
    import tomllib

    from datadam_lib import runner
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setattr(runner, "MEASURED_FILE", str(tmp_path / "measured.toml"))
    results = tmp_path / "results" / "quick"
    results.mkdir(parents=True)
    runs = {"cold": ("ok", [{"distill_cached": False, "eval_cached": False}]),
            "warm": ("ok", [{"distill_cached": True, "eval_cached": False, "synthetic_dir": "s", "distill_s": 60,
                             "eval_path": "e1", "eval_s": 30},
                            {"distill_cached": True, "eval_cached": True, "synthetic_dir": "s", "distill_s": 60,
                             "eval_path": "e2", "eval_s": 20}]),
            "nas_warm": ("ok", [{"cached": False}, {"cached": True}]),
            "nas_cold": ("ok", [{"cached": False}]),
            "failed": ("failed", [])}
    for i, (name, (status, jobs)) in enumerate(runs.items()):
        (results / f"{name}.ipynb.manifest.json").write_text(
            json.dumps({"target": name, "status": status, "wall_time_s": 100.0 + i, "dataset": "npz:/x/y.npz",
                        "start_time": "2026-12-04T18:00:00"}))
        (results / f"{name}.csv.manifest.json").write_text(json.dumps({"jobs": jobs}))
    runner.record_measured("quick", "a test machine")
    with open(tmp_path / "measured.toml", "rb") as f:
        got = tomllib.load(f)
    where = {"quick_dataset": "npz:y.npz", "quick_machine": "a test machine", "quick_date": "2026-12-04"}
    assert got == {"cold": {"quick_cold_s": 100.0, **where}, "nas_cold": {"quick_cold_s": 103.0, **where},
                   "warm": {"quick_work_s": 110.0, **where}, "nas_warm": {"quick_work_s": 0.0, **where},
                   "machine": {"quick": "a test machine"}}
    # only the named targets change, the machine line under `list` too stays; a run made with --param says so
    manifest = results / "cold.ipynb.manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()),
                                    "parameters": {"params": {"architectures": 100, "depths": [1, 2]}}}))
    runner.record_measured("quick", "another machine", targets=["cold"])
    with open(tmp_path / "measured.toml", "rb") as f:
        again = tomllib.load(f)
    assert again["cold"]["quick_machine"] == "another machine" and again["warm"] == got["warm"]
    assert again["machine"] == {"quick": "a test machine"}
    assert again["cold"]["quick_params"] == "architectures=100 depths=[1, 2]" and "quick_params" not in again["warm"]
    with pytest.raises(runner.TargetError, match="no run of table4 under .*results/quick"):   # nothing to read
        runner.record_measured("quick", "a test machine", targets=["cold", "table4"])
    with open(tmp_path / "measured.toml", "rb") as f:
        assert tomllib.load(f) == again


def test_all_records_every_target_and_whether_it_started_cold(tmp_path, monkeypatch, request):
    """``all`` writes results/<scale>/all.json (each target's status and time,
    the whole run's, cold or not), and ``runner measure`` keeps the whole
    kit's time only for a cold run in which every target succeeded."""
    import tomllib

    from datadam_lib import runner
    from datadam_lib.families.visuals import GRID_TARGETS
    from datadam_lib.kit.registry import ordered
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    from datadam_lib.kit import registry
    for module in (runner, registry):      # list_targets reads what measure writes
        monkeypatch.setattr(module, "MEASURED_FILE", str(tmp_path / "measured.toml"))
    registry.measured.cache_clear()
    request.addfinalizer(registry.measured.cache_clear)   # later tests read the kit's own file again
    ran = []
    monkeypatch.setattr(runner, "run_target", lambda name, a: ran.append(name) or 0)
    implemented = [t.name for t in ordered() if t.implemented]
    runnable = [n for n in implemented if n not in GRID_TARGETS]   # image grids need their own data, not digits
    record = tmp_path / "out" / "results" / "quick" / "all.json"

    assert runner.main(["all", "--scale", "quick", "--dataset", "digits"]) == 0
    got = json.loads(record.read_text())
    assert ran == runnable and [t["target"] for t in got["targets"]] == implemented
    assert got["cold_start"] is True and all(t["status"] == "ok" for t in got["targets"] if t["target"] in runnable)
    assert all(t["status"].startswith("skipped: needs ") for t in got["targets"] if t["target"] in GRID_TARGETS)
    assert got["dataset"] == "digits" and got["wall_time_s"] >= 0
    runner.record_measured("quick", "a test machine")
    with open(tmp_path / "measured.toml", "rb") as f:
        whole = tomllib.load(f)["all"]
    assert whole["quick_targets"] == len(runnable) and whole["quick_dataset"] == "digits"
    out = io.StringIO()
    runner.list_targets(file=out)
    text = " ".join(out.getvalue().split())
    assert "the whole kit at quick scale" in text and f"{len(runnable)} targets in" in text
    assert " 0.0 min* " in text        # each target's time within the run (the fake ones took ~0 s)

    (tmp_path / "cache" / "sets" / "some-set").mkdir(parents=True)     # a warm run is not the whole kit's time
    (tmp_path / "measured.toml").unlink()
    assert runner.main(["all", "--scale", "quick", "--dataset", "digits"]) == 0
    assert json.loads(record.read_text())["cold_start"] is False
    runner.record_measured("quick", "a test machine")
    with open(tmp_path / "measured.toml", "rb") as f:
        assert "all" not in tomllib.load(f)


def test_a_relative_npz_path_reaches_the_notebook(tmp_path, monkeypatch):
    """``--dataset npz:RELATIVE`` is relative to where the user runs the kit,
    not to notebooks/ where the kernel runs (a CIFAR-10-slice run of table3
    failed so)."""
    import numpy as np
    from sklearn.datasets import load_digits

    from datadam_lib.kit.paths import absolute_dataset
    d = load_digits()
    x = (d.images[:, None] * 16).astype(np.uint8)              # (N, 1, 8, 8), 0..255
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "d.npz", x_train=x[:1200], y_train=d.target[:1200], x_test=x[1200:],
             y_test=d.target[1200:])
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    assert absolute_dataset("npz:data/d.npz") == f"npz:{tmp_path}/data/d.npz"
    assert absolute_dataset("folder:f") == f"folder:{tmp_path}/f" and absolute_dataset("digits") == "digits"
    # --param reaches the notebook's params: two of fig6's three normalisations run
    assert main(["run", "fig6", "--scale", "smoke", "--dataset", "npz:data/d.npz",
                 "--param", "norms=['l2','none']"]) == 0
    with open(tmp_path / "out" / "results" / "smoke" / "fig6.ipynb.manifest.json") as f:
        parameters = json.load(f)["parameters"]
    assert parameters["dataset"] == f"npz:{tmp_path}/data/d.npz" and parameters["params"] == {"norms": ["l2", "none"]}
    rows = report.read_csv(str(tmp_path / "out" / "results" / "smoke" / "fig6.csv"))
    assert [r["setting"] for r in rows] == ["norm=l2", "norm=none"]


def test_a_parameter_the_target_does_not_take_is_refused_before_it_runs(capsys):
    assert main(["run", "fig6", "--scale", "smoke", "--dataset", "digits", "--param", "norm=l2"]) == 2
    assert "fig6 has no parameter 'norm'; its parameters: " in capsys.readouterr().err
    assert main(["run", "fig6", "--scale", "smoke", "--dataset", "digits", "--param", "norms"]) == 2
    assert "--param 'norms': expected NAME=VALUE" in capsys.readouterr().err


def test_the_command_an_output_names_is_the_one_that_makes_it_again():
    """Every option that changes the results, in the order a user types them;
    none that does not (--force, --executor, --root); a dataset file without
    its local directory; shell-special values quoted."""
    import argparse

    from datadam_lib.runner import command_line
    a = argparse.Namespace(scale="quick", preset="paper", seeds=[0, 1], set=["distill.autocast=bf16"],
                           param=["powers=[1,4]"], force=True, executor="local", root="/data")
    assert command_line("fig1", a, "cifar10-5k:npz:/home/me/data/cifar10-mini.npz") == (
        "./reproduce.sh fig1 --scale quick --preset paper --dataset cifar10-5k:npz:…/cifar10-mini.npz "
        "--seeds 0 1 --set distill.autocast=bf16 --param 'powers=[1,4]'")
    b = argparse.Namespace(scale="smoke", preset="table2", seeds=None, set=[])
    assert command_line("table1", b, "cifar10") == "./reproduce.sh table1 --scale smoke --preset table2 --dataset cifar10"
