"""The command line (``python -m datadam_lib``): a smoke-scale run end to end on
digits, the files it writes, and user errors as one ``error:`` line with exit code 2."""
from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys

import pytest
import torch

from datadam_lib import SyntheticSet, make_config
from datadam_lib.cli import main
from datadam_lib.method.config import from_dict

NARROW = ["--set", "distill.encoder.width=32", "--set", "evaluate.encoder.width=16"]


def _git_head() -> str | None:
    """HEAD of the checkout holding the package, or None outside git."""
    import datadam_lib
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=os.path.dirname(datadam_lib.__file__),
                             capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError:
        return None
    return sha or None


def _check_manifest(m: dict, seed: int) -> None:
    assert m["git_sha"] == _git_head()
    assert m["git_sha"] is None or re.fullmatch(r"[0-9a-f]{40}", m["git_sha"])
    assert m["packages"]["torch"] and m["packages"]["python"] == platform.python_version()
    assert m["device"].startswith("cpu (")                    # these runs pass --device cpu
    assert m["seed"] == seed


def test_distill_then_evaluate_in_process(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["distill", "--dataset", "digits", "--ipc", "1", "--scale", "smoke", "--seed", "3", "--device", "cpu",
               "--out", str(out), "--no-progress", *NARROW])
    assert rc == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ["config.json", "manifest.json", "synthetic.pt"]
    assert not os.path.exists(str(out) + ".checkpoint.pt"), "the checkpoint outlived a finished run"
    cfg = from_dict(json.loads((out / "config.json").read_text()))
    assert cfg == make_config("paper", "smoke", "digits", 1, 3, {"distill.encoder.width": 32,
                                                                 "evaluate.encoder.width": 16})
    man = json.loads((out / "manifest.json").read_text())
    _check_manifest(man, 3)
    assert man["wall_time_s"] >= 0 and man["iterations"] == 3 and man["dataset"] == "digits"
    syn = SyntheticSet.load(str(out))
    assert syn.images.shape == (10, 1, 32, 32) and syn.labels.tolist() == list(range(10))

    rc = main(["evaluate", str(out), "--device", "cpu", "--no-progress"])
    assert rc == 0
    assert "DataDAM digits ipc=1" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["accuracies"]) == 1 and 0 <= metrics["accuracies"][0] <= 1
    assert metrics["mean"] == pytest.approx(metrics["accuracies"][0]) and metrics["std"] == 0
    assert metrics["config"]["encoder"]["width"] == 16 and metrics["config"]["epochs"] == 4
    _check_manifest(metrics["manifest"], 3)

    # --set on evaluate overrides the saved config; --out picks the file
    rc = main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--set", "evaluate.epochs=1",
               "--out", str(tmp_path / "m1.json")])
    assert rc == 0 and json.loads((tmp_path / "m1.json").read_text())["config"]["epochs"] == 1


def test_evaluate_random_in_process(tmp_path, capsys):
    path = tmp_path / "random.json"
    rc = main(["evaluate", "--random", "--dataset", "digits", "--ipc", "2", "--scale", "smoke", "--device", "cpu",
               "--out", str(path), "--no-progress", *NARROW])
    assert rc == 0
    assert "Random digits ipc=2" in capsys.readouterr().out
    m = json.loads(path.read_text())
    assert m["label"] == "Random digits ipc=2" and len(m["accuracies"]) == 1 and 0 <= m["mean"] <= 1


