"""``python -m skltransfer demo``: transfer at work on embedded data, in a small table."""

from __future__ import annotations

import tempfile
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler

from ._domains import stack_domains
from .datasets import make_digits_shift
from .pipeline import make_da_pipeline

__all__ = ["few_labeled_rows", "run_demo"]

#: Labeled target images per class in the few-label rows.
FEW_LABELS_PER_CLASS = 10


def few_labeled_rows(y, per_class: int, random_state: int) -> np.ndarray:
    """Indices of ``per_class`` rows of every class of ``y``, drawn at random."""
    rng = np.random.default_rng(random_state)
    return np.sort(
        np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    )


def _feature_rows(Xs, ys, Xt, yt, test) -> list[tuple[str, str, float]]:
    from .alignment import CORALAligner, DomainStandardScaler, MMDAligner
    from .classifiers import MEDAClassifier

    X, y = stack_domains(Xs, ys, Xt)
    plain = LogisticRegression(max_iter=5000).fit(Xs, ys)

    def then_logistic(*steps):
        return make_da_pipeline(*steps, LogisticRegression(max_iter=5000))

    models = [
        (
            "MMDAligner (TCA, 20 components) + standardisation + logistic regression",
            then_logistic(MMDAligner(n_components=20), StandardScaler()),
        ),
        ("CORALAligner + logistic regression", then_logistic(CORALAligner())),
        (
            "DomainStandardScaler (each domain z-scored) + logistic regression",
            then_logistic(DomainStandardScaler()),
        ),
        ("MEDAClassifier (manifold + distribution alignment, 20 dimensions)", MEDAClassifier(20)),
    ]
    rows = [("Logistic regression trained on the source, no adaptation", "source", plain)]
    rows += [(name, "source", model.fit(X, y)) for name, model in models]
    return [(name, labels, accuracy_score(yt[test], model.predict(Xt[test]))) for name, labels, model in rows]


def _keras_rows(Xs, ys, Xt, yt, few, test, random_state: int) -> list[tuple[str, str, float]]:
    from .keras._demo import deep_adaptation_rows, finetune_rows, pretrained_cnn_rows, train_source_cnn

    adapted = deep_adaptation_rows(
        Xs,
        ys,
        Xt,
        Xt[test],
        yt[test],
        (8, 8),
        losses=("mmd", "coral", "adversarial"),
        random_state=random_state,
    )

    with tempfile.TemporaryDirectory() as folder:
        source_cnn = train_source_cnn(Xs, ys, (8, 8), folder, random_state=random_state)
        target = (Xt[few], yt[few], Xt[test], yt[test], (8, 8))
        rows = pretrained_cnn_rows(source_cnn, *target)
        rows += finetune_rows(source_cnn, *target, random_state=random_state)
    few_label = f"{FEW_LABELS_PER_CLASS}/class target"
    rows = [(name, "source" if "as is" in name else few_label, acc) for name, acc in rows]
    return rows + [(name, "source", acc) for name, acc in adapted]


def run_demo(random_state: int = 0, *, deep: bool = True, print_fn=print) -> list[tuple[str, str, float]]:
    """Print target accuracies with and without transfer on :func:`make_digits_shift`.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the data split, the noise and every model.
    deep : bool, default=True
        Include the Keras rows (a small CNN pretrained on the source domain).
    print_fn : callable, default=print

    Returns
    -------
    rows : list of (method, labels used, target accuracy)
    """
    start = time.perf_counter()
    Xs, ys, Xt, yt = make_digits_shift(random_state=random_state)
    few = few_labeled_rows(yt, FEW_LABELS_PER_CLASS, random_state)
    test = np.setdiff1d(np.arange(len(yt)), few)
    print_fn(
        f"make_digits_shift(random_state={random_state}): {len(Xs)} source digits as scanned, "
        f"{len(Xt)} target digits rotated, dimmed, unevenly lit and noisy. No target label is "
        f"used unless the row says so. Accuracy on the {len(test)} target digits left after setting "
        f"{FEW_LABELS_PER_CLASS} per class aside as the few labeled ones."
    )
    rows = _feature_rows(Xs, ys, Xt, yt, test)
    if deep:
        rows += _keras_rows(Xs, ys, Xt, yt, few, test, random_state)
    width = max(len(name) for name, _, _ in rows)
    label_width = max(len("labels used"), *(len(labels) for _, labels, _ in rows))
    print_fn("")
    print_fn(f"| {'method':<{width}} | {'labels used':<{label_width}} | target accuracy |")
    print_fn(f"|{'-' * (width + 2)}|{'-' * (label_width + 2)}|-----------------|")
    for name, labels, accuracy in rows:
        print_fn(f"| {name:<{width}} | {labels:<{label_width}} | {accuracy:15.3f} |")
    print_fn(f"\n({time.perf_counter() - start:.0f} s)")
    return rows
