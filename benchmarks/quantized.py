"""Quantized LiteRT engines against the float LiteRT interpreter: speed, features, downstream accuracy.

For each engine (``"litert"``: float32; ``"litert-dynamic"``: int8 weights;
``"litert-int8"``: int8 weights and activations calibrated on up to 100 training images)
a ``PretrainedFeatureExtractor`` is fitted on the same training images and measured on:

- speed: images per second of ``transform`` on ``--speed-images`` images, the engines
  interleaved in each of ``--repeats`` rounds (the conversion is done before); median over
  rounds, and the median of the per-round ratios to the float engine;
- features: cosine similarity of each image's features to the float engine's (mean and
  minimum over the test images);
- downstream accuracy: ``StandardScaler`` + ``LogisticRegression`` trained on the features
  of the training images, scored on the test images; the change against the float engine
  in points.

Two networks, on Office-31 images (``--data``, with ``amazon/``, ``dslr/``, ``webcam/``):

1. MobileNetV2 at 224 x 224 with ``weights=None`` (no ImageNet weights offline): its batch
   normalizations take the statistics of 64 training images (AdaBN) before it is saved, so
   that activations keep their scale through the random network (with Keras's initial
   statistics they vanish to about 1e-11, which no 8-bit scale represents). The speed check
   of the issue; its accuracy is that of random features. Amazon, ``--per-class`` images of
   each class at 224 px, split half/half (stratified, seeded).
2. The small CNN pretrained on CIFAR-10 (``--backbone``, 32 px; ``benchmarks/office31.py``
   builds and caches it): the real accuracy check. Amazon split half/half (all images), and
   DSLR -> Webcam (trained on DSLR, scored on Webcam).

Prints a Markdown table; ``--output`` also writes it to a file.

    python benchmarks/quantized.py --data /tmp/office31/data/Office31 \\
        --backbone ~/.cache/skltransfer-benchmarks/backbone_cifar10_32px_20000img_3ep.keras
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

ENGINES = ("litert", "litert-dynamic", "litert-int8")


def split_half(y, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)


def mobilenet_v2_path(x_stats, folder: str, seed: int) -> str:
    """MobileNetV2 (224 px, weights=None, no top) with batch statistics of ``x_stats``, saved."""
    import keras

    from skltransfer.keras._layerwise import adapt_batch_statistics

    keras.utils.set_random_seed(seed)  # a benchmark script: the random network is seeded once
    model = keras.applications.MobileNetV2(weights=None, include_top=False, input_shape=(224, 224, 3))
    x = keras.applications.mobilenet_v2.preprocess_input(x_stats.astype(np.float32))
    adapt_batch_statistics(model, x, batch_size=16)
    path = os.path.join(folder, "mobilenet_v2_adabn.keras")
    model.save(path)
    return path


def measure(task, base_model, X_train, y_train, X_test, y_test, X_speed, args, preprocessing="auto"):
    """One row per engine: the measures of the module docstring."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skltransfer import PretrainedFeatureExtractor

    extractors, features, accuracy, convert = {}, {}, {}, {}
    for engine in ENGINES:
        extractor = PretrainedFeatureExtractor(
            base_model, preprocessing=preprocessing, engine=engine, random_state=args.seed
        ).fit(X_train)
        start = time.perf_counter()
        extractor.transform(X_speed[:1])  # the conversion (and calibration), once
        convert[engine] = time.perf_counter() - start
        F_train, F_test = extractor.transform(X_train), extractor.transform(X_test)
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        accuracy[engine] = head.fit(F_train, y_train).score(F_test, y_test)
        extractors[engine], features[engine] = extractor, F_test
    rates = {engine: [] for engine in ENGINES}
    for _ in range(args.repeats):
        for engine in ENGINES:
            start = time.perf_counter()
            extractors[engine].transform(X_speed)
            rates[engine].append(len(X_speed) / (time.perf_counter() - start))
    rows = []
    reference = features["litert"]
    for engine in ENGINES:
        F = features[engine]
        cos = (F * reference).sum(1) / (np.linalg.norm(F, axis=1) * np.linalg.norm(reference, axis=1) + 1e-30)
        ratios = np.array(rates[engine]) / np.array(rates["litert"])
        rows.append(
            {
                "task": task,
                "engine": engine,
                "rate": float(np.median(rates[engine])),
                "ratio": float(np.median(ratios)),
                "cos_mean": float(cos.mean()),
                "cos_min": float(cos.min()),
                "accuracy": accuracy[engine],
                "delta": 100 * (accuracy[engine] - accuracy["litert"]),
                "convert": convert[engine],
            }
        )
        print(
            f"{task} {engine}: {rows[-1]['rate']:.1f} images/s (x{rows[-1]['ratio']:.2f}), "
            f"cos {cos.mean():.4f} (min {cos.min():.4f}), accuracy {accuracy[engine]:.4f}, "
            f"rates {np.round(rates[engine], 1).tolist()}",
            flush=True,
        )
    return rows


