"""The baselines family (families/baselines.py) and what it draws with
(method/baselines/tsne.py, kit.plots.tsne_panels): settings and their keys, cells left
out and why, sets shared across evaluations, Fig. 9's numbers by hand."""
from __future__ import annotations

import types

import numpy as np
import pytest

from datadam_lib import make_config
from datadam_lib.families import baselines
from datadam_lib.kit import cache, plots
from datadam_lib.kit.registry import TARGETS, paper_numbers
from datadam_lib.method.baselines.tsne import joint_tsne, placement


def test_ipc_settings_carry_the_runs_work():
    s = baselines.ipc_settings({"ipcs": [1, 10, 50], "epochs": [100, 50], "num_models": 2,
                                "overrides": {"baselines.matching.iterations": 1}})
    assert [x.key for x in s] == ["ipc=1", "ipc=10", "ipc=50"]
    o = [x.config_overrides() for x in s]
    assert o[0] == {"distill.ipc": 1, "baselines.matching.iterations": 1, "evaluate.epochs": 100,
                    "evaluate.num_models": 2}
    assert o[1]["evaluate.epochs"] == 50 and "evaluate.epochs" not in o[2]     # no epochs given for IPC 50
    cfg = make_config("paper", "quick", overrides=o[0])
    assert cfg.baselines.matching.iterations == 1 and cfg.evaluate.epochs == 100


def test_crossarch_distils_each_set_once():
    """The architecture changes the evaluation only: one set key, four evaluation keys."""
    class Data:   # what the cache keys read of a dataset
        import torch
        name, classes, zca = "d", ["0", "1"], None
        x_train, y_train = torch.zeros(4, 1, 8, 8), torch.tensor([0, 0, 1, 1])
        x_test, y_test = torch.zeros(2, 1, 8, 8), torch.tensor([0, 1])
    p = {"ipc": 10, "archs": baselines.ARCHS, "epochs": [50], "num_models": 2}
    cfgs = [make_config("paper", "quick", overrides=s.config_overrides()) for s in baselines.arch_settings(p)]
    assert [c.evaluate.encoder.arch for c in cfgs] == baselines.ARCHS and {c.evaluate.epochs for c in cfgs} == {50}
    assert len({cache.set_key("datadam", c, Data) for c in cfgs}) == 1
    assert len({cache.eval_key(c, Data, "datadam") for c in cfgs}) == 4


def test_cells_left_out_are_explained(tiny_data):
    data = tiny_data(counts=(12, 3, 12))
    plan, skipped, notes = baselines._cells({"ipcs": [1, 2, 5], "kinds": ["random", "dc", "datadam"],
                                             "skip": {"2": ["dc"]}}, data)
    assert plan == {1: ["random", "dc", "datadam"], 2: ["random", "datadam"]}
    assert skipped == [("ipc=2", "dc"), ("ipc=5", "random"), ("ipc=5", "dc"), ("ipc=5", "datadam")]
    assert "class 'c1' of tiny has only 3 training images" in notes[1] and "DC not run" in notes[0]


def test_split_sweeps_keep_each_ipcs_epochs(monkeypatch):
    """Cells run as one sweep per list of kinds; each IPC keeps its own evaluation epochs."""
    calls = []
    monkeypatch.setattr(baselines, "run_sweep", lambda s, kinds, **kw: calls.append(
        ([x.key for x in s], kinds, [x.config_overrides().get("evaluate.epochs") for x in s])) or [])
    run_ = types.SimpleNamespace(sweep_args=dict)       # the run's shared sweep arguments: none here
    baselines._sweep_cells({1: ["random", "dc"], 10: ["random", "dc"], 50: ["random"]},
                           {"ipcs": [1, 10, 50], "epochs": [100, 50, 20], "seeds": [0]}, run_)
    assert calls == [(["ipc=1", "ipc=10"], ("random", "dc"), [100, 50]), (["ipc=50"], ("random",), [20])]


