"""Nothing lost, nothing silently wrong (issue 22): what a hostile new user
found, each case as it was met. Every test here failed on the code before its
fix (or with the fix planted away in a scratch copy)."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from datadam_lib import SyntheticSet, runner
from datadam_lib.cli import main
from datadam_lib.method import evaluate as evaluate_module
from datadam_lib.method import io
from datadam_lib.method.data import DataError, image_folder
from datadam_lib.method.distill import distill
from datadam_lib.method.evaluate import EvalResult

CPU = ["--device", "cpu", "--no-progress"]
SMOKE = ["--scale", "smoke", "--set", "distill.encoder.width=16", "--set", "evaluate.encoder.width=16", *CPU]


def _digits_set(small_config, seed: int = 0, ipc: int = 1) -> SyntheticSet:
    """A set shaped like digits (10 classes of 1x32x32) without distilling."""
    g = torch.Generator().manual_seed(seed)
    return SyntheticSet(torch.randn(10 * ipc, 1, 32, 32, generator=g), torch.arange(10).repeat_interleave(ipc),
                        [str(k) for k in range(10)], small_config(ipc=ipc), [1.0], {}, {"seed": seed})


@pytest.fixture
def no_training(monkeypatch):
    """``evaluate`` without training models: one model at 50 %."""
    monkeypatch.setattr(evaluate_module, "evaluate", lambda *a, **k: EvalResult([0.5], 0.0, {}))


def _other_digits(path) -> str:
    """An npz of digits' shape (10 classes, 32x32, one channel) but other images."""
    y = np.arange(10).repeat(2)
    x = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 1), dtype=np.uint8)
    np.savez(path, x_train=x, y_train=y, x_test=x[::2], y_test=y[::2])
    return f"npz:{path}"


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ---------------------------------------------------------------- 1, 5: evaluations beside a set

def test_redistilling_keeps_an_evaluation_whose_name_the_user_chose(tmp_path, small_config, no_training):
    """Issue 22.1: re-distilling into DIR deleted DIR/my-eval.json, which the
    user had named, even when the new set was bit-identical."""
    out = tmp_path / "run"
    _digits_set(small_config).save(str(out))
    assert main(["evaluate", str(out), "--out", str(out / "my-eval.json"), *CPU]) == 0
    assert main(["evaluate", str(out), *CPU]) == 0                     # the kit's own name: DIR/metrics.json
    _digits_set(small_config).save(str(out))                           # the very same set again
    assert {"my-eval.json", "metrics.json"} <= set(os.listdir(out))    # both still describe the set there
    _digits_set(small_config, seed=1).save(str(out))                   # another set
    assert (out / "my-eval.json").is_file()                            # never the kit's to delete
    assert not (out / "metrics.json").exists()                         # the kit's, of the set replaced


def test_a_moved_sets_evaluation_is_stale_when_it_is_redistilled(tmp_path, small_config, no_training):
    """Issue 22.5: after `mv` of an evaluated set, re-distilling left the old
    metrics.json (ipc 1) beside the new ipc 2 set (matched by absolute path)."""
    a, b = tmp_path / "a", tmp_path / "b"
    _digits_set(small_config).save(str(a))
    assert main(["evaluate", str(a), *CPU]) == 0
    os.rename(a, b)
    _digits_set(small_config).save(str(b))                             # the same set: its evaluation holds
    assert (b / "metrics.json").is_file()
    _digits_set(small_config, ipc=2).save(str(b))
    assert not (b / "metrics.json").exists()


# ---------------------------------------------------------------- 4: which data an evaluation used

