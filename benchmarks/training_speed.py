"""Training steps per second of ``FineTunedCNNClassifier`` against plain ``model.fit``.

The fine-tuning phase of the estimator (phase 2, every layer with weights unfrozen) against
``model.fit`` of the very same Keras model, compiled with the same optimizer, loss and
metric, on NumPy arrays of the same images and batch size:

a. **Source only.** ``FineTunedCNNClassifier(path, epochs=0, unfreeze=1.0)`` on labeled
   images; plain: ``model.fit(x, y, batch_size=B)`` of the network the estimator trains.
b. **With target rows.** The same plus as many unlabeled target images (``y == -1``),
   ``domain_loss="mmd"`` and ``target_loss="im"``; plain: ``model.fit([x, x_target], y)`` of
   the estimator's two-input training model (the same graph, losses included, and the same
   amount of work per step).

Each setting also runs with ``jit_compile=True`` (XLA) on both sides.

Measurement: a callback (the same one on both sides) records the wall time at the start of
every training step and of every epoch, and the process's CPU time per epoch; the first epoch
(tracing, compilation) is left out. Three figures per run:

* **steps/s (median step)**: 1 / the median interval between the starts of consecutive steps
  of an epoch, the whole step (input pipeline, compiled step, callbacks). The median is robust
  to bursts of load from other processes, which on a shared machine make whole-epoch wall
  times jump by tens of percent from one run to the next.
* **steps/s (epochs)**: steps of the timed epochs over their wall time (per-epoch costs such
  as starting the input pipeline included; noisy under load).
* **steps per CPU second**: steps over the process's CPU time in those epochs (all threads:
  input pipeline and compute), the work a step costs whatever the load.
* **first epoch**: the wall seconds of the first epoch, which traces the training step
  (the estimator's side includes building the optimizer's and metrics' variables before
  ``fit``, which it does to trace the step once; ``model.fit`` traces it twice); its ratio is
  plain seconds / ours.

Fixed costs of the estimator's ``fit`` outside the training loop (loading the network,
compiling) are not counted. Runs alternate between plain and estimator, the order rotated
every repeat; the table gives the medians over the repeats and the medians of the per-repeat
ratios.

The network: the small CNN of ``office31.py`` (``build_backbone``: three blocks of two 3x3
convolutions with batch normalization, 32/64/128 filters, 32x32x3 input) saved as ``.keras``,
or ``--network mobilenet``: ``keras.applications.MobileNetV2(alpha=0.35, weights=None)`` at
96x96x3. Images are random pixels (speed does not depend on them).

Usage::

    python benchmarks/training_speed.py                  # both settings, 3 repeats
    python benchmarks/training_speed.py --quick          # fewer rows and epochs
    python benchmarks/training_speed.py --threads 2 --repeats 5 --network mobilenet
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

#: Per epoch of the running fit: the wall times at the start of its steps, its wall time and its
#: CPU time (module-level: the estimator deep-copies the callbacks it is given).
EPOCHS: list[tuple[list[float], float, float]] = []
#: The model the estimator trained last and the trainable flags of its layers during training.
CAPTURED: dict = {}
#: The figures of a run, in the order of ``measure``.
METRICS = ("median step", "fastest-decile step", "epochs", "CPU", "first epoch")
#: Seconds spent building the estimator's training variables before its ``fit`` (its runs only).
BUILD_SECONDS: list[float] = []


def make_timer(capture: bool):
    import keras

    class StepTimer(keras.callbacks.Callback):
        def __init__(self, capture):
            super().__init__()
            self.capture, self.starts, self.epoch_start = capture, [], None

        def on_train_begin(self, logs=None):
            if self.capture:
                CAPTURED["model"] = self.model
                CAPTURED["trainable"] = [(layer, layer.trainable) for layer in self.model._flatten_layers()]

        def on_epoch_begin(self, epoch, logs=None):
            self.starts, self.epoch_start = [], (time.perf_counter(), time.process_time())

        def on_train_batch_begin(self, batch, logs=None):
            self.starts.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            wall, cpu = time.perf_counter() - self.epoch_start[0], time.process_time() - self.epoch_start[1]
            EPOCHS.append((self.starts, wall, cpu))

    return StepTimer(capture)


def build_network(kind: str, seed: int = 0):
    import keras

    if kind == "mobilenet":
        return keras.applications.MobileNetV2(
            input_shape=(96, 96, 3), alpha=0.35, weights=None, include_top=False, pooling="avg"
        )
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from office31 import build_backbone

    return build_backbone(32, seed)


def measure(steps_per_epoch: int) -> tuple[float, float, float, float, float]:
    """Steps/s by the median step, by the fastest decile of steps, by whole epochs, and per CPU
    second, the first epoch left out; and 1 / the first epoch's seconds (with the variables'
    build of the estimator's runs)."""
    timed = EPOCHS[1:]
    intervals = [b - a for starts, _, _ in timed for a, b in itertools.pairwise(starts)]
    steps = steps_per_epoch * len(timed)
    return (
        1 / statistics.median(intervals),
        1 / float(np.percentile(intervals, 10)),
        steps / sum(wall for _, wall, _ in timed),
        steps / sum(cpu for _, _, cpu in timed),
        1 / (EPOCHS[0][1] + sum(BUILD_SECONDS)),
    )


