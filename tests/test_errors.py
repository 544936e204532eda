"""Bad inputs, as a table: every mistake a user can make on the command line
ends in exit code 2 and one line that names what was wrong, before any work
is done, and writes or deletes nothing (issue 8).

Each case: a setup (files the user has), the command, the exit code, a phrase
of the message, phrases it must not contain. The whole working directory is
compared before and after. In-process (``cli.main``): fast."""
from __future__ import annotations

import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import torch

from datadam_lib.cli import main

SMOKE = ["--scale", "smoke", "--device", "cpu", "--no-progress", "--set", "distill.encoder.width=8",
         "--set", "evaluate.encoder.width=8"]


# ---------------------------------------------------------------- what the user has (setups)

def _user_dir(root):
    os.makedirs(root / "out" / "sub")
    (root / "out" / "thesis.tex").write_text("\\chapter{Results}\n")
    (root / "out" / "sub" / "data.csv").write_text("a,b\n1,2\n")


def _npz(root, **changes):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(2), 4)
    arrays = dict(x_train=rng.integers(0, 256, (8, 8, 8, 1), dtype=np.uint8), y_train=y,
                  x_test=rng.integers(0, 256, (4, 8, 8, 1), dtype=np.uint8), y_test=np.repeat(np.arange(2), 2))
    arrays.update(changes)
    np.savez(root / "d.npz", **arrays)


def _folder(root, test_classes=("a", "b"), broken=False):
    from PIL import Image
    for split, classes in (("train", ("a", "b")), ("test", test_classes)):
        for c in classes:
            os.makedirs(root / "f" / split / c)
            for i in range(2):
                Image.new("RGB", (8, 8), (40 * i, 200, 90)).save(root / "f" / split / c / f"{i}.png")
    if broken:
        (root / "f" / "train" / "a" / "2.png").write_bytes(b"\x89PNG but not really")


def _floats(lo, hi):
    rng = np.random.default_rng(1)
    return lambda root: _npz(root, x_train=rng.uniform(lo, hi, (8, 8, 8, 1)), x_test=rng.uniform(lo, hi, (4, 8, 8, 1)))


SETUPS = {
    "nothing": lambda root: None,
    "user dir": _user_dir,
    "a file": lambda root: (root / "out").write_text("my notes\n"),
    "cwd with files": lambda root: (root / "notes.txt").write_text("my notes\n"),
    "a user json": lambda root: (root / "m.json").write_text('{"mine": true}\n'),
    "a directory": lambda root: os.makedirs(root / "somewhere"),
    "checkpoint dir": lambda root: os.makedirs(root / "out.checkpoint.pt"),
    "floats 0..300": _floats(0, 300),
    "floats normalised": _floats(-2, 2),
    "floats 0..1.5": _floats(0, 1.5),
    "ints 0/1": lambda root: _npz(root, x_train=np.random.default_rng(2).integers(0, 2, (8, 8, 8, 1)),
                                  x_test=np.random.default_rng(3).integers(0, 2, (4, 8, 8, 1))),
    "soft labels": lambda root: _npz(root, y_train=np.full((8, 2), 0.5)),
    "object labels": lambda root: _npz(root, y_train=np.array(["a", 1, "b", 2, "a", 1, "b", 2], dtype=object)),
    "fractional labels": lambda root: _npz(root, y_train=np.repeat([0.5, 1.0], 4)),
    "random bytes npz": lambda root: (root / "d.npz").write_bytes(os.urandom(4096)),
    "empty test split": lambda root: _npz(root, x_test=np.zeros((0, 8, 8, 1), np.uint8), y_test=np.zeros(0, int)),
    "test lacks a class": lambda root: _folder(root, test_classes=("a",)),
    "test has an extra class": lambda root: _folder(root, test_classes=("a", "b", "c")),
    "unreadable image": lambda root: _folder(root, broken=True),
}

D = ["distill", "--out", "out"]
E = ["evaluate", "--random", "--ipc", "1"]
NPZ, FOLDER = "npz:d.npz", "folder:f"
HAS_GPU = torch.cuda.is_available()

