# %% tags=["parameters"]
import os

dataset: str = os.environ.get("DATADAM_DATASET", "cifar100")  # the paper's dataset, or a fixed part of its files (e.g. cifar10-5k of CIFAR-10); other data at --scale smoke only
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how much work, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = [0]  # distillation seeds; each set is evaluated on the scale's number of fresh models
force: bool = False  # recompute the distilled sets and evaluations even when they are cached
executor: str = "inline"  # where the sweep's jobs run: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
ipc: int = 0  # images per class; 0: the figure's (50; smoke: 1)
classes: int = -1  # classes shown: -1 the figure's default, 0 all, N that many random classes
per_class: int = -1  # images shown per class: -1 the figure's default, 0 all, N that many random ones

# %% [markdown]
# # Supplement Fig. 17: distilled images, CIFAR100, IPC 50
#
# **What it shows.** The DataDAM set of CIFAR100 at IPC 50, distilled with the preset, drawn through the inverse
# preprocessing (CIFAR: inverse ZCA), as the supplement's Sec. 1.2 says it visualised them, without any further modification.
#
# **Where the data is missing.** `./reproduce.sh fig17` says how to get CIFAR100; it draws no stand-in from other data
# (which would stand under its name). `--dataset digits` runs at `--scale smoke` only, a code-path check.
#
# **What to look for:** images that keep their class's structure while departing from any single real image.

# %%
from datadam_lib.families import visuals

result = visuals.grid("fig17", scale=scale, dataset=dataset, preset=preset, seeds=seeds, force=force,
                               executor=executor, executor_config=executor_config, data_root=data_root,
                               ipc=ipc, classes=classes, per_class=per_class)
result.show()

# %%
result.check(settings=1)
