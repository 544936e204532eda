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

target: str = "fig14"  # which figure: fig14/15 CIFAR-10 IPC 10/50, fig16/17 CIFAR-100 IPC 10/50, fig18 TinyImageNet, fig19 ImageNet-1K (IPC 1), fig20-22 ImageNette/ImageWoof/ImageSquawk (IPC 10)
dataset: str = os.environ.get("DATADAM_DATASET", "")  # "": the figure's own; or a fixed part of its files (e.g. cifar10-5k of CIFAR-10); other data at --scale smoke only
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how much work, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = []  # distillation seeds; the first one's set is drawn ([]: the target's, else [0])
force: bool = False  # recompute the distilled set even when it is cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"classes": 4, "per_class": 3} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Supplement Figs. 14-22: distilled images
#
# One notebook for the nine image grids of the supplement; `target` says which (`./reproduce.sh fig17` runs this
# notebook with `target="fig17"` and writes `fig17`'s outputs).
#
# **What it shows.** The DataDAM set of the figure's dataset at its IPC, distilled with the preset, drawn through the
# inverse preprocessing (CIFAR: inverse ZCA; above 32 px the paper used no ZCA, so checkerboard artefacts are
# expected), as the supplement's Sec. 1.2 says it visualised them, without any further modification.
#
# **Where the data is missing.** `./reproduce.sh figN` says how to get the figure's dataset; it draws no stand-in from
# other data (which would stand under its name). `--dataset digits` runs at `--scale smoke` only, a code-path check.
#
# **What to look for:** images that keep their class's structure while departing from any single real image.

# %%
from datadam_lib.families import visuals
from datadam_lib.kit import report
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe(target, options, params))
result = visuals.grid(target, options, **params)
result.show()

# %%
result.check()
