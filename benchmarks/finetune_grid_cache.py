"""Grid search over the head of FineTunedCNNClassifier with ``memory``: the backbone computed once.

``GridSearchCV`` over 6 head settings (``l2`` x ``class_weight``) x 3 folds + the refit of
``FineTunedCNNClassifier("mobilenet_v2", weights=None, fine_tune_epochs=0, memory=folder)``
on 240 photo crops of 96 x 96 px (scikit-learn's two sample photos, two classes), each
search starting from an empty cache folder. ``--grid hidden_units`` searches ``l2`` x
``hidden_units`` in {0, 64} instead: the hidden heads train on the cached features too.
Reported: the search's wall time divided by the time of one fit (+ prediction of 80 images)
without ``memory`` in the same run (the issue's target: at most 4), and ``n_jobs=2`` against
``n_jobs=1`` (``--n-jobs 1`` runs only the first). Medians over ``--repeats`` runs.

Usage::

    python benchmarks/finetune_grid_cache.py --repeats 2
    python benchmarks/finetune_grid_cache.py --grid hidden_units --n-jobs 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
from sklearn.datasets import load_sample_images
from sklearn.model_selection import GridSearchCV


def photo_crops(n=240, size=96, seed=0):
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    crops, labels = [], []
    for i in range(n):
        label = i % 2
        photo = photos[label]
        top, left = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
        crops.append(photo[top : top + size, left : left + size])
        labels.append(label)
    return np.stack(crops).astype(np.float32), np.asarray(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--grid", choices=["class_weight", "hidden_units"], default="class_weight")
    parser.add_argument("--n-jobs", type=int, choices=[1, 2], default=2, help="the largest n_jobs run")
    args = parser.parse_args()
    from skltransfer import FineTunedCNNClassifier

    X, y = photo_crops()
    second = {"class_weight": [None, "balanced"], "hidden_units": [0, 64]}[args.grid]
    grid = {"l2": ["auto", 1e-3, 1e-2], args.grid: second}
    jobs = (1, 2)[: args.n_jobs]

    def classifier(memory=None):
        return FineTunedCNNClassifier(
            "mobilenet_v2", weights=None, fine_tune_epochs=0, memory=memory, random_state=0
        )

    classifier().fit(X[:16], y[:16])  # warm-up: imports, first traces
    single, searches = [], {n_jobs: [] for n_jobs in jobs}
    for _ in range(args.repeats):
        start = time.perf_counter()
        classifier().fit(X[:160], y[:160]).predict(X[160:])
        single.append(time.perf_counter() - start)
        for n_jobs in jobs:
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                search = GridSearchCV(classifier(folder), grid, cv=3, n_jobs=n_jobs).fit(X, y)
                searches[n_jobs].append(time.perf_counter() - start)
        times = ", ".join(f"n_jobs={n_jobs} {searches[n_jobs][-1]:.1f} s" for n_jobs in jobs)
        print(f"single {single[-1]:.1f} s, {times}", flush=True)
    one, s1 = statistics.median(single), statistics.median(searches[1])
    print(f"\n| what ({args.grid} grid) | median wall time (s) | ratio |")
    print("|---|---:|---:|")
    print(f"| one fit (160 images) + predict (80), no memory | {one:.1f} | 1 |")
    print(f"| GridSearchCV 6 x 3 + refit, memory, n_jobs=1 | {s1:.1f} | {s1 / one:.2f} single fits |")
    if 2 in jobs:
        s2 = statistics.median(searches[2])
        print(f"| same, n_jobs=2 | {s2:.1f} | {s2 / one:.2f} single fits; {s1 / s2:.2f}x n_jobs=1 |")
    print(f"\nbest: {search.best_params_}, score {search.best_score_:.3f}")
    for params, score in zip(
        search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
    ):
        print(f"  {params}: {score:.3f}")


if __name__ == "__main__":
    main()
