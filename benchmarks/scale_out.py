"""Scale-out benchmarks: chunked Nyström alignment, grid search and feature extraction on a Dask cluster.

``nystroem``: ``MMDAligner(solver="nystroem")`` fitted on a lazily generated Dask array of
``n x 800`` float32 rows (``dask.array.random.default_rng(0)``, blocks of ``--block`` rows; the
target half shifted by 0.5 on its first 100 features), rbf kernel with ``gamma = 1 / 800``,
500 landmarks, 30 components. The data never exist in memory as a whole: the fit gathers the
landmark rows in one pass and accumulates the solver's statistics block by block in a second
pass. Reported: wall time of ``fit`` and the peak resident memory of the process
(``resource.getrusage``'s ``ru_maxrss``, everything included: interpreter, libraries, Dask),
with the resident memory before the fit for reference. Then, after the memory figures, a
check on a subset (``--check-rows`` rows, half from each end, so both domains): the same
estimator fitted on that subset as a Dask array and as an in-memory NumPy array, and the
largest difference between the two transforms of the subset, relative to the largest entry.

``gridsearch``: ``GridSearchCV`` over ``make_da_pipeline(Normalizer(), JointMMDAligner(...),
KNeighborsClassifier(1))`` on ``stack_domains`` of ``make_digits_shift(random_state=0)``: 4
values of ``mu`` x 2 folds = 8 fits, each 10 JDA rounds with an rbf kernel. In one process
(``n_jobs=1``) with BLAS on ``--one-process-threads`` threads (1: the threads of one worker;
2: the total threads of the cluster), then with ``joblib.parallel_backend("dask", scatter=[X,
y])`` on a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` (its workers
run BLAS on one thread, Dask's default). The cluster is started before the timed searches (its
start-up time is printed separately); the data are scattered to both workers once per search,
inside the timing; each mode runs one untimed search first (imports, caches, the workers'
first tasks). By default the searches do not refit (``--refit`` adds it): the refit is one fit
on all rows in the calling process, the same in both modes, and not what the backend
distributes. The refit, when asked for, and everything else of the calling process run with
BLAS on one thread in both modes. Each search is repeated ``--repeats`` times; medians are
reported, and whether both give the same ``best_params_`` and fold scores. For the cluster,
the seconds its workers spent in tasks (Dask's task stream) over the wall time tell how many
fits ran at once: about 2 when both workers computed side by side, whatever else loads the
machine.

``extraction``: ``PretrainedFeatureExtractor("mobilenet_v2", weights=None, input_size=64)``
(1280 features) of ``--images`` real image files, ``--size`` x ``--size`` crops of
scikit-learn's two sample photos written to a temporary folder as JPEG and PNG in turn. Once
in one process (a fresh child process with TensorFlow's default threads, one per core):
``transform(paths)``, the features in memory. Once through the Dask path on a
``LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=--memory-limit)``
(so TensorFlow runs one thread per worker: the same total): ``transform`` of a 1-D Dask array
of the paths in blocks of ``--block`` paths, written block by block to ``.npy`` files by
``dask.array.to_npy_stack``, so no process holds all the features. Timed from the
``transform`` call to the last block written: the extractor shipped to the workers and its
network built there are inside the timing. Reported: images per second, the peak resident
memory (``ru_maxrss``) of the one process, of each worker and of the client (which also runs
the scheduler and fitted the extractor), the largest difference between the features of the
two modes, and the CPU seconds each mode got per wall second (2 would be both cores of this
machine; less when other jobs share it). The compute seconds of each worker's first block
and of its later ones tell the one-time cost (the network built and its function traced on
the worker) from the steady state.

Run from the repository root::

    python -m benchmarks.scale_out nystroem --rows 1000000
    python -m benchmarks.scale_out gridsearch --repeats 3 --one-process-threads 1 2
    python -m benchmarks.scale_out extraction --images 20000
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np

N_FEATURES = 800


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def run_nystroem(n_rows: int, block: int, check_rows: int) -> None:
    import dask.array as da
    from sklearn.base import clone

    from skltransfer import MMDAligner

    rng = da.random.default_rng(0)
    half = n_rows // 2
    source = rng.standard_normal((half, N_FEATURES), chunks=(block, N_FEATURES), dtype=np.float32)
    shift = np.where(np.arange(N_FEATURES) < 100, 0.5, 0.0).astype(np.float32)
    target = rng.standard_normal((n_rows - half, N_FEATURES), chunks=(block, N_FEATURES), dtype=np.float32)
    X = da.concatenate([source, target + shift])
    sample_domain = np.where(np.arange(n_rows) < half, 0, -1).astype(np.int8)
    aligner = MMDAligner(
        30, kernel="rbf", gamma=1.0 / N_FEATURES, solver="nystroem", n_landmarks=500, random_state=0
    )
    before = _rss_mib()
    start = time.perf_counter()
    aligner.fit(X, sample_domain=sample_domain)
    seconds = time.perf_counter() - start
    Z = aligner.transform(X[:2000]).compute(), aligner.transform(X[-2000:]).compute()
    gap = float(np.linalg.norm(Z[0].mean(axis=0) - Z[1].mean(axis=0)))
    print(f"rows={n_rows} features={N_FEATURES} float32 data={n_rows * N_FEATURES * 4 / 2**30:.2f} GiB")
    print(f"blocks={X.numblocks[0]} of {block} rows, landmarks=500, components={aligner.n_components_}")
    print(f"fit seconds={seconds:.1f}")
    print(f"RSS before fit={before:.0f} MiB, peak RSS={_peak_rss_mib():.0f} MiB")
    print(f"mean gap of the embedded domains (first/last 2000 rows)={gap:.4f}")
    subset = da.concatenate([X[: check_rows // 2], X[-(check_rows // 2) :]])
    subset_domain = np.where(np.arange(subset.shape[0]) < check_rows // 2, 0, -1)
    chunked = clone(aligner).fit(subset, sample_domain=subset_domain)
    in_memory = subset.compute()
    expected = clone(aligner).fit(in_memory, sample_domain=subset_domain).transform(in_memory)
    difference = np.abs(chunked.transform(in_memory) - expected).max() / np.abs(expected).max()
    print(f"subset of {subset.shape[0]} rows, Dask vs in-memory: relative max difference={difference:.1e}")


def _search():
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import Normalizer

    from skltransfer import JointMMDAligner, make_da_pipeline, stack_domains
    from skltransfer.datasets import make_digits_shift

    Xs, ys, Xt, _ = make_digits_shift(random_state=0)
    X, y = stack_domains(Xs, ys, Xt)
    pipe = make_da_pipeline(
        Normalizer(),
        JointMMDAligner(20, kernel="rbf", gamma=1.0, n_iter=10, random_state=0),
        KNeighborsClassifier(1),
    )
    grid = {"jointmmdaligner__mu": [0.1, 0.3, 1.0, 3.0]}
    search = GridSearchCV(pipe, grid, cv=KFold(2, shuffle=True, random_state=0), n_jobs=-1)
    return search, X, y


def _fold_scores(search) -> np.ndarray:
    return np.array([search.cv_results_[f"split{i}_test_score"] for i in range(search.n_splits_)])


def _compute_seconds(task: dict) -> float:
    return sum(span["stop"] - span["start"] for span in task["startstops"] if span["action"] == "compute")


def _median_seconds(times: list[float]) -> str:
    return f"{', '.join(f'{t:.2f}' for t in times)} (median {statistics.median(times):.2f})"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_gridsearch(repeats: int, refit: bool, one_process_threads: list[int]) -> None:
    import joblib
    from dask.distributed import Client, LocalCluster, get_task_stream
    from sklearn.model_selection import ParameterGrid
    from threadpoolctl import threadpool_limits

    search, X, y = _search()
    search.set_params(refit=refit)
    fits = len(ParameterGrid(search.param_grid)) * search.cv.get_n_splits()
    print(f"fits={fits}, refit={refit}")
    modes = [f"one process, BLAS on {threads} thread(s)" for threads in one_process_threads]
    cluster_mode = "2-worker LocalCluster"
    wall = {mode: [] for mode in [*modes, cluster_mode]}
    cpu = {mode: [] for mode in wall}
    refit_seconds, busy = {}, []
    start = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        print(f"LocalCluster start-up seconds={time.perf_counter() - start:.1f}")
        for repeat in range(repeats + 1):  # the modes in turn, so that they share the machine's load
            for mode, threads in zip(modes, one_process_threads, strict=True):
                with threadpool_limits(threads):
                    cpu_start, start = _cpu_seconds(), time.perf_counter()
                    one = search.set_params(n_jobs=1).fit(X, y)
                    wall[mode].append(time.perf_counter() - start)
                    cpu[mode].append(_cpu_seconds() - cpu_start)
                refit_seconds[mode] = getattr(one, "refit_time_", 0.0)
            with threadpool_limits(1), get_task_stream() as tasks:  # this process (the refit) as above
                workers_start = sum(client.run(_cpu_seconds).values())
                cpu_start, start = _cpu_seconds(), time.perf_counter()
                with joblib.parallel_backend("dask", scatter=[X, y]):
                    two = search.set_params(n_jobs=-1).fit(X, y)
                wall[cluster_mode].append(time.perf_counter() - start)
                workers = sum(client.run(_cpu_seconds).values()) - workers_start
                cpu[cluster_mode].append(_cpu_seconds() - cpu_start + workers)
            refit_seconds[cluster_mode] = getattr(two, "refit_time_", 0.0)
            busy.append(sum(_compute_seconds(task) for task in tasks.data))
            if repeat == 0:  # the warm-up
                for times in (*wall.values(), *cpu.values(), busy):
                    times.clear()
    reference = one.best_params_, _fold_scores(one)
    same = two.best_params_ == reference[0] and np.allclose(_fold_scores(two), reference[1])
    for mode in wall:
        share = statistics.median(c / w for c, w in zip(cpu[mode], wall[mode], strict=True))
        print(f"{mode}: seconds {_median_seconds(wall[mode])}; CPU seconds / wall seconds {share:.2f}")
        if refit:
            print(f"  of which the refit (last search): {refit_seconds[mode]:.2f} s")
    for mode in modes:
        ratio = statistics.median(wall[mode]) / statistics.median(wall[cluster_mode])
        print(f"speed-up over {mode} (median/median)={ratio:.2f}x")
    concurrency = ", ".join(f"{b / t:.2f}" for b, t in zip(busy, wall[cluster_mode], strict=True))
    print(f"worker task seconds / wall seconds: {concurrency}")
    print(f"best_params_={two.best_params_} same as one process: {same}")


def _write_images(folder: str, n_images: int, size: int) -> list[str]:
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.RandomState(0)
    paths = []
    for i in range(n_images):
        photo = photos[i % 2]
        top, left = rng.randint(0, photo.shape[0] - size), rng.randint(0, photo.shape[1] - size)
        paths.append(os.path.join(folder, f"{i:06d}.{'png' if i % 2 else 'jpg'}"))
        Image.fromarray(photo[top : top + size, left : left + size]).save(paths[-1])
    return paths


def _extractor():
    from skltransfer import PretrainedFeatureExtractor

    return PretrainedFeatureExtractor(
        "mobilenet_v2", weights=None, input_size=64, batch_size=64, random_state=0
    )


def _extract_in_one_process(paths: list[str], out: str, queue) -> None:
    extractor = _extractor().fit(paths[:1])
    cpu_start, start = _cpu_seconds(), time.perf_counter()
    features = extractor.transform(paths)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    np.save(out, features)
    queue.put((seconds, cpu, _peak_rss_mib()))


def run_extraction(n_images: int, size: int, block: int, memory_limit: str) -> None:
    import multiprocessing
    import tempfile

    import dask.array as da
    from dask.distributed import Client, LocalCluster, get_task_stream

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        paths = _write_images(folder, n_images, size)
        megabytes = sum(os.path.getsize(p) for p in paths) / 2**20
        print(f"images={n_images} of {size}x{size} RGB, JPEG/PNG, {megabytes:.0f} MiB on disk")
        print(f"writing seconds={time.perf_counter() - start:.1f}")

        # One process first: a started LocalCluster leaves OMP_NUM_THREADS=1 in this process.
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        reference = os.path.join(folder, "one_process.npy")
        child = context.Process(target=_extract_in_one_process, args=(paths, reference, queue))
        child.start()
        one_seconds, one_cpu, one_rss = queue.get()
        child.join()
        rate = n_images / one_seconds
        print(f"one process: {one_seconds:.1f} s, {rate:.0f} images/s, peak RSS {one_rss:.0f} MiB")
        print(f"  CPU seconds / wall seconds {one_cpu / one_seconds:.2f}")

        extractor = _extractor().fit(paths[:1])
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory_limit,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            client_before = _rss_mib()
            stack = os.path.join(folder, "features")
            workers_cpu = sum(client.run(_cpu_seconds).values())
            start = time.perf_counter()
            with get_task_stream() as tasks:
                features = extractor.transform(da.from_array(np.asarray(paths, dtype=object), chunks=block))
                da.to_npy_stack(stack, features)
            seconds = time.perf_counter() - start
            workers_cpu = sum(client.run(_cpu_seconds).values()) - workers_cpu
            workers = client.run(_peak_rss_mib)
            threads = client.run(_tensorflow_threads)
        rate = n_images / seconds
        print(f"2-worker LocalCluster: {seconds:.1f} s, {rate:.0f} images/s, blocks={features.numblocks[0]}")
        print(f"  CPU seconds of the workers / wall seconds {workers_cpu / seconds:.2f}")
        print(f"speed-up (one process seconds / cluster seconds)={one_seconds / seconds:.2f}x")
        peaks = ", ".join(f"{rss:.0f}" for rss in workers.values())
        print(f"peak RSS MiB: workers {peaks} (memory_limit={memory_limit} each)")
        print(f"client RSS before transform={client_before:.0f} MiB, peak={_peak_rss_mib():.0f} MiB")
        print(f"TensorFlow intra-op threads of the workers: {sorted(threads.values())}")
        blocks = {}  # per worker, the compute seconds of its blocks in order
        computed = [
            (span["start"], task["worker"], span["stop"] - span["start"])
            for task in tasks.data
            if "transform_block" in str(task["key"])
            for span in task["startstops"]
            if span["action"] == "compute"
        ]
        for _, worker, compute in sorted(computed):
            blocks.setdefault(worker, []).append(compute)
        for worker, times in blocks.items():
            later = statistics.median(times[1:]) if len(times) > 1 else float("nan")
            print(f"worker {worker}: {len(times)} blocks, first {times[0]:.1f} s, later median {later:.1f} s")
        difference = np.abs(da.from_npy_stack(stack).compute() - np.load(reference)).max()
        print(f"largest difference to the one-process features={difference:.1e}")


def _tensorflow_threads() -> int:
    import tensorflow as tf

    return tf.config.threading.get_intra_op_parallelism_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    nystroem = commands.add_parser("nystroem")
    nystroem.add_argument("--rows", type=int, default=1_000_000)
    nystroem.add_argument("--block", type=int, default=20_000)
    nystroem.add_argument("--check-rows", type=int, default=40_000)
    gridsearch = commands.add_parser("gridsearch")
    gridsearch.add_argument("--repeats", type=int, default=3)
    gridsearch.add_argument("--refit", action="store_true")
    gridsearch.add_argument("--one-process-threads", type=int, nargs="+", default=[1])
    extraction = commands.add_parser("extraction")
    extraction.add_argument("--images", type=int, default=20_000)
    extraction.add_argument("--size", type=int, default=64)
    extraction.add_argument("--block", type=int, default=1000)
    extraction.add_argument("--memory-limit", default="2GiB")
    args = parser.parse_args()
    if args.command == "nystroem":
        run_nystroem(args.rows, args.block, args.check_rows)
    elif args.command == "gridsearch":
        run_gridsearch(args.repeats, args.refit, args.one_process_threads)
    else:
        run_extraction(args.images, args.size, args.block, args.memory_limit)


if __name__ == "__main__":
    main()