def test_every_scale_keys_the_papers_ipcs_and_the_quick_cuts_are_stated():
    for name in ("table1", "table3"):
        t = TARGETS[name]
        assert t.implemented and t.family == "baselines"
        for scale in ("smoke", "quick", "paper"):
            assert [s.key for s in t.settings(t.params_for(scale))] == ["ipc=1", "ipc=10", "ipc=50"]
    assert TARGETS["table1"].params_for("quick")["skip"] == {"50": ["dc", "dsa", "cafe"]}
    assert paper_numbers("table1").lookup("ipc=10", "dsa").value == "52.1"
    assert paper_numbers("table1").lookup("ipc=10", "dsa").unverified
    assert paper_numbers("table1_imagenet64").lookup("ipc=10", "datadam").value == "6.3 ± 0.0"
    assert paper_numbers("table3").lookup("ipc=1", "cgan").text() == "? [illegible in the supplement]"  # "?" stays "?"


def test_placement_by_hand():
    """Class 0 at x = 0, 1 and class 1 at x = 10, 11; one star per class, the
    class-1 star among class 0. Agreement: 1 of 2 stars; coverage: real points'
    distances to their class's star (0.5, 0.5, 9.4, 10.4) over their nearest
    real neighbour (1 each)."""
    real = np.array([[0.0, 0], [1, 0], [10, 0], [11, 0]])
    got = placement(real, np.array([0, 0, 1, 1]), np.array([[0.5, 0], [0.6, 0]]), np.array([0, 1]), k=2)
    assert got["agreement"] == pytest.approx(50.0)
    assert got["coverage"] == pytest.approx((0.5 + 0.5 + 9.4 + 10.4) / 4)


def test_joint_tsne_is_one_deterministic_map():
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=(40, 8)), rng.normal(size=(5, 8)) + 3, rng.normal(size=(5, 8))]
    a, pca = joint_tsne(feats, seed=1, pca_dims=4, perplexity=5)
    b, _ = joint_tsne(feats, seed=1, pca_dims=4, perplexity=5)
    assert [x.shape for x in a] == [(40, 2), (5, 2), (5, 2)] and [x.shape for x in pca] == [(40, 4), (5, 4), (5, 4)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_tsne_panels_one_per_set():
    rng = np.random.default_rng(0)
    fig = plots.tsne_panels(rng.normal(size=(20, 2)), np.arange(20) % 4,
                            {"dm": (rng.normal(size=(4, 2)), np.arange(4)), "datadam": (rng.normal(size=(4, 2)),
                                                                                         np.arange(4))},
                            ["a", "b", "c", "d"], names=str.upper)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["DM", "DATADAM"]


def test_accuracy_bars_keep_one_colour_per_kind_across_groups():
    """Each kind has one colour in every IPC group and one legend entry, also
    kinds without a colour of their own (table3's generators once took the
    next colour of matplotlib's cycle at every bar, so a bar's colour named
    another kind in the legend)."""
    from matplotlib.colors import to_hex
    kinds = ("random", "cgan", "some-new-kind", "datadam")
    summary = [{"setting": f"ipc={i}", "label": str(i), "kind": k, "mean": 50.0, "std": 1.0, "n_models": 3,
                "accuracies": "49;50;51"} for i in (1, 10, 50) for k in kinds if not (k == "cgan" and i == 1)]
    fig = plots.accuracy_bars(summary, "images per class", kinds=kinds)
    ax = fig.axes[0]
    bars = [p for p in ax.patches]
    assert len(bars) == len(summary)
    colours = {}
    for p in bars:   # bars are drawn kind by kind, group by group: rows of summary in that order
        colours.setdefault(round(p.get_x() + p.get_width() / 2 - round(p.get_x() + p.get_width() / 2), 3),
                           set()).add(to_hex(p.get_facecolor()))
    assert all(len(c) == 1 for c in colours.values()) and len(colours) == len(kinds)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(kinds)   # cgan labelled though absent at IPC 1
