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
params: dict = {}  # the target's parameters to change, e.g. {"archs": ["convnet", "resnet18"]} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Cross-architecture generalisation
#
# **The question.** A set distilled with one network (ConvNet-3) is meant to train *any* network. The main
# paper distils with ConvNet and trains ConvNet, AlexNet, VGG-11 and ResNet-18 on the result; the supplement's
# Sec. 3.2 adds that images distilled with ConvNet "transfer well to other architectures".
#
# **How:** every set is made once (its cache key leaves out how it is evaluated) and evaluated on each
# architecture with the same protocol; AlexNet has no norm layers, the others use the preset's (instance) norm,
# as DC/DSA/DM's default networks.
#
# **What to look for:** DataDAM above Random and DM on every architecture, and a smaller drop from ConvNet to
# the others than the baselines'.

# %%
from datadam_lib.families import baselines
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("crossarch", options, params))
result = baselines.crossarch(options, **params)
result.show()

# %% [markdown]
# The paper gives no numbers for this table that the kit could print beside ours: compare the kinds
# with each other, per architecture.

# %%
result.check()