def test_evaluate_refuses_other_data_unless_asked_and_records_it(tmp_path, small_config, no_training, capsys):
    """Issue 22.4: a set evaluated on other data of the same shape, silently;
    with --load no dataset recorded at all; --ipc ignored."""
    out = tmp_path / "run"
    _digits_set(small_config).save(str(out))
    other = _other_digits(tmp_path / "other.npz")
    capsys.readouterr()
    for argv in (["evaluate", str(out), "--set", f"dataset={other}"],
                 ["evaluate", "--load", str(out), "--dataset", other]):
        assert main(argv + CPU) == 2
        assert "--allow-other-data" in _one_error_line(capsys.readouterr().err)
    assert main(["evaluate", "--load", str(out), "--ipc", "5", *CPU]) == 2
    assert "holds 1 images per class" in _one_error_line(capsys.readouterr().err)
    assert not list(tmp_path.rglob("*metrics.json"))

    assert main(["evaluate", str(out), "--set", f"dataset={other}", "--allow-other-data", *CPU]) == 0
    m = json.loads((out / "metrics.json").read_text())["manifest"]
    assert (m["set_dataset"], m["dataset"], m["other_data"]) == ("digits", other, True)
    assert main(["evaluate", "--load", str(out), "--out", str(tmp_path / "l.json"), *CPU]) == 0   # its own data
    m = json.loads((tmp_path / "l.json").read_text())["manifest"]
    assert (m["set_dataset"], m["dataset"], m["other_data"]) == ("digits", "digits", False)


# ---------------------------------------------------------------- 6: two runs of one target

def _write_notebook(path) -> None:
    with open(path, "w") as f:
        f.write("{}")


def _fake_papermill(monkeypatch, run):
    import papermill
    monkeypatch.setattr(papermill, "execute_notebook", lambda src, out_nb, **kw: run(out_nb))


def test_a_run_leaves_a_live_runs_stage_alone(tmp_path, monkeypatch, capsys):
    """Issue 22.6: two runs of one target at once failed 2 of 2, each deleting
    the other's live stage; the loser named a failed notebook that did not exist."""
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    results.mkdir()
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        theirs, killed = results / f".stage-fig6-{live.pid}-x", results / f".stage-fig6-{dead}-x"
        for stage in (theirs, killed):
            stage.mkdir()
            (stage / "half-written").write_text("")
        _fake_papermill(monkeypatch, _write_notebook)
        assert runner.main(["run", "fig6", "--scale", "smoke", "--dataset", "digits"]) == 0
        assert (theirs / "half-written").is_file() and not killed.exists()
        assert (results / "smoke" / "fig6.ipynb").is_file()
    finally:
        live.kill()
        live.wait()

    def dies(nb):
        raise RuntimeError("Kernel died")
    _fake_papermill(monkeypatch, dies)
    capsys.readouterr()
    assert runner.main(["run", "fig6", "--scale", "smoke", "--dataset", "digits"]) == 1
    err = capsys.readouterr().err
    assert "Kernel died" in err and "no notebook was executed" in err and "failed.ipynb" not in err
    assert not (results / "smoke" / "fig6.failed.ipynb").exists()


def test_ctrl_c_during_a_target_is_one_line(tmp_path, monkeypatch, capsys, caplog, request):
    """Issue 22.8: Ctrl-C during a target: one line (it printed three, and
    papermill's and asyncio's reports of the kernel stopped), saying the
    previous outputs stand and where the notebook so far is."""
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    asyncio_log = logging.getLogger("asyncio")
    request.addfinalizer(lambda level=asyncio_log.level: asyncio_log.setLevel(level))  # silenced for the exit

    def interrupted(nb):
        _write_notebook(nb)
        logging.getLogger("papermill").error("Kernel died while waiting for execute reply.")   # as nbclient does
        raise KeyboardInterrupt
    _fake_papermill(monkeypatch, interrupted)
    assert runner.main(["run", "fig6", "--scale", "smoke", "--dataset", "digits"]) == 130
    assert "Kernel died" not in caplog.text and not asyncio_log.isEnabledFor(logging.ERROR)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("fig6: ") and err[1].startswith("  digits")    # what runs, as before
    assert len(err) == 3 and err[2].startswith("interrupted (fig6: the previous outputs are unchanged; "), err
    assert err[2].split("stopped: ")[1].split(")")[0].endswith("fig6.failed.ipynb")
    assert (tmp_path / "results" / "smoke" / "fig6.failed.ipynb").is_file()