def table(rows) -> str:
    lines = [
        "| network, task | engine | images/s (median) | x float LiteRT (median of rounds) "
        "| feature cosine, mean (min) | accuracy | change (points) | conversion s |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | `{r['engine']}` | {r['rate']:.1f} | {r['ratio']:.2f} "
            f"| {r['cos_mean']:.4f} ({r['cos_min']:.4f}) | {r['accuracy']:.4f} | {r['delta']:+.1f} "
            f"| {r['convert']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Office-31 folder: amazon/, dslr/, webcam/")
    parser.add_argument(
        "--backbone",
        type=Path,
        default=Path("~/.cache/skltransfer-benchmarks/backbone_cifar10_32px_20000img_3ep.keras").expanduser(),
        help="the CIFAR-10 backbone of benchmarks/office31.py (32 px)",
    )
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/skltransfer-benchmarks").expanduser())
    parser.add_argument("--per-class", type=int, default=30, help="amazon images per class at 224 px")
    parser.add_argument("--speed-images", type=int, default=64, help="images per timed transform at 224 px")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-224", action="store_true", help="only the 32 px backbone")
    parser.add_argument("--skip-32", action="store_true", help="only MobileNetV2 at 224 px")
    parser.add_argument("--output", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()

    from office31 import _class_folders, load_image_folder

    rows = []
    if not args.skip_224:
        X, y = load_image_folder(
            _class_folders(args.data / "amazon"), 224, args.cache, "office31_amazon", args.per_class
        )
        train, test = split_half(y, args.seed)
        with tempfile.TemporaryDirectory() as folder:
            path = mobilenet_v2_path(X[train[:64]], folder, args.seed)
            rows += measure(
                f"MobileNetV2 224 px (weights=None, AdaBN), amazon {len(train)}/{len(test)}",
                path,
                X[train],
                y[train],
                X[test],
                y[test],
                X[test[: args.speed_images]],
                args,
                preprocessing="mobilenet_v2",
            )
    if not args.skip_32:
        backbone = str(args.backbone)
        domains = {
            name: load_image_folder(_class_folders(args.data / name), 32, args.cache, f"office31_{name}")
            for name in ("amazon", "dslr", "webcam")
        }
        X, y = domains["amazon"]
        train, test = split_half(y, args.seed)
        rows += measure(
            f"CIFAR-10 CNN 32 px, amazon {len(train)}/{len(test)}",
            backbone,
            X[train],
            y[train],
            X[test],
            y[test],
            X[test],
            args,
        )
        (Xd, yd), (Xw, yw) = domains["dslr"], domains["webcam"]
        rows += measure("CIFAR-10 CNN 32 px, DSLR -> Webcam", backbone, Xd, yd, Xw, yw, Xw, args)
    text = table(rows)
    print(text)
    if args.output is not None:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
