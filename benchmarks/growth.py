"""Growth tables: how the cost of four estimators grows with the number of rows.

Each size is measured in a fresh child process, so that its peak resident memory
(``VmHWM`` of ``/proc/self/status`` in the child, everything included: interpreter,
TensorFlow, the data) belongs to that size alone. The table gives, per size: the rows, the
seconds of the timed call, rows per second, the resident memory before the timed call
(data built, libraries imported), the peak, and the growth exponent between consecutive
sizes, ``log(t2 / t1) / log(n2 / n1)``: 1 is linear, below 1 is a fixed cost being
amortised, above 1 super-linear. The exponent is given for the wall time and for the CPU
seconds of the child (user + system, all its threads): on a machine shared with other jobs
the wall time says more about the other jobs than about the code, the CPU seconds less.
Each child runs BLAS and TensorFlow on ``--threads`` threads (default 1:
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set in its
environment; ``skltransfer.keras`` gives TensorFlow the ``OMP_NUM_THREADS`` budget), since
threads that wait on each other on a loaded machine measure the load, not the code.

Parts (``--part``):

``finetune``: ``FineTunedCNNClassifier(<small CNN>.keras, random_state=0)``, every other
parameter at its default, ``fit`` of ``n`` random 32 x 32 RGB ``uint8`` images of 10
classes whose labels are learnable (each class has its own mean colour, plus pixel noise).
The backbone is the small CNN of ``benchmarks/office31.py`` (three blocks of two 3x3
convolutions, 32 / 64 / 128 filters, 128-unit embedding) with random weights, saved once as
``.keras`` under ``--cache``. Phase 1 (the linear head) is an exact solve on the frozen
features of every row (linear in ``n``); phase 2's default budget is in optimizer steps
(``ceil(300 / batches per epoch)`` epochs: about 300 steps, at least one epoch), so
fine-tuning is nearly flat in ``n`` while one epoch is shorter than 300 batches (``n <
9,600`` at batch 32; no rows are held out without early stopping) and one epoch, linear,
beyond. Timed: ``fit``. Reported with it: accuracy on 1,000 other images of the same
classes (a check that it learned, not a benchmark).

``extract``: ``PretrainedFeatureExtractor(<the same .keras>, random_state=0)`` over an image
folder (``--images``, default ``/tmp/growth_images``: one subfolder per class, 32 x 32 PNG
files, written once and reused): ``load_image_folder``, the first ``n`` paths, ``fit`` on
them, then ``transform`` of the paths (files are decoded batch by batch). Timed:
``transform``. The features it returns (``n x 128`` float32) are in memory by design; the
column "output MB" gives their size, so the rest of the peak can be read as the working
memory, which must stay flat. ``--engine`` is passed to the extractor (default ``auto``,
which switches to LiteRT at 43,691 images of 32 x 32 x 3).

``label-shift``: ``LabelShiftClassifier(LogisticRegression())`` (defaults: EM, BCTS
calibration on 5-fold held-out probabilities) on ``n`` rows of 8 Gaussian features and 4
classes (class means drawn once, unit noise), half source with uniform priors, half
unlabeled target (``y = -1``) with priors (0.5, 0.3, 0.15, 0.05). Reported with it: the
largest error of the estimated target priors.

``nystroem``: ``MMDAligner(30, kernel="rbf", gamma=1 / 32, solver="nystroem",
n_landmarks=--landmarks, random_state=0)`` (500 by default) fitted on a lazily generated
Dask array of ``n x 32`` float32 rows (``dask.array.random.default_rng(0)``, blocks of
``--block`` rows, the target half shifted by 0.5 on its first 8 features), with Dask's
threaded scheduler in the child process (so its peak memory is the whole job). The data
never exist in memory as a whole: the fit gathers the landmarks in one pass and
accumulates the statistics block by block. ``sample_domain`` (int8, ``n`` entries) is in
memory, as the aligner requires. With a fixed ``--block``, the number of blocks grows with
``n`` too, so a cost per block that grew with the number of blocks would show here (run
with small blocks, e.g. ``--block 2000``, to make it visible).

Run from the repository root::

    nice -n 10 python -m benchmarks.growth --part label-shift --sizes 10000 100000 1000000 10000000
    nice -n 10 python -m benchmarks.growth --part nystroem --landmarks 200 --sizes 100000 1000000 10000000
    nice -n 10 python -m benchmarks.growth --part nystroem --landmarks 200 --block 2000 \
        --sizes 100000 1000000 4000000
    nice -n 10 python -m benchmarks.growth --part finetune --sizes 100 1000 10000 20000 100000
    nice -n 10 python -m benchmarks.growth --part extract --sizes 1000 10000 30000 50000 100000 --timeout 600
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

IMAGE_SIZE = 32
N_IMAGE_CLASSES = 10
DEFAULT_SIZES = {
    "finetune": [100, 1000, 10000, 20000, 100000],
    "extract": [1000, 10000, 30000, 50000, 100000],
    "label-shift": [10_000, 100_000, 1_000_000, 10_000_000],
    "nystroem": [100_000, 1_000_000, 10_000_000],
}
RESULT_TAG = "GROWTH-RESULT "


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    """The peak resident memory of this process since it started (its own program).

    ``VmHWM``, the high-water mark of this process's memory map, which starts afresh at
    ``exec``; ``getrusage``'s ``ru_maxrss`` (the fallback) can carry over the parent's
    resident memory across the ``fork``/``exec`` that started the child.
    """
    peak = _status_mb("VmHWM")
    return peak if peak == peak else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- data ---------------------------------------------------------------------------------


def _class_colours() -> np.ndarray:
    return np.random.RandomState(1234).uniform(40, 215, size=(N_IMAGE_CLASSES, 3))


def _images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images of ``N_IMAGE_CLASSES`` classes, each with its own mean colour, in chunks."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_IMAGE_CLASSES, size=n)
    X = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    colours = _class_colours()
    for start in range(0, n, 10_000):
        part = slice(start, start + 10_000)
        noise = rng.normal(0.0, 40.0, size=(len(y[part]), IMAGE_SIZE, IMAGE_SIZE, 3))
        X[part] = np.clip(colours[y[part], None, None, :] + noise, 0, 255).astype(np.uint8)
    return X, y


def _backbone(cache: Path) -> str:
    """The small CNN of ``benchmarks/office31.py``, random weights, saved once as ``.keras``."""
    path = cache / f"growth_backbone_{IMAGE_SIZE}px.keras"
    if not path.exists():
        from benchmarks.office31 import build_backbone

        cache.mkdir(parents=True, exist_ok=True)
        build_backbone(IMAGE_SIZE, seed=0).save(path)
    return str(path)


def _image_folder(root: Path, n: int) -> None:
    """Write ``n`` PNG images (``<class>/<index>.png``) under ``root``, keeping those there."""
    from PIL import Image

    existing = sum(len(files) for _, _, files in os.walk(root)) if root.exists() else 0
    if existing >= n:
        return
    for label in range(N_IMAGE_CLASSES):
        (root / f"class{label}").mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for first in range(existing, n, 10_000):
        X, y = _images(min(10_000, n - first), seed=first + 17)
        for i in range(len(y)):
            Image.fromarray(X[i]).save(root / f"class{y[i]}" / f"{first + i:07d}.png")
    print(f"wrote {n - existing} PNG files to {root} in {time.perf_counter() - start:.0f} s", flush=True)


# -- one size of one part (run in a child process) ----------------------------------------


def _child_finetune(n: int, args) -> dict:
    from skltransfer import FineTunedCNNClassifier

    backbone = _backbone(Path(args.cache))
    X, y = _images(n, seed=0)
    X_test, y_test = _images(1000, seed=1)
    clf = FineTunedCNNClassifier(backbone, random_state=0)
    before = _rss_mb()
    cpu, start = _cpu_seconds(), time.perf_counter()
    clf.fit(X, y)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    accuracy = float((clf.predict(X_test) == y_test).mean())
    return {"seconds": seconds, "cpu": cpu, "rss_before": before, "extra": f"accuracy={accuracy:.3f}"}


def _child_extract(n: int, args) -> dict:
    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.datasets import load_image_folder

    backbone = _backbone(Path(args.cache))
    paths, _ = load_image_folder(args.images)
    if len(paths) < n:
        raise SystemExit(f"{args.images} holds {len(paths)} images, fewer than {n}")
    # a spread of the classes: every k-th path of the sorted listing
    paths = paths[np.linspace(0, len(paths) - 1, n).astype(int)].tolist()
    extractor = PretrainedFeatureExtractor(backbone, engine=args.engine, random_state=0).fit(paths[:1])
    before = _rss_mb()
    cpu, start = _cpu_seconds(), time.perf_counter()
    features = extractor.transform(paths)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    # the conversions to LiteRT the extractor keeps: none when Keras ran the call
    engine = "litert" if getattr(extractor, "_litert", None) else "keras"
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rss_before": before,
        "output_mb": features.nbytes / 2**20,
        "extra": f"features={features.shape[1]} engine={engine}",
    }


def _child_label_shift(n: int, args) -> dict:
    from sklearn.linear_model import LogisticRegression

    from skltransfer import LabelShiftClassifier

    n_features, n_classes = 8, 4
    rng = np.random.default_rng(0)
    means = rng.normal(0.0, 1.5, size=(n_classes, n_features))
    half = n // 2
    target_priors = np.array([0.5, 0.3, 0.15, 0.05])
    y_source = rng.integers(0, n_classes, size=half)
    y_target = rng.choice(n_classes, size=n - half, p=target_priors)
    classes = np.concatenate([y_source, y_target])
    X = rng.standard_normal((n, n_features))
    X += means[classes]
    y = np.concatenate([y_source, np.full(n - half, -1)])
    del classes
    clf = LabelShiftClassifier(LogisticRegression())
    before = _rss_mb()
    cpu, start = _cpu_seconds(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs' ConvergenceWarning at max_iter=100
        clf.fit(X, y)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    error = float(np.abs(clf.target_priors_ - target_priors).max())
    return {"seconds": seconds, "cpu": cpu, "rss_before": before, "extra": f"prior error={error:.4f}"}


def _child_nystroem(n: int, args) -> dict:
    import dask
    import dask.array as da

    from skltransfer import MMDAligner

    n_features = 32
    dask.config.set(scheduler="threads")
    rng = da.random.default_rng(0)
    half = n // 2
    chunks = (args.block, n_features)
    source = rng.standard_normal((half, n_features), chunks=chunks, dtype=np.float32)
    shift = np.where(np.arange(n_features) < 8, 0.5, 0.0).astype(np.float32)
    target = rng.standard_normal((n - half, n_features), chunks=chunks, dtype=np.float32)
    X = da.concatenate([source, target + shift])
    sample_domain = np.where(np.arange(n) < half, 0, -1).astype(np.int8)
    aligner = MMDAligner(
        30,
        kernel="rbf",
        gamma=1.0 / n_features,
        solver="nystroem",
        n_landmarks=args.landmarks,
        random_state=0,
    )
    before = _rss_mb()
    cpu, start = _cpu_seconds(), time.perf_counter()
    aligner.fit(X, sample_domain=sample_domain)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    Z = aligner.transform(X[:2000]).compute(), aligner.transform(X[-2000:]).compute()
    gap = float(np.linalg.norm(Z[0].mean(axis=0) - Z[1].mean(axis=0)))
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rss_before": before,
        "extra": f"blocks={X.numblocks[0]} landmarks={args.landmarks} gap={gap:.4f}",
    }


CHILDREN = {
    "finetune": _child_finetune,
    "extract": _child_extract,
    "label-shift": _child_label_shift,
    "nystroem": _child_nystroem,
}


# -- the table ------------------------------------------------------------------------------


def _run_child(part: str, n: int, args) -> dict | None:
    command = [sys.executable, "-m", "benchmarks.growth", "--part", part, "--child", str(n)]
    command += ["--cache", args.cache, "--images", args.images, "--engine", args.engine]
    command += ["--block", str(args.block), "--landmarks", str(args.landmarks)]
    env = dict(os.environ)
    if args.threads:
        # BLAS and TensorFlow (skltransfer.keras follows OMP_NUM_THREADS) on this many threads
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[variable] = str(args.threads)
    try:
        process = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env)
    except subprocess.TimeoutExpired:
        print(f"size {n} stopped after --timeout {args.timeout:g} s: larger sizes not run", flush=True)
        return None
    for line in process.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    print(f"size {n} failed (exit {process.returncode}):\n{process.stderr[-3000:]}", flush=True)
    return None


def _exponent(n: int, value: float, previous: tuple[int, float] | None) -> str:
    if previous is None:
        return ""
    return f"{math.log(value / previous[1]) / math.log(n / previous[0]):.2f}"


def _rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.2g}"


def _table(part: str, results: list[tuple[int, dict]]) -> str:
    extract = part == "extract"
    head = "| rows | seconds | rows/s | CPU s | RSS before MB | peak RSS MB |"
    rule = "|---:|---:|---:|---:|---:|---:|"
    if extract:
        head += " output MB |"
        rule += "---:|"
    head += " exponent (wall) | exponent (CPU) | notes |"
    rule += "---:|---:|---|"
    lines = [head, rule]
    wall = cpu = None
    for n, r in results:
        row = (
            f"| {n:,} | {r['seconds']:.2f} | {_rate(n / r['seconds'])} | {r['cpu']:.2f} | "
            f"{r['rss_before']:.0f} | {r['peak_rss']:.0f} |"
        )
        if extract:
            row += f" {r['output_mb']:.1f} |"
        row += f" {_exponent(n, r['seconds'], wall)} | {_exponent(n, r['cpu'], cpu)} | {r.get('extra', '')} |"
        lines.append(row)
        wall, cpu = (n, r["seconds"]), (n, r["cpu"])
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=sorted(CHILDREN), required=True)
    parser.add_argument("--sizes", type=int, nargs="+", help="rows (images) per size")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/skltransfer-benchmarks"))
    parser.add_argument("--images", default="/tmp/growth_images", help="image folder of the extract part")
    parser.add_argument("--engine", default="auto", help="engine of the extractor (extract part)")
    parser.add_argument("--block", type=int, default=100_000, help="rows per Dask block (nystroem part)")
    parser.add_argument("--landmarks", type=int, default=500, help="n_landmarks of the aligner (nystroem)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS and TensorFlow threads of each child (OMP_NUM_THREADS and the like); 0 keeps the defaults",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per size")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        result = CHILDREN[args.part](args.child, args)
        result["peak_rss"] = _peak_rss_mb()
        print(RESULT_TAG + json.dumps(result), flush=True)
        return

    sizes = args.sizes or DEFAULT_SIZES[args.part]
    if args.part == "extract":
        _image_folder(Path(args.images), max(sizes))
    print(
        f"part={args.part} sizes={sizes} threads={args.threads or 'default'} "
        f"load: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} cores)",
        flush=True,
    )
    results = []
    for n in sizes:
        result = _run_child(args.part, n, args)
        if result is None:
            break
        results.append((n, result))
        print(
            f"  {n:,} rows: {result['seconds']:.2f} s ({result['cpu']:.2f} CPU s), "
            f"peak RSS {result['peak_rss']:.0f} MB {result.get('extra', '')} (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    print()
    print(_table(args.part, results), flush=True)


if __name__ == "__main__":
    main()
