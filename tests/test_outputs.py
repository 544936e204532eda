"""The writer rule (method/io.py), for every writer: `distill --out`,
`evaluate --out`, cache entries, a target's figures and tables. The kit never
deletes or replaces a file it did not write; it replaces its own outputs file
by file, keeping whatever else their directory holds; a directory it creates
gets the umask's mode, an existing one keeps its own."""
from __future__ import annotations

import os
import stat

import pytest
import torch

from datadam_lib.method import io
from datadam_lib.method.distill import SyntheticSet
from datadam_lib.method.io import OutputError, check_output_dir, check_output_file, output_dir

def _set(small_config, seed=0) -> SyntheticSet:
    g = torch.Generator().manual_seed(seed)
    return SyntheticSet(torch.randn(4, 1, 4, 4, generator=g), torch.arange(2).repeat_interleave(2), ["a", "b"],
                        small_config(ipc=2), [1.0], {}, {"seed": seed})


def test_save_keeps_the_users_files_and_the_directorys_mode(tmp_path, small_config):
    out = tmp_path / "run"
    _set(small_config).save(str(out))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o777 & ~umask      # not mkdtemp's private 0700
    (out / "thesis.tex").write_text("mine\n")
    io.write_json({"accuracies": [0.5], "manifest": io.manifest()}, str(out / "metrics.json"))   # of this set
    os.chmod(out, 0o751)
    _set(small_config, seed=1).save(str(out))
    assert (out / "thesis.tex").read_text() == "mine\n" and stat.S_IMODE(os.stat(out).st_mode) == 0o751
    assert not (out / "metrics.json").exists()                          # it described the previous set
    assert SyntheticSet.load(str(out)).info["seed"] == 1
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    with pytest.raises(OutputError, match="already holds files the kit did not write"):
        _set(small_config).save(str(mine))
    _set(small_config).save(str(mine), overwrite=True)
    assert (mine / "notes.txt").read_text() == "mine\n"


def test_check_helpers(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match="is a file"):
        check_output_dir(str(tmp_path / "f"), ("a",))
    with pytest.raises(OutputError, match="is a file, not a directory"):
        check_output_dir(str(tmp_path / "f" / "g"), ("a",))
    with pytest.raises(OutputError, match="exists and was not written by the kit"):
        check_output_file(str(tmp_path / "f"))
    check_output_file(str(tmp_path / "f"), overwrite=True)
    check_output_dir(str(tmp_path / "new" / "deeper"), ("a",))          # can be created
    (tmp_path / "g.png").write_bytes(b"png")
    io.write_json(io.manifest(), str(tmp_path / "g.png.manifest.json"))  # the kit's record beside it
    check_output_file(str(tmp_path / "g.png"))
    if os.geteuid() != 0:                                                # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(OutputError, match="no permission"):
            check_output_dir(str(ro / "x"), ("a",))


def test_output_dir_of_a_new_directory_is_all_or_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with output_dir(str(tmp_path / "new"), ("a",)) as tmp:
            open(os.path.join(tmp, "a"), "w").close()
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- targets and figures

def test_a_run_refuses_a_figure_the_kit_did_not_write(tmp_path, monkeypatch):
    from matplotlib.figure import Figure
    from datadam_lib.families import load_all
    from datadam_lib.kit import report
    load_all()
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    run = report.start("fig1", "smoke", "digits")
    os.makedirs(tmp_path / "figures" / "smoke")
    mine = tmp_path / "figures" / "smoke" / "fig1.png"
    mine.write_bytes(b"my own plot")
    fig = Figure()
    fig.subplots().plot([1, 2])
    with pytest.raises(OutputError, match="fig1.png exists and was not written by the kit"):
        run.save_figure(fig)
    assert mine.read_bytes() == b"my own plot" and not (tmp_path / "figures" / "smoke" / "fig1.pdf").exists()
    mine.unlink()
    paths = run.save_figure(fig)                                         # then its own files, again and again
    assert run.save_figure(fig) == paths


def test_reproduce_refuses_before_running_when_an_output_is_not_the_kits(tmp_path, monkeypatch, capsys):
    from datadam_lib.runner import main as runner
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    os.makedirs(tmp_path / "results" / "smoke")
    mine = tmp_path / "results" / "smoke" / "fig6.csv"
    mine.write_text("my,own\n1,2\n")
    assert runner(["run", "fig6", "--scale", "smoke", "--dataset", "digits"]) == 2
    err = capsys.readouterr().err
    assert "fig6.csv exists and was not written by the kit" in err and "--overwrite" in err
    assert mine.read_text() == "my,own\n1,2\n"
    assert not (tmp_path / "cache").exists() and not list((tmp_path / "results").glob(".stage-*"))


def test_cache_recomputes_an_entry_whose_record_is_unreadable(tmp_path, digits, small_config):
    from datadam_lib.kit import cache
    cfg = small_config(ipc=1, width=8, distill__iterations=1)
    _, _, entry = cache.distill_cached(cfg, digits, root=str(tmp_path))
    with open(os.path.join(entry, "manifest.json"), "w") as f:
        f.write("{truncated")
    syn, hit, again = cache.distill_cached(cfg, digits, root=str(tmp_path))
    assert not hit and again == entry and SyntheticSet.load(entry).images.shape == syn.images.shape
