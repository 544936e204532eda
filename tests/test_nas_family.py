"""The NAS family: proxies checked by name, candidates rebuilt from their
names, metrics and tables from hand-made searches, a search through
submitit's local executor filling the cache an inline re-run reads, and
Table 5 against a (stand-in) NAS-Bench-201 file."""
from __future__ import annotations

import json
import math

import pytest

from datadam_lib.families import load_all, nas, nas_sweep
from datadam_lib.kit import report
from datadam_lib.kit.registry import Setting, TargetError
from datadam_lib.kit.run import RunOptions
from datadam_lib.method.nas import bench201 as nas_bench201
from datadam_lib.method.nas import cells
from datadam_lib.method.nas import space as nas_space

load_all()


def test_a_missing_kind_of_set_is_named():
    space = nas_sweep.SPACES["convnet"]
    assert nas_sweep.check_proxies(("random", "dm", "datadam", "early", "whole"), space)[-1] == "whole"
    with pytest.raises(TargetError, match=r"\['gan'\]") as e:
        nas_sweep.check_proxies(["random", "gan", "whole"], space)
    assert "pass proxies=" in str(e.value)
    with pytest.raises(TargetError, match="truth"):
        nas_sweep.check_proxies(["truth"], space)                  # a training of the cell space only


def test_candidates_are_rebuilt_from_their_names():
    for spec in nas_space.grid():
        assert nas_sweep._convnet_spec(nas_space.name(spec)) == spec
    p = {"architectures": 12, "arch_seed": 0, "depths": [], "widths": [4, 8, 16, 32]}
    names = nas_sweep._convnet_candidates(p)
    assert names == [nas_space.name(s) for s in nas_space.stratified(12, 0, nas_space.axes(width=(4, 8, 16, 32)))]
    cell_names = nas_sweep._cell_candidates({"cells": 3, "cell_seed": 1})
    assert [cells.parse(c) for c in cell_names] == cells.random_cells(3, 1)


def test_points_average_seeds_and_sum_times():
    rows = [{"kind": "dm", "setting": "arch=a", "label": "a", "val_acc": v, "test_acc": t, "train_s": 2.0,
             "n_images": 100} for v, t in ((50.0, 40.0), (70.0, 60.0))]
    p = nas_sweep.points(rows)["dm"]["arch=a"]
    assert (p["val"], p["test"], p["train_s"], p["n_images"]) == (60.0, 50.0, 4.0, 100)


def _search(space: str, truth: list[float], proxies: dict[str, list[float]], benchmark: bool = False):
    cands = [Setting("arch", f"c{i}") for i in range(len(truth))]
    pts = {k: {c.key: {"label": c.value, "val": v[i], "test": v[i] + 1, "train_s": 30.0, "n_images": 100}
               for i, c in enumerate(cands)} for k, v in proxies.items()}
    rows = [{"ipc": 10}]
    return nas_sweep.Search(space, cands, list(proxies), rows, [], pts, truth, [t - 5 for t in truth], "hand-made",
                      benchmark)


@pytest.fixture
def run_(tmp_path, monkeypatch):
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    return lambda name: report.start(name, "smoke", "digits", params={"seeds": [0], "ipc": 10})


def test_table4_metrics_by_hand(run_):
    truth = [50.0, 60.0, 70.0, 80.0, 90.0]
    s = _search("convnet", truth, {"random": [1.0, 2.0, 3.0, 5.0, 4.0], "whole": truth})
    r = run_("table4")
    summary = nas.summarize(s, nas.VIEWS["table4"].metrics, r, top_fraction=0.2)
    value = {(x["kind"], x["setting"]): x["value"] for x in summary}
    rests_on = {(x["kind"], x["setting"]): x["candidates"] for x in summary}
    assert rests_on[("random", "metric=spearman_all")] == 5 and rests_on[("random", "metric=spearman_top20")] == 2
    assert value[("random", "metric=spearman_all")] == pytest.approx(0.9)       # one swap of neighbours
    assert value[("random", "metric=spearman_top20")] == pytest.approx(-1.0)    # the best two, swapped
    assert value[("random", "metric=top1_accuracy")] == 75.0                   # it picks c3: truth 80 - 5
    assert value[("whole", "metric=spearman_all")] == pytest.approx(1.0)
    assert value[("whole", "metric=top1_accuracy")] == 85.0
    assert value[("random", "metric=time_min")] == 2.5 and value[("random", "metric=storage")] == 100
    text = nas._markdown(r, s, summary, nas.VIEWS["table4"].metrics, ["a note"])
    # the Spearman cells carry their bootstrap interval (the top 20 % is 2 candidates: no interval)
    assert "Not comparable" in text and "| Random | 0.90 [0.11, 1.00] | — | -1.00 | 0.44 | 75.0 | 88.9 |" in text
    assert "a note" in text and open(r.results_path("md")).read().startswith("### table4")
    assert "noise" in nas.findings(s, summary, "spearman_all")


def test_the_notes_warn_when_the_top_set_is_too_small_to_rank(run_):
    params = {**nas.CONVNET_PARAMS["quick"], "seeds": [0]}
    truth = [50.0, 60.0, 70.0, 80.0, 90.0]
    small = _search("convnet", truth, {"random": [1.0, 2.0, 3.0, 5.0, 4.0], "whole": truth})
    metrics = nas.VIEWS["table4"].metrics
    notes = " ".join(nas._notes(small, params, run_("table4"), metrics))
    assert "top 20 % here is 2 candidates" in notes
    assert "Few candidates" not in " ".join(nas._notes(small, params, run_("fig7"), nas.VIEWS["fig7"].metrics))
    truth = [float(i) for i in range(50)]
    large = _search("convnet", truth, {"random": truth, "whole": truth})
    assert "Few candidates" not in " ".join(nas._notes(large, params, run_("table4"), metrics))   # 10 in the top 20 %


