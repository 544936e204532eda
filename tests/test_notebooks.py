"""Static checks of the notebooks (``pytest --nbval-lax notebooks/`` executes
them; see notebooks/conftest.py): committed without outputs, a typed and
commented ``parameters`` cell first, the python3 kernel, no training code."""
from __future__ import annotations

import argparse
import glob
import os
import re

import nbformat
import papermill
import pytest

from datadam_lib import runner
from datadam_lib.families import load_all
from datadam_lib.kit.paths import kit_root
from datadam_lib.kit.registry import TARGETS

load_all()

NOTEBOOKS = sorted(glob.glob(os.path.join(kit_root(), "notebooks", "*.ipynb")))

# what belongs in the library, not in a notebook
FORBIDDEN = [r"\.backward\(", r"\boptim\.", r"zero_grad", r"for\s+\w+\s+in\s+range\(", r"\bdistill\(",
             r"\bevaluate\(", r"train_model", r"\.step\(\)", r"cross_entropy"]


def test_every_notebook_is_a_target():
    names = {os.path.splitext(os.path.basename(p))[0] for p in NOTEBOOKS}
    assert names == {os.path.basename(t.notebook)[:-6] for t in TARGETS.values() if t.implemented}


def test_a_shared_notebook_declares_which_target_it_runs():
    """fig14-22 share notebooks/grid.ipynb: it takes ``target``, and each of
    its targets is run with its own name (the runner passes it)."""
    shared = [t for t in TARGETS.values() if t.notebook_name]
    assert {t.name for t in shared} == {f"fig{n}" for n in range(14, 23)} | {"quickstart", "quickstart-cifar10"}
    for t in shared:
        params = papermill.inspect_notebook(os.path.join(kit_root(), t.notebook))
        siblings = {s.name for s in shared if s.notebook == t.notebook}
        assert "target" in params and params["target"]["default"].strip('"') in siblings
        args = argparse.Namespace(scale="smoke", preset="paper", force=False, dataset="", root="", executor="",
                                  executor_config="", seeds=[])
        assert runner._params(t, args)["target"] == t.name
    assert "target" not in runner._params(TARGETS["fig1"], args)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_first_cell_holds_typed_commented_parameters(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "code" and "parameters" in nb.cells[0].metadata.get("tags", [])
    params = papermill.inspect_notebook(path)
    assert params
    for p in params.values():
        assert p["inferred_type_name"] != "None" and p["help"], p["name"]
    assert 'os.environ.get("DATADAM_SCALE", "quick")' in params["scale"]["default"]
    assert "DATADAM_DATASET" in params["dataset"]["default"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_no_training_loops_or_loss_code(path):
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for pattern in FORBIDDEN:
        assert not re.search(pattern, code), pattern
    assert "../shared" not in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_paired_script_holds_the_same_cells(path):
    """Each notebook is paired with notebooks/py/<name>.py (jupytext.toml):
    the script is the readable diff, so the two must not drift apart."""
    import jupytext
    script = os.path.join(os.path.dirname(path), "py", os.path.basename(path)[:-6] + ".py")
    assert os.path.isfile(script), f"{script} missing: run jupytext --sync {path}"
    a, b = nbformat.read(path, as_version=4), jupytext.read(script)
    assert [(c.cell_type, c.source.strip()) for c in a.cells] == [(c.cell_type, c.source.strip()) for c in b.cells]
