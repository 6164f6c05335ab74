"""Office-Caltech10 (SURF): importance weighting with a few labeled target rows, and its guard.

Setting, fixed in advance: 3 labeled target rows per class drawn with seeds 0, 1, 2 (the
TrAdaBoost protocol of ``benchmarks.oc10.reweighting``), every row scaled to unit L2 norm,
``DomainClassifierWeighting(RidgeClassifier(alpha=1))`` (its default logistic domain
classifier, no clipping). Three fits per task and seed, scored by accuracy on the other
target rows:

- "before": the labeled target rows passed unlabeled, so that they only shape the weights
  (what the estimator did with them before it trained on them);
- "guard=False": the weighted source rows and the labeled target rows, weight 1 each;
- "guard=True" (the default): that fit, unless a plain ``RidgeClassifier`` (source only,
  target only, pooled) beats it in cross-validation over the 30 labeled target rows by more
  than one standard error.

Run from the repository root::

    python -m benchmarks.oc10.reweighting_guard
    python -m benchmarks.oc10.reweighting_guard --tasks C-A W-D --seeds 0
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import normalize

from skltransfer import DomainClassifierWeighting

from ._common import load_domain
from .reweighting import labeled_target_rows

TASKS = [f"{s}-{t}" for s in "CADW" for t in "CADW" if s != t]
SETTINGS = ("before", "guard=False", "guard=True")


def _weighting(**params) -> DomainClassifierWeighting:
    return DomainClassifierWeighting(RidgeClassifier(alpha=1.0), **params)


def run_task(task: str, seeds) -> tuple[dict, list]:
    """Mean accuracy (%) of each setting over ``seeds``, and the guard's choice per seed."""
    source, target = task.split("-")
    Xs, ys = load_domain(source)
    Xt, yt = load_domain(target)
    Xs, Xt = normalize(Xs), normalize(Xt)
    scores = {name: [] for name in SETTINGS}
    kept = []
    for seed in seeds:
        labeled = labeled_target_rows(yt, seed)
        rest = np.setdiff1d(np.arange(len(yt)), labeled)
        X = np.vstack([Xs, Xt[labeled], Xt[rest]])
        y = np.r_[ys, yt[labeled], np.full(len(rest), -1)]
        domain = np.r_[np.zeros(len(ys), int), np.full(len(yt), -1)]
        unlabeled = np.r_[ys, np.full(len(yt), -1)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits = {
                "before": _weighting(guard=False).fit(X, unlabeled, sample_domain=domain),
                "guard=False": _weighting(guard=False).fit(X, y, sample_domain=domain),
                "guard=True": _weighting().fit(X, y, sample_domain=domain),
            }
        for name, fitted in fits.items():
            scores[name].append(100 * np.mean(fitted.predict(Xt[rest]) == yt[rest]))
        kept.append(fits["guard=True"].selected_)
    return {name: float(np.mean(values)) for name, values in scores.items()}, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args()
    start = time.perf_counter()
    print("| task | " + " | ".join(SETTINGS) + " | guard kept |")
    print("| --- |" + " ---: |" * len(SETTINGS) + " --- |")
    means = []
    for task in args.tasks:
        scores, kept = run_task(task, args.seeds)
        means.append(scores)
        print(f"| {task} | " + " | ".join(f"{scores[n]:.1f}" for n in SETTINGS) + f" | {', '.join(kept)} |")
    print("| mean | " + " | ".join(f"{np.mean([m[n] for m in means]):.1f}" for n in SETTINGS) + " | |")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