# (setup, command, exit code, phrase of the message, phrases it must not contain)
CASES = [
    # never lose a user's data; check outputs before computing
    ("user dir", D + SMOKE, 2, "out already holds files the kit did not write (sub, thesis.tex)", ()),
    ("a file", D + SMOKE, 2, "output directory out is a file", ()),
    ("cwd with files", ["distill", "--out", "."] + SMOKE, 2, "already holds files the kit did not write (notes.txt)", ()),
    ("a file", ["distill", "--out", "out/run"] + SMOKE, 2, "is a file, not a directory", ()),
    ("checkpoint dir", D + SMOKE, 2, "(where the run's checkpoint goes) is a directory", ()),
    ("a user json", E + ["--out", "m.json"] + SMOKE, 2, "m.json exists and was not written by the kit", ()),
    ("a directory", E + ["--out", "somewhere"] + SMOKE, 2, "somewhere is a directory; give a file path", ()),
    ("a user json", ["evaluate", "SET", "--out", "m.json", "--device", "cpu"], 2, "was not written by the kit", ()),
    # wrong devices and config values
    ("nothing", D + SMOKE[:2] + ["--device", "gpu"], 2, "--device 'gpu' is not a device; use cpu or cuda", ()),
    pytest.param("nothing", D + SMOKE[:2] + ["--device", "cuda"], 2, "no CUDA device is visible here", (),
                 marks=pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU")),
    ("nothing", D + SMOKE + ["--set", "distill.ipc=abc"], 2, "distill.ipc='abc' is invalid: expected an integer >= 1", ()),
    ("nothing", D + SMOKE + ["--set", "evaluate.num_models=0"], 2, "evaluate.num_models=0 is invalid", ()),
    ("nothing", D + SMOKE + ["--set", "evaluate.batch_size=0"], 2, "evaluate.batch_size=0 is invalid", ()),
    ("nothing", D + SMOKE + ["--set", "evaluate.epochs=0"], 2, "evaluate.epochs=0 is invalid: expected an integer >= 1", ()),
    ("nothing", D + SMOKE + ["--set", "distill.method.distance=foo"], 2,
     "distill.method.distance='foo' is invalid: expected one of 'cosine', 'mae', 'mse'", ()),
    ("nothing", D + SMOKE + ["--set", "distill.method.power=-1"], 2, "distill.method.power=-1 is invalid: expected a number > 0",
     ("NaN",)),
    ("nothing", D + SMOKE + ["--set", "distill.dsa.ops=('blur',)"], 2, "distill.dsa.ops=('blur',) is invalid", ()),
    ("nothing", D + SMOKE + ["--set", "distill.encoder.width=0"], 2, "distill.encoder.width=0 is invalid", ()),
    ("nothing", D + SMOKE + ["--seed", "-1"], 2, "--seed=-1 is invalid: expected an integer in [0, 4294967295]", ()),
    ("nothing", E + SMOKE[:4] + ["--ipc", "0"], 2, "--ipc=0 is invalid: expected an integer >= 1", ()),
    ("nothing", D + ["--scale", "huge"], 2, "argument --scale: invalid choice: 'huge'", ()),
    ("nothing", D + ["--preset", "papr"], 2, "argument --preset: invalid choice: 'papr'", ()),
    # evaluate DIR: options that describe how a set is made do not apply to it
    ("nothing", ["evaluate", "SET", "--device", "cpu", "--set", "evaluate.epochs"], 2, "expected FIELD=VALUE", ()),
    ("nothing", ["evaluate", "SET", "--device", "cpu", "--ipc", "5"], 2, "--ipc 5 does not apply, the set was made with --ipc 1", ()),
    ("nothing", ["evaluate", "SET", "--device", "cpu", "--dataset", "cifar10"], 2, "--dataset cifar10 does not apply", ()),
    ("nothing", ["evaluate", "SET", "--device", "cpu", "--preset", "released"], 2, "--preset released does not apply", ()),
    ("nothing", ["evaluate", "SET", "--device", "cpu", "--set", "distill.method.power=2"], 2,
     "--set distill.method.power changes how a set is made", ()),
    ("nothing", ["evaluate", "SET", "--random", "--device", "cpu"], 2, "not both", ()),
    ("nothing", ["evaluate", "EDITED", "--device", "cpu"], 2, "config.json and manifest.json are not the ones written", ()),
    # data that would have given a wrong number silently
    ("floats 0..300", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "spans [", ("allow_pickle",)),
    ("floats normalised", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "neither [0, 1] nor [0, 255] pixels", ()),
    ("floats 0..1.5", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "neither [0, 1] nor [0, 255] pixels", ()),
    ("ints 0/1", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "holds only 0 and 1", ()),
    ("soft labels", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "y_train has shape (8, 2) but is not one-hot", ()),
    ("object labels", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "array 'y_train' holds Python objects",
     ("allow_pickle",)),
    ("fractional labels", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "holds values that are not class indices", ()),
    ("random bytes npz", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "d.npz: not an .npz archive", ("pickle",)),
    ("empty test split", D + SMOKE + ["--dataset", NPZ, "--ipc", "1"], 2, "the test split has no images", ()),
    ("test lacks a class", D + SMOKE + ["--dataset", FOLDER, "--ipc", "1"], 2, "classes [1] have no test images ('b')", ()),
    ("test has an extra class", D + SMOKE + ["--dataset", FOLDER, "--ipc", "1"], 2, "has classes ['c'] that", ()),
    ("unreadable image", D + SMOKE + ["--dataset", FOLDER, "--ipc", "1"], 2, "2.png: not a readable image", ()),
]


@pytest.fixture(scope="module")
def made_set(tmp_path_factory) -> str:
    """A set written by `distill` (ipc 1, smoke scale): what `evaluate SET` reads."""
    out = str(tmp_path_factory.mktemp("set") / "set")
    assert main(D[:1] + ["--out", out, "--ipc", "1"] + SMOKE) == 0
    return out


def snapshot(root) -> dict:
    """Every path under ``root`` with its mode and, for files, a hash of the contents."""
    out = {}
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(d, n)
            st = os.stat(p)
            digest = hashlib.sha256(open(p, "rb").read()).hexdigest() if n in files else None
            out[os.path.relpath(p, root)] = (st.st_mode, digest)
    return out


@pytest.mark.parametrize("setup,argv,code,phrase,never", CASES)
def test_a_mistake_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys, made_set, setup, argv, code, phrase,
                                                  never):
    monkeypatch.chdir(tmp_path)
    SETUPS[setup](tmp_path)
    if "SET" in argv or "EDITED" in argv:
        shutil.copytree(made_set, tmp_path / "SET")
        if "EDITED" in argv:
            shutil.copytree(made_set, tmp_path / "EDITED")
            cfg = json.loads((tmp_path / "EDITED" / "config.json").read_text())
            cfg["evaluate"]["epochs"] = 1
            (tmp_path / "EDITED" / "config.json").write_text(json.dumps(cfg))
    before = snapshot(tmp_path)
    try:
        rc = main(argv)
    except SystemExit as e:                 # argparse's own checks
        rc = e.code
    captured = capsys.readouterr()
    assert rc == code, captured
    err = captured.err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert phrase in err, err
    for word in never:
        assert word not in err, err
    assert captured.out == ""
    assert snapshot(tmp_path) == before, "the failed command wrote or deleted something"

