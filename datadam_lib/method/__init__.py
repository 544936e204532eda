"""Layer 1, the method: data, augmentation, encoders, ZCA, losses, distillation
and evaluation. Nothing here knows about the kit's machinery (paths, cache,
jobs, registry, reports) or the experiment families; ``import-linter``
contracts in pyproject.toml check it."""

__version__ = "0.2.0"
