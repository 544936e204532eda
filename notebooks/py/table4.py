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
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code): how the proxy sets are made and the optimiser that trains the candidates
seeds: list = []  # training seeds: every candidate is trained once per seed on every proxy and ranked by its mean ([]: the target's, else [0])
force: bool = False  # recompute the proxy sets and every training even when they are cached
executor: str = "inline"  # where the jobs run: inline, local (submitit, this machine) or slurm (one job per candidate and proxy)
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"architectures": 48, "proxy_epochs": 100} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Table 4: architecture search over 720 ConvNets with small proxy sets
#
# **The question.** Architecture search trains many candidate networks and keeps the best. Training each on a
# 500-image proxy (IPC 50 on CIFAR-10) instead of the 50,000 training images is about 100 times cheaper; it is
# only useful if the proxy ranks the candidates as the whole data would.
#
# **The experiment** (supplement Sec. 2.3, following the DC paper): 720 ConvNets (depth 1-4, width 32-256,
# sigmoid / ReLU / leaky ReLU, no / batch / layer / instance / group norm, no / max / average pooling), each
# trained on every proxy and on the whole training data, and ranked by validation accuracy. For each proxy:
# *Spearman's ρ* between its ranking and the whole data's (over all candidates, and over the best 20 %, 144 of
# them), *Performance*: the test accuracy of the candidate the proxy ranks first, once trained on the whole data;
# the time the proxy's trainings take and its storage. *Early stopping* trains on the whole data for as many
# iterations as a proxy takes.
#
# **The paper claims** DataDAM's proxy ranks the top 20 % best (ρ = 0.69, early stopping 0.64, DSA 0.57, DM 0.51,
# Random 0.44, CAFE 0.36) and ρ = 0.72 over all 720.
#
# **What to look for:** the ρ columns (1 means the same ranking, 0 none); whether the gaps between proxies exceed
# the noise stated under the table; Performance against the whole data's own best.
#
# **Cost.** Paper scale is 720 x 7 trainings of 200 epochs, about 90 GPU-hours (the whole-data trainings take
# nearly all of it; the paper reports 5,168.9 min), run best as a Slurm array (`executor="slurm"`, one job per
# candidate and proxy; docs/cluster.md). Quick scale searches 12 narrower ConvNets on digits in minutes.

# %%
from datadam_lib.families import nas
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("table4", options, params))
result = nas.run("table4", options, **params)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers and how the candidates were trained; the
# paper's are CIFAR-10 at paper scale, so compare our proxies with each other. *What this run shows* puts the
# differences beside the noise a rank correlation has over this many candidates.

# %%
result.check()