def test_table5_without_the_benchmark_is_never_beside_the_papers_numbers(run_):
    s = _search("cells", [90.0, 91.0, 92.0], {"random": [3.0, 1.0, 2.0], "whole": [1.0, 2.0, 3.0]})
    r = run_("table5")
    summary = nas.summarize(s, nas.VIEWS["table5"].metrics, r, 0.2)
    text = nas._markdown(r, s, summary, nas.VIEWS["table5"].metrics, [])
    ours, _, theirs = text.partition("The paper's Supplement Table 5")
    assert "Not NAS-Bench-201" in ours and "paper" not in ours.split("| method")[1].split("\n")[0]
    assert "-0.06" not in ours and "| Spearman ρ | -0.06 |" in theirs and "not comparable" in theirs
    s.benchmark = True
    assert "| DataDAM" not in nas._markdown(r, s, summary, nas.VIEWS["table5"].metrics, [])   # not run here
    assert "| Random | -0.50 [-1.00, 1.00] | -0.06 |" in nas._markdown(r, s, summary, nas.VIEWS["table5"].metrics, [])


def _params(**kw):
    return {**nas.CONVNET_PARAMS["smoke"], **kw}


def test_a_search_through_submitit_local_jobs_fills_the_cache(tmp_path, monkeypatch):
    """The set and training jobs run in their own processes (submitit's local
    executor) and write the cache; an inline re-run finds every result."""
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "local.json"
    config.write_text(json.dumps({"log_folder": str(tmp_path / "logs" / "%j"), "local_parallelism": 1,
                                  "timeout_min": 10}))
    p = _params(architectures=1, depths=[1], proxies=["whole"])       # one job: one process to start
    r = report.start("table4", "smoke", "digits", params={**p, "executor": "local", "executor_config": str(config)})
    first = nas_sweep.search("convnet", p, r)
    assert len(first.rows) == 1 and not first.rows[0]["cached"]
    assert len(list((tmp_path / "cache" / "nas").glob("*.json"))) == 1
    again = nas_sweep.search("convnet", p, report.start("table4", "smoke", "digits", params=p))
    assert all(x["cached"] for x in again.rows)
    assert [x["val_acc"] for x in again.rows] == [x["val_acc"] for x in first.rows]
    assert again.truth_rank == first.truth_rank


def test_table5_reads_the_benchmark_instead_of_training_a_ground_truth(tmp_path, monkeypatch):
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))
    monkeypatch.setenv("DATADAM_CACHE", str(tmp_path / "cache"))
    chosen = cells.random_cells(2, seed=0)
    table = {cells.arch_string(c): acc for c, acc in zip(chosen, (93.0, 89.0))}

    class API:
        def query_index_by_arch(self, arch):
            return list(table).index(arch)

        def get_more_info(self, index, dataset, hp="12", is_random=True):
            return {"test-accuracy": list(table.values())[index]}

    path = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    path.write_bytes(b"")
    monkeypatch.setattr(nas_bench201, "_open", lambda p: API())
    result = nas.run("table5", RunOptions(scale="smoke", dataset="digits"), cells=2, proxies=["random"],
                     nb201_path=str(path))
    assert result.params["cell_channels"] == 4                           # the smoke scale's narrow network
    assert result.search.benchmark and result.search.truth_rank == [93.0, 89.0]
    assert {x["kind"] for x in result.search.rows} == {"random"}          # no self-trained ground truth
    top1 = next(x["value"] for x in result.summary if x["setting"] == "metric=top1_accuracy")
    assert top1 in (93.0, 89.0, 91.0) and not math.isnan(top1)
    assert "| Random |" in result.table and "-0.06" in result.table          # beside the paper's numbers
    result.check(candidates=2, proxies=1)


def test_the_nas_verdict_judges_datadams_rho_against_each_other_set_by_a_paired_bootstrap():
    import dataclasses

    import numpy as np

    from datadam_lib.kit import verdict
    rng = np.random.default_rng(0)
    truth = [float(i) for i in range(40)]
    noisy = list(np.array(truth) + rng.normal(scale=15, size=40))          # rho about 0.6
    backwards = [-t for t in truth]

    def judged(**proxies):
        s = dataclasses.replace(_search("convnet", truth, {**proxies, "early": truth, "whole": truth}),
                                truth_kinds=("whole",))
        return nas.verdict(s, ("spearman_all",), 0.2).splitlines()

    lines = judged(datadam=truth, random=noisy, dm=backwards)
    assert verdict.read(lines[0]) == ("shows", "2 of 2")                    # early stopping and whole not compared
    assert lines[1].startswith("- shows: DataDAM above Random in Spearman ρ, all candidates: +0.")
    assert lines[1].endswith("40 candidates") and len(lines) == 3
    assert verdict.read(judged(datadam=noisy, random=truth)[0]) == ("reversed", "0 of 1")
    assert verdict.read(judged(datadam=noisy, random=noisy)[0]) == ("does not show", "0 of 1")
    assert verdict.read(judged(random=noisy, dm=truth)[0]) == ("no verdict", "—")
    own = dataclasses.replace(_search("cells", truth, {"datadam": truth, "random": noisy, "whole": backwards}),
                              truth_kinds=())                                # table5: "whole" is a proxy there
    assert verdict.read(nas.verdict(own, ("spearman_all",), 0.2).splitlines()[0]) == ("shows", "1 of 1")