def test_datasets_command(capsys, tmp_path):
    assert main(["datasets", "--root", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^digits\s+present", text, re.M) and re.search(r"^cifar10\s+missing", text, re.M)


# ---------------------------------------------------------------- user errors

def _user_error(capsys, argv) -> str:
    try:
        rc = main(argv)
    except SystemExit as e:         # argparse's own checks (choices, types, required options)
        rc = e.code
    captured = capsys.readouterr()
    assert rc == 2, captured
    err = captured.err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("argv,words", [
    (["distill", "--dataset", "nope", "--out", "X"], "unknown dataset 'nope'"),
    (["distill", "--preset", "papr", "--out", "X"], "argument --preset: invalid choice: 'papr'"),
    (["distill", "--scale", "huge", "--out", "X"], "argument --scale: invalid choice: 'huge'"),
    (["distill", "--set", "distill.method.pwer=2", "--out", "X"], "no config field 'distill.method.pwer'"),
    (["distill", "--set", "distill.ipc", "--out", "X"], "expected FIELD=VALUE"),
    (["distill", "--ipc", "500", "--scale", "smoke", "--device", "cpu", "--out", "X"], "ipc 500 is larger than class"),
    (["evaluate", "--device", "cpu"], "needs a directory written by `distill`, or --random"),
    (["evaluate", "DIR_THAT_DOES_NOT_EXIST", "--device", "cpu"], "synthetic set not found"),
    (["distill", "--dataset", "npz:/no/such/file.npz", "--out", "X"], "not found at /no/such/file.npz"),
])
def test_user_errors_are_one_line(tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    err = _user_error(capsys, argv)
    assert words in err
    if "npz" not in words:                     # DatasetNotFoundError adds "expected:"/"to get it:" lines
        assert err.count("\n") == 1, err
    assert not os.path.exists(tmp_path / "X")


def test_missing_dataset_files(tmp_path, capsys):
    err = _user_error(capsys, ["distill", "--dataset", "cifar10", "--root", str(tmp_path), "--out",
                               str(tmp_path / "o"), "--device", "cpu"])
    assert "dataset 'cifar10' not found at" in err and "--download" in err


def test_garbage_synthetic_set_and_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "synthetic.pt").write_bytes(b"garbage" * 30)
    assert "corrupted" in _user_error(capsys, ["evaluate", str(run), "--device", "cpu"])
    (tmp_path / "new.checkpoint.pt").write_bytes(b"garbage" * 30)
    err = _user_error(capsys, ["distill", "--scale", "smoke", "--ipc", "1", "--device", "cpu", "--no-progress",
                               "--out", str(tmp_path / "new"), *NARROW])
    assert "checkpoint" in err and "corrupted" in err
    assert not (tmp_path / "new").exists()


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["distill"])                           # --out is required
    assert e.value.code == 2 and "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: argument cmd: invalid choice: 'frobnicate'") and err.count("\n") == 1


