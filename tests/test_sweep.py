"""The sweep runner: plain picklable jobs, rows through executors.run_jobs,
the cache reused on a second run, pooled summaries and the CSV."""
from __future__ import annotations

import pickle

import pytest

from datadam_lib.kit import report, sweep
from datadam_lib.kit.registry import Setting

# narrow encoders and a tiny evaluation keep these sweeps to seconds
FAST = {"distill.encoder.width": 16, "evaluate.encoder.width": 16, "distill.iterations": 2,
        "evaluate.epochs": 2, "evaluate.num_models": 2}


def _settings():
    return [Setting("p", 2, tuple({**FAST, "distill.method.power": 2}.items())), Setting("p", 4, tuple(FAST.items()))]


def test_jobs_are_plain_picklable_dicts(tmp_path):
    jobs = sweep.make_jobs(_settings(), [0, 1], "digits", "data", scale="smoke", ipc=1,
                           kinds=("datadam", "random"), cache_root=str(tmp_path))
    assert len(jobs) == 2 * 2 * 2
    assert {(j["setting"], j["kind"], j["seed"]) for j in jobs} == {
        (s, k, seed) for s in ("p=2", "p=4") for k in ("datadam", "random") for seed in (0, 1)}
    assert pickle.loads(pickle.dumps(jobs)) == jobs
    assert pickle.loads(pickle.dumps(sweep.run_job)) is sweep.run_job   # module-level: ships to other processes


def test_bad_settings_fail_before_any_job_runs(tmp_path):
    with pytest.raises(KeyError, match="no_such"):
        sweep.make_jobs([Setting("x", 1, (("distill.no_such", 1),))], [0], "digits", "data", cache_root=str(tmp_path))
    with pytest.raises(ValueError, match="seed"):
        sweep.make_jobs([Setting("x", 1)], [], "digits", "data", cache_root=str(tmp_path))
    with pytest.raises(ValueError, match="kind"):
        sweep.run_job({**sweep.make_jobs([Setting("x", 1)], [0], "digits", "data", cache_root=str(tmp_path))[0],
                       "kind": "gan"})


def test_sweep_rows_summary_and_cache_reuse(tmp_path, digits, capsys):
    kw = dict(seeds=[0, 1], dataset="digits", data_root=str(tmp_path), scale="smoke", ipc=1,
              kinds=("datadam", "random"), cache_root=str(tmp_path / "cache"), label="t")
    rows = sweep.run_sweep(_settings(), **kw)
    assert [(r["setting"], r["kind"], r["seed"]) for r in rows][:2] == [("p=2", "datadam", 0), ("p=2", "datadam", 1)]
    assert all(r["n_models"] == 2 and len(r["accuracies"]) == 2 for r in rows)
    assert not any(r["eval_cached"] for r in rows if r["kind"] == "datadam")
    assert [r["eval_cached"] for r in rows if r["kind"] == "random"] == [False, False, True, True]  # same IPC and seed
    again = sweep.run_sweep(_settings(), **kw)
    assert all(r["eval_cached"] for r in again)
    assert all(r["distill_cached"] for r in again if r["kind"] == "datadam")
    assert [r["accuracies"] for r in again] == [r["accuracies"] for r in rows]
    assert "cached" in capsys.readouterr().out
    forced = sweep.run_sweep([_settings()[1]], **{**kw, "seeds": [0], "kinds": ("datadam",)}, force=True)
    assert not forced[0]["distill_cached"] and not forced[0]["eval_cached"]

    summary = report.summarize(rows)
    assert [(s["setting"], s["kind"]) for s in summary] == [
        ("p=2", "datadam"), ("p=2", "random"), ("p=4", "datadam"), ("p=4", "random")]
    accs = [100 * a for r in rows if r["setting"] == "p=2" and r["kind"] == "datadam" for a in r["accuracies"]]
    assert summary[0]["n_models"] == 4 and summary[0]["seeds"] == "0;1"
    assert summary[0]["mean"] == pytest.approx(sum(accs) / 4)

    path = str(tmp_path / "out.csv")
    report.write_csv(summary, path)
    back = report.read_csv(path)
    assert [b["setting"] for b in back] == [s["setting"] for s in summary]
    assert float(back[0]["mean"]) == pytest.approx(summary[0]["mean"])


def test_summarize_pools_models_and_seeds():
    rows = [{"setting": "a", "kind": "datadam", "seed": s, "accuracies": accs, "dataset": "d", "scale": "smoke",
             "preset": "paper", "ipc": 1, "overrides": "{}"} for s, accs in ((0, [0.5, 0.7]), (1, [0.6, 0.6]))]
    (s,) = report.summarize(rows)
    assert s["mean"] == pytest.approx(60.0) and s["std"] == pytest.approx(100 * (0.005 ** 0.5))
    assert s["accuracies"] == "50.00;70.00;60.00;60.00"


def test_a_sweep_through_submitit_local_jobs_fills_the_cache(tmp_path, digits):
    """Jobs run in separate processes (submitit's local executor) write to the
    cache, so an inline re-run (a figure re-rendering) finds every result there."""
    import json
    config = tmp_path / "local.json"
    config.write_text(json.dumps({"log_folder": str(tmp_path / "logs" / "%j"), "local_parallelism": 1,
                                  "timeout_min": 10}))
    kw = dict(seeds=[0], dataset="digits", data_root=str(tmp_path), scale="smoke", ipc=1,
              cache_root=str(tmp_path / "cache"), label="t")
    settings = [_settings()[1]]
    rows = sweep.run_sweep(settings, executor="local", executor_config=str(config), **kw)
    assert not rows[0]["distill_cached"] and len(rows[0]["accuracies"]) == 2
    again = sweep.run_sweep(settings, **kw)
    assert again[0]["distill_cached"] and again[0]["eval_cached"]
    assert again[0]["accuracies"] == rows[0]["accuracies"]
