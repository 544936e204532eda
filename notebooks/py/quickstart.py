# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (datadam kit)
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
import os

target: str = "quickstart"  # quickstart: on the built-in digits (no download); quickstart-cifar10: on real images, CIFAR-10's 5k subset
dataset: str = os.environ.get("DATADAM_DATASET", "")  # "": the target's own (digits; cifar10-5k); or a name, npz:PATH, folder:PATH
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how much work, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = []  # distillation seeds; each set is evaluated on the scale's number of fresh models ([]: the target's, else [0])
force: bool = False  # recompute the distilled sets and evaluations even when they are cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"ipcs": [1, 10, 50]} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # DataDAM in a few minutes
#
# **Dataset distillation** learns a small synthetic set $\mathcal{S}$, a few images per class (IPC), such that
# a network trained on $\mathcal{S}$ alone does nearly as well as one trained on the whole real set
# $\mathcal{T}$. **DataDAM** (Sajedi, Khaki et al., ICCV 2023) learns $\mathcal{S}$ by making *randomly
# initialised* networks look at the synthetic images the way they look at the real ones.
#
# ## The method
#
# At every iteration DataDAM draws a fresh, randomly initialised ConvNet (never trained). For class $k$ it takes
# a batch of real images $\mathcal{T}_k$ and the class's synthetic images $\mathcal{S}_k$, applies the same
# differentiable augmentation (DSA) to both, and reads the activations $f^l$ of every layer $l$
# ($C_l$ channels, $H_l \times W_l$ positions) and the final embedding $\psi$.
#
# **Spatial attention (SAM).** A layer's attention map sums the channels' activations raised to a power $p$,
# flattened over positions and normalised per image:
#
# $$a_p(f^l) = \sum_{c=1}^{C_l} |f^l_c|^p \in \mathbb{R}^{H_l W_l}, \qquad \bar a_p = \frac{a_p}{\|a_p\|_2}$$
#
# $$\mathcal{L}_{SAM} = \sum_{k} \sum_{l} \Big\| \mathbb{E}_{x \in \mathcal{T}_k} \bar a_p\big(f^l(x)\big) - \mathbb{E}_{s \in \mathcal{S}_k} \bar a_p\big(f^l(s)\big) \Big\|_2^2$$
#
# over every layer but the last (the last enters through the embedding).
#
# **MMD on the embedding.** A linear-kernel maximum mean discrepancy between the class means of the embedding:
#
# $$\mathcal{L}_{MMD} = \sum_k \Big\| \mathbb{E}_{x \in \mathcal{T}_k} \psi(x) - \mathbb{E}_{s \in \mathcal{S}_k} \psi(s) \Big\|_2^2$$
#
# **The loss** $\mathcal{L} = \mathcal{L}_{SAM} + \lambda\, \mathcal{L}_{MMD}$ with $\lambda = 0.01$ for 32x32 images and
# $p = 4$ (supplement Table 2); the `paper` preset multiplies both terms by 100, as the authors' released code does (docs/presets.md says why). Only class means are compared, so real and synthetic images are never paired.
# One SGD step on the synthetic *pixels* follows (lr 1, momentum 0.5).
#
# **Evaluation** trains fresh ConvNets on $\mathcal{S}$ and tests them on the real test set. **Random** is the same
# protocol on IPC random real images: the baseline DataDAM has to beat.
#
# **Two datasets.** `./reproduce.sh quickstart` runs this notebook on the built-in *digits* (scikit-learn's 8x8
# digits, upsampled to 32x32) in a few minutes on a laptop CPU at the `quick` scale, with no download.
# `./reproduce.sh quickstart-cifar10` runs it on real images: CIFAR-10's fixed quick-scale subset (`cifar10-5k`,
# the first 1,000 images of each training batch and of the test batch; from a torchvision download, or
# `--dataset cifar10-5k:npz:PATH` for an `.npz` that holds them). On digits every method saturates quickly; on
# CIFAR-10 the gap between DataDAM and Random is the one the paper is about. Neither is the paper's full
# CIFAR-10 at its budget: the paper's numbers are shown beside ours for orientation only.

# %%
from datadam_lib.families import ablations
from datadam_lib.kit import plots, report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe(target, options, params))
result = ablations.quickstart(target, options, **params)
print(result.run.label)

# %% [markdown]
# ## What a random network attends to
#
# The first training image of every class and its attention map $a_p$ at each layer of one randomly initialised
# ConvNet (bright: high attention). Even untrained, the network's attention follows the image's structure (the
# strokes of a digit, the edges of an object): that is the information SAM transfers to the synthetic images.

# %%
plots.show(result.figures["attention"])

# %% [markdown]
# ## The synthetic images as they are learned
#
# The call above distilled a synthetic set for each IPC (cached: a second run reuses it), trained fresh models on
# it, and trained the same models on IPC random real images. With the same seed, DataDAM starts from exactly those
# random real images, so the difference between the two is what distillation adds. Here are the images of the
# largest IPC at the start, a quarter, half way and the end of distillation, with the loss.

# %%
plots.show(result.figures["synthetic"])

# %% [markdown]
# ## DataDAM vs Random
#
# Each bar is the mean over the evaluated models (the dots); the table puts our numbers beside the paper's
# CIFAR-10 numbers, which are for orientation only on another dataset or scale.

# %%
plots.show(result.figures[""])
report.show_markdown(result.table)
report.show_markdown(result.findings)

# %%
result.check()