def test_help_shows_the_choices_and_defaults(capsys):
    with pytest.raises(SystemExit) as e:
        main(["distill", "--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--preset {paper,released,table2}" in text and "--scale {smoke,quick,paper}" in text
    assert "(default: paper)" in text and "(default: quick)" in text and "(default: 10)" in text


def test_internal_errors_are_not_hidden(tmp_path, monkeypatch):
    import datadam_lib.method.data as data_mod

    def broken(*a, **k):
        raise RuntimeError("a bug, not a user error")
    monkeypatch.setattr(data_mod, "load_dataset", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["distill", "--out", str(tmp_path / "o"), "--scale", "smoke"])


# ---------------------------------------------------------------- a real process, as a user runs it

def _run(args, cwd):
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(torch.get_num_threads())}
    return subprocess.run([sys.executable, "-m", "datadam_lib", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_end_to_end_subprocess(tmp_path):
    out = tmp_path / "digits-1"
    p = _run(["distill", "--dataset", "digits", "--ipc", "1", "--scale", "smoke", "--out", str(out), "--no-progress"],
             tmp_path)
    assert p.returncode == 0, p.stderr
    assert {"synthetic.pt", "config.json", "manifest.json"} <= set(os.listdir(out))
    man = json.loads((out / "manifest.json").read_text())
    for key in ("git_sha", "packages", "device", "seed", "wall_time_s"):
        assert key in man
    assert man["seed"] == 0 and man["scale"] == "smoke" and man["preset"] == "paper"
    syn = torch.load(out / "synthetic.pt", weights_only=True)
    assert syn["images"].shape == (10, 1, 32, 32) and torch.isfinite(syn["images"]).all()

    p = _run(["evaluate", str(out), "--no-progress"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads((out / "metrics.json").read_text())["accuracies"]

    p = _run(["evaluate", "--random", "--dataset", "digits", "--ipc", "1", "--scale", "smoke", "--no-progress"],
             tmp_path)
    assert p.returncode == 0, p.stderr
    assert os.path.isfile(tmp_path / "random-digits-ipc1.json")        # the default output name

    p = _run(["distill", "--preset", "nope", "--out", str(tmp_path / "x")], tmp_path)
    assert p.returncode == 2 and p.stderr == ("error: argument --preset: invalid choice: 'nope' (choose from 'paper', "
                                              "'released', 'table2') (see python -m datadam_lib distill --help)\n")


# ---------------------------------------------------------------- evaluate DIR: what applies to a made set

def test_evaluate_dir_applies_scale_and_seed(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["distill", "--ipc", "1", "--scale", "smoke", "--seed", "3", "--device", "cpu", "--out", str(out),
                 "--no-progress", *NARROW]) == 0
    m = tmp_path / "m.json"
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--out", str(m), "--scale", "quick",
                 "--seed", "7", "--set", "evaluate.epochs=1"]) == 0
    metrics = json.loads(m.read_text())
    # quick scale's 3 models (--set still wins over the scale's epochs), drawn with seed 7; the set's own seed kept
    assert len(metrics["accuracies"]) == 3 and metrics["config"]["epochs"] == 1
    assert metrics["manifest"]["seed"] == 7 and metrics["manifest"]["distill_seed"] == 3
    assert metrics["manifest"]["scale"] == "quick" and metrics["manifest"]["distill_scale"] == "smoke"
    assert "smoke scale" not in capsys.readouterr().out
    # the set's own values for --ipc/--dataset/--preset are accepted (they agree)
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--out", str(m), "--ipc", "1",
                 "--dataset", "digits", "--preset", "paper"]) == 0


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_says_where_the_checkpoint_is_and_the_same_command_resumes(tmp_path, capsys, monkeypatch):
    import importlib
    import signal
    distill_mod = importlib.import_module("datadam_lib.method.distill")
    out = tmp_path / "run"
    argv = ["distill", "--ipc", "1", "--scale", "smoke", "--device", "cpu", "--no-progress", *NARROW, "--out"]
    real, calls = distill_mod.step, []

    def step(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            signal.raise_signal(signal.SIGINT)          # Ctrl-C during iteration 2
        return real(*a, **k)
    monkeypatch.setattr(distill_mod, "step", step)
    assert main([*argv, str(out)]) == 130
    err = capsys.readouterr().err
    ckpt = str(out.resolve()) + ".checkpoint.pt"
    assert err == (f"interrupted at iteration 2; the checkpoint {ckpt} holds the run so far: run the same command "
                   "again to resume from it\n")
    assert not out.exists() and os.path.isfile(ckpt)
    monkeypatch.undo()
    assert main([*argv, str(out)]) == 0
    assert "resumed at iteration 2" in capsys.readouterr().out
    assert SyntheticSet.load(str(out)).info["resumed_at"] == [2] and not os.path.exists(ckpt)
    assert main([*argv, str(tmp_path / "straight")]) == 0          # uninterrupted: the same images
    assert torch.equal(SyntheticSet.load(str(out)).images, SyntheticSet.load(str(tmp_path / "straight")).images)


def test_ctrl_c_of_a_real_process_is_one_line(tmp_path):
    """SIGINT to `python -m datadam_lib distill` while it distils: exit code
    130, one line (no KeyboardInterrupt traceback), a checkpoint to resume."""
    import signal
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": str(torch.get_num_threads())}
    p = subprocess.Popen([sys.executable, "-m", "datadam_lib", "distill", "--ipc", "1", "--scale", "smoke",
                          "--device", "cpu", "--out", str(out), "--set", "distill.iterations=100000",
                          "--checkpoint-every", "100000", *NARROW], cwd=tmp_path, env=env,
                         stderr=subprocess.PIPE, text=True)
    seen = ""
    while "it/s]" not in seen and "s/it]" not in seen:           # the progress bar: iterations are running
        ch = p.stderr.read(1)
        assert ch, f"the process ended early: {seen}"
        seen += ch
    p.send_signal(signal.SIGINT)
    try:
        _, rest = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError(f"still running 120 s after SIGINT: {seen}") from None
    assert p.returncode == 130
    last = rest.strip().splitlines()[-1]
    assert last.startswith("interrupted at iteration ") and "run the same command again to resume" in last
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    assert os.path.isfile(str(out) + ".checkpoint.pt") and not out.exists()
