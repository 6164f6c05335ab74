"""Office-Caltech10 (SURF): a port of Sun et al.'s ``CORAL_SVM.m``, to explain the published row.

The reference code computes ``A = (cov(Xs) + I)^(-1/2) (cov(Xt) + I)^(1/2)`` on the features as
given (here as stored: z-scored, no L2 scaling), then trains libsvm on a precomputed kernel
and picks ``C`` in (1e-3, ..., 1e4) by 2-fold cross-validation on the source (``-v 2``, first
best). Its *training* kernel is ``Xs A Xs'``, between re-coloured and raw source rows, not the
kernel ``(Xs A)(Xs A)'`` of the re-coloured rows; its test kernel ``Xs A Xt'`` is the usual
one. ``--kernel aligned`` uses ``(Xs A)(Xs A)'``, which is what a pipeline
``make_da_pipeline(CORALAligner(), SVC(kernel="linear"))`` computes.

scikit-learn's ``SVC`` wraps the same libsvm; the folds are ``StratifiedKFold(2, shuffle=True,
random_state=0)`` (libsvm draws its own). ``--per-c`` prints the target accuracy at every
``C`` of the grid instead (for diagnosis only: it reads target labels).

Run from the repository root::

    python -m benchmarks.oc10.coral_reference
    python -m benchmarks.oc10.coral_reference --kernel aligned
    python -m benchmarks.oc10.coral_reference --per-c --tasks C-A,C-D,C-W
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import linalg
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

from ._common import format_table, load_domain, parse_tasks, published_rows, run_methods

C_GRID = [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1e3, 1e4]


def _power(S: np.ndarray, p: float) -> np.ndarray:
    w, V = linalg.eigh(S)
    return (V * w**p) @ V.T


def kernels(Xs, Xt, kernel="reference"):
    """Training (source x source) and test (target x source) kernels of ``CORAL_SVM.m``."""
    eye = np.eye(Xs.shape[1])
    A = _power(np.cov(Xs, rowvar=False) + eye, -0.5) @ _power(np.cov(Xt, rowvar=False) + eye, 0.5)
    aligned = Xs @ A
    train = aligned @ Xs.T if kernel == "reference" else aligned @ aligned.T
    return train, Xt @ aligned.T


def coral_svm(kernel="reference"):
    def method(Xs, ys, Xt):
        train, test = kernels(Xs, Xt, kernel)
        cv = StratifiedKFold(2, shuffle=True, random_state=0)
        search = GridSearchCV(SVC(kernel="precomputed"), {"C": C_GRID}, cv=cv).fit(train, ys)
        return search.predict(test)

    return method


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", help="comma-separated tasks such as C-A,D-W (default: all 12)")
    parser.add_argument("--kernel", choices=["reference", "aligned"], default="reference")
    parser.add_argument("--per-c", action="store_true", help="target accuracy at every C (diagnosis)")
    args = parser.parse_args(argv)
    tasks = parse_tasks(args.tasks)
    if args.per_c:
        for source, target in tasks:
            (Xs, ys), (Xt, yt) = load_domain(source), load_domain(target)
            train, test = kernels(Xs, Xt, args.kernel)
            cells = []
            for C in C_GRID:
                predicted = SVC(kernel="precomputed", C=C).fit(train, ys).predict(test)
                cells.append(f"C={C:g}: {100 * np.mean(predicted == yt):.1f}")
            print(f"{source}-{target}", "; ".join(cells), flush=True)
        return
    accuracy, seconds = run_methods(
        {f"CORAL_SVM.m port, {args.kernel} kernel": coral_svm(args.kernel)}, tasks
    )
    reference = {k: v for k, v in published_rows().items() if k == "CORAL + SVM"}
    print()
    print(format_table(accuracy, seconds, tasks, reference=reference))


if __name__ == "__main__":
    main()
