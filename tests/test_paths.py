"""Where outputs go (kit/paths.py): a user's run into out/ (git-ignored), the
committed figures/ and results/ only when publishing on purpose, and
$DATADAM_OUT wherever it says; reproduce.sh's --publish."""
from __future__ import annotations

import os
import subprocess

import pytest

from datadam_lib.kit import paths
from datadam_lib.kit.paths import kit_root, output_root

KIT = kit_root()


@pytest.mark.parametrize("env, want", [
    ({}, os.path.join(KIT, "out")),
    ({"DATADAM_PUBLISH": "0"}, os.path.join(KIT, "out")),
    ({"DATADAM_PUBLISH": "1"}, KIT),
    ({"DATADAM_PUBLISH": "yes"}, KIT),
    ({"DATADAM_OUT": "/tmp/elsewhere"}, "/tmp/elsewhere"),
    ({"DATADAM_OUT": "/tmp/elsewhere", "DATADAM_PUBLISH": "1"}, "/tmp/elsewhere"),
])
def test_output_root(monkeypatch, env, want):
    for var in ("DATADAM_OUT", paths.PUBLISH_ENV):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert output_root() == want


def test_a_users_outputs_and_the_site_are_ignored_by_git():
    if not os.path.isdir(os.path.join(KIT, ".git")):
        pytest.skip("not a git checkout")
    probe = ["out/figures/quick/quickstart.png", "out/results/quick/quickstart.md", "site/index.html"]
    got = subprocess.run(["git", "check-ignore", *probe], cwd=KIT, capture_output=True, text=True, check=False).stdout.split()
    assert got == probe
    committed = subprocess.run(["git", "check-ignore", "figures/quick/quickstart.png"], cwd=KIT,
                               capture_output=True, text=True, check=False)
    assert committed.returncode == 1          # the published figures stay tracked


def test_publish_and_datadam_out_together_are_one_error_line(tmp_path):
    env = {**os.environ, "DATADAM_OUT": str(tmp_path)}
    r = subprocess.run(["bash", os.path.join(KIT, "reproduce.sh"), "quickstart", "--publish"], env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and r.stderr.startswith("error: --publish") and len(r.stderr.splitlines()) == 1
    assert os.listdir(tmp_path) == []
