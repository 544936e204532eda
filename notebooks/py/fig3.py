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
params: dict = {}  # the target's parameters to change, e.g. {"per_class": 2} ({}: the registry's for the scale; the table below lists them)

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
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("fig3", options, params))
result = visuals.progression("fig3", options, **params)
result.show()

# %%
result.check()
