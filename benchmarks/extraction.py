"""Throughput of PretrainedFeatureExtractor vs Keras' model.predict, and memory on file paths.

For each network (random weights, ``weights=None``; the weights do not change the cost), the
hand-written Keras recipe (``preprocess_input`` on the array, then ``model.predict`` on the
backbone without top + ``GlobalAveragePooling2D``) and the extractor (``transform`` on the
same uint8 images; its compiled function runs a copy of the backbone with the batch
normalizations folded into the convolutions) process the same images at the same batch
size. Runs alternate; the table reports medians of images/s, the median over pairs of
consecutive runs of the speed-up (predict time / extractor time), and the largest
difference between the two feature matrices, absolute and relative to the largest feature.

The memory part extracts features of ``--n-paths`` image file paths (a few JPEG files
repeated) in a fresh process and reports the peak resident memory above the level reached
after fitting; an array of those images at the network size would need
``n * h * w * 3 * 4`` bytes.

The engines part (``--engines``) compares, per network (MobileNetV2, ResNet50 and
EfficientNetB0 at their native sizes, random weights whose batch normalizations hold the
statistics of a batch of images, so that activations and features are of order 1 as with
trained weights), three ways to compute the same features of the same uint8 images:
the extractor's compiled Keras path (``transform``), the extractor's inference function
converted once for LiteRT and run by ``LiteRTRunner`` (XNNPACK, all cores), and a bare
LiteRT interpreter running that flatbuffer one image per call. It reports the median
images/s over interleaved repeats, the paired ratios, the conversion time, the first-call
latency (from a fresh runner or after ``fit``), the peak resident memory of each phase
and the break-even: the images after which the conversion has paid for itself.

Usage::

    python benchmarks/extraction.py                      # full run (see results/extraction.md)
    python benchmarks/extraction.py --quick              # smoke run
    python benchmarks/extraction.py --engines            # Keras vs LiteRT
    python benchmarks/extraction.py --defaults 2048      # engine="auto" vs bare LiteRT and Keras
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types

import numpy as np


def _throughput(name: str, size: int, n_images: int, batch_size: int, repeats: int) -> dict:
    import keras

    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.keras.applications import get_application

    app = get_application(name)
    images = np.random.RandomState(0).randint(0, 256, size=(n_images, size, size, 3)).astype(np.uint8)
    extractor = PretrainedFeatureExtractor(
        name, weights=None, input_size=size, batch_size=batch_size, random_state=0
    )
    extractor.fit(images[:1])
    base = extractor.model_
    recipe = keras.Sequential([base, keras.layers.GlobalAveragePooling2D()])

    def run_predict():
        return recipe.predict(
            app.preprocess_input(images.astype(np.float32)), batch_size=batch_size, verbose=0
        )

    def run_extractor():
        return extractor.transform(images)

    expected = run_predict()  # also warms both up (tracing)
    gap = np.abs(expected - run_extractor()).max()
    times = {"predict": [], "extractor": []}
    for _ in range(repeats):
        for key, fn in (("predict", run_predict), ("extractor", run_extractor)):
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
    predict = n_images / statistics.median(times["predict"])
    extract = n_images / statistics.median(times["extractor"])
    # Each extractor run is paired with the predict run just before it: on a shared machine
    # the median of the paired ratios is steadier than the ratio of medians.
    paired = [p / e for p, e in zip(times["predict"], times["extractor"], strict=True)]
    return {
        "network": f"{app.name} {size}px",
        "predict": predict,
        "extractor": extract,
        "ratio": statistics.median(paired),
        "max_abs_diff": gap,
        "max_rel_diff": gap / np.abs(expected).max(),
    }


class _PeakMemory:
    """Peak resident memory (MB) of this process during a ``with`` block.

    Sampled every 5 ms with psutil where it is installed; otherwise the process' lifetime
    peak from ``resource.getrusage`` at the end of the block (which never decreases).
    """

    def __enter__(self):
        try:
            import psutil
        except ImportError:
            self._process, self.peak_mb = None, 0.0
            return self
        self._process, self._done = psutil.Process(), threading.Event()
        self.peak_mb = self._process.memory_info().rss / 2**20
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._done.wait(0.005):
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)

    def __exit__(self, *exc):
        if self._process is None:
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        else:
            self._done.set()
            self._thread.join()
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / 2**20)


def _small_cnn(include_top, weights, input_shape):
    """Three convolutions with batch normalization: a network converted in about a second."""
    import keras

    layers = keras.layers
    x = inputs = keras.Input(input_shape)
    for filters in (16, 32, 64):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.MaxPooling2D()(layers.ReLU()(layers.BatchNormalization()(x)))
    return keras.Model(inputs, x, name="small_cnn")


def _application(name: str):
    """The registry entry of a named network, or the small CNN (pixels scaled to [-1, 1])."""
    from skltransfer.keras.applications import get_application

    if name != "small_cnn":
        return get_application(name)
    return types.SimpleNamespace(
        name="small CNN", constructor=_small_cnn, preprocess_input=lambda x: x / 127.5 - 1
    )


def _calibrated_backbone(app, size: int, images: np.ndarray):
    """The backbone with random weights and each normalization's statistics from a batch.

    Fresh networks have moving means 0 and variances 1; through 50 layers their activations
    shrink towards 0 (features of 1e-11 for MobileNetV2, in denormal floats that slow some
    kernels down). One pass in training mode with momentum 0 replaces the moving
    statistics by those of the batch, layer after layer, as trained weights would have.
    """
    import keras

    model = app.constructor(include_top=False, weights=None, input_shape=(size, size, 3))
    norms = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    for norm in norms:
        norm.momentum = 0.0
    model(app.preprocess_input(images.astype(np.float32)), training=True)
    for norm in norms:
        norm.momentum = 0.99
    return model


def _bare_interpreter(flatbuffer: bytes, image_shape: tuple, threads: int, batch: int = 1):
    """A function running a LiteRT interpreter on images, ``batch`` per call (no runner).

    The number of images must be a multiple of ``batch`` (no resizing between calls).
    """
    from skltransfer.keras._litert import _new_interpreter

    interpreter = _new_interpreter(flatbuffer, threads)
    detail_in, detail_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(detail_in["index"], (batch, *image_shape))
    interpreter.allocate_tensors()

    def run(images):
        out = []
        for start in range(0, len(images), batch):
            interpreter.set_tensor(detail_in["index"], images[start : start + batch])
            interpreter.invoke()
            out.append(interpreter.get_tensor(detail_out["index"]))
        return np.concatenate(out)

    return run


def _interleaved(runs: dict, repeats: int, between=None) -> dict:
    """Time each function of ``runs`` in turn, ``repeats`` rounds: ``{key: [seconds, ...]}``."""
    times = {key: [] for key in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - start)
        if between is not None:
            between()
    return times


def _engines(name: str, size: int, n_images: int, repeats: int, batches=()) -> dict:
    import tensorflow as tf

    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.keras._litert import LiteRTRunner, convert_to_litert, default_num_threads

    app = _application(name)
    images = np.random.RandomState(0).randint(0, 256, size=(n_images, size, size, 3)).astype(np.uint8)
    backbone = _calibrated_backbone(app, size, images[:8])
    with _PeakMemory() as keras_memory:
        start = time.perf_counter()
        extractor = PretrainedFeatureExtractor(
            backbone, preprocessing=app.preprocess_input, batch_size=32
        ).fit(images[:1])
        extractor.transform(images[:1])
        keras_first = time.perf_counter() - start
        expected = extractor.transform(images)

    def features(x):  # the extractor's inference function, for uint8 images at the network size
        x = app.preprocess_input(tf.cast(x, tf.float32))
        return tf.reduce_mean(backbone(x, training=False), axis=(1, 2))

    with _PeakMemory() as conversion_memory:
        start = time.perf_counter()
        flatbuffer = convert_to_litert(features, input_shape=(size, size, 3), dtype="uint8")
        conversion = time.perf_counter() - start
    threads = default_num_threads()
    with _PeakMemory() as runner_memory:
        start = time.perf_counter()
        runner = LiteRTRunner(flatbuffer)
        runner(images[:1])
        runner_first = time.perf_counter() - start
        from_runner = runner(images)
    bare = _bare_interpreter(flatbuffer, images.shape[1:], threads)
    from_bare = bare(images)  # also warms it up
    runs = {
        "keras": lambda: extractor.transform(images),
        "runner": lambda: runner(images),
        "bare": lambda: bare(images),
    }
    for batch in batches:  # the runner at other batch sizes than its default
        other = LiteRTRunner(flatbuffer, batch_size=batch)
        other(images[:batch])
        runs[f"runner batch {batch}"] = lambda other=other: other(images)
    times = _interleaved(runs, repeats)
    rate = {key: n_images / statistics.median(values) for key, values in times.items()}
    # paired ratios (same repeat): steadier on a shared machine than ratios of medians
    paired = {
        other: statistics.median(t / r for t, r in zip(times[other], times["runner"], strict=True))
        for other in ("bare", "keras")
    }
    seconds_saved = 1 / rate["keras"] - 1 / rate["runner"]
    return {
        "network": f"{app.name} {size}px",
        "threads": threads,
        **rate,
        "runner_vs_bare": paired["bare"],
        "runner_vs_keras": paired["keras"],
        "conversion_s": conversion,
        "keras_first_s": keras_first,
        "runner_first_s": runner_first,
        "break_even": conversion / seconds_saved if seconds_saved > 0 else float("inf"),
        "keras_peak_mb": keras_memory.peak_mb,
        "conversion_peak_mb": conversion_memory.peak_mb,
        "runner_peak_mb": runner_memory.peak_mb,
        "rel_diff_keras": np.abs(from_runner - expected).max() / np.abs(expected).max(),
        "diff_bare": np.abs(from_runner - from_bare).max(),
        "scale": np.abs(expected).max(),
    }


def _print_engines(cases, repeats: int, batches=()) -> None:
    print(f"engines: repeats={repeats}, weights=None with batch statistics, median images/s")
    print(
        "| network | images | threads | Keras extractor | LiteRT runner | bare interpreter | runner / bare "
        "| runner / Keras | conversion (s) | break-even (images) | first call Keras / runner (s) "
        "| peak RSS Keras / conversion / runner (MB) | runner vs Keras (rel) | runner vs bare |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, n_images in cases:
        r = _engines(name, size, n_images, repeats, batches)
        print(
            f"| {r['network']} | {n_images} | {r['threads']} | {r['keras']:.1f} | {r['runner']:.1f} "
            f"| {r['bare']:.1f} | {r['runner_vs_bare']:.2f}x | {r['runner_vs_keras']:.2f}x "
            f"| {r['conversion_s']:.1f} | {r['break_even']:.0f} "
            f"| {r['keras_first_s']:.2f} / {r['runner_first_s']:.2f} "
            f"| {r['keras_peak_mb']:.0f} / {r['conversion_peak_mb']:.0f} / {r['runner_peak_mb']:.0f} "
            f"| {r['rel_diff_keras']:.1e} | {r['diff_bare']:.1e} |",
            flush=True,
        )
        if batches:
            print("    " + ", ".join(f"{key}: {r[key]:.1f}" for key in r if key.startswith("runner batch")))


def _defaults(name: str, size: int, n_images: int, repeats: int, n_small: int = 16) -> dict:
    """The extractor with its defaults against a bare interpreter and the Keras engine.

    Small part: ``n_small`` images through the defaults and through ``engine="keras"``
    (fresh fitted extractors), interleaved ``5 * repeats`` times. Large part: a fitted
    extractor with the defaults (``engine="auto"``) converts its network on its first call
    of ``n_images`` images (timed: conversion and run); the conversion alone (and the
    interpreter's setup) is timed on another fitted extractor. A bare interpreter runs the
    extractor's own flatbuffer with the same threads; its fastest batch (1, 2, 4 or 8 images
    per ``invoke``, on 64 images, two alternations) is the reference. Then the defaults'
    ``transform`` of the ``n_images``, the bare interpreter on them and ``engine="keras"``
    on ``n_keras`` of them (its cost per image, for the break-even) are timed interleaved.
    """
    import os

    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.keras._litert import LiteRTRunner, default_num_threads

    app = _application(name)
    images = np.random.RandomState(0).randint(0, 256, size=(n_images, size, size, 3)).astype(np.uint8)
    backbone = _calibrated_backbone(app, size, images[:8])
    load = [os.getloadavg()[0]]

    def fitted(**params):
        extractor = PretrainedFeatureExtractor(backbone, preprocessing=app.preprocess_input, **params)
        return extractor.fit(images[:1])

    small, small_defaults, small_keras = images[:n_small], fitted(), fitted(engine="keras")
    small_times = _interleaved(
        {"defaults": lambda: small_defaults.transform(small), "keras": lambda: small_keras.transform(small)},
        5 * repeats,
    )
    converted_small = bool(small_defaults.__dict__.get("_litert"))

    other = fitted()
    form = other._images(images[:1], reset=False)
    start = time.perf_counter()
    other._runner(other._predictor(form), n_images)  # converts and loads the interpreter
    conversion = time.perf_counter() - start
    defaults, keras_engine = fitted(), fitted(engine="keras")
    start = time.perf_counter()
    from_defaults = defaults.transform(images)
    first_s = time.perf_counter() - start
    (runner,) = defaults._litert.values()
    assert isinstance(runner, LiteRTRunner), runner
    threads = default_num_threads()
    bare = {b: _bare_interpreter(runner.flatbuffer, images.shape[1:], threads, b) for b in (1, 2, 4, 8)}
    probe = _interleaved({b: lambda fn=fn: fn(images[:64]) for b, fn in bare.items()}, 2)
    batch = min(probe, key=lambda b: statistics.median(probe[b]))
    from_bare = bare[batch](images)
    n_keras = min(n_images, 256)
    expected = keras_engine.transform(images[:n_keras])
    runs = {
        "defaults": lambda: defaults.transform(images),
        "bare": lambda: bare[batch](images),
        "keras": lambda: keras_engine.transform(images[:n_keras]),
    }
    times = _interleaved(runs, repeats, between=lambda: load.append(os.getloadavg()[0]))
    counts = {"defaults": n_images, "bare": n_images, "keras": n_keras}
    rate = {key: counts[key] / statistics.median(values) for key, values in times.items()}
    paired = statistics.median(b / d for b, d in zip(times["bare"], times["defaults"], strict=True))
    paired_keras = statistics.median(
        k / n_keras * n_images / d for k, d in zip(times["keras"], times["defaults"], strict=True)
    )
    seconds_saved = 1 / rate["keras"] - 1 / rate["defaults"]
    return {
        "network": f"{app.name} {size}px",
        "threads": threads,
        "load": f"{min(load):.1f}-{max(load):.1f}",
        **rate,
        "bare_batch": batch,
        "probe": {b: 64 / statistics.median(t) for b, t in probe.items()},
        "defaults_vs_bare": paired,
        "defaults_vs_keras": paired_keras,
        "first_s": first_s,
        "conversion_s": conversion,
        "break_even": conversion / seconds_saved if seconds_saved > 0 else float("inf"),
        "rel_diff_keras": np.abs(from_defaults[:n_keras] - expected).max() / np.abs(expected).max(),
        "diff_bare": np.abs(from_defaults - from_bare).max(),
        "small_defaults_s": statistics.median(small_times["defaults"]),
        "small_keras_s": statistics.median(small_times["keras"]),
        "small_ratio": statistics.median(
            k / d for k, d in zip(small_times["keras"], small_times["defaults"], strict=True)
        ),
        "converted_small": converted_small,
    }


def _print_defaults(cases, repeats: int) -> None:
    print(f"defaults: repeats={repeats}, weights=None with batch statistics, median images/s")
    print(
        "| network | images | threads | load | defaults (auto) | bare interpreter (batch) "
        "| Keras engine | defaults / bare | defaults / Keras | first call (s) | conversion + setup (s) "
        "| break-even (images) | rel diff vs Keras | diff vs bare | 16 images: defaults / Keras (ms) "
        "| Keras / defaults time, 16 images | converted at 16 |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, size, n_images in cases:
        r = _defaults(name, size, n_images, repeats)
        print(
            f"| {r['network']} | {n_images} | {r['threads']} | {r['load']} | {r['defaults']:.1f} "
            f"| {r['bare']:.1f} ({r['bare_batch']}) | {r['keras']:.1f} "
            f"| **{r['defaults_vs_bare']:.2f}x** | {r['defaults_vs_keras']:.2f}x "
            f"| {r['first_s']:.1f} | {r['conversion_s']:.1f} | {r['break_even']:.0f} "
            f"| {r['rel_diff_keras']:.1e} | {r['diff_bare']:.1e} "
            f"| {1e3 * r['small_defaults_s']:.0f} / {1e3 * r['small_keras_s']:.0f} "
            f"| {r['small_ratio']:.2f} | {r['converted_small']} |",
            flush=True,
        )
        print(
            "    bare interpreter, batch probe (img/s): "
            + ", ".join(f"{b}: {v:.1f}" for b, v in r["probe"].items()),
            flush=True,
        )


_MEMORY_CODE = """
import resource, sys, time, numpy as np
from skltransfer import PretrainedFeatureExtractor
paths = [sys.argv[1 + i % (len(sys.argv) - 3)] for i in range(int(sys.argv[-2]))]
size = int(sys.argv[-1])
ext = PretrainedFeatureExtractor("mobilenet_v2", weights=None, input_size=size, batch_size=32, random_state=0)
ext.fit(paths[:32]).transform(paths[:32])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
features = ext.transform(paths)
elapsed = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, elapsed, features.shape[0])
"""


def _memory(n_paths: int, size: int) -> dict:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    with tempfile.TemporaryDirectory() as folder:
        files = []
        for i, image in enumerate(load_sample_images().images):
            for j, (top, left) in enumerate([(0, 0), (100, 200), (200, 400)]):
                path = f"{folder}/img{i}_{j}.jpg"
                Image.fromarray(image[top : top + 224, left : left + 224]).save(path)
                files.append(path)
        out = subprocess.run(
            [sys.executable, "-c", _MEMORY_CODE, *files, str(n_paths), str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    before, after, elapsed, n = int(out[-4]), int(out[-3]), float(out[-2]), int(out[-1])
    return {
        "n_paths": n,
        "input_size": size,
        "rss_after_fit_mb": before / 1024,
        "peak_rss_mb": after / 1024,
        "growth_mb": (after - before) / 1024,
        "array_mb": n * size * size * 3 * 4 / 2**20,
        "images_per_s": n / elapsed,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--n-images", type=int, default=128, help="MobileNetV2 images (half for ResNet50)")
    parser.add_argument("--n-paths", type=int, default=10000)
    parser.add_argument("--memory-size", type=int, default=96, help="network input size for the memory run")
    networks = ["mobilenet_v2", "resnet50", "efficientnet_b0", "small_cnn"]  # the last two: --engines only
    parser.add_argument("--networks", nargs="+", default=networks, help="subset to time")
    parser.add_argument("--skip-memory", action="store_true", help="time throughput only")
    parser.add_argument("--engines", action="store_true", help="compare Keras and LiteRT instead")
    parser.add_argument("--runner-batches", type=int, nargs="*", default=[], help="also time these batches")
    parser.add_argument(
        "--defaults", type=int, metavar="N", help="the defaults on N images vs a bare interpreter and Keras"
    )
    args = parser.parse_args(argv)
    if args.defaults:
        sizes = {"mobilenet_v2": 224, "resnet50": 224, "efficientnet_b0": 224, "small_cnn": 32}
        networks = ["mobilenet_v2"] if args.networks == networks else args.networks
        _print_defaults([(name, sizes[name], args.defaults) for name in networks], args.repeats)
        return
    if args.engines:
        if args.quick:
            cases = [
                ("mobilenet_v2", 96, 16),
                ("resnet50", 64, 8),
                ("efficientnet_b0", 64, 8),
                ("small_cnn", 32, 64),
            ]
        else:
            n = args.n_images
            cases = [("mobilenet_v2", 224, n), ("resnet50", 224, n // 4), ("efficientnet_b0", 224, n // 2)]
            cases.append(("small_cnn", 32, 32 * n))
        cases = [case for case in cases if case[0] in args.networks]
        _print_engines(cases, 2 if args.quick else args.repeats, args.runner_batches)
        return
    if args.quick:
        cases, repeats, n_paths = [("mobilenet_v2", 96, 64), ("resnet50", 64, 32)], 2, 200
    else:
        # Whole batches only: the extractor pads a last partial batch (fixed shape), which
        # would count up to one batch of wasted work against it on these small runs.
        batch = args.batch_size
        n_resnet = max(batch, args.n_images // 2 // batch * batch)
        cases = [("mobilenet_v2", 224, args.n_images // batch * batch), ("resnet50", 224, n_resnet)]
        cases = [case for case in cases if case[0] in args.networks]
        repeats, n_paths = args.repeats, args.n_paths

    print(f"batch_size={args.batch_size}, repeats={repeats}, weights=None, median images/s")
    print(
        "| network | images | model.predict (img/s) | extractor (img/s) | speed-up "
        "| max abs diff | max rel diff |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, size, n_images in cases:
        r = _throughput(name, size, n_images, args.batch_size, repeats)
        print(
            f"| {r['network']} | {n_images} | {r['predict']:.1f} | {r['extractor']:.1f} | "
            f"{r['ratio']:.2f}x | {r['max_abs_diff']:.1e} | {r['max_rel_diff']:.1e} |",
            flush=True,
        )
    if args.skip_memory:
        return
    m = _memory(n_paths, 32 if args.quick else args.memory_size)
    print()
    print(
        f"{m['n_paths']} image paths, MobileNetV2 at {m['input_size']}px, batch 32: "
        f"peak RSS {m['peak_rss_mb']:.0f} MB, growth during transform {m['growth_mb']:.0f} MB "
        f"(the images as one float32 array: {m['array_mb']:.0f} MB), {m['images_per_s']:.0f} images/s"
    )
    print(f"(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
