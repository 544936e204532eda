"""datadam_lib: DataDAM (Sajedi, Khaki et al., ICCV 2023) as a small, tested library.

    from datadam_lib import load_dataset, make_config, distill, evaluate
    data = load_dataset("digits")
    cfg = make_config("paper", scale="quick", dataset="digits", ipc=10)
    syn = distill(cfg, data)
    print(evaluate(syn.images, syn.labels, data, cfg.evaluate, seed=cfg.seed))
"""
__version__ = "0.1.0"

from .augment import DSAConfig
from .config import PRESETS, SCALES, Config, DistillConfig, EvalConfig, MethodConfig, make_config, override
from .data import DATASETS, DataError, DatasetNotFoundError, RealData, load_dataset
from .distill import Objective, SyntheticSet, distill
from .evaluate import EvalResult, evaluate, random_subset
from .io import CheckpointError
from .models import EncoderSpec, build_encoder

__all__ = [
    "DSAConfig", "PRESETS", "SCALES", "Config", "DistillConfig", "EvalConfig", "MethodConfig", "make_config",
    "override", "DATASETS", "DataError", "DatasetNotFoundError", "RealData", "load_dataset", "Objective",
    "SyntheticSet", "distill", "EvalResult", "evaluate", "random_subset", "CheckpointError", "EncoderSpec",
    "build_encoder",
]
