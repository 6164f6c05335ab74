"""Unsupervised domain adaptation on Office-Caltech10 (SURF): from no adaptation to CMMS.

One task of the classic benchmark: the labeled images of a source domain (by default
Caltech-256) and the unlabeled images of a target domain (by default Amazon product photos),
800-bin SURF bags of words. Every method below learns from the stacked rows of
``stack_domains`` (target rows labeled ``-1``), reads no target label, and is scored on the
whole target, as in the published tables. The settings are the methods' published ones.

Usage (the first run downloads four ``.mat`` files of about 1 MB each into scikit-learn's
data home; ``--data-home`` points at a folder that already holds them)::

    python examples/office_caltech10.py
    python examples/office_caltech10.py --source D --target W --data-home path/to/office_caltech10_surf
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer
from sklearn.svm import LinearSVC

from skltransfer import (
    CMMSClassifier,
    CORALAligner,
    MEDAClassifier,
    SubspaceAligner,
    make_da_pipeline,
    stack_domains,
)
from skltransfer.datasets import fetch_office_caltech10


def methods() -> dict:
    """The pipelines compared, each in its published setting."""
    return {
        "1-NN, no adaptation": make_da_pipeline(KNeighborsClassifier(1)),
        "CORAL + linear SVM": make_da_pipeline(Normalizer(), CORALAligner(), LinearSVC()),
        "subspace alignment + 1-NN": make_da_pipeline(SubspaceAligner(20), KNeighborsClassifier(1)),
        "MEDA": MEDAClassifier(20),
        "CMMS": CMMSClassifier(random_state=0),
    }


def compare(source: str, target: str, data_home=None) -> dict[str, tuple[float, float]]:
    """Target accuracy (%) and fit time (s) of every method on one task."""
    Xs, ys = fetch_office_caltech10(source, data_home)
    Xt, yt = fetch_office_caltech10(target, data_home)
    X, y = stack_domains(Xs, ys, Xt)
    results = {}
    for name, model in methods().items():
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        results[name] = (100 * float(np.mean(model.predict(Xt) == yt)), seconds)
    return results


def main(argv=None) -> dict[str, tuple[float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="C", help="A, C, D or W (default C)")
    parser.add_argument("--target", default="A", help="A, C, D or W (default A)")
    parser.add_argument("--data-home", default=None, help="folder holding <domain>.mat")
    args = parser.parse_args(argv)
    results = compare(args.source, args.target, args.data_home)
    print(f"{args.source} -> {args.target}: target accuracy, no target label used")
    for name, (accuracy, seconds) in results.items():
        print(f"  {name:<28} {accuracy:5.1f} %   fit {seconds:5.1f} s")
    return results


if __name__ == "__main__":
    main()
