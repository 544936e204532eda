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

dataset: str = os.environ.get("DATADAM_DATASET", "")  # "": the target's own, cifar10; or a name, npz:PATH, folder:PATH
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how much work, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = []  # seeds of the sets; each set is evaluated on the scale's number of fresh models ([]: the target's, else [0])
force: bool = False  # recompute the sets, trained generators and evaluations even when they are cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"ipcs": [10], "num_models": 5} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Table 3: distilled images vs images from generative models
#
# **The question.** Could a generative model, trained on the real data, produce training images as useful as
# DataDAM's? The supplement trains DC-VAE, a conditional GAN, BigGAN and GMMN on CIFAR-10, samples IPC images
# per class, trains ConvNet-3 on them and tests on real images. It also learns images by plain **MMD in pixel
# space**: $\sum_k \| \mathbb{E}_{\mathcal{T}_k} x - \mathbb{E}_{\mathcal{S}_k} s \|^2$, DataDAM's
# $\mathcal{L}_{MMD}$ with the identity in place of the network.
#
# **The paper claims** generative images are about as useful as random real images (Random 26.0 %, DC-VAE 29.8 %,
# cGAN 27.9 %, BigGAN 31.0 %, GMMN 32.2 % at IPC 10), pixel MMD a little better (34.9 %), DataDAM far better
# (54.2 %): generative models aim at realistic images, not at informative ones.
#
# **What the kit trains** (no pretrained weights can be downloaded reliably, so every generator is trained
# here, on the run's dataset, `method/baselines/generative.py`): a DCGAN-size **cGAN**; a **BigGAN-style (reduced)**
# network (conditional BatchNorm, projection discriminator, hinge loss, spectral norm, DiffAugment); a
# **conditional GMMN** (one MLP, class one-hot as input, MMD per class); a **DC-VAE (reduced)** (conditional VAE
# with DC-VAE's instance-contrastive and set-level adversarial losses). Each is trained once per seed and
# sampled at every IPC. At quick scale they train for minutes on a CPU, far less than the paper's
# generators: their rows say what a briefly trained generator gives, not what BigGAN can do.
#
# **What to look for:** the generative rows near Random, pixel MMD at or above Random, DataDAM on top; the
# sample grid shows what each generator learned. The paper's table is partly illegible: its "?" cells stay "—".

# %%
from datadam_lib.families import baselines
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("table3", options, params))
result = baselines.table("table3", options, **params)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers, and what was cut to fit the scale. The
# paper's are CIFAR-10 at paper scale: compare our rows with each other, not with the paper's numbers.

# %%
result.check()
