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
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code): how the proxy sets are made and the optimiser that trains the candidates
seeds: list = []  # training seeds: every candidate is trained once per seed on every proxy and ranked by its mean ([]: the target's, else [0])
force: bool = False  # recompute the proxy sets and every training even when they are cached
executor: str = "inline"  # where the jobs run: inline, local (submitit, this machine) or slurm (one job per candidate and proxy)
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"architectures": 48} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Fig. 7: proxy vs whole-data accuracy over all candidate ConvNets
#
# **The figure.** One panel per proxy, one point per candidate architecture: across, its validation accuracy
# after training on the proxy set; up, after training on the whole training data. Points on a rising line mean
# the proxy ranks the candidates as the whole data does; the panel's title gives Spearman's ρ. The star marks the
# candidate the proxy ranks first.
#
# **The paper claims** DataDAM's points lie closest to a line, ρ = 0.72 over all 720 ConvNets, higher than the
# other proxies'.
#
# **What to look for:** a rising cloud; candidates that fail to train (sigmoid without normalisation, say) sit in a
# corner and make ρ over all candidates easy, which is why Fig. 8 and Table 4 look at the best 20 %.
#
# This figure shares its search with Table 4 and Fig. 8: running any of them fills the cache the others read.

# %%
from datadam_lib.families import nas
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("fig7", options, params))
result = nas.run("fig7", options, **params)
result.show()

# %% [markdown]
# The table says which dataset, scale and preset produced our numbers and how the candidates were trained; the
# paper's are CIFAR-10 at paper scale, so compare our proxies with each other. *What this run shows* puts the
# differences beside the noise a rank correlation has over this many candidates.

# %%
result.check()
