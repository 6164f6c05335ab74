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

Usage::

    python benchmarks/extraction.py                      # full run (see results/extraction.md)
    python benchmarks/extraction.py --quick              # smoke run
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time

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
    parser.add_argument("--networks", nargs="+", default=["mobilenet_v2", "resnet50"], help="subset to time")
    parser.add_argument("--skip-memory", action="store_true", help="time throughput only")
    args = parser.parse_args(argv)
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
