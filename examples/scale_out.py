"""From one laptop to a cluster: the same domain-adaptation pipeline, three scales.

1. In memory: a grid search over ``make_da_pipeline(Normalizer(), MMDAligner(...),
   KNeighborsClassifier(1))`` on the digits shift data set, with joblib's default backend.
2. On a Dask cluster: the very same ``GridSearchCV`` object, fitted inside
   ``joblib.parallel_backend("dask")`` with a ``dask.distributed`` client. Here the client
   starts a ``LocalCluster`` of 2 worker processes; on a real cluster pass the scheduler's
   address instead (``--scheduler tcp://host:8786``). The fits run on the workers; the
   result (``best_params_``, ``cv_results_``) is the same.
3. Larger than memory: ``MMDAligner(solver="nystroem")`` fitted on a Dask array generated
   block by block (``--rows`` rows of 64 features, by default 200000), then a lazy
   ``transform``. Only one block of rows is in memory at a time.
4. Feature extraction on the cluster: ``--images`` PNG files (scikit-learn's digits,
   upscaled) through ``PretrainedFeatureExtractor`` given a Dask array of their paths. The
   fitted extractor reaches each worker once; the features come back as a lazy Dask array,
   computed block by block on the workers. The network here is MobileNetV2 with random
   weights (``weights=None``: no download); use ``weights="imagenet"`` for real features.

Usage (needs ``pip install "skltransfer[dask]"``; part 4 reads files, so on a real cluster
``--image-folder`` must be a folder every worker can read)::

    python examples/scale_out.py
    python examples/scale_out.py --scheduler tcp://scheduler:8786 --rows 5000000 --image-folder /shared/tmp
"""

import argparse
import os
import tempfile
import time

import joblib
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer

from skltransfer import MMDAligner, make_da_pipeline, stack_domains
from skltransfer.datasets import make_digits_shift
from skltransfer.metrics import maximum_mean_discrepancy
from skltransfer.model_selection import DomainAwareSplit


def write_digit_images(folder, n_images):
    """``n_images`` of scikit-learn's 8x8 digits as 32x32 grayscale PNG files."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits().images
    paths = []
    for i in range(n_images):
        pixels = (digits[i % len(digits)] * 255 / 16).astype(np.uint8)
        paths.append(os.path.join(folder, f"digit{i:05d}.png"))
        Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST).save(paths[-1])
    return np.asarray(paths)


def grid_search():
    pipe = make_da_pipeline(
        Normalizer(), MMDAligner(10, kernel="rbf", gamma=1.0, random_state=0), KNeighborsClassifier(1)
    )
    grid = {"mmdaligner__n_components": [5, 10, 20, 40]}
    return GridSearchCV(pipe, grid, cv=DomainAwareSplit(KFold(2, shuffle=True, random_state=0)), n_jobs=-1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", help="address of a Dask scheduler (default: a local cluster)")
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the out-of-core example")
    parser.add_argument("--images", type=int, default=2000, help="image files of the extraction example")
    parser.add_argument("--image-folder", help="where to write them (default: a temporary folder)")
    args = parser.parse_args(argv)

    import dask.array as da
    from dask.distributed import Client, LocalCluster

    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    X, y = stack_domains(Xs, ys, Xt)

    start = time.perf_counter()
    laptop = grid_search().fit(X, y)
    print(f"1. joblib, this process: best {laptop.best_params_} in {time.perf_counter() - start:.1f} s")
    print(f"   target accuracy of the refitted pipeline: {np.mean(laptop.predict(Xt) == yt):.3f}")

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None))
    with client:
        start = time.perf_counter()
        with joblib.parallel_backend("dask"):
            cluster = grid_search().fit(X, y)
        print(f"2. joblib on Dask: best {cluster.best_params_} in {time.perf_counter() - start:.1f} s")
        same = np.allclose(cluster.cv_results_["mean_test_score"], laptop.cv_results_["mean_test_score"])
        print(f"   same scores as in one process: {same}")

        # 3. A data set generated block by block: 64 features, the target half shifted.
        rng = da.random.default_rng(0)
        half = args.rows // 2
        source = rng.standard_normal((half, 64), chunks=(50_000, 64), dtype=np.float32)
        target = rng.standard_normal((args.rows - half, 64), chunks=(50_000, 64), dtype=np.float32) + 0.5
        X_big = da.concatenate([source, target])
        sample_domain = np.where(np.arange(args.rows) < half, 0, -1)
        start = time.perf_counter()
        aligner = MMDAligner(10, kernel="rbf", solver="nystroem", n_landmarks=300, random_state=0)
        aligner.fit(X_big, sample_domain=sample_domain)
        Z = aligner.transform(X_big)  # lazy: a Dask array
        mmd = {"kernel": "rbf", "gamma": "median", "estimate": "linear"}  # read chunk by chunk
        before = maximum_mean_discrepancy(source, target, **mmd)
        after = maximum_mean_discrepancy(Z[:half], Z[half:], **mmd)
        print(f"3. Nyström fit of {args.rows} rows in {time.perf_counter() - start:.1f} s (Dask array)")
        print(f"   MMD^2 of the domains (rbf, median heuristic): {before:.4f} before, {after:.4f} after")

        # 4. Image files through a pretrained network, block by block on the workers.
        from skltransfer import PretrainedFeatureExtractor

        with tempfile.TemporaryDirectory(dir=args.image_folder) as folder:
            paths = write_digit_images(folder, args.images)
            extractor = PretrainedFeatureExtractor(
                "mobilenet_v2", weights=None, input_size=32, random_state=0
            ).fit(paths[:1])  # fit builds the network; no need to read every image
            start = time.perf_counter()
            features = extractor.transform(da.from_array(paths, chunks=500))  # lazy
            computed = features.compute()
            seconds = time.perf_counter() - start
            blocks = f"{features.numblocks[0]} blocks of {features.chunksize[0]} rows"
            print(f"4. {args.images} image files -> features {computed.shape} {computed.dtype}")
            print(f"   computed on the workers in {seconds:.1f} s, {blocks}")
            same = np.allclose(computed[:50], extractor.transform(paths[:50]), atol=1e-5)
            print(f"   same features as in this process: {same}")


if __name__ == "__main__":
    main()
