"""A real digit shift: scikit-learn's scanned digits and the Semeion handwritten digits.

The source domain is scikit-learn's bundled digits (1,797 images of 8 x 8 grey levels,
UCI "optdigits"), resized to 16 x 16; the target domain is the Semeion handwritten digit
data set (1,593 images of 16 x 16 binary pixels, written by 80 people, another scanner and
another thresholding; UCI "semeion"). ``--reverse`` swaps them. Neither is one of the data
sets kept for acceptance checks (MNIST, USPS, COIL-20, CMU-PIE).

What a user does: train a small CNN on the source (a typical Keras tutorial network: two
3 x 3 convolutions with max pooling, a 128-unit dense layer, dropout, softmax), save it as
``.keras``, and hand the file to :class:`~skltransfer.keras.FineTunedCNNClassifier` with the
unlabeled target images stacked under the source (``y == -1``). Rows, per seed (the seed
draws the network's initial weights, the estimators' randomness and the labeled target
images):

- the saved network itself on the target;
- ``FineTunedCNNClassifier(path)`` with its defaults on the source alone, and with the
  unlabeled target rows (the default then adapts: ``target_loss="auto"`` is ``"im"``);
- the same with the previous release's defaults (``pooling="avg"``, a fine-tuning budget
  of about 300 steps), and with each domain loss alone (``target_loss=None``);
- a shallow pipeline: the saved network's features (``PretrainedFeatureExtractor``, its
  default average pooling, and flattened) -> ``DomainStandardScaler`` ->
  ``LogisticRegression``; and 1-NN on the raw pixels;
- the other defaults the deep-adaptation issue names, each changed alone;
- plain Keras, about 40 lines (:func:`plain_keras`): the same architecture trained from
  scratch on per-image standardised inputs with random translation and zoom, then two
  rounds of confident target pseudo-labels;
- with 10 labeled target images per class (``sample_domain``: source 0, target -1):
  the defaults, each domain loss, plain Keras with the labels and pseudo-labels; accuracy
  on the other target images.

Nothing is chosen on target labels: every estimator runs with its defaults or the one
parameter named in its row.

Data: ``--semeion FILE`` is ``semeion.data`` from the UCI repository (256 binary pixels
and 10 one-hot labels per line). Results are cached as ``.json`` under ``--cache`` so that
an interrupted run resumes.

Usage::

    python benchmarks/digits_semeion.py --semeion semeion.data --seeds 0 1 2
    python benchmarks/digits_semeion.py --semeion semeion.data --seeds 0 --reverse
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

SIZE = 16
LABELS_PER_CLASS = 10
PREVIOUS_FINE_TUNE_STEPS = 300  # the "auto" fine-tuning budget before adaptation got its own


def load_domains(semeion: Path, reverse: bool):
    """``(Xs, ys, Xt, yt)``: 16 x 16 images in [0, 1]."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    digits = load_digits()
    scanned = tf.image.resize(digits.images[..., None] / 16.0, (SIZE, SIZE), method="bilinear").numpy()
    raw = np.loadtxt(semeion)
    if raw.shape[1] != SIZE * SIZE + 10:
        raise SystemExit(f"{semeion}: expected {SIZE * SIZE + 10} columns per line, got {raw.shape[1]}")
    written = raw[:, : SIZE * SIZE].reshape(-1, SIZE, SIZE)
    domains = [
        (scanned[..., 0].astype("float32"), digits.target),
        (written.astype("float32"), raw[:, SIZE * SIZE :].argmax(1)),
    ]
    (Xs, ys), (Xt, yt) = domains[::-1] if reverse else domains
    return Xs, ys, Xt, yt


