"""Sweep executors (datadam_lib/executors.py): inline and submitit's local
executor give the same ordered results, a failed job raises one JobError
naming the job and its log, and a Slurm config file maps onto submitit's
parameters (checked without a cluster)."""
import json
import math
import shutil

import pytest
import submitit  # a test dependency (pyproject's [test] extra): missing, this file fails loudly, never skips

from datadam_lib.kit import executors
from datadam_lib.kit.executors import (ClusterConfig, JobError, collect, load_cluster_config, run_jobs,
                                   slurm_parameters, submit_jobs)

# Jobs are a module-level function of plain data; math.factorial is picklable by
# reference in any process and fails on negative numbers.
JOBS = [3, 0, 5, 4]
EXPECTED = [6, 1, 120, 24]


def _local(tmp_path, parallel=2) -> dict:
    return {"log_folder": str(tmp_path / "logs" / "%j"), "local_parallelism": parallel, "timeout_min": 5}


def test_inline_and_local_give_the_same_ordered_results(tmp_path):
    assert run_jobs(math.factorial, JOBS) == EXPECTED
    assert run_jobs(math.factorial, JOBS, "local", _local(tmp_path)) == EXPECTED


def test_submit_without_waiting_then_collect(tmp_path):
    handles = submit_jobs(math.factorial, JOBS[:2], "local", _local(tmp_path))
    assert len(handles) == 2
    assert collect(handles, JOBS[:2]) == EXPECTED[:2]
    with pytest.raises(ValueError, match="submitit executor"):
        submit_jobs(math.factorial, JOBS, "inline")


def test_a_failed_local_job_names_the_job_and_its_log(tmp_path):
    with pytest.raises(JobError) as info:
        run_jobs(math.factorial, [3, -1, 4, -2], "local", _local(tmp_path, parallel=4))
    e = info.value
    msg = str(e)
    assert e.index == 1 and e.job == -1
    assert "job 1 of 4 (-1)" in msg and "local executor" in msg
    assert "ValueError: factorial() not defined for negative values" in msg
    assert "1 more failed (jobs [3])" in msg
    assert e.log and e.log.startswith(str(tmp_path)) and e.log in msg
    assert "\n" not in msg


def test_a_failed_inline_job_names_the_job_and_stops():
    calls = []

    def fn(x):  # inline needs no pickling
        calls.append(x)
        return math.factorial(x)

    with pytest.raises(JobError, match=r"job 1 of 3 \(-1\) failed on the inline executor: ValueError") as info:
        run_jobs(fn, [2, -1, 3])
    assert calls == [2, -1] and info.value.log is None
    assert isinstance(info.value.__cause__, ValueError)


def test_unknown_executor():
    with pytest.raises(ValueError, match="unknown executor 'ssh'; choose one of"):
        run_jobs(math.factorial, JOBS, "ssh")


# ---------------------------------------------------------------- Slurm config

SLURM = {"partition": "gpu", "gpus_per_node": 1, "cpus_per_task": 8, "timeout_min": 240, "mem_gb": 32,
         "array_parallelism": 16, "log_folder": "runs/submitit/%j", "account": "proj42",
         "setup": ["source .venv/bin/activate"], "additional_parameters": {"hint": "nomultithread"}}


def test_slurm_config_file_maps_to_submitit_parameters(tmp_path):
    path = tmp_path / "slurm.json"
    path.write_text(json.dumps(SLURM))
    cc = load_cluster_config(str(path))
    params = slurm_parameters(cc)
    assert params == {"job_name": "datadam", "partition": "gpu", "gpus_per_node": 1, "cpus_per_task": 8,
                      "time": 240, "mem": "32GB", "array_parallelism": 16, "account": "proj42",
                      "setup": ["source .venv/bin/activate"], "additional_parameters": {"hint": "nomultithread"}}
    # every name is one SlurmExecutor.update_parameters accepts, and the sbatch
    # script submitit would write carries the values (no cluster needed)
    from submitit.slurm.slurm import SlurmExecutor, _make_sbatch_string
    assert set(params) <= SlurmExecutor._valid_parameters()
    script = _make_sbatch_string(command="python -u -m submitit.core._submit x", folder=str(tmp_path),
                                 map_count=40, **params)
    for line in ["--partition=gpu", "--gpus-per-node=1", "--cpus-per-task=8", "--time=240", "--mem=32GB",
                 "--array=0-39%16", "--account=proj42", "--hint=nomultithread", "--job-name=datadam"]:
        assert f"#SBATCH {line}" in script
    assert "source .venv/bin/activate" in script


def test_slurm_config_defaults_fractional_memory_and_toml(tmp_path):
    params = slurm_parameters(load_cluster_config({"partition": "cpu", "mem_gb": 1.5, "gpus_per_node": None}))
    assert params == {"job_name": "datadam", "partition": "cpu", "time": 24 * 60, "array_parallelism": 64,
                      "mem": "1536MB"}
    toml = tmp_path / "slurm.toml"
    toml.write_text('partition = "gpu"\ntimeout_min = 30\n')
    assert load_cluster_config(str(toml)) == ClusterConfig(partition="gpu", timeout_min=30)


@pytest.mark.parametrize("bad, match", [
    ({"partitions": "gpu"}, "unknown field 'partitions'"),
    ({"timeout_min": "4h"}, "timeout_min must be int"),
    ({"gpus_per_node": True}, "gpus_per_node must be int"),
    ({"array_parallelism": 0}, "array_parallelism must be positive"),
])
def test_bad_slurm_config_is_one_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        load_cluster_config(bad)


def test_slurm_without_a_config_file_or_a_cluster(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="slurm.json not found; copy slurm.example.json"):
        run_jobs(math.factorial, JOBS, "slurm")
    (tmp_path / "broken.json").write_text("{partition: gpu")
    with pytest.raises(ValueError, match="broken.json is not valid JSON"):
        run_jobs(math.factorial, JOBS, "slurm", str(tmp_path / "broken.json"))
    if shutil.which("srun") is None:
        with pytest.raises(RuntimeError, match="no Slurm here"):
            run_jobs(math.factorial, JOBS, "slurm", {"partition": "gpu"})


def test_slurm_path_submits_one_array_and_collects(tmp_path, monkeypatch):
    """The slurm executor's submit-and-collect path, with submitit's local
    executor standing in for the cluster."""
    made = []

    def fake(cc):
        made.append(slurm_parameters(cc))
        return submitit.LocalExecutor(folder=cc.log_folder)

    monkeypatch.setattr(executors, "_slurm_executor", fake)
    assert run_jobs(math.factorial, JOBS, "slurm", {**SLURM, "log_folder": str(tmp_path / "%j")}) == EXPECTED
    assert made and made[0]["partition"] == "gpu"


def test_example_config_in_the_repository_is_valid():
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cc = load_cluster_config(os.path.join(root, "slurm.example.json"))
    assert cc.partition and cc.timeout_min > 0
