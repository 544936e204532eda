"""The committed outputs say only what they show (issue 21): each kind's own
"images moved", no spread for one model, the paper's mark only beside a run
on the paper's dataset at the paper's IPC, titles from what ran, images
shown rescaled with their range stated, figures of bounded width, and no
grid of one dataset under another's name."""
from __future__ import annotations

import json

import pytest
import torch

from datadam_lib.families import load_all
from datadam_lib.kit import plots, report
from datadam_lib.kit.registry import TargetError, get
from datadam_lib.kit.run import RunOptions


@pytest.fixture(autouse=True)
def _out(tmp_path, monkeypatch):
    load_all()
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))


def _row(setting: str, kind: str, mean: float, *, ipc: int = 1, dataset: str = "digits", n: int = 3,
         moved: float | None = None) -> dict:
    accs = [mean - 1, mean, mean + 1][:n] if n <= 3 else [mean] * n
    return {"setting": setting, "label": setting.split("=")[1], "kind": kind, "mean": mean,
            "std": 0.0 if n == 1 else 0.8, "n_models": n, "accuracies": ";".join(map(str, accs)),
            "dataset": dataset, "ipc": ipc, "image_change_pct": moved}


def _table_cells(text: str) -> tuple[list[str], list[list[str]]]:
    rows = [line.strip("|").split(" | ") for line in text.splitlines() if line.startswith("| ")]
    return [c.strip() for c in rows[0]], [[c.strip() for c in r] for r in rows[1:]]


# ---------------------------------------------------------------- tables

def test_images_moved_is_each_kinds_own_not_the_first_kind_in_the_row():
    # table3_cifar10-mini showed pixel MMD's 102.4/34.0/13.3 under "images moved" where DataDAM's were 271.3/35.0/8.0
    run = report.start("table3", "smoke", "digits")
    summary = [_row("ipc=1", "random", 16.6), _row("ipc=1", "pixel-mmd", 18.8, moved=102.4),
               _row("ipc=1", "datadam", 25.4, moved=271.3),
               _row("ipc=10", "random", 25.2), _row("ipc=10", "pixel-mmd", 29.1, moved=34.0),
               _row("ipc=10", "datadam", 39.6, moved=35.0)]
    head, body = _table_cells(run.table(summary, ("random", "pixel-mmd", "datadam"), setting_name="IPC"))
    dd, mmd = head.index("DataDAM: images moved (%)"), head.index("MMD (pixel): images moved (%)")
    assert [r[dd] for r in body] == ["271.3", "35.0"]
    assert [r[mmd] for r in body] == ["102.4", "34.0"]
    assert not any(h.startswith("Random: images moved") for h in head)    # Random's images do not move


def test_one_model_prints_n_1_not_a_spread_of_zero():
    run = report.start("fig1", "smoke", "digits")
    summary = [_row("power=1", "datadam", 42.0, n=1), _row("power=4", "datadam", 50.0, n=3)]
    _, body = _table_cells(run.table(summary))
    assert body[0][1] == "42.0 (n = 1)" and body[1][1] == "50.0 ± 0.8"
    assert report.spread({"mean": "42.04", "std": "0.0", "n_models": "1"}) == "42.0 (n = 1)"   # a CSV row


# ---------------------------------------------------------------- the paper's mark

def test_the_papers_number_applies_only_to_its_dataset_and_ipc():
    fig4, quick = get("fig4").paper, get("quickstart").paper      # fig4: CIFAR-10 at IPC 10; quickstart: per IPC
    assert plots.paper_ipc(fig4, "augment=dsa") == 10 and plots.paper_ipc(quick, "ipc=1") == 1
    assert plots.paper_ipc(get("table3").paper, "power=4") is None             # "IPC 1/10/50": no single one
    assert plots.same_data_as_paper(fig4, "augment=dsa", {"dataset": "cifar10", "ipc": 10})
    assert plots.same_data_as_paper(fig4, "augment=dsa", {"dataset": "cifar10:npz:/x/c.npz", "ipc": "10"})
    for row in ({"dataset": "digits", "ipc": 10}, {"dataset": "cifar10", "ipc": 1},
                {"dataset": "cifar10-5k", "ipc": 10}, {"dataset": "npz:/x/cifar10.npz", "ipc": 10}):
        assert not plots.same_data_as_paper(fig4, "augment=dsa", row), row
    assert plots.same_data_as_paper(quick, "ipc=1", {"dataset": "cifar10", "ipc": 1})
    assert not plots.same_data_as_paper(quick, "ipc=10", {"dataset": "digits", "ipc": 10})


