"""The baselines' own hyper-parameters, as frozen dataclasses (``Config.baselines``).

DataDAM's fields (``Config.distill``) belong to DataDAM; every other method
keeps the defaults of its own public code, cited field by field here and in
``docs/presets.md`` ("Baselines"). All baselines distil with the preset's
network (``distill.encoder``: ConvNet-3 with instance norm in the ``paper``
preset, the networks' "ConvNet" of DC/DSA/DM/CAFE) and its DSA parameters
(``distill.dsa``, the same numbers as DC's ``ParamDiffAug``), and are
evaluated like DataDAM (``Config.evaluate``; supplement Sec. 1.3: "trained
models using our experimental setup").

``iterations`` fields hold the paper-scale value; each method's module caps
them per scale (``smoke``/``quick``), as ``config.SCALES`` caps DataDAM's.
Overrides use dotted paths: ``{"baselines.matching.iterations": 5}``.

This module imports nothing from the package, so ``config.py`` can compose it.
"""
from __future__ import annotations

from dataclasses import dataclass

DC_REPO = "VICO-UoE/DatasetCondensation"


@dataclass(frozen=True)
class MatchingConfig:
    """DC and DSA, gradient matching (Zhao et al. ICLR 2021; Zhao & Bilen ICML
    2021): VICO-UoE/DatasetCondensation ``main.py`` argparse defaults and loop."""
    iterations: int = 1000      # --Iteration 1000
    lr_images: float = 0.1      # --lr_img 0.1; SGD momentum 0.5 (main.py: optimizer_img)
    momentum: float = 0.5
    lr_net: float = 0.01        # --lr_net 0.01; SGD without momentum (main.py: optimizer_net)
    batch_real: int = 256       # --batch_real 256 (per class)
    batch_train: int = 256      # --batch_train 256 (inner-loop network training)
    bn_images: int = 16         # BNSizePC = 16 real images per class set BatchNorm statistics
    outer_loop: int = 0         # 0: utils.get_loops(ipc): (1, 1), (10, 50), (50, 10) for IPC 1 / 10 / 50
    inner_loop: int = 0


@dataclass(frozen=True)
class DMConfig:
    """DM, distribution matching (Zhao & Bilen WACV 2023): ``main_DM.py`` defaults.
    The loss is DataDAM's L_MMD alone at weight 1 (``sets.DM_OVERRIDES``)."""
    iterations: int = 20_000    # --Iteration 20000
    lr_images: float = 1.0      # --lr_img 1.0 (momentum 0.5, as DataDAM's)
    batch_real: int = 256       # --batch_real 256


@dataclass(frozen=True)
class CAFEConfig:
    """CAFE (Wang et al. CVPR 2022): kaiwang960112/CAFE ``distill.py`` defaults."""
    iterations: int = 2000                              # --Iteration 2000
    lr_images: float = 0.1                              # --lr_img 0.1, SGD momentum 0.5
    momentum: float = 0.5
    lr_decay_at: tuple[float, ...] = (0.6, 0.8, 0.9)    # adjust_learning_rate: x0.5 at 1,200/1,600/1,800 of 2,000
    lr_net: float = 0.01                                # --lr_net 0.01, SGD without momentum
    batch_real: int = 256                               # --batch_real 256
    batch_train: int = 256                              # --batch_train 256
    last_weight: float = 1.0                            # --second_weight: the last block's activation
    earlier_weight: float = 0.1                         # --third/--fourth_weight: the blocks before it
    pooled_weight: float = 1.0                          # --first_weight: the last block's pooled output
    inner_weight: float = 0.01                          # --inner_weight: the discrimination loss
    lambda_1: float = 0.04                              # --lambda_1: the outer loop ends below this spread
    lambda_2: float = 0.03                              # --lambda_2: the inner loop ends above this spread
    window: int = 10                                    # acc_watcher length (hard-coded 10)
    check_images: int = 128                             # get_images(c, 128) per accuracy check
    max_outer: int = 100                                # kit: CAFE's while loops have no bound
    max_inner: int = 100


@dataclass(frozen=True)
class CoresetConfig:
    """Herding and K-Center select real images by their embedding in a ConvNet
    trained on the whole training set (the DC paper's coreset baselines)."""
    feature_epochs: int = 30    # kit choice: training of the embedding network (SGD 0.01, momentum 0.9)


@dataclass(frozen=True)
class GenerativeConfig:
    """The generative baselines of supplement Table 3 (``generative.py``): the
    work of training one generator. Model-specific hyper-parameters (optimiser,
    batch, latent size) are cited constants in ``generative.py``."""
    iterations: int = 20_000    # generator updates (kit choice; the supplement gives none)
    width: int = 64             # base channels of G and D (DCGAN's ngf = ndf = 64)


@dataclass(frozen=True)
class BaselinesConfig:
    matching: MatchingConfig = MatchingConfig()
    dm: DMConfig = DMConfig()
    cafe: CAFEConfig = CAFEConfig()
    coreset: CoresetConfig = CoresetConfig()
    generative: GenerativeConfig = GenerativeConfig()


# field name -> dataclass, for config.from_dict (names are unique across the config tree)
NESTED = {"baselines": BaselinesConfig, "matching": MatchingConfig, "dm": DMConfig, "cafe": CAFEConfig,
          "coreset": CoresetConfig, "generative": GenerativeConfig}
