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

dataset: str = os.environ.get("DATADAM_DATASET", "")  # "": the target's own, digits (built in, no download); or a name, npz:PATH, folder:PATH
scale: str = os.environ.get("DATADAM_SCALE", "quick")  # smoke | quick | paper: how long the set is distilled, never the method
preset: str = "paper"  # paper (the evidence of what the authors ran) | table2 (Table 2 read literally) | released (their code)
seeds: list = []  # the seed of the distilled set, of the random ConvNet and of the real batch ([]: the target's, else [0])
force: bool = False  # distil the set again even when it is cached
executor: str = "inline"  # where the distillation runs: inline, local (submitit, this machine) or slurm
executor_config: str = ""  # the executor's settings file ("" for its defaults; docs/cluster.md)
data_root: str = os.environ.get("DATADAM_DATA", "")  # where datasets live ("" for data/ in the kit)
params: dict = {}  # the target's parameters to change, e.g. {"per_class": 32} ({}: the registry's for the scale; the table below lists them)

# %% [markdown]
# # Attention maps and L_SAM, interactively
#
# A companion to the quickstart. DataDAM compares real and synthetic images through the **spatial attention
# maps** of a randomly initialised ConvNet: at layer $l$, with activations $f^l$ ($C_l$ channels),
#
# $$a_p(f^l) = \sum_{c=1}^{C_l} |f^l_c|^p, \qquad \bar a_p = a_p / \|a_p\|_2 \ \text{(L2; or L1, or none)}$$
#
# $$\mathcal{L}_{SAM} = \sum_k \sum_l \Big\| \mathbb{E}_{x \in \mathcal{T}_k} \bar a_p\big(f^l(x)\big) - \mathbb{E}_{s \in \mathcal{S}_k} \bar a_p\big(f^l(s)\big) \Big\|_2^2$$
#
# over every layer but the last (main paper Sec. 3). The paper uses $p = 4$ and L2 (supplement Table 2) and
# ablates both (supplement Figs 1 and 6: accuracy). Here you can *see* what they do:
#
# - **p** weighs the strongest activations: at $p = 1$ the map is the mean activity, at $p = 8$ only the few
#   positions where some channel fires hardest stay bright;
# - **the normalisation** sets the maps' scale: with none, $\mathcal{L}_{SAM}$ grows like the activations to
#   the power $2p$ and swamps the embedding term (Fig. 6's collapse);
# - **the layer**: early layers see strokes at 32x32, later ones coarser parts.
#
# Below, the first training image of one class and its map at every layer of a random ConvNet, then the
# class-mean maps that $\mathcal{L}_{SAM}$ compares at the chosen layer: of a real batch, of a DataDAM set
# and of the real images that set started from. Move the sliders: the maps and $\mathcal{L}_{SAM}$ are
# recomputed in milliseconds (the activations are computed once; a move only re-weighs them).

# %%
from IPython.display import HTML, display

from datadam_lib.families import teaching
from datadam_lib.kit import plots, report, widgets
from datadam_lib.kit.run import RunOptions, describe

options = RunOptions(scale, dataset, preset, tuple(seeds), force, executor, executor_config, data_root)
report.show_markdown(describe("attention", options, params))
lesson = teaching.attention(options, **params)
print(lesson.run.label)

# %% [markdown]
# ## The explorer
#
# Live in Jupyter (`./reproduce.sh lab`, then run the notebook): the sliders recompute the figures below them.

# %%
explorer = widgets.Explorer(lesson.lab)
display(explorer.widget)

# %% [markdown]
# Without a kernel (this notebook rendered as a page, the results site): the same explorer with every state
# computed in advance, drawn in the browser.

# %%
display(HTML(widgets.static_html(lesson.lab)))

# %% [markdown]
# ## The default state, as figures
#
# p = 4 and L2, as the paper; the class-mean maps at layer 1.

# %%
for fig in lesson.figures.values():
    plots.show(fig)

# %% [markdown]
# ## L_SAM at every p and normalisation
#
# Read it down a column: the normalisation changes the scale of the loss by orders of magnitude.

# %%
report.show_markdown(lesson.table)

# %%
lesson.check()
