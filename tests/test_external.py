"""Sets made elsewhere (external.py, ``evaluate --load``): every layout read
back exactly, one-line errors for anything else."""
from __future__ import annotations

import json

import pytest
import torch

from datadam_lib.cli import main
from datadam_lib.method.data import DataError
from datadam_lib.method.external import check_against, load_external
from datadam_lib.method.io import CheckpointError


def _set(n_per_class: int = 1, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(classes * n_per_class, 1, 32, 32, generator=g), torch.arange(classes).repeat_interleave(n_per_class)


def test_every_layout(tmp_path):
    x, y = _set(2)
    torch.save({"images": x, "labels": y, "classes": [str(i) for i in range(10)]}, tmp_path / "synthetic.pt")
    torch.save({"data": [x, y]}, tmp_path / "syn_data_digits_ipc_2.pt")                 # the authors' release
    torch.save({"data": [[x, y], [x + 1, y]]}, tmp_path / "res_DC_digits_ConvNet_2ipc.pt")   # DC/DM: a pair per run
    pair = tmp_path / "pair"
    pair.mkdir()
    torch.save(x, pair / "DIGITS_IPC2_images.pt")
    torch.save(y.float(), pair / "DIGITS_IPC2_labels.pt")
    cases = [(tmp_path, "kit"), (tmp_path / "synthetic.pt", "kit"), (tmp_path / "syn_data_digits_ipc_2.pt", "data ="),
             (tmp_path / "res_DC_digits_ConvNet_2ipc.pt", "data ="), (pair / "DIGITS_IPC2_images.pt", "labels files"),
             (pair, "labels files")]
    for path, layout in cases:
        got_x, got_y, how = load_external(str(path))
        assert torch.equal(got_x, x) and torch.equal(got_y, y) and got_y.dtype == torch.long, path
        assert layout in how, (path, how)


def test_unknown_layouts_are_one_line(tmp_path):
    torch.save({"weights": torch.ones(2)}, tmp_path / "model.pt")
    torch.save([torch.ones(2)], tmp_path / "list.pt")
    (tmp_path / "notes.pt").write_text("not a torch file")
    for name, words in (("model.pt", "a dict with keys ['weights']"), ("list.pt", "a list"),
                        ("notes.pt", "not readable as tensors"), ("missing.pt", "no such file")):
        with pytest.raises(CheckpointError) as e:
            load_external(str(tmp_path / name))
        assert words in str(e.value) and "\n" not in str(e.value), name
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="0 images/labels pairs"):
        load_external(str(empty))


def test_check_against_the_dataset(digits):
    x, y = _set(1)
    check_against(x, y, digits, "p")
    for bad_x, bad_y, words in ((torch.zeros(10, 3, 32, 32), y, "needs (N, 1, 32, 32)"), (x, y[:5], "10 images but 5"),
                                (x, y + 5, "labels span 5..14"), (x * float("nan"), y, "NaN")):
        with pytest.raises(DataError, match=words.replace("(", r"\(").replace(")", r"\)")):
            check_against(bad_x, bad_y, digits, "p")


def test_evaluate_load_in_process(tmp_path, capsys):
    x, y = _set(1)
    torch.save({"data": [x, y]}, tmp_path / "syn.pt")
    rc = main(["evaluate", "--load", str(tmp_path / "syn.pt"), "--dataset", "digits", "--scale", "smoke",
               "--device", "cpu", "--no-progress", "--set", "evaluate.encoder.width=8", "--set", "evaluate.epochs=1"])
    assert rc == 0 and "data = [images, labels]" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "syn.metrics.json").read_text())
    assert len(metrics["accuracies"]) == 1 and 0 <= metrics["mean"] <= 1
    torch.save({"nope": 1}, tmp_path / "bad.pt")
    assert main(["evaluate", "--load", str(tmp_path / "bad.pt"), "--dataset", "digits", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "unknown layout" in err and err.count("\n") == 1