def tutorial_cnn(seed: int):
    """The user's network: 2 x (3 x 3 convolution, max pooling), dense 128, dropout, softmax."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def source_network(Xs, ys, seed: int, cache: Path, tag: str) -> Path:
    """Train the tutorial network on the source for 10 epochs, saved as ``.keras``."""
    path = cache / f"semeion_{tag}_seed{seed}.keras"
    if not path.exists():
        model = tutorial_cnn(seed)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(Xs[..., None], ys, epochs=10, batch_size=32, verbose=0)
        model.save(path)
    return path


def plain_keras(Xs, ys, Xt, seed: int, labeled=None, yt=None, rounds: int = 2) -> np.ndarray:
    """The hand-written recipe: standardise each image, augment, train, add confident pseudo-labels.

    Returns the predicted target classes. ``labeled`` target rows (with ``yt``) join the
    training set from the start.
    """
    import keras

    def standardise(x):
        flat = x.reshape(len(x), -1)
        return ((flat - flat.mean(1, keepdims=True)) / (flat.std(1, keepdims=True) + 1e-6)).reshape(x.shape)

    def train(x, y):
        keras.utils.set_random_seed(seed)
        layers = keras.layers
        model = keras.Sequential(
            [
                keras.Input((SIZE, SIZE, 1)),
                layers.RandomTranslation(0.1, 0.1, seed=seed),
                layers.RandomZoom(0.1, seed=seed),
                *tutorial_cnn(seed).layers,
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x[..., None], y, epochs=15, batch_size=32, verbose=0)
        return model

    xs, xt = standardise(Xs), standardise(Xt)
    x, y = xs, ys
    if labeled is not None:
        x, y = np.concatenate([xs, xt[labeled]]), np.concatenate([ys, yt[labeled]])
    model = train(x, y)
    for _ in range(rounds):
        proba = model.predict(xt[..., None], verbose=0)
        confident = proba.max(1) >= 0.9
        if labeled is not None:
            confident[labeled] = False
        model = train(np.concatenate([x, xt[confident]]), np.concatenate([y, proba[confident].argmax(1)]))
    return model.predict(xt[..., None], verbose=0).argmax(1)


def few_labeled(yt, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(yt == c), LABELS_PER_CLASS, replace=False) for c in np.unique(yt)]
        )
    )


def previous_budget(n_source: int) -> int:
    """The fine-tuning epochs the previous release's "auto" budget gave ``n_source`` rows."""
    return int(np.ceil(PREVIOUS_FINE_TUNE_STEPS / np.ceil(n_source / 32)))


ROWS = [
    # (name, setting, kind, parameters)
    ("the saved network itself", "unsupervised", "network", {}),
    ("`FineTunedCNNClassifier(path)`, source rows only (defaults)", "unsupervised", "source", {}),
    (
        "same, with the unlabeled target rows (defaults: `target_loss='auto'` = `'im'`)",
        "unsupervised",
        "cnn",
        {},
    ),
    (
        "same, the previous release's defaults (`pooling='avg'`, 300-step budget)",
        "unsupervised",
        "previous",
        {},
    ),
    ("same, `pooling='avg'` only", "unsupervised", "cnn", {"pooling": "avg"}),
    (
        "`domain_loss='mmd'`, `target_loss=None`",
        "unsupervised",
        "cnn",
        {"domain_loss": "mmd", "target_loss": None},
    ),
    (
        "`domain_loss='coral'`, `target_loss=None`",
        "unsupervised",
        "cnn",
        {"domain_loss": "coral", "target_loss": None},
    ),
    (
        "`domain_loss='adversarial'`, `target_loss=None`",
        "unsupervised",
        "cnn",
        {"domain_loss": "adversarial", "target_loss": None},
    ),
    ("`domain_loss='mmd'` + `'im'` (default target loss)", "unsupervised", "cnn", {"domain_loss": "mmd"}),
    # the other defaults the deep-adaptation issue names, each changed alone (seed 0 in RESULTS.md)
    ("defaults + `unfreeze=1.0` (default 0.2)", "unsupervised", "cnn", {"unfreeze": 1.0}),
    ("defaults + `hidden_units=128` (default 0)", "unsupervised", "cnn", {"hidden_units": 128}),
    (
        "defaults + `augmentation=['translation', 'zoom']` (default None)",
        "unsupervised",
        "cnn",
        {"augmentation": ["translation", "zoom"]},
    ),
    ("saved network's features + `DomainStandardScaler` + logistic", "unsupervised", "shallow", {}),
    (
        "same, flattened as the network's head reads them (`pooling=None`)",
        "unsupervised",
        "shallow",
        {"pooling": None},
    ),
    ("raw pixels, 1-NN", "unsupervised", "pixels", {}),
    (
        "plain Keras: augmentation, per-image standardisation, 2 pseudo-label rounds",
        "unsupervised",
        "plain",
        {},
    ),
    ("defaults, 10 target labels per class + unlabeled target rows", "semi", "cnn", {}),
    (
        "`domain_loss='mmd'`, `target_loss=None`, same rows",
        "semi",
        "cnn",
        {"domain_loss": "mmd", "target_loss": None},
    ),
    (
        "`domain_loss='adversarial'`, `target_loss=None`, same rows",
        "semi",
        "cnn",
        {"domain_loss": "adversarial", "target_loss": None},
    ),
    ("defaults + `unfreeze=1.0`, same rows", "semi", "cnn", {"unfreeze": 1.0}),
    ("plain Keras with the 10 labels per class and pseudo-labels", "semi", "plain", {}),
]


