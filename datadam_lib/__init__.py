"""datadam_lib: DataDAM (Sajedi, Khaki et al., ICCV 2023) as a small, tested library.

    from datadam_lib import load_dataset, make_config, distill, evaluate
    data = load_dataset("digits")
    cfg = make_config("paper", scale="quick", dataset="digits", ipc=10)
    syn = distill(cfg, data)
    print(evaluate(syn.images, syn.labels, data, cfg.evaluate, seed=cfg.seed))

The package is layered (pyproject.toml's import-linter contracts check it):
``method/`` (the method: data, augment, models, zca, losses, distill,
evaluate), ``kit/`` (paths, cache, jobs, registry, reports, figures),
``families/`` (the paper's artefacts by family), and the entry points on top
(``cli``, ``runner``, ``distributed``). This module re-exports the method's
public names.
"""
from .method import __version__
from .method.augment import DSAConfig
from .method.config import PRESETS, SCALES, Config, DistillConfig, EvalConfig, MethodConfig, make_config, override
from .method.data import DATASETS, DataError, DatasetNotFoundError, RealData, load_dataset
from .method.distill import distill
from .method.evaluate import EvalResult, evaluate, random_subset
from .method.io import CheckpointError
from .method.losses import Objective
from .method.models import EncoderSpec, build_encoder
from .method.synthetic import SyntheticSet

__all__ = [
    "__version__", "DSAConfig", "PRESETS", "SCALES", "Config", "DistillConfig", "EvalConfig", "MethodConfig",
    "make_config", "override", "DATASETS", "DataError", "DatasetNotFoundError", "RealData", "load_dataset",
    "Objective", "SyntheticSet", "distill", "EvalResult", "evaluate", "random_subset", "CheckpointError",
    "EncoderSpec", "build_encoder",
]
