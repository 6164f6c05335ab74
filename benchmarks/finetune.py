"""FineTunedCNNClassifier: few-label fine-tuning, cached frozen features, parallel grid search.

Three parts, all on ``skltransfer.datasets.make_digits_shift`` (flat 64-pixel rows,
``image_shape=(8, 8)``):

a. **Few labels.** For each seed, a small CNN is trained on the labeled source digits; with
   10 labeled target digits per class, ``FineTunedCNNClassifier`` fine-tunes it (new head
   for 20 epochs, then every layer for 20) against the same architecture trained from scratch
   (every layer for 40 epochs), same optimizer, rate and batches
   (``skltransfer.keras._demo.finetune_rows``). Accuracy on the other target digits; mean
   over the seeds.
b. **Cached features.** Phase 1 (head on the frozen backbone, no augmentation) with
   ``cache_features=True`` (features computed once through the compiled function) vs
   ``cache_features=False`` (every epoch through the frozen backbone), VGG16 with random
   weights (``weights=None``: no BatchNormalization, so its random features are informative)
   at 32x32 px on 300 source digits scaled to 0-255, 10 epochs, ``fine_tune_epochs=0``.
   Median fit time over repeats (runs alternate), ratio, target accuracy of both and the
   largest difference of their probabilities.
c. **Parallel grid search.** ``GridSearchCV`` over ``epochs`` x ``learning_rate`` (2 x 2,
   3-fold) of the source-pretrained small CNN fine-tuned on 300 target digits (2 fine-tuning
   epochs), with
   ``n_jobs=1`` and ``n_jobs=2`` (runs alternate; median wall times). Also reports the
   TensorFlow intra-op thread count inside each joblib worker.
d. **Prediction throughput.** ``predict_proba`` (one compiled function, the backbone's batch
   normalizations folded) against ``model_.predict`` of the same fitted network, MobileNetV2
   with random weights at 224 px, 96 images, batch 32; runs alternate, median ratio, and the
   largest difference of their probabilities.

Usage::

    python benchmarks/finetune.py                 # all parts (see results/finetune.md)
    python benchmarks/finetune.py --part b --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
from sklearn.metrics import accuracy_score


def part_a(seeds) -> None:
    from skltransfer._demo import few_labeled_rows
    from skltransfer.datasets import make_digits_shift
    from skltransfer.keras._demo import finetune_rows, train_source_cnn

    print("\n## (a) Fine-tuning the source-pretrained CNN vs training it from scratch, 10 labels/class\n")
    print("| seed | fine-tuned | from scratch | difference |")
    print("|-----:|-----------:|-------------:|-----------:|")
    results = []
    for seed in seeds:
        Xs, ys, Xt, yt = make_digits_shift(random_state=seed)
        few = few_labeled_rows(yt, 10, seed)
        test = np.setdiff1d(np.arange(len(yt)), few)
        with tempfile.TemporaryDirectory() as folder:
            source_cnn = train_source_cnn(Xs, ys, (8, 8), folder, random_state=seed)
            rows = finetune_rows(source_cnn, Xt[few], yt[few], Xt[test], yt[test], (8, 8), random_state=seed)
        (_, tuned), (_, scratch) = rows
        results.append((tuned, scratch))
        print(f"| {seed} | {tuned:.3f} | {scratch:.3f} | {tuned - scratch:+.3f} |", flush=True)
    tuned, scratch = np.mean(results, axis=0)
    print(f"| mean | {tuned:.3f} | {scratch:.3f} | {tuned - scratch:+.3f} |")


def part_b(repeats: int) -> None:
    from skltransfer import FineTunedCNNClassifier
    from skltransfer.datasets import make_digits_shift

    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    X, y = Xs[:300] * 255, ys[:300]
    Xtest, ytest = Xt * 255, yt

    def model(cache):
        return FineTunedCNNClassifier(
            "vgg16",
            weights=None,
            input_size=32,
            image_shape=(8, 8),
            epochs=10,
            fine_tune_epochs=0,
            cache_features=cache,
            random_state=0,
        )

    times = {True: [], False: []}
    fitted = {}
    model(True).fit(X[:40], y[:40])  # warm-up: TensorFlow start-up, first traces
    for _ in range(repeats):
        for cache in (True, False):
            start = time.perf_counter()
            fitted[cache] = model(cache).fit(X, y)
            times[cache].append(time.perf_counter() - start)
    acc = {cache: accuracy_score(ytest, clf.predict(Xtest)) for cache, clf in fitted.items()}
    gap = np.abs(fitted[True].predict_proba(Xtest) - fitted[False].predict_proba(Xtest)).max()
    cached, through = statistics.median(times[True]), statistics.median(times[False])
    print("\n## (b) Phase 1 on cached features vs through the frozen backbone (VGG16, 32 px, 10 epochs)\n")
    print("| phase 1 | median fit time (s) | target accuracy |")
    print("|---------|--------------------:|----------------:|")
    print(f"| through the frozen backbone every epoch | {through:.1f} | {acc[False]:.3f} |")
    print(f"| features computed once (cache_features) | {cached:.1f} | {acc[True]:.3f} |")
    print(
        f"\nspeed-up: {through / cached:.1f}x; largest probability difference: {gap:.2e}; "
        f"{repeats} repeats, times {[round(t, 1) for t in times[False]]} "
        f"vs {[round(t, 1) for t in times[True]]}"
    )


def _worker_threads() -> tuple[str, int, int]:
    import tensorflow as tf

    import skltransfer.keras  # noqa: F401  (sets TensorFlow's threads from the worker's budget)

    threading = tf.config.threading
    return (
        os.environ.get("OMP_NUM_THREADS", "unset"),
        threading.get_intra_op_parallelism_threads(),
        threading.get_inter_op_parallelism_threads(),
    )


def part_c(repeats: int) -> None:
    from joblib import Parallel, delayed
    from sklearn.model_selection import GridSearchCV

    from skltransfer import FineTunedCNNClassifier
    from skltransfer.datasets import make_digits_shift
    from skltransfer.keras._demo import train_small_cnn

    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "source_cnn.keras")
    train_small_cnn(Xs, ys, (8, 8), random_state=0).save(path)
    clf = FineTunedCNNClassifier(
        path, layer="embedding", image_shape=(8, 8), fine_tune_epochs=2, unfreeze=1.0, random_state=0
    )
    grid = {"epochs": [3, 6], "learning_rate": [1e-3, 3e-3]}
    times = {1: [], 2: []}
    scores = {}
    for _ in range(repeats):
        for n_jobs in (1, 2):
            start = time.perf_counter()
            search = GridSearchCV(clf, grid, cv=3, n_jobs=n_jobs).fit(Xt[:300], yt[:300])
            times[n_jobs].append(time.perf_counter() - start)
            scores[n_jobs] = (search.best_params_, round(search.best_score_, 3))
    threads = Parallel(n_jobs=2)(delayed(_worker_threads)() for _ in range(2))
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print("\n## (c) GridSearchCV over epochs x learning_rate (4 candidates x 3 folds)\n")
    print("| n_jobs | median wall time (s) | best params, CV score |")
    print("|-------:|---------------------:|-----------------------|")
    for n_jobs, t in ((1, one), (2, two)):
        print(f"| {n_jobs} | {t:.1f} | {scores[n_jobs]} |")
    print(
        f"\nspeed-up n_jobs=2 / n_jobs=1: {one / two:.2f}x over {repeats} repeats "
        f"(times {[round(t, 1) for t in times[1]]} vs {[round(t, 1) for t in times[2]]}); "
        f"{os.cpu_count()} CPUs; workers' (OMP_NUM_THREADS, TF intra-op, inter-op) threads: {threads}"
    )


def part_d(repeats: int) -> None:
    from skltransfer import FineTunedCNNClassifier

    print("\n## (d) predict_proba vs model_.predict, MobileNetV2 224 px, 96 images, batch 32\n")
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, (96, 224, 224, 3)).astype(np.float32)
    clf = FineTunedCNNClassifier("mobilenet_v2", weights=None, epochs=0, fine_tune_epochs=0, random_state=0)
    clf.fit(X[:8], np.tile([0, 1], 4))
    difference = np.abs(clf.predict_proba(X) - clf.model_.predict(X, batch_size=32, verbose=0)).max()
    ratios = []
    for _ in range(repeats):
        start = time.perf_counter()
        clf.model_.predict(X, batch_size=32, verbose=0)
        predict = time.perf_counter() - start
        start = time.perf_counter()
        clf.predict_proba(X)
        ours = time.perf_counter() - start
        ratios.append(predict / ours)
        print(
            f"model_.predict {len(X) / predict:.1f} img/s, predict_proba {len(X) / ours:.1f} img/s",
            flush=True,
        )
    print(f"median speed-up {statistics.median(ratios):.2f}x, max abs difference {difference:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["a", "b", "c", "d", "all"], default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    start = time.perf_counter()
    if args.part in ("a", "all"):
        part_a(args.seeds)
    if args.part in ("b", "all"):
        part_b(args.repeats)
    if args.part in ("c", "all"):
        part_c(args.repeats)
    if args.part in ("d", "all"):
        part_d(args.repeats)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