def run_row(row, path: Path, Xs, ys, Xt, yt, seed: int):
    """Target accuracy (on the unlabeled target rows) and seconds of one row."""
    import keras
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    import skltransfer as skt

    _, setting, kind, params = row
    labeled = few_labeled(yt, seed) if setting == "semi" else None
    test = np.arange(len(yt)) if labeled is None else np.setdiff1d(np.arange(len(yt)), labeled)
    start = time.perf_counter()
    if kind == "network":
        predicted = keras.saving.load_model(path).predict(Xt[..., None], verbose=0).argmax(1)
    elif kind == "pixels":
        predicted = KNeighborsClassifier(1).fit(Xs.reshape(len(Xs), -1), ys).predict(Xt.reshape(len(Xt), -1))
    elif kind == "plain":
        predicted = plain_keras(Xs, ys, Xt, seed, labeled=labeled, yt=yt)
    elif kind == "shallow":
        X, y = skt.stack_domains(Xs, ys, Xt)
        pipe = skt.make_da_pipeline(
            skt.PretrainedFeatureExtractor(str(path), **params),
            skt.DomainStandardScaler(),
            LogisticRegression(max_iter=1000),
        )
        predicted = pipe.fit(X, y).predict(Xt)
    else:
        if kind == "previous":
            params = {"pooling": "avg", "fine_tune_epochs": previous_budget(len(ys))}
        clf = skt.FineTunedCNNClassifier(str(path), random_state=seed, **params)
        if kind == "source":
            clf.fit(Xs, ys)
        elif labeled is None:
            clf.fit(*skt.stack_domains(Xs, ys, Xt))
        else:
            unlabeled = np.setdiff1d(np.arange(len(yt)), labeled)
            X = np.concatenate([Xs, Xt[labeled], Xt[unlabeled]])
            y = np.concatenate([ys, yt[labeled], np.full(len(unlabeled), -1)])
            domain = np.r_[np.zeros(len(ys), int), -np.ones(len(yt), int)]
            clf.fit(X, y, sample_domain=domain)
        predicted = clf.predict(Xt)
    seconds = time.perf_counter() - start
    return float(np.mean(predicted[test] == yt[test])), seconds


def report(results: dict, seeds, title: str) -> str:
    lines = [
        f"### {title}",
        "",
        "| setting | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | fit s |",
        "| --- | " + " | ".join("---:" for _ in seeds) + " | ---: | ---: |",
    ]
    for name, setting, _, _ in ROWS:
        found = [results.get(f"{name}|{s}") for s in seeds]
        if not any(found):
            continue
        cells = [f"{100 * r[0]:.1f}" if r else "" for r in found]
        done = [r for r in found if r]
        mean = 100 * np.mean([r[0] for r in done])
        seconds = np.median([r[1] for r in done])
        label = name if setting == "unsupervised" else f"{name} ¹"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {mean:.1f} | {seconds:.0f} |")
    lines += [
        "",
        f"¹ {LABELS_PER_CLASS} labeled target images per class; accuracy on the other target images.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--semeion", type=Path, required=True, help="semeion.data (UCI)")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/skltransfer-benchmarks").expanduser())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--reverse", action="store_true", help="Semeion as the source, scanned digits as target"
    )
    parser.add_argument("--rows", default="", help="comma-separated substrings of row names to keep")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore")
    args.cache.mkdir(parents=True, exist_ok=True)
    tag = "reverse" if args.reverse else "forward"
    results_file = args.cache / f"digits_semeion_{tag}.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    Xs, ys, Xt, yt = load_domains(args.semeion, args.reverse)
    keep = [k for k in args.rows.split(",") if k]
    for seed in args.seeds:
        path = source_network(Xs, ys, seed, args.cache, tag)
        for row in ROWS:
            key = f"{row[0]}|{seed}"
            if key in results or (keep and not any(k in row[0] for k in keep)):
                continue
            results[key] = run_row(row, path, Xs, ys, Xt, yt, seed)
            results_file.write_text(json.dumps(results, indent=1))
            print(
                f"seed {seed}  {100 * results[key][0]:5.1f}  {results[key][1]:5.0f} s  {row[0]}", flush=True
            )
    title = "Semeion -> scanned digits" if args.reverse else "scanned digits -> Semeion"
    print(report(results, args.seeds, title))


if __name__ == "__main__":
    main()
