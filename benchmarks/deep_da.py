"""Deep domain adaptation in FineTunedCNNClassifier: each domain loss against none, no target label.

On ``skltransfer.datasets.make_digits_shift`` (flat 64-pixel rows, ``image_shape=(8, 8)``),
for each seed: the small digit CNN's architecture is trained from a random initialisation on
the labeled source digits and the unlabeled target digits (``y == -1``), once with
``domain_loss_weight=0`` (the same network, seeds and batches without domain term) and once
per domain loss at its default weight and warm-up
(``skltransfer.keras._demo.deep_adaptation_rows``: 20 epochs, Adam 1e-3, loss on the 64-unit
embedding). Accuracy on the target digits outside the demo's 10-per-class labeled set (never
used here); mean and standard deviation over the seeds. ``--weights`` adds rows for other
weights of one loss (e.g. ``adversarial=1.0``), to show how the default compares.

Usage::

    python benchmarks/deep_da.py --seeds 0 1 2 3 4            # see results/deep_da.md
    python benchmarks/deep_da.py --seeds 0 1 2 --weights adversarial=1.0
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def run(seeds, extra_weights) -> None:
    from skltransfer._demo import FEW_LABELS_PER_CLASS, few_labeled_rows
    from skltransfer.datasets import make_digits_shift
    from skltransfer.keras._demo import deep_adaptation_rows

    losses = ("mmd", "coral", "adversarial", *extra_weights)
    table: dict[str, list[float]] = {}
    start = time.perf_counter()
    for seed in seeds:
        Xs, ys, Xt, yt = make_digits_shift(random_state=seed)
        test = np.setdiff1d(np.arange(len(yt)), few_labeled_rows(yt, FEW_LABELS_PER_CLASS, seed))
        rows = deep_adaptation_rows(Xs, ys, Xt, Xt[test], yt[test], (8, 8), losses=losses, random_state=seed)
        for name, accuracy in rows:
            table.setdefault(name, []).append(accuracy)
        print(f"seed {seed}: " + ", ".join(f"{a:.3f}" for _, a in rows), flush=True)
    baseline = np.mean(next(iter(table.values())))
    print(f"\n{len(seeds)} seeds ({', '.join(map(str, seeds))}), {time.perf_counter() - start:.0f} s\n")
    print("| method | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | std | vs no domain loss |")
    print("| --- |" + " ---: |" * (len(seeds) + 3))
    for name, values in table.items():
        cells = " | ".join(f"{v:.3f}" for v in values)
        mean = np.mean(values)
        print(f"| {name} | {cells} | {mean:.3f} | {np.std(values):.3f} | {mean - baseline:+.3f} |")


def _weight(text: str) -> tuple[str, float]:
    loss, _, weight = text.partition("=")
    return loss, float(weight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--weights", type=_weight, nargs="*", default=[], metavar="LOSS=WEIGHT")
    args = parser.parse_args()
    run(args.seeds, args.weights)


if __name__ == "__main__":
    main()
