"""The writer rule (method/io.py), for every writer: `distill --out`,
`evaluate --out`, cache entries, a target's figures and tables. The kit never
deletes or replaces a file it did not write; it replaces its own outputs file
by file, keeping whatever else their directory holds; a directory it creates
gets the umask's mode, an existing one keeps its own."""
from __future__ import annotations

import json
import os
import stat

import pytest
import torch

from datadam_lib.cli import main
from datadam_lib.method import io
from datadam_lib.method.io import OutputError, check_output_dir, check_output_file, output_dir
from datadam_lib.method.synthetic import SyntheticSet

SMOKE = ["--scale", "smoke", "--device", "cpu", "--no-progress", "--set", "distill.encoder.width=8",
         "--set", "evaluate.encoder.width=8"]


def _distill(out, *extra) -> int:
    return main(["distill", "--out", str(out), "--ipc", "1", *SMOKE, *extra])


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _user_files(d) -> dict:
    (d / "sub").mkdir(parents=True)
    files = {d / "thesis.tex": b"\\chapter{Results}\n", d / "sub" / "data.csv": b"a,b\n1,2\n"}
    for p, b in files.items():
        p.write_bytes(b)
    return files


def test_distill_into_a_new_directory_gets_the_umask_mode(tmp_path):
    assert _distill(tmp_path / "run") == 0
    assert sorted(os.listdir(tmp_path / "run")) == sorted(SyntheticSet.FILES)
    umask = os.umask(0)
    os.umask(umask)
    assert _mode(tmp_path / "run") == 0o777 & ~umask, "the kit made the directory private (mkdtemp's 0700)"
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []


def test_rerunning_into_a_kit_output_keeps_the_users_files_and_drops_the_stale_metrics(tmp_path, capsys):
    out = tmp_path / "run"
    assert _distill(out) == 0
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress"]) == 0     # metrics.json of this set
    mine = _user_files(out)
    os.chmod(out, 0o751)
    old = (out / "synthetic.pt").read_bytes()
    assert _distill(out, "--seed", "1") == 0
    assert {p: p.read_bytes() for p in mine} == mine                     # the user's files, byte for byte
    assert (out / "synthetic.pt").read_bytes() != old                    # the kit's own files replaced
    assert not (out / "metrics.json").exists(), "the previous set's metrics would now describe another set"
    assert _mode(out) == 0o751                                           # the directory's own mode
    assert SyntheticSet.load(str(out)).config.seed == 1
    assert sorted(os.listdir(out)) == sorted([*SyntheticSet.FILES, "sub", "thesis.tex"])


def test_a_users_directory_needs_overwrite_and_keeps_its_other_files(tmp_path, capsys):
    out = tmp_path / "mine"
    mine = _user_files(out)
    (out / "config.json").write_text('{"mine": 1}\n')
    os.chmod(out, 0o750)
    assert _distill(out) == 2
    assert "already holds files the kit did not write (config.json, sub, thesis.tex)" in capsys.readouterr().err
    assert (out / "config.json").read_text() == '{"mine": 1}\n'
    assert _distill(out, "--overwrite") == 0                           # consent: the kit's names are replaced
    assert {p: p.read_bytes() for p in mine} == mine and _mode(out) == 0o750
    assert SyntheticSet.load(str(out)).images.shape == (10, 1, 32, 32)


def test_an_empty_existing_directory_is_written_into(tmp_path):
    out = tmp_path / "empty"
    out.mkdir(mode=0o755)
    assert _distill(out) == 0
    assert sorted(os.listdir(out)) == sorted(SyntheticSet.FILES) and _mode(out) == 0o755


def test_a_failed_write_into_a_kit_output_changes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert _distill(out) == 0
    mine = _user_files(out)
    before = {n: (out / n).read_bytes() for n in SyntheticSet.FILES}
    syn = SyntheticSet.load(str(out))

    def disk_full(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="disk full"):
        syn.save(str(out))
    monkeypatch.undo()
    assert {n: (out / n).read_bytes() for n in SyntheticSet.FILES} == before
    assert {p: p.read_bytes() for p in mine} == mine
    assert not [n for n in os.listdir(out) if n.startswith(io.WRITING)], "temporary directory left behind"


def test_a_set_whose_files_were_not_written_together_is_refused(tmp_path):
    """A write interrupted between renames (or a hand-edited config.json) is
    caught on load, not used with the wrong config."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert _distill(a) == 0 and _distill(b, "--seed", "2") == 0
    (a / "config.json").write_bytes((b / "config.json").read_bytes())
    with pytest.raises(io.CheckpointError, match="not the ones written with synthetic.pt"):
        SyntheticSet.load(str(a))


def test_evaluate_out_replaces_only_kit_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert _distill(out) == 0
    metrics = tmp_path / "m.json"
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--out", str(metrics)]) == 0
    assert io.is_kit_file(str(metrics))
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--out", str(metrics)]) == 0  # its own
    metrics.write_text('{"my": "numbers"}\n')
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--out", str(metrics)]) == 2
    assert json.loads(metrics.read_text()) == {"my": "numbers"}
    assert main(["evaluate", str(out), "--device", "cpu", "--no-progress", "--out", str(metrics),
                 "--overwrite"]) == 0
    assert "accuracies" in json.loads(metrics.read_text())


def test_evaluate_random_default_name_is_a_file_name(tmp_path, monkeypatch):
    """npz:PATH in a default output name must not become directories."""
    import numpy as np
    monkeypatch.chdir(tmp_path)
    y = np.repeat(np.arange(2), 3)
    np.savez(tmp_path / "d.npz", x_train=np.zeros((6, 8, 8, 1), np.uint8) + y[:, None, None, None] * 200, y_train=y,
             x_test=np.zeros((2, 8, 8, 1), np.uint8), y_test=np.arange(2))
    assert main(["evaluate", "--random", "--dataset", f"npz:{tmp_path}/d.npz", "--ipc", "1", *SMOKE]) == 0
    made = [n for n in os.listdir(tmp_path) if n.endswith(".json")]
    assert len(made) == 1 and made[0].startswith("random-npz_") and made[0].endswith("d.npz-ipc1.json")


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
    io.write_json({"accuracies": [0.5], "manifest": io.manifest(synthetic_set=str(out), output_named_by="kit",
                                                                 set_digest=_set(small_config).digest())},
                  str(out / "metrics.json"))
    io.write_json({"accuracies": [0.5], "manifest": io.manifest()}, str(out / "random.json"))   # not of this set
    (out / "fig.png").write_bytes(b"png")
    io.write_json(io.manifest(), str(out / "fig.png.manifest.json"))   # a kit figure the user keeps here
    os.chmod(out, 0o751)
    _set(small_config, seed=1).save(str(out))
    assert (out / "thesis.tex").read_text() == "mine\n" and stat.S_IMODE(os.stat(out).st_mode) == 0o751
    assert not (out / "metrics.json").exists()                          # it evaluated the previous set
    assert {"random.json", "fig.png", "fig.png.manifest.json"} <= set(os.listdir(out))
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
