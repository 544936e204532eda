"""The experiment families' own logic: what Fig. 2's curve relies on, the
settings each ablation generates, the grids' choice of images."""
from __future__ import annotations

import torch

from datadam_lib import distill, make_config, override
from datadam_lib.families import load_all, visuals
from datadam_lib.kit import cache
from datadam_lib.kit.registry import TARGETS

load_all()


def test_the_images_at_iteration_k_are_those_of_a_k_iteration_run(digits, small_config):
    """Fig. 2 evaluates one run's snapshots as if each were its own shorter
    run: true only if every random draw happens in the same order."""
    cfg = small_config(ipc=1, distill__iterations=5, distill__init="noise")
    long = distill(cfg, digits, snapshot_at=(0, 2, 5), progress=False)
    for k in (2, 5):
        short = distill(override(cfg, {"distill.iterations": k}), digits, progress=False)
        torch.testing.assert_close(long.snapshots[k], short.images.cpu(), rtol=0, atol=0)


def test_a_cached_set_lacking_a_snapshot_is_recomputed_with_it(digits, small_config, tmp_path):
    cfg = small_config(ipc=1, distill__iterations=4)
    syn, hit, _ = cache.set_cached("datadam", cfg, digits, root=str(tmp_path))
    assert not hit and set(syn.snapshots) == {0, 1, 2, 4}
    syn, hit, _ = cache.set_cached("datadam", cfg, digits, root=str(tmp_path), snapshot_at=(0, 2))
    assert hit
    syn, hit, _ = cache.set_cached("datadam", cfg, digits, root=str(tmp_path), snapshot_at=(3,))
    assert not hit and set(syn.snapshots) == {0, 1, 2, 3, 4}


def test_a_set_whose_kind_runs_fewer_iterations_than_the_schedule_is_a_hit(digits, small_config, tmp_path,
                                                                           monkeypatch):
    """DSA runs its own (capped) iterations, so DataDAM's snapshot schedule asks
    for iterations it never reaches: the second lookup must still be a hit (it
    was a miss every time, re-making DC/DSA/CAFE sets for each NAS candidate)."""
    cfg = small_config(ipc=1, width=16, distill__iterations=40)
    calls = []
    real = cache.make_set
    monkeypatch.setattr(cache, "make_set", lambda *a, **k: calls.append(1) or real(*a, **k))
    syn, hit, _ = cache.set_cached("dsa", cfg, digits, root=str(tmp_path))
    assert not hit and syn.losses
    assert not set(cache.snapshot_schedule(40)) <= set(syn.snapshots)    # the case: a snapshot out of its reach
    again, hit, _ = cache.set_cached("dsa", cfg, digits, root=str(tmp_path))
    assert hit and calls == [1] and torch.equal(again.images, syn.images)
    _, hit, _ = cache.set_cached("dsa", cfg, digits, root=str(tmp_path), snapshot_at=(0,))
    assert hit and calls == [1]


def test_fig12_settings_match_the_supplement_panels():
    """(a) layer 1, (b) layer 2, (c) last = L_MMD, (d) layers 1+2 = L_SAM, (e) all = DataDAM."""
    got = {s.key: s.config_overrides() for s in TARGETS["fig12"].settings(TARGETS["fig12"].params_for("quick"))}
    m = "distill.method."
    assert got["layers=1"] == {m + "sam_layers": (1,), m + "components": ("sam",)}
    assert got["layers=1+2"] == {m + "sam_layers": (1, 2), m + "components": ("sam",)}
    assert got["layers=last"] == {m + "components": ("mmd",)}
    assert got["layers=all"] == {m + "components": ("sam", "mmd")}
    default = make_config("paper").distill.method
    assert override(default, {k[len(m):]: v for k, v in got["layers=all"].items()}) == default


def test_ablations_ipc_per_scale_and_dataset():
    """Quick scale: the paper's IPC up to 10 on real images, 1 on digits
    (saturated at 10); paper scale: the paper's IPC."""
    for name in ("fig1", "fig4", "fig5", "fig6", "fig11", "fig12"):
        quick = TARGETS[name].params_for("quick")
        assert quick["ipc"] == 10 and quick["digits_ipc"] == 1 and TARGETS[name].params_for("paper")["ipc"] == 10
    for name in ("fig10", "fig13"):
        assert TARGETS[name].params_for("paper")["ipc"] == 50 and TARGETS[name].params_for("quick")["ipc"] == 10
    assert TARGETS["fig2"].params_for("paper") == {**TARGETS["fig2"].params_for("paper"), "ipc": 50, "iterations": 40000}


def test_grid_choice_is_seeded_and_all_means_all():
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert visuals._choose(5, 0, g()).tolist() == [0, 1, 2, 3, 4]
    assert visuals._choose(5, 9, g()).tolist() == [0, 1, 2, 3, 4]
    a, b = visuals._choose(100, 10, g()), visuals._choose(100, 10, g())
    assert torch.equal(a, b) and len(set(a.tolist())) == 10 and a.tolist() == sorted(a.tolist())


def test_fig3_draws_the_images_of_fig2s_run():
    """Fig. 3 shows the snapshots of Fig. 2's run from noise: at every scale the
    two targets ask for the same run, so the second one reuses the cache."""
    keys = ("ipc", "digits_ipc", "iterations", "points")
    for scale in ("smoke", "quick"):
        f2, f3 = TARGETS["fig2"].params_for(scale), TARGETS["fig3"].params_for(scale)
        assert {k: f2.get(k) for k in keys} == {k: f3.get(k) for k in keys}, scale
