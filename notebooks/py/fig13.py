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

dataset: str = os.environ.get("DATADAM_DATASET", "cifar10")  # the paper's dataset; digits runs anywhere (npz:PATH, folder:PATH too)
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how much work, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = [0]  # distillation seeds; each set is evaluated on the scale's number of fresh models
force: bool = False  # recompute the distilled sets and evaluations even when they are cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
ipc: int = 0  # images per class; 0: the scale's default (smoke/quick: 1 on digits, where IPC 10 saturates; paper: 50)
inits: list = ["real", "kcenter", "noise"]  # initialisations compared (supplement Fig. 13)

# %% [markdown]
# # Supplement Fig. 13: initialisation of the synthetic images
#
# **The method.** The synthetic images start from random real images (the default), from K-Center real images
# (greedy farthest-first on the embeddings of a random ConvNet, per class), or from Gaussian noise.
#
# **The paper claims** (CIFAR-10, IPC 50) random and K-Center initialisation give strikingly similar images; the
# noise-initialised images differ but still learn the classes (and reach a lower accuracy: Fig. 2).
#
# **What to look for:** real and K-Center rows alike and close in accuracy; the noise row different and lower.

# %%
from datadam_lib.families import ablations

result = ablations.run("fig13", scale=scale, dataset=dataset, preset=preset, seeds=seeds, force=force,
                                executor=executor, executor_config=executor_config, data_root=data_root,
                                ipc=ipc, inits=inits)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers; the paper's are CIFAR-10 at paper
# scale, so compare our settings with each other. *What this run shows* is computed from this run's numbers.

# %%
result.check(settings=len(inits))
