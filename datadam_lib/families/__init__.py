"""Layer 3, the experiment families. Each module computes a family of the
paper's artefacts and declares their targets (``kit.registry.register``) next
to its code:

- ``ablations``: settings -> distil -> evaluate -> bars, curves and images
  (quickstart, Figs 1, 2, 4-6, 10-13);
- ``visuals``: image grids and progressions (Figs 3, 14-22);
- ``baselines``: other methods, generative models, t-SNE (Table 3, Fig 9,
  main-paper Table 1, cross-architecture);
- ``nas``: architecture search with distilled proxies (Tables 4-5, Figs 7-8).
- ``teaching``: notebooks that explain the method (``attention``: the
  interactive attention maps and L_SAM).

Families use the method (layer 1) and the kit (layer 2); the entry points
(CLI, papermill runner) import them all through :func:`load_all`.
"""
from __future__ import annotations

import importlib

FAMILIES = ("ablations", "visuals", "baselines", "nas", "teaching")


def load_all() -> None:
    """Import every family, so that every target is registered."""
    for name in FAMILIES:
        importlib.import_module(f"{__name__}.{name}")
