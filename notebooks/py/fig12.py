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
params: dict = {}  # the target's parameters to change, e.g. {"layers": ["last", "all"]} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Fig. 12: which layers are matched
#
# **The method.** ConvNet-3 has three blocks; DataDAM matches attention maps of blocks 1 and 2 ($\mathcal{L}_{SAM}$)
# and the embedding after block 3 ($\mathcal{L}_{MMD}$). This figure matches (a) layer 1 only, (b) layer 2
# only, (c) the last layer only ($\mathcal{L}_{MMD}$), (d) layers 1 and 2 ($\mathcal{L}_{SAM}$) and (e) all
# (DataDAM). The supplement's panel labels (a)-(c) are partly illegible; this is the kit's reading.
#
# **The paper claims** (CIFAR-10, IPC 10) each layer carries different information; matching all of them gives the
# brightest, most contrasted images. It shows images only; the kit adds each set's accuracy.
#
# **What to look for:** "all" at or near the top; single layers below it.

# %%
from datadam_lib.families import ablations
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("fig12", options, params))
result = ablations.run("fig12", options, **params)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers; the paper's are CIFAR-10 at paper
# scale, so compare our settings with each other. *What this run shows* is computed from this run's numbers.

# %%
result.check()
