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
ipc: int = 0  # images per class; 0: the scale's default (smoke/quick: 1 on digits; paper: 50)
iterations: int = 0  # distillation iterations from noise; 0: the scale's default (the same run as fig2)
points: list = []  # iterations shown; []: the scale's default
per_class: int = -1  # images shown per class; -1: the scale's default (paper: 2, as in the supplement)

# %% [markdown]
# # Supplement Fig. 3: noise-initialised images as they are learned
#
# **The method.** The run of Fig. 2 (the same cached distillation at the same parameters): synthetic images that
# start as Gaussian noise, shown at several iterations through the inverse preprocessing.
#
# **The paper claims** (CIFAR-10, IPC 50, two random images per class) the information of the real data moves into the
# noise: the final images are recognisable while the initial ones are pure noise.
#
# **What to look for:** class structure appearing row after row; the loss falling below.

# %%
from datadam_lib.families import visuals

result = visuals.progression("fig3", scale=scale, dataset=dataset, preset=preset, seeds=seeds, force=force,
                                     executor=executor, executor_config=executor_config, data_root=data_root,
                                     ipc=ipc, iterations=iterations, points=points, per_class=per_class)
result.show()

# %%
result.check(settings=len(result.summary))
