"""Hyperparameter selection without target labels on the 12 Office-Caltech10 tasks.

For each task and each method, every point of a small grid (fixed in advance: the
published default and one step down and up on a log scale per parameter) is scored by
``GridSearchCV`` with each unsupervised scorer of ``skltransfer.metrics`` over
``DomainAwareSplit(cv, unlabeled_in_test=True)`` on ``stack_domains`` output (``cv``: one
stratified half / half split of the labeled source rows by default, ``--folds k`` for
k-fold) (target rows carry ``y == -1``: no target label enters the search). Each scorer
picks the grid point with its best mean score; that model, refitted on all rows, is scored
on the target labels. The table compares it with the default parameters and with the
oracle (the grid point with the best target accuracy, which needs target labels).
Regret = oracle - chosen.

Methods:

- ``TCA``: ``make_da_pipeline(Normalizer(), MMDAligner(n_components, kernel="linear", mu),
  Normalizer(), KNeighborsClassifier(1))``, the published setting (default 30, mu = 1);
- ``SA``: ``make_da_pipeline(Normalizer(), SubspaceAligner(n_components),
  KNeighborsClassifier(n_neighbors))``, subspace alignment (default 20 components, 1-NN).

``source accuracy`` is the plain source cross-validation accuracy (``LabeledOnly.score``
on held-out source rows), the usual baseline that ignores the target.

Run from the repository root::

    python -m benchmarks.model_selection [--tasks C-A,D-W] [--methods TCA,SA] [--folds 1]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, StratifiedShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer
from threadpoolctl import threadpool_limits

from benchmarks.oc10._common import format_table, load_domain, parse_tasks
from skltransfer import make_da_pipeline, stack_domains
from skltransfer.metrics import (
    CircularValidationScorer,
    DeepEmbeddedValidationScorer,
    ImportanceWeightedScorer,
    PredictionEntropyScorer,
)
from skltransfer.model_selection import DomainAwareSplit


def tca_method():
    from skltransfer import MMDAligner

    pipe = make_da_pipeline(
        Normalizer(),
        MMDAligner(n_components=30, kernel="linear", mu=1.0),
        Normalizer(),
        KNeighborsClassifier(1),
    )
    grid = {"mmdaligner__n_components": [10, 30, 100], "mmdaligner__mu": [0.1, 1.0, 10.0]}
    return pipe, grid


def sa_method():
    from skltransfer import SubspaceAligner

    pipe = make_da_pipeline(Normalizer(), SubspaceAligner(n_components=20), KNeighborsClassifier(1))
    grid = {"subspacealigner__n_components": [10, 20, 40], "labeledonly__estimator__n_neighbors": [1, 5, 15]}
    return pipe, grid


METHODS = {"TCA": tca_method, "SA": sa_method}

SCORERS = {
    "source accuracy": None,  # LabeledOnly.score on the held-out source rows
    "importance weighted": ImportanceWeightedScorer(),
    "prediction entropy": PredictionEntropyScorer(),
    "deep embedded validation": DeepEmbeddedValidationScorer(),
    "circular validation": CircularValidationScorer(),
}


def _source_accuracy(estimator, X, y):
    return estimator.score(X, y)  # LabeledOnly.score: the labeled (source) rows only


def _scorer_dict():
    return {name: scorer if scorer is not None else _source_accuracy for name, scorer in SCORERS.items()}


def run_task(pipe, grid, Xs, ys, Xt, yt, folds: int, seed: int = 0):
    """Target accuracy of every grid point, and the index each scorer picks."""
    X, y = stack_domains(Xs, ys, Xt)  # target rows: y == -1
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    accuracy = []
    for params in points:
        model = clone(pipe).set_params(**params).fit(X, y)
        accuracy.append(100.0 * float(np.mean(model.predict(Xt) == yt)))
    if folds == 1:
        inner = StratifiedShuffleSplit(n_splits=1, test_size=0.5, random_state=seed)
    else:
        inner = StratifiedKFold(folds, shuffle=True, random_state=seed)
    cv = DomainAwareSplit(inner, unlabeled_in_test=True)
    search = GridSearchCV(pipe, grid, cv=cv, scoring=_scorer_dict(), refit=False).fit(X, y)
    results = search.cv_results_
    order = [tuple(p[k] for k in grid) for p in results["params"]]
    index = {tuple(p[k] for k in grid): i for i, p in enumerate(points)}
    picks = {}
    for name in SCORERS:
        scores = np.asarray(results[f"mean_test_{name}"])
        if not np.all(np.isfinite(scores)):
            raise RuntimeError(f"{name} gave non-finite scores: {scores}")
        picks[name] = index[order[int(np.argmax(scores))]]  # first best on ties, as GridSearchCV
    return points, accuracy, picks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tasks", default=None, help="comma-separated tasks such as C-A,D-W (default: all 12)"
    )
    parser.add_argument("--methods", default="TCA,SA", help="comma-separated methods among TCA, SA")
    parser.add_argument(
        "--folds",
        type=int,
        default=1,
        help="folds of the labeled source rows (1: one stratified half/half split)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="BLAS threads (1: fastest on a shared, oversubscribed machine)"
    )
    args = parser.parse_args(argv)
    with threadpool_limits(args.threads):
        run(parse_tasks(args.tasks), args.methods.split(","), args.folds)


def run(tasks, methods, folds):
    """Run the selection on every task for every method and print the tables."""
    for method in methods:
        pipe, grid = METHODS[method.strip()]()
        default = {k: pipe.get_params()[k] for k in grid}
        rows = {"default": [], "oracle": [], **{f"chosen by {name}": [] for name in SCORERS}}
        start = time.perf_counter()
        for source, target in tasks:
            Xs, ys = load_domain(source)
            Xt, yt = load_domain(target)
            t0 = time.perf_counter()
            points, accuracy, picks = run_task(pipe, grid, Xs, ys, Xt, yt, folds)
            rows["default"].append(accuracy[points.index(default)])
            rows["oracle"].append(max(accuracy))
            for name, i in picks.items():
                rows[f"chosen by {name}"].append(accuracy[i])
            print(
                f"  {method} {source}-{target}: default {rows['default'][-1]:.1f}, "
                f"oracle {max(accuracy):.1f}, "
                + ", ".join(f"{n} {accuracy[i]:.1f}" for n, i in picks.items())
                + f" ({time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
        print(f"\n### {method}: grid {grid}, default {default} ({time.perf_counter() - start:.0f} s)\n")
        print(format_table(rows, tasks=tasks))
        print("\n| selection | avg target acc. | vs default | regret (oracle - chosen) | tasks > default |")
        print("| --- | --- | --- | --- | --- |")
        d, o = np.array(rows["default"]), np.array(rows["oracle"])
        for name, values in rows.items():
            v = np.array(values)
            wins = f"{int(np.sum(v > d))}/{len(v)} (ties {int(np.sum(v == d))})"
            print(f"| {name} | {v.mean():.1f} | {v.mean() - d.mean():+.1f} | {np.mean(o - v):.1f} | {wins} |")
        print()


if __name__ == "__main__":
    main()
