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

dataset: str = os.environ.get("DATADAM_DATASET", "cifar10")  # the paper's CIFAR-10; digits runs anywhere (npz:PATH, folder:PATH too)
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how much work, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = [0]  # seeds of the sets; each set is evaluated on the scale's number of fresh models
force: bool = False  # recompute the sets, trained generators and evaluations even when they are cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
ipc: int = 0  # images per class (0: the scale's; the paper's is 50)
archs: list = []  # evaluation architectures ([]: convnet, alexnet, vgg11, resnet18)
kinds: list = []  # kinds of set ([]: random, dm, datadam; any of dc, dsa, cafe, herding, kcenter too)
epochs: list = []  # evaluation epochs, one number ([]: the scale's)
num_models: int = 0  # evaluated models per set and architecture (0: the scale's)
overrides: dict = {}  # dotted config overrides for every set ({}: none)

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

result = baselines.crossarch(scale=scale, dataset=dataset, preset=preset, seeds=seeds, force=force,
                             executor=executor, executor_config=executor_config, data_root=data_root,
                             ipc=ipc, archs=archs, kinds=kinds, epochs=epochs, num_models=num_models,
                             overrides=overrides)
result.show()

# %% [markdown]
# The paper gives no numbers for this table that the kit could print beside ours: compare the kinds
# with each other, per architecture.

# %%
asked = result.run.params  # the architectures and kinds this run was asked for
result.check(settings=len(asked["archs"]), kinds=len(asked["kinds"]))