# ---------------------------------------------------------------- 7: one model has no spread

def test_one_model_prints_no_spread(monkeypatch, capsys):
    """Issue 22.7: num_models=1 printed '48.33 +- 0.00 %'."""
    assert str(EvalResult([0.4833], 1.0)) == "48.33 % (n = 1)"
    assert str(EvalResult([0.5, 0.7], 1.0)) == "60.00 +- 10.00 % (2 models)"
    from datadam_lib.kit import sweep

    def rows(*a, **k):
        return [{"setting": "ipc=1", "kind": kind, "seed": 0, "accuracies": accs, "dataset": "digits",
                 "scale": "smoke", "preset": "paper", "ipc": 1, "overrides": {}, "image_change": 0.5}
                for kind, accs in (("random", [0.3]), ("datadam", [0.4, 0.5]))]
    monkeypatch.setattr(sweep, "run_sweep", rows)
    assert main(["quickstart", "--ipcs", "1", "--device", "cpu"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1 |"))
    assert row.startswith("| 1 | 30.0 (n = 1) | 45.0 ± 5.0 | +15.0 | 2 |"), row


# ---------------------------------------------------------------- 8: tracebacks that became one line

def test_a_label_of_2_to_the_40_is_one_error_line(tmp_path, capsys):
    """Issue 22.8: one label 2**40 in an npz built 2**40 class names (MemoryError)."""
    y = np.arange(10).repeat(2)
    y[3] = 2**40
    np.savez(tmp_path / "d.npz", x_train=np.zeros((20, 8, 8), np.uint8), y_train=y,
             x_test=np.zeros((10, 8, 8), np.uint8), y_test=np.arange(10))
    assert main(["evaluate", "--random", "--dataset", f"npz:{tmp_path}/d.npz", "--ipc", "1", *SMOKE]) == 2
    assert "labels go up to 1099511627776 but there are only 20 training images" in \
        _one_error_line(capsys.readouterr().err)


def test_a_set_value_nested_5000_deep_is_one_error_line(tmp_path, monkeypatch, capsys):
    """Issue 22.8: a --set value nested 5,000 deep raised RecursionError (both
    command lines)."""
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    deep = "distill.ipc=" + "-" * 5000 + "1"
    assert main(["distill", "--out", str(tmp_path / "x"), "--set", deep, *SMOKE]) == 2
    assert "nested too deeply" in _one_error_line(capsys.readouterr().err)
    assert runner.main(["run", "fig6", "--scale", "smoke", "--dataset", "digits", "--set", deep]) == 2
    assert "nested too deeply" in _one_error_line(capsys.readouterr().err)
    assert not os.listdir(tmp_path)


def _full_disk(monkeypatch):
    """Every atomic write goes to /dev/full (ENOSPC, as on a full disk)."""
    def mkstemp(suffix="", prefix="tmp", dir=None, text=False):
        return os.open("/dev/full", os.O_WRONLY), os.path.join(dir, prefix + "full" + suffix)
    monkeypatch.setattr(io.tempfile, "mkstemp", mkstemp)


def test_a_full_disk_while_checkpointing_names_the_path_and_the_free_space(tmp_path, monkeypatch, capsys,
                                                                            tiny_data, small_config):
    """Issue 22.8: disk full while writing the checkpoint surfaced as torch's
    RuntimeError (OSError 28 inside), with a traceback."""
    _full_disk(monkeypatch)
    ckpt = str(tmp_path / "run.checkpoint.pt")
    cfg = small_config(ipc=1, dataset="tiny", distill__iterations=2)
    with pytest.raises(io.OutputError, match=f"cannot write {ckpt}: the disk is full \\(.* free in {tmp_path}\\)"):
        distill(cfg, tiny_data(), checkpoint=ckpt, checkpoint_every=1, progress=False)
    assert main(["distill", "--out", str(tmp_path / "run"), "--ipc", "1", *SMOKE]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(f"error: cannot write {ckpt}: the disk is full (") and " free in " in line
    assert os.listdir(tmp_path) == []                     # nothing half-written, the lock file gone


# ---------------------------------------------------------------- 2, 9: folders, checkpoints, one --out

def _image(path, value: int, fmt: str | None = None) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((4, 4, 3), value, np.uint8)).save(path, format=fmt)


def test_folder_reads_gif_webp_tif_and_refuses_links_to_directories(tmp_path):
    """Issue 22.9: .gif/.webp/.tif skipped without a word; 22.2: a link
    train/a/up -> .. labelled every other class's images as a."""
    for split in ("train", "test"):
        _image(tmp_path / split / "a" / "1.gif", 10)
        _image(tmp_path / split / "a" / "2.webp", 20, "WEBP")
        _image(tmp_path / split / "b" / "3.tif", 200)
        _image(tmp_path / split / "b" / "sub" / "4.png", 210)
    (tmp_path / "train" / "a" / "notes.txt").write_text("not an image")
    a = image_folder(str(tmp_path), 4)
    assert a.y_train.tolist() == [0, 0, 1, 1] and a.y_test.tolist() == [0, 0, 1, 1]
    assert a.x_train[:, 0, 0, 0].tolist() == [10, 20, 200, 210]
    os.symlink("..", tmp_path / "train" / "a" / "up")
    with pytest.raises(DataError, match="train/a/up is a link to a directory inside class folder"):
        image_folder(str(tmp_path), 4)


def test_a_foreign_checkpoint_is_kept_and_checkpoint_every_0_ignores_it(tmp_path, capsys):
    """Issue 22.9: a foreign OUT.checkpoint.pt got 'delete it' as advice and
    blocked runs even with --checkpoint-every 0."""
    out = tmp_path / "run"
    foreign = tmp_path / "run.checkpoint.pt"
    foreign.write_text("my own file\n")
    assert main(["distill", "--out", str(out), "--ipc", "1", *SMOKE]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "delete" not in line and "move it away" in line and "--checkpoint-every 0" in line
    assert main(["distill", "--out", str(out), "--ipc", "1", "--checkpoint-every", "0", *SMOKE]) == 0
    assert foreign.read_text() == "my own file\n" and SyntheticSet.load(str(out)).images.shape == (10, 1, 32, 32)
    assert sorted(os.listdir(tmp_path)) == ["run", "run.checkpoint.pt"]     # no lock file left behind


def test_a_second_distill_into_one_out_says_which_run_holds_it(tmp_path, capsys):
    """Issue 22.9: two distills into one --out shared one checkpoint path with
    no lock; the second now stops at once, naming the first."""
    with open(tmp_path / "run.lock", "w") as held:          # the first run, as its lock shows it
        held.write("datadam_lib lock, pid 4242\n")
        held.flush()
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["distill", "--out", str(tmp_path / "run"), "--ipc", "1", *SMOKE]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"another run (datadam_lib lock, pid 4242) is writing --out {tmp_path / 'run'}" in line
    assert os.listdir(tmp_path) == ["run.lock"]
    with io.exclusive(str(tmp_path / "run.lock"), "x"):    # the first run has ended: the lock is free
        assert (tmp_path / "run.lock").read_text() == f"datadam_lib lock, pid {os.getpid()}\n"
    assert os.listdir(tmp_path) == []
    (tmp_path / "mine.lock").write_text("my notes\n")
    with pytest.raises(io.OutputError, match="was not written by the kit"), \
            io.exclusive(str(tmp_path / "mine.lock"), "x"):
        pass
    assert (tmp_path / "mine.lock").read_text() == "my notes\n"
