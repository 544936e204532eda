"""The target registry, the runner behind ``./reproduce.sh`` (list, errors,
one smoke run end to end) and the manifests written beside every output."""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time

import papermill
import pytest

from datadam_lib import targets
from datadam_lib.data import DatasetNotFoundError
from datadam_lib.targets import ORDER, SCALES, TARGETS, kit_root, main

KIT = kit_root()
IMPLEMENTED = [n for n in ORDER if TARGETS[n].implemented]
MANIFEST_KEYS = {"git_sha", "git_dirty", "packages", "device", "seed", "scale", "preset", "parameters",
                 "start_time", "end_time", "target", "dataset"}


def test_every_artefact_of_the_supplement_is_a_target():
    expected = {"quickstart", "table3", "table4", "table5"} | {f"fig{i}" for i in range(1, 23)}
    assert set(TARGETS) == expected and sorted(ORDER) == sorted(expected)
    assert {"quickstart", "fig1", "fig5", "fig6"} <= set(IMPLEMENTED)


@pytest.mark.parametrize("name", ORDER)
def test_notebook_exists_exactly_when_implemented(name):
    t = TARGETS[name]
    assert t.notebook == f"notebooks/{name}.ipynb"
    assert os.path.isfile(os.path.join(KIT, t.notebook)) == t.implemented
    assert set(t.params_per_scale) == set(SCALES) and set(t.cost) == set(SCALES)
    assert any(o.startswith("figures/") for o in t.outputs) and t.title and t.datasets


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_parameters_per_scale_are_accepted_by_the_notebook(name):
    t = TARGETS[name]
    declared = {p["name"]: p for p in papermill.inspect_notebook(os.path.join(KIT, t.notebook)).values()}
    for scale in SCALES:
        assert set(t.params_per_scale[scale]) <= set(declared), scale
    # the runner passes these, so the notebook must declare them too
    assert {"scale", "dataset", "preset", "force", "executor", "executor_config", "data_root", "seeds"} <= set(declared)
    # the notebook's own defaults are the quick scale's parameters
    for k, v in t.params_per_scale["quick"].items():
        assert ast.literal_eval(declared[k]["default"]) == v, k
    assert 'os.environ.get("DATADAM_SCALE", "quick")' in declared["scale"]["default"]


def test_paper_numbers_keep_the_unverified_marks():
    qs = TARGETS["quickstart"].paper_numbers
    assert qs.lookup("IPC 1", "datadam").unverified and "(unverified)" in qs.lookup("IPC 1", "datadam").text()
    assert not qs.lookup("IPC 10", "datadam").unverified and qs.lookup("IPC 10", "datadam").value == "54.2 ± 0.8"
    t3 = TARGETS["table3"].paper_numbers
    assert t3.lookup("IPC 50", "datadam").unverified and t3.lookup("IPC 10", "pixel-mmd").value == "34.9 ± 0.3"
    assert TARGETS["table5"].paper_numbers.lookup("correlation", "datadam").value == "0.07"
    for n in ("fig1", "fig5", "fig6"):
        p = TARGETS[n].paper_numbers
        assert p.dataset == "CIFAR-10" and p.finding
    assert TARGETS["fig1"].paper_numbers.lookup("p=1") is None   # only the figure shows it


def test_list_shows_every_target(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for n in ORDER:
        assert re.search(rf"^{n}\s+(yes|no)\s", out, re.M), n
    assert re.search(r"^fig1\s+yes\s+cifar10: (present|missing)", out, re.M)
    assert re.search(r"^quickstart\s+yes\s+digits: present", out, re.M)


@pytest.mark.parametrize("argv, message", [
    (["run", "fig99"], "unknown target 'fig99'"),
    (["run", "fig2"], "registered but not implemented yet"),
    (["run", "table4"], "not implemented yet; implemented targets: quickstart"),
])
def test_cli_errors_are_one_clear_line(argv, message, capsys):
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
        targets.start("fig1", "smoke", "cifar10", data_root=str(tmp_path))


def test_reproduce_sh_unknown_target(tmp_path):
    venv = os.path.dirname(os.path.dirname(sys.executable))
    env = {**os.environ, "VIRTUAL_ENV": venv, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    r = subprocess.run([os.path.join(KIT, "reproduce.sh"), "nosuchtarget"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 2 and "unknown target 'nosuchtarget'" in r.stderr and "Traceback" not in r.stderr


def test_manifests_beside_figure_csv_and_table(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    run = targets.start("fig1", "smoke", "digits", params={"seeds": [3], "powers": [1, 2]})
    fig = Figure()
    fig.subplots().plot([1, 2])
    paths = run.save_figure(fig)
    assert paths == [str(tmp_path / "figures" / "fig1.png"), str(tmp_path / "figures" / "fig1.pdf")]
    summary = [{"setting": "p=1", "kind": "datadam", "mean": 50.0, "std": 1.0, "n_models": 2},
               {"setting": "p=4", "kind": "datadam", "mean": 60.0, "std": 2.0, "n_models": 2}]
    csv = run.save_csv(summary, rows=[{"setting": "p=1", "seed": 3}])
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
    assert "| p=4 | 60.0 ± 2.0 | 54.2 ± 0.8" in table and "| p=1 | 50.0 ± 1.0 | figure only" in table


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
    assert "| l2 |" in out and "Not comparable" in out
    with open(tmp_path / "results" / "smoke" / "fig6.ipynb") as f:
        assert "(computed," in f.read()
    t0 = time.time()
    assert main(argv) == 0
    with open(tmp_path / "results" / "smoke" / "fig6.ipynb") as f:
        text = f.read()
    assert "(computed," not in text and "(cached," in text
    assert time.time() - t0 < 120
