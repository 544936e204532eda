"""Generators at a longer budget: are supplement Table 3's generative rows
undertrained, or is that what the methods give?

Trains each generative baseline (``--kinds``, the kit's ``generative.py``) for
``--iterations`` updates at ``--width`` channels, samples its sets at each
IPC, evaluates each set as table3 does (``--models`` ConvNets, ``--epochs``
per IPC), and measures the samples' quality with GAN-test (Shmelkov et al.
2018, ``evaluate.recognised``): the share of the largest-IPC set that a
ConvNet trained ``--quality-epochs`` epochs on the real training data assigns
to its class (chance: 1 / classes). Random real images are the reference row.
Prints a markdown table and appends it, with the command and the machine, to
``--out`` (default docs/fidelity.md).

    python benchmarks/generators.py --npz cifar10-mini.npz --as cifar10-5k --kinds cgan --iterations 10000

Sets, trained generators and evaluations go through the kit's cache
(``--cache``), so a second run with more kinds reuses what it shares.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fidelity import _value, code_version, dataset, emit, machine  # noqa: E402

GENERATORS = ("cgan", "dc-vae", "gmmn", "biggan")


def run(a) -> str:
    from dataclasses import replace

    import torch

    from datadam_lib.kit import report
    from datadam_lib.kit.cache import classifier_cached
    from datadam_lib.kit.registry import settings
    from datadam_lib.kit.sweep import get_data, run_sweep
    from datadam_lib.method.config import make_config
    from datadam_lib.method.evaluate import recognised, test_accuracy
    from datadam_lib.method.synthetic import SyntheticSet
    torch.set_num_threads(a.threads)
    if len(a.epochs) != len(a.ipcs):
        raise SystemExit(f"--epochs needs one value per IPC ({len(a.ipcs)}), got {len(a.epochs)}")
    epochs = dict(zip(a.ipcs, a.epochs))
    extra = {k: _value(v) for k, _, v in (s.partition("=") for s in a.set)}
    budget = {"baselines.generative.iterations": a.iterations, "baselines.generative.width": a.width,
              "evaluate.num_models": a.models, **extra}
    root = a.root or os.path.join(os.path.dirname(HERE), "data")
    kinds = ["random", *a.kinds]
    got = run_sweep(settings("ipc", a.ipcs, lambda i: {"distill.ipc": i, "evaluate.epochs": epochs[i], **budget}),
                    seeds=a.seeds, dataset=dataset(a), data_root=root, preset=a.preset, scale="paper",
                    kinds=kinds, cache_root=a.cache, label="generators")
    summary = report.summarize(got)

    # GAN-test: one ConvNet (the preset's evaluation network, no augmentation) trained on the real data
    top = max(a.ipcs)
    cfg = make_config(a.preset, "paper", dataset(a), top, a.seeds[0], budget)
    data = get_data(dataset(a), root, None, cfg.preprocess)
    ec = replace(cfg.evaluate, epochs=a.quality_epochs, augment="none", num_models=1)
    net, _ = classifier_cached(ec, data, cfg.seed, root=a.cache)
    quality = {}
    for k in kinds:
        r = next(r for r in got if r["kind"] == k and r["ipc"] == top)
        syn = SyntheticSet.load(r["synthetic_dir"], data.device)
        quality[k] = 100 * recognised(net, syn.images, syn.labels)

    lines = ["| set | updates | " + " | ".join(f"IPC {i} ({epochs[i]} epochs)" for i in a.ipcs)
             + f" | GAN-test, IPC {top} (%) | training (s) |",
             "|---|---|" + "---|" * (len(a.ipcs) + 2)]
    for k in kinds:
        cells = [next(s for s in summary if s["kind"] == k and s["setting"] == f"ipc={i}") for i in a.ipcs]
        made = next(r for r in got if r["kind"] == k and r["ipc"] == top).get("distill_s")
        lines.append(f"| {report.kind_name(k)} | {'—' if k == 'random' else a.iterations} | "
                     + " | ".join(f"{c['mean']:.1f} ± {c['std']:.1f}" for c in cells)
                     + f" | {quality[k]:.0f} | {'—' if made is None else f'{made:.0f}'} |")
    return ("\n".join(lines) + f"\n\nGAN-test: the share of the IPC-{top} set that a ConvNet trained "
            f"{a.quality_epochs} epochs on the real training data (no augmentation) assigns to its class; the same "
            f"network scores {100 * test_accuracy(net, data):.0f} % on the real test images; chance "
            f"{100 / data.num_classes:.0f} %. Accuracy: mean ± std over {a.models} evaluated models. Training (s): "
            "the generator's training, timed when first made (shared by every IPC).")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--npz", required=True, help="dataset: .npz with x_train, y_train, x_test, y_test")
    p.add_argument("--as", dest="as_", default="", help="read the .npz as this registered dataset, e.g. cifar10-5k")
    p.add_argument("--root", default="", help="where the ZCA whitening is cached (default: the kit's data/)")
    p.add_argument("--preset", default="paper")
    p.add_argument("--kinds", nargs="+", choices=GENERATORS, default=["cgan"])
    p.add_argument("--iterations", type=int, default=10_000, help="generator updates")
    p.add_argument("--width", type=int, default=32, help="base channels of G and D (paper scale: 64)")
    p.add_argument("--ipcs", type=int, nargs="+", default=[10, 50])
    p.add_argument("--epochs", type=int, nargs="+", default=[50, 20], help="evaluation epochs, one per IPC "
                   "(table3's quick scale)")
    p.add_argument("--models", type=int, default=3, help="evaluated models per set")
    p.add_argument("--quality-epochs", type=int, default=10, help="epochs of the GAN-test ConvNet (table3's quick)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="any other config override")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache", default=None, help="cache directory (default: the kit's cache/)")
    p.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "docs", "fidelity.md"),
                   help="markdown file to append the table to ('-': print only)")
    a = p.parse_args(argv)
    t0 = time.time()
    table = run(a)
    cmd = "python benchmarks/generators.py " + " ".join(argv if argv is not None else sys.argv[1:])
    data = f"{a.as_} (from {os.path.basename(a.npz)})" if a.as_ else os.path.basename(a.npz)
    head = (f"### Generators, {a.iterations} updates at width {a.width}: {data}, seeds {a.seeds}"
            + (f", {' '.join(a.set)}" if a.set else ""))
    emit(f"{head}\n\n{table}\n\nCommand: `{cmd}` · code {code_version()} · {machine()} · "
         f"{time.strftime('%Y-%m-%d')} · {time.time() - t0:.0f} s (cached parts not recomputed).\n", a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
