"""FineTunedCNNClassifier with its defaults on a few hundred images, against the obvious baseline.

Per seed, a small CNN (``skltransfer.keras._demo.train_source_cnn``) is pretrained on a source
task and saved as ``.keras``; then, given only the data:

- ``FineTunedCNNClassifier(path, image_shape=(8, 8), random_state=seed)``: every other
  parameter at its default;
- the same on a randomly initialised copy of the body (``weights=None``);
- ``make_pipeline(PretrainedFeatureExtractor(path, image_shape=(8, 8)), StandardScaler(),
  LogisticRegression())``: the project's extractor and scikit-learn's defaults.

Two data sets (flat 64-pixel rows):

1. **digits shift**: ``make_digits_shift``; the CNN is pretrained on the labeled source digits,
   the classifiers see 10 labeled target digits per class (100 images) and are scored on the
   other target digits.
2. **new classes**: scikit-learn's digits; the CNN is pretrained on the digits 0-4, the
   classifiers see 40 images per class of the digits 5-9 (200 images) and are scored on the
   other images of 5-9.

Usage::

    python benchmarks/finetune_defaults.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def digits_shift(seed):
    from skltransfer._demo import few_labeled_rows
    from skltransfer.datasets import make_digits_shift

    Xs, ys, Xt, yt = make_digits_shift(random_state=seed)
    few = few_labeled_rows(yt, 10, seed)
    test = np.setdiff1d(np.arange(len(yt)), few)
    return (Xs, ys), (Xt[few], yt[few]), (Xt[test], yt[test])


def new_classes(seed):
    from skltransfer._demo import few_labeled_rows

    X, y = load_digits(return_X_y=True)
    source = y < 5
    Xt, yt = X[~source], y[~source]
    few = few_labeled_rows(yt, 40, seed)
    test = np.setdiff1d(np.arange(len(yt)), few)
    return (X[source], y[source]), (Xt[few], yt[few]), (Xt[test], yt[test])


def rows(source, train, test, seed):
    from skltransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor
    from skltransfer.keras._demo import train_source_cnn

    with tempfile.TemporaryDirectory() as folder:
        path = train_source_cnn(*source, (8, 8), folder, random_state=seed)
        models = {
            "defaults": FineTunedCNNClassifier(path, image_shape=(8, 8), random_state=seed),
            "random body": FineTunedCNNClassifier(path, weights=None, image_shape=(8, 8), random_state=seed),
            "extractor + scaler + LR": make_pipeline(
                PretrainedFeatureExtractor(path, image_shape=(8, 8)), StandardScaler(), LogisticRegression()
            ),
        }
        return fit_and_score(models, train, test)


def fit_and_score(models: dict, train, test) -> dict:
    """Per model: its score on ``test`` after a fit on ``train``, its fit time and how fine-tuning stopped."""
    out = {}
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(*train)
        seconds = time.perf_counter() - start
        stop = ""
        tuned = getattr(model, "history_", {}).get("fine_tune")
        if tuned:
            stop = f"{tuned['stop_reason']}, {tuned['steps'][-1]} steps" + (
                ", phase 1 kept" if tuned.get("reverted") else ""
            )
        warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
        out[name] = (model.score(*test), seconds, stop + (" (warned)" if warned else ""))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    for title, dataset in (
        ("digits shift, 10 labels/class", digits_shift),
        ("new classes 5-9, 40/class", new_classes),
    ):
        columns = ("defaults", "random body", "extractor + scaler + LR")
        seed_table(title, columns, args.seeds, lambda seed, dataset=dataset: rows(*dataset(seed), seed))


def seed_table(title: str, columns, seeds, run) -> None:
    """Print the scores of ``columns`` per seed and their mean (``run(seed)``: :func:`fit_and_score`'s dict).

    The fit time and how fine-tuning stopped are those of the first column.
    """
    print(f"\n## {title}\n")
    print("| seed | " + " | ".join(columns) + " | fit time (s) | fine-tuning |")
    print("|-----:|" + "|".join("-" * (len(c) + 1) + ":" for c in columns) + "|-------------:|-------------|")
    scores = []
    for seed in seeds:
        result = run(seed)
        scores.append([result[c][0] for c in columns])
        first = result[columns[0]]
        cells = " | ".join(f"{v:.3f}" for v in scores[-1])
        print(f"| {seed} | {cells} | {first[1]:.1f} | {first[2]} |", flush=True)
    print("| mean | " + " | ".join(f"{v:.3f}" for v in np.mean(scores, axis=0)) + " | | |")


if __name__ == "__main__":
    main()
