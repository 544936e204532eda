"""The registry of targets (declared by the families), the paper's numbers as
data keyed by the families' own settings, and the layering of the package."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from datadam_lib.families import load_all
from datadam_lib.kit import registry
from datadam_lib.kit.paths import kit_root
from datadam_lib.kit.registry import SCALES, TARGETS, Setting, paper_numbers, settings

load_all()
KIT = kit_root()


def test_every_artefact_of_the_supplement_is_a_target():
    expected = {"quickstart", "table3", "table4", "table5"} | {f"fig{i}" for i in range(1, 23)}
    assert expected <= set(TARGETS)
    assert {"quickstart", "fig1", "fig5", "fig6"} <= {n for n, t in TARGETS.items() if t.implemented}
    # the main paper's Table 1 sorts with the tables, before the supplement's
    assert [t.name for t in registry.ordered()][:6] == ["quickstart", "quickstart-cifar10", "table1", "table3", "table4",
                                                        "table5"]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_target_names_its_family_and_outputs_carry_the_scale(name):
    t = TARGETS[name]
    assert t.family in ("ablations", "visuals", "baselines", "nas", "teaching") and t.title and t.datasets
    assert t.notebook == f"notebooks/{t.notebook_name or name}.ipynb"
    assert os.path.isfile(os.path.join(KIT, t.notebook)) == t.implemented
    for scale in SCALES:
        figs = [o for o in t.outputs_for(scale) if o.startswith("figures/")]
        assert figs and all(o.startswith(f"figures/{scale}/") for o in figs)


def test_setting_keys_are_canonical():
    assert Setting("power", 4.0).key == Setting("power", 4).key == "power=4"
    assert Setting("layers", (1, 2)).key == "layers=1+2"
    (s,) = settings("norm", ["l2"], lambda v: {"distill.method.attention_norm": v}, labels=str.upper)
    assert s.key == "norm=l2" and s.name == "L2" and s.config_overrides() == {"distill.method.attention_norm": "l2"}


def test_every_paper_number_is_keyed_by_a_setting_its_family_generates():
    """A number in paper_numbers.toml whose key no setting of its target
    produces would never be shown: the file and the code must agree."""
    for name, t in TARGETS.items():
        nums = t.paper.numbers
        if not nums or t.settings is None:
            continue
        for scale in SCALES:
            keys = {s.key for s in t.settings(t.params_for(scale))}
            assert set(nums) <= keys, (name, scale, set(nums) - keys)


def test_paper_numbers_keep_the_unverified_marks():
    qs = paper_numbers("quickstart")
    ref = qs.lookup("ipc=1", "datadam")
    assert ref.unverified and "(unverified)" in ref.text()
    assert not qs.lookup("ipc=10", "datadam").unverified and qs.lookup("ipc=10", "datadam").value == "54.2 ± 0.8"
    t3 = paper_numbers("table3")
    assert t3.lookup("ipc=50", "datadam").unverified and t3.lookup("ipc=10", "pixel-mmd").value == "34.9 ± 0.3"
    assert paper_numbers("table5").lookup("metric=spearman", "datadam").value == "0.07"
    for n in ("fig1", "fig5", "fig6"):
        p = paper_numbers(n)
        assert p.dataset == "CIFAR-10" and p.finding
    assert paper_numbers("fig1").lookup(Setting("power", 1)) is None        # only the figure shows it
    assert paper_numbers("fig1").lookup(Setting("power", 4.0)).value == "54.2 ± 0.8"


def test_registering_a_different_target_under_a_taken_name_fails():
    t = TARGETS["fig1"]
    registry.register(t)    # the same declaration again is harmless
    with pytest.raises(ValueError, match="twice"):
        registry.register(registry.Target("fig1", "another", "ablations", ("digits",)))


def test_import_layers_and_no_cycles():
    """entry points > families > kit > method (pyproject.toml's import-linter
    contract), and no import cycle inside the package."""
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    r = subprocess.run([lint, "--config", os.path.join(KIT, "pyproject.toml")], cwd=KIT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "0 broken" in r.stdout, r.stdout + r.stderr
    from grimp import build_graph
    graph = build_graph("datadam_lib")
    modules = sorted(graph.modules)
    for m in modules:
        for dep in graph.find_modules_directly_imported_by(m):
            assert not graph.chain_exists(importer=dep, imported=m), f"import cycle through {m} and {dep}"
