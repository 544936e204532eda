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
params: dict = {}  # the target's parameters to change, e.g. {"kinds": ["dm", "datadam"]} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Fig. 9: where the synthetic images sit among the real ones
#
# **What is drawn.** A ResNet-18 trained on the real data embeds a real subsample and each method's synthetic
# set (512-d features); PCA to 50 dimensions and **one** t-SNE of all points together give every panel the same
# coordinates. Real images are dots coloured by class, synthetic images stars of their class's colour.
#
# **The paper claims** (CIFAR-10, IPC 50) DataDAM, like DM, spreads its images over the whole distribution of
# each class, while DC, DSA and CAFE cluster at the boundaries of some classes and place many images among
# other classes ("false positives").
#
# **What to look for:** stars inside their own class's cloud and spread across it. The table puts numbers on
# both: the share of stars whose nearest real neighbours are of their class, and how far the real points are
# from their class's nearest star (Random real images as the reference).

# %%
from datadam_lib.families import baselines
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("fig9", options, params))
result = baselines.fig9(options, **params)
result.show()

# %% [markdown]
# t-SNE keeps neighbourhoods, not distances: judge the stars by the cloud they sit in, not by how far apart two
# clouds are. The numbers are computed before t-SNE, in the 50-d PCA space.

# %%
result.check()