def run_ours(path, x, y, batch_size, epochs, jit, target):
    from skltransfer.keras import FineTunedCNNClassifier, _training

    _training.JIT_COMPILE = jit
    build = getattr(_training.build_training_variables, "__wrapped__", _training.build_training_variables)

    def timed_build(*args):
        start = time.perf_counter()
        build(*args)
        BUILD_SECONDS.append(time.perf_counter() - start)

    timed_build.__wrapped__ = build
    _training.build_training_variables = timed_build
    BUILD_SECONDS.clear()
    kwargs = {"domain_loss": "mmd", "target_loss": "im"} if target is not None else {"target_loss": None}
    if target is not None:
        x = np.concatenate([x, target])
        y = np.concatenate([y, -np.ones(len(target), dtype=y.dtype)])
    estimator = FineTunedCNNClassifier(
        path,
        weights="imagenet",
        preprocessing=None,
        epochs=0,
        fine_tune_epochs=epochs,
        unfreeze=1.0,
        batch_size=batch_size,
        callbacks=[make_timer(capture=True)],
        random_state=0,
        **kwargs,
    )
    EPOCHS.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(x, y)
    n = len(y) if target is None else len(y) - len(target)
    per_epoch = -(-n // batch_size) if target is None else n // batch_size
    return measure(per_epoch)


def run_plain(x, y, batch_size, epochs, jit, target, learning_rate):
    import keras

    model = CAPTURED["model"]
    for layer, trainable in CAPTURED["trainable"]:
        layer.trainable = trainable
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit,
    )
    inputs = x if target is None else [x, target]
    EPOCHS.clear()
    BUILD_SECONDS.clear()
    model.fit(
        inputs, y, batch_size=batch_size, epochs=epochs, callbacks=[make_timer(capture=False)], verbose=0
    )
    return measure(-(-len(y) // batch_size))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: its default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1024 rows, 3 epochs")
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument(
        "--epochs", type=int, default=4, help="training epochs per run (the first is not timed)"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--network", choices=("small", "mobilenet"), default="small")
    parser.add_argument("--settings", default="source,target", help="comma-separated: source, target")
    parser.add_argument("--xla", choices=("both", "off", "on"), default="both")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.epochs = 1024, 3
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    rng = np.random.default_rng(0)
    network = build_network(args.network)
    size = network.input_shape[1]
    x = rng.uniform(0, 255, (args.rows, size, size, 3)).astype(np.float32)
    target = rng.uniform(0, 255, (args.rows, size, size, 3)).astype(np.float32)
    y = np.arange(args.rows) % 10
    learning_rate = 1e-4  # the estimator's fine-tuning rate: learning_rate / 10

    print(
        f"keras {keras.__version__}, tensorflow {tf.__version__}, {os.cpu_count()} CPUs, "
        f"threads={args.threads or 'default'}"
    )
    print(f"load: {os.getloadavg()}")
    print(
        f"network {args.network} ({network.count_params():,} parameters, {size}x{size}x3), {args.rows} rows, "
        f"batch {args.batch_size}, {args.epochs} epochs ({args.epochs - 1} timed), {args.repeats} repeats\n"
    )
    jits = {"both": (False, True), "off": (False,), "on": (True,)}[args.xla]
    sides = ["plain", "ours"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "backbone.keras")
        network.save(path)
        for setting in args.settings.split(","):
            tgt = target if setting == "target" else None
            for jit in jits:
                run_ours(path, x, y, args.batch_size, 2, jit, tgt)  # warm-up; captures the model
                speeds = {side: [] for side in sides}
                ratios = {side: [] for side in sides[1:]}
                for repeat in range(args.repeats):
                    order = sides[repeat % len(sides) :] + sides[: repeat % len(sides)]
                    if repeat % 2:
                        order = order[::-1]
                    for side in order:
                        if side == "plain":
                            speed = run_plain(x, y, args.batch_size, args.epochs, jit, tgt, learning_rate)
                        else:
                            speed = run_ours(path, x, y, args.batch_size, args.epochs, jit, tgt)
                        speeds[side].append(speed)
                    for side in sides[1:]:
                        ratios[side].append(
                            [a / b for a, b in zip(speeds[side][-1], speeds["plain"][-1], strict=True)]
                        )
                    print(
                        f"  {setting:6s} xla={jit!s:5s} repeat {repeat}: "
                        + ", ".join(f"{side} {speeds[side][-1][0]:.2f}" for side in sides)
                        + " steps/s (median step); ratios "
                        + "; ".join(
                            f"{side}: "
                            + ", ".join(
                                f"{m} {r:.3f}" for m, r in zip(METRICS, ratios[side][-1], strict=True)
                            )
                            for side in sides[1:]
                        ),
                        flush=True,
                    )
                for side in sides[1:]:
                    rows.append(
                        (
                            setting,
                            jit,
                            side,
                            [statistics.median(speed[k] for speed in speeds["plain"]) for k in range(5)],
                            [statistics.median(speed[k] for speed in speeds[side]) for k in range(5)],
                            [statistics.median(ratio[k] for ratio in ratios[side]) for k in range(5)],
                        )
                    )
    print(f"\nload: {os.getloadavg()}\n")
    print(
        "| setting | XLA | training | plain steps/s (median step) | ours steps/s (median step) | ratio "
        "| ratio (fastest-decile step) | plain steps/s (epochs) | ours steps/s (epochs) | ratio "
        "| ratio per CPU second | plain first epoch s | ours first epoch s | ratio |"
    )
    print("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for setting, jit, side, plain, ours, ratio in rows:
        print(
            f"| {setting} | {'on' if jit else 'off'} | {side} "
            f"| {plain[0]:.2f} | {ours[0]:.2f} | {ratio[0]:.3f} "
            f"| {ratio[1]:.3f} | {plain[2]:.2f} | {ours[2]:.2f} | {ratio[2]:.3f} | {ratio[3]:.3f} "
            f"| {1 / plain[4]:.2f} | {1 / ours[4]:.2f} | {ratio[4]:.2f} |"
        )
    for setting in args.settings.split(","):
        found = {
            jit: (plain[0], ours[0])
            for s, jit, side, plain, ours, _ in rows
            if s == setting and side == "ours"
        }
        if len(found) == 2:
            print(
                f"\n{setting}: XLA / no XLA (median step), plain {found[True][0] / found[False][0]:.3f}, "
                f"ours {found[True][1] / found[False][1]:.3f}"
            )


if __name__ == "__main__":
    main()
