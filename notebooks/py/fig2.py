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
ipc: int = 0  # images per class; 0: the scale's default (smoke/quick: 1 on digits; paper: 50 as in the paper)
iterations: int = 0  # distillation iterations from noise; 0: the scale's default (quick: 1000; paper: 40000)
points: list = []  # iterations at which the images are evaluated; []: the scale's default

# %% [markdown]
# # Supplement Fig. 2: learning from Gaussian noise
#
# **The method.** The synthetic images start as Gaussian noise instead of real images; DataDAM moves information
# from the real data into them. One distillation is evaluated at several of its iterations: the images at iteration
# $k$ of the run are exactly the result of a $k$-iteration run with the same seed, so every point is an honest
# distilled set.
#
# **The paper claims** (CIFAR-10, IPC 50, 40,000 iterations) noise initialisation takes longer to converge than real
# or K-Center initialisation and ends below them, yet still above methods such as KIP and DSA.
#
# **What to look for:** accuracy rising steeply from chance at iteration 0, then levelling off.

# %%
from datadam_lib.families import ablations

result = ablations.curve("fig2", scale=scale, dataset=dataset, preset=preset, seeds=seeds, force=force,
                                 executor=executor, executor_config=executor_config, data_root=data_root,
                                 ipc=ipc, iterations=iterations, points=points)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers; the paper's are CIFAR-10 at paper
# scale, so compare our settings with each other. *What this run shows* is computed from this run's numbers.

# %%
result.check(settings=len(result.summary))
