"""One run API for every family (kit/run.py): a target's parameters come from
the registry unless named, the run options never change what is computed,
and a name the target does not take is refused in one line."""
from __future__ import annotations

import pytest

from datadam_lib.families import ablations, load_all
from datadam_lib.kit.registry import TARGETS, TargetError
from datadam_lib.kit.run import RunOptions, describe, parameter_names, start

load_all()


@pytest.fixture(autouse=True)
def _out(tmp_path, monkeypatch):
    monkeypatch.setenv("DATADAM_OUT", str(tmp_path))


def test_a_parameter_not_named_takes_the_registrys_value_for_the_scale(tmp_path):
    _, p, run_ = start("fig1", RunOptions(scale="quick", dataset="digits"), {})
    assert p["powers"] == [1, 2, 4, 6, 8] and p["ipc"] == 1          # digits: its own IPC (digits_ipc)
    assert run_.params["powers"] == p["powers"] and run_.dataset == "digits"
    (tmp_path / "x.npz").write_bytes(b"")
    _, p, _ = start("fig1", RunOptions(scale="quick", dataset=f"npz:{tmp_path / 'x.npz'}"), {})
    assert p["ipc"] == 10                                             # real images: the paper's IPC up to 10
    _, p, _ = start("fig1", RunOptions(scale="smoke", dataset="digits"), {})
    assert p["ipc"] == 1 and p["powers"] == TARGETS["fig1"].params_for("smoke")["powers"]


def test_a_parameter_named_is_kept_even_where_it_is_zero_or_empty():
    _, p, _ = start("fig1", RunOptions(dataset="digits"), {"ipc": 2, "powers": [4]})
    assert p["ipc"] == 2 and p["powers"] == [4]
    _, p, _ = start("fig17", RunOptions(scale="smoke", dataset="digits"), {"classes": 0})
    assert p["classes"] == 0 and p["per_class"] == 10               # 0 means "all classes", not "unset"
    _, p, _ = start("table1", RunOptions(scale="smoke", dataset="digits"), {"skip": {}})
    assert p["skip"] == {}                                            # an empty skip runs every cell


def test_seeds_come_from_the_options_else_the_target_else_zero():
    assert start("table5", RunOptions(scale="paper", dataset="digits"), {})[1]["seeds"] == [0, 1, 2, 3, 4]
    assert start("table5", RunOptions(scale="paper", dataset="digits", seeds=(7,)), {})[1]["seeds"] == [7]
    assert start("fig1", RunOptions(dataset="digits"), {})[1]["seeds"] == [0]


def test_the_dataset_defaults_to_the_targets_own():
    run_ = start("attention", RunOptions(scale="smoke"), {})[2]
    assert run_.dataset == TARGETS["attention"].default_dataset == "digits"


def test_a_name_the_target_does_not_take_is_refused_with_its_parameters():
    with pytest.raises(TargetError, match=r"^fig1 has no parameter 'power'; its parameters: .*powers"):
        ablations.run("fig1", RunOptions(scale="smoke", dataset="digits"), power=[4])


def test_every_target_takes_the_same_parameters_at_every_scale():
    """A parameter that exists at one scale only could not be overridden at
    another without surprise; the registry declares each at every scale,
    except the ones a scale leaves to its default (digits_ipc, skip, epochs,
    num_models, overrides: the work cuts of the smaller scales)."""
    cuts = {"digits_ipc", "skip", "epochs", "num_models", "overrides"}
    for t in TARGETS.values():
        names = parameter_names(t) - cuts
        for scale, p in t.params.items():
            assert names <= set(p), (t.name, scale, names - set(p))


def test_the_options_reach_every_sweep_of_the_run():
    opts = RunOptions(scale="smoke", dataset="digits", force=True, executor="local", executor_config="/x.json")
    args = start("fig1", opts, {})[2].sweep_args()
    assert (args["force"], args["executor"], args["executor_config"]) == (True, "local", "/x.json")
    args = start("fig1", RunOptions(scale="smoke", dataset="digits"), {})[2].sweep_args()
    assert (args["force"], args["executor"], args["executor_config"]) == (False, "inline", None)


def test_every_parameter_says_what_it_means():
    """The notebooks' parameter table (run.describe) reads each meaning from
    the registry: a parameter without one would show a blank."""
    for t in TARGETS.values():
        assert set(t.help) == parameter_names(t), (t.name, parameter_names(t) ^ set(t.help))
        assert all(len(text) > 10 for text in t.help.values()), t.name
    table = describe("fig1", RunOptions(dataset="digits"), {"powers": [4]})
    assert "| `powers` | `[4]` (yours; the scale's: `[1, 2, 4, 6, 8]`) | the values of p compared" in table
