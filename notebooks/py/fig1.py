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
params: dict = {}  # the target's parameters to change, e.g. {"powers": [1, 4]} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Fig. 1: the power $p$ of the attention map
#
# **The method.** SAM turns the activations $f^l$ of layer $l$ ($C_l \times H_l \times W_l$) into a spatial attention
# map $a_p(f^l) = \sum_{c=1}^{C_l} |f^l_c|^p$, normalised per image. A larger $p$ gives more weight to the most
# activated locations.
#
# **The paper claims** (CIFAR-10, IPC 10) DataDAM is robust over a broad range of $p$, with some loss at $p = 8$,
# which weights the most activated locations too heavily; its default is $p = 4$.
#
# **What to look for:** bars of similar height, perhaps a dip at $p = 8$; each bar shows every evaluated model as a
# dot, so a difference smaller than the spread of the dots is noise.

# %%
from datadam_lib.families import ablations
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("fig1", options, params))
result = ablations.run("fig1", options, **params)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers; the paper's are CIFAR-10 at paper
# scale, so compare our settings with each other. *What this run shows* is computed from this run's numbers.

# %%
result.check()