def _marks(fig) -> int:
    """The paper's marks drawn: scatter points with the x marker."""
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
               if c.get_paths() and len(c.get_paths()[0].vertices) == 4 and c.get_sizes()[0] == 40)


def test_bars_draw_the_papers_mark_only_beside_its_dataset_and_ipc():
    paper = get("fig4").paper                        # one number: DSA, CIFAR-10, IPC 10
    on_digits = [_row(f"augment={a}", "datadam", 90.0, ipc=1) for a in ("dsa", "none")]
    on_cifar = [_row(f"augment={a}", "datadam", 50.0, ipc=10, dataset="cifar10") for a in ("dsa", "none")]
    a = plots.accuracy_bars(on_digits, "augmentation", paper=paper)
    b = plots.accuracy_bars(on_cifar, "augmentation", paper=paper)
    texts = lambda f: [t.get_text() for ax in f.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert not any("paper" in t for t in texts(a))
    assert any(t.startswith("the paper's number") for t in texts(b))
    assert _marks(a) == 0 and _marks(b) == 1


# ---------------------------------------------------------------- pictures

def test_images_are_rescaled_per_image_and_the_range_is_stated():
    x = torch.tensor([-1.0, 0.0, 3.0, 1.0]).view(1, 2, 2)     # a learned image leaves [0, 1]
    assert plots._img(x).tolist() == [[0.0, 0.25], [1.0, 0.5]]  # clipping gave [0, 0, 1, 1]: near-binary
    rgb = torch.stack([torch.full((2, 2), 0.2), torch.full((2, 2), 0.4), torch.full((2, 2), 0.6)])
    assert plots._img(rgb)[0, 0].tolist() == pytest.approx([0.0, 0.5, 1.0])   # one range for all channels
    assert plots.range_note([x, rgb]).startswith("each image min-max rescaled")
    assert "[-1.00, 3.00]" in plots.range_note([x, rgb])
    fig = plots.image_grid(torch.stack([x, x + 1]), 1, title="t")
    assert "[-1.00, 4.00]" in fig.get_supxlabel()


def test_many_bars_wrap_into_rows_within_the_width_cap():
    kinds = ("random", "kcenter", "herding", "dc", "dsa", "dm", "cafe", "datadam", "whole")
    summary = [_row(f"ipc={i}", k, 20.0 + j, ipc=i) for i in (1, 10, 50) for j, k in enumerate(kinds)]
    fig = plots.accuracy_bars(summary, "images per class", kinds=kinds, names=report.kind_name)
    assert fig.get_figwidth() <= plots.MAX_WIDTH                 # table1 was 28 inches (4,247 px)
    assert len(fig.axes) == 3 and sum(len(ax.patches) for ax in fig.axes) == 27
    few = plots.accuracy_bars(summary[:2], "images per class", kinds=kinds[:2])
    assert len(few.axes) == 1


def test_long_tick_labels_turn_instead_of_overlapping():
    summary = [_row(f"augment={a}", "datadam", 90.0) for a in ("autoaugment", "randaugment", "dsa", "none")]
    narrow = plots.accuracy_bars([{**r, "label": r["label"] * 3} for r in summary], "x")
    assert narrow.axes[0].get_xticklabels()[0].get_rotation() == 30
    wide = plots.accuracy_bars(summary, "x")
    assert wide.axes[0].get_xticklabels()[0].get_rotation() == 0


# ---------------------------------------------------------------- titles from what ran

def test_titles_say_what_ran_and_mark_the_papers_setting(tmp_path):
    run = report.start("fig7", "smoke", "digits", params={"ipc": 1})
    # smoke: the preset's 8,000 iterations capped at 3, its evaluation at 1 model x 4 epochs
    assert run.facts() == "3 distillation iterations · evaluated on 1 model × 4 epochs"
    assert run.facts(iterations=50) == "50 distillation iterations · evaluated on 1 model × 4 epochs"
    title = run.title("12 ConvNets")
    flat = " ".join(title.split("\n"))                         # the lines are wrapped for a figure's width
    assert title.startswith("fig7 as run: 12 ConvNets\n") and run.label in flat
    assert flat.endswith(f"the paper's: {get('fig7').title}")    # the paper's 720 ConvNets, marked as the paper's
    assert max(len(line) for line in title.split("\n")) <= report.TITLE_WIDTH
    assert run.heading("12 ConvNets").startswith("### fig7 as run: 12 ConvNets\n\n*The paper's:* Supplement Fig. 7")
    npz = tmp_path / "d" / "mine.npz"
    npz.parent.mkdir()
    npz.write_bytes(b"")
    local = report.start("fig1", "smoke", f"npz:{npz}", params={"ipc": 1})
    assert str(tmp_path) not in local.title() and "npz:mine.npz" in local.title()


def test_no_family_writes_a_raw_dataset_path_into_what_it_shows():
    """A dataset given as NAME:npz:PATH carries a local path: every title,
    caption and table names it through ``display_dataset`` (a quickstart
    figure once showed the path)."""
    import glob
    import os
    import re

    import datadam_lib.families as fam
    for path in glob.glob(os.path.join(os.path.dirname(fam.__file__), "*.py")):
        with open(path) as f:
            src = f.read()
        assert not re.search(r"\{(run_\.dataset|dataset|data\.name)\}", src), os.path.basename(path)


def test_nas_titles_count_the_candidates_that_ran():
    from datadam_lib.families import nas
    from datadam_lib.families.nas_sweep import Search
    from datadam_lib.kit.registry import Setting
    s = Search("convnet", [Setting("arch", i) for i in range(12)], ["random", "dm", "datadam", "early", "whole"],
               [], [], {}, [], [], "whole data", truth_kinds=("whole",))
    run = report.start("fig8", "smoke", "digits", params={"ipc": 10})
    p = {"ipc": 10, "distill_iterations": 50, "proxy_epochs": 30}
    assert nas.what_ran(s, p, run) == ("12 ConvNets ranked by 4 proxies · proxy sets at IPC 10, 50 distillation "
                                       "iterations · 30 epochs on each proxy")
    assert nas.what_ran(s, {**p, "distill_iterations": 0}, run, 3).startswith(
        "the 3 of 12 ConvNets best by the ground truth ranked by 4 proxies · proxy sets at IPC 10, 3 distillation")


# ---------------------------------------------------------------- grids of their own dataset only

def test_a_grid_needs_its_own_dataset_outside_smoke_scale(monkeypatch):
    from datadam_lib.families import visuals

    def ran(*a, **k):
        raise AssertionError("the grid distilled a set instead of saying what it needs")
    monkeypatch.setattr(visuals, "run_sweep", ran)
    assert visuals.same_images("cifar10", "cifar10") and visuals.same_images("cifar10-5k", "cifar10")
    assert visuals.same_images("cifar10-5k:npz:/x/mini.npz", "cifar10")
    for other in ("digits", "cifar100", "npz:/x/cifar10.npz"):
        assert not visuals.same_images(other, "cifar10"), other
    with pytest.raises(TargetError, match="^fig16 needs cifar100: .*digits would stand under its name"):
        visuals.grid("fig16", RunOptions(scale="quick", dataset="digits"))
    with pytest.raises(TargetError, match="^fig18 needs tinyimagenet"):
        visuals.grid("fig18", RunOptions(scale="paper", dataset="cifar10-5k"))
    visuals.check_dataset(get("fig16"), "digits", "smoke")        # smoke checks code paths on any data
    assert visuals.refuses("fig16", "digits", "quick").startswith("fig16 needs cifar100")
    assert visuals.refuses("fig3", "digits", "quick") is None and visuals.refuses("fig16", "cifar100", "quick") is None


def test_the_runner_says_what_a_grid_needs_before_it_starts(capsys):
    import io

    from datadam_lib.runner import list_targets, main
    assert main(["run", "fig20", "--dataset", "digits", "--scale", "quick"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: fig20 needs imagenette: ")
    out = io.StringIO()
    list_targets("/nonexistent", file=out)                       # no dataset but digits there
    assert "image grids without their data: fig14, fig15, fig16" in " ".join(out.getvalue().split())


def test_every_figure_and_table_names_the_command_and_machine_behind_it(tmp_path, monkeypatch):
    """A figure's footer, its table's last line and their manifests say the
    command that made them (the runner's, through ``report.COMMAND_ENV``) and
    the machine (the CPU's model and threads, or the GPU); the footer sits
    under everything else on the figure, never over an axis label."""
    from matplotlib.figure import Figure
    from PIL import Image

    from datadam_lib.method.io import cpu_model
    command = "./reproduce.sh fig1 --scale smoke --preset paper --dataset digits --set evaluate.autocast=bf16"
    monkeypatch.setenv(report.COMMAND_ENV, command)
    run = report.start("fig1", "smoke", "digits", params={"ipc": 1})
    assert run.machine.startswith(f"cpu ({cpu_model()}, ") and run.machine.endswith(("thread)", "threads)"))
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.bar(["a", "b"], [1, 2])
    ax.set_xlabel("a label under the axes")
    fig.tight_layout()
    run.save_figure(fig)
    png, _ = run.save_figure(fig)                                       # saved twice: one footer
    assert len(fig.texts) == 1
    foot = fig.texts[-1]
    assert " ".join(foot.get_text().split()) == f"made by {command} · on {run.machine}"
    fig.canvas.draw()
    assert foot.get_window_extent().y1 < ax.xaxis.label.get_window_extent().y0   # below the x label, not over it
    assert Image.open(png).size[1] > 3 * 150                            # the saved image grew to take it in
    low = Figure(figsize=(4, 3))                          # a legend hanging below the figure's own area
    bars = low.subplots().bar(["a", "b"], [1, 2], label="bars")
    legend = low.axes[0].legend(handles=[bars], loc="upper center", bbox_to_anchor=(0.5, -0.3))
    plots.footnote(low, "made by a test")
    low.canvas.draw()
    assert legend.get_window_extent().y0 < 0 and low.texts[-1].get_window_extent().y1 < legend.get_window_extent().y0
    summary = [{"setting": "power=4", "label": "4", "kind": "datadam", "mean": 50.0, "std": 1.0, "n_models": 3}]
    run.save_csv(summary)
    md = run.table(summary)
    last = open(tmp_path / "results" / "smoke" / "fig1.md").read().rstrip("\n").split("\n")[-1]
    assert last == f"*Made by* `{command}` *on {run.machine}.*" and md in open(tmp_path / "results" / "smoke" / "fig1.md").read()
    for out in (png, str(tmp_path / "results" / "smoke" / "fig1.md")):
        m = json.load(open(out + ".manifest.json"))
        assert m["command"] == command and m["device"] == run.machine
    monkeypatch.delenv(report.COMMAND_ENV)
    assert report.start("fig1", "smoke", "digits").command == "notebooks/fig1.ipynb, run by hand"


def test_cpu_model_reads_linux_and_falls_back_to_the_architecture(tmp_path):
    import platform

    from datadam_lib.method.io import cpu_model
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\n"
                    "model name\t: AMD EPYC 7B13\n")
    assert cpu_model(str(info)) == "AMD EPYC 7B13"
    assert cpu_model(str(tmp_path / "none")) == (platform.processor() or platform.machine())
