"""Loading files safely: a checkpoint or a synthetic set is a file users
share, so unpickling one must never run code: every ``torch.load`` passes
``weights_only=True``, on a torch whose weights-only unpickler has no known
bypass (pyproject's floor)."""
from __future__ import annotations

import os


def _python_files():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for folder in ("datadam_lib", "tests", "benchmarks", os.path.join("notebooks", "py")):
        for d, _, files in os.walk(os.path.join(root, folder)):
            yield from (os.path.join(d, f) for f in files if f.endswith(".py"))


def test_every_torch_load_is_weights_only():
    """A checkpoint or synthetic set is a file users share: unpickling it
    must never run code (weights_only=True, on a torch that honours it)."""
    import ast
    calls = []
    for path in _python_files():
        for node in ast.walk(ast.parse(open(path).read())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load" \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch":
                safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                           for k in node.keywords)
                calls.append((os.path.relpath(path), node.lineno, safe))
    assert len(calls) >= 5                                      # the check sees the calls it is about
    assert [c for c in calls if not c[2]] == []


def test_the_torch_floor_has_a_safe_weights_only_unpickler():
    import re
    import tomllib
    from importlib.metadata import version
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    floor = next(re.fullmatch(r"torch>=(\d+)\.(\d+)", d) for d in deps if d.startswith("torch>"))
    assert floor and (int(floor[1]), int(floor[2])) >= (2, 10)          # CVE-2026-24747 is fixed in 2.10.0
    installed = tuple(int(v) for v in re.match(r"(\d+)\.(\d+)", version("torch")).groups())
    assert installed >= (int(floor[1]), int(floor[2]))
