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
kinds: list = []  # one panel per kind of set ([]: dc, dsa, dm, cafe, datadam)
real_per_class: int = 0  # real images per class in the t-SNE (0: the scale's)
resnet_epochs: int = 0  # epochs of the ResNet-18 trained on the real data for the embedding (0: the scale's)
overrides: dict = {}  # dotted config overrides for every set ({}: the scale's)

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

result = baselines.fig9(scale=scale, dataset=dataset, preset=preset, seeds=seeds, force=force, executor=executor,
                        executor_config=executor_config, data_root=data_root, ipc=ipc, kinds=kinds,
                        real_per_class=real_per_class, resnet_epochs=resnet_epochs, overrides=overrides)
result.show()

# %% [markdown]
# t-SNE keeps neighbourhoods, not distances: judge the stars by the cloud they sit in, not by how far apart two
# clouds are. The numbers are computed before t-SNE, in the 50-d PCA space.

# %%
result.check(kinds=len(result.run.params["kinds"]))
