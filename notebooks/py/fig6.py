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
seeds: list = []  # distillation seeds; each set is evaluated on the scale's number of fresh models ([]: the target's, else [0])
force: bool = False  # recompute the distilled sets and evaluations even when they are cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"norms": ["l2", "none"]} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Fig. 6: normalisation of the attention maps
#
# **The method.** Each flattened attention map is normalised per image before class means are compared: by its
# L2 norm (the default), its L1 norm, or not at all.
#
# **The paper claims** (CIFAR-10, IPC 10) L2 is best and L1 close to it; without normalisation the attention loss
# is large, the image updates overshoot and accuracy drops significantly.
#
# **What to look for:** L2 and L1 close together, "none" clearly lower (and its images moved far more).

# %%
from datadam_lib.families import ablations
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("fig6", options, params))
result = ablations.run("fig6", options, **params)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers; the paper's are CIFAR-10 at paper
# scale, so compare our settings with each other. *What this run shows* is computed from this run's numbers.

# %%
result.check()
