"""Scale-out benchmarks: chunked Nyström alignment of a Dask array, and a grid search on a Dask cluster.

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
values of ``mu`` x 2 folds = 8 fits, each 10 JDA rounds with an rbf kernel. Once in one
process (``n_jobs=1``, BLAS limited to one thread), once with ``joblib.parallel_backend("dask")``
on a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` (its workers run BLAS
on one thread, Dask's default). The cluster is started before the timed search; its start-up
time is printed separately, and each mode runs one untimed search first (imports, caches, the
workers' first tasks). Each search is then repeated ``--repeats`` times; medians are reported,
and whether both give the same ``best_params_`` and fold scores. For the cluster, the seconds
its workers spent in tasks (Dask's task stream) over the wall time tell how many fits ran at
once: about 2 when both workers computed side by side, whatever else loads the machine.

Run from the repository root::

    python -m benchmarks.scale_out nystroem --rows 1000000
    python -m benchmarks.scale_out gridsearch --repeats 3
"""

from __future__ import annotations

import argparse
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


def run_gridsearch(repeats: int) -> None:
    import joblib
    from dask.distributed import Client, LocalCluster, get_task_stream
    from threadpoolctl import threadpool_limits

    search, X, y = _search()
    sequential, distributed, busy = [], [], []
    for _ in range(repeats + 1):
        with threadpool_limits(1):
            start = time.perf_counter()
            one = search.set_params(n_jobs=1).fit(X, y)
            sequential.append(time.perf_counter() - start)
    reference = one.best_params_, _fold_scores(one)
    start = time.perf_counter()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster),
    ):
        print(f"LocalCluster start-up seconds={time.perf_counter() - start:.1f}")
        for _ in range(repeats + 1):
            with get_task_stream() as tasks, joblib.parallel_backend("dask"):
                start = time.perf_counter()
                two = search.set_params(n_jobs=-1).fit(X, y)
                distributed.append(time.perf_counter() - start)
            busy.append(sum(_compute_seconds(task) for task in tasks.data))
    sequential, distributed, busy = sequential[1:], distributed[1:], busy[1:]  # drop the warm-ups
    same = two.best_params_ == reference[0] and np.allclose(_fold_scores(two), reference[1])
    print(f"fits={len(search.cv_results_['params']) * search.n_splits_}")
    print(f"one process seconds: {', '.join(f'{t:.2f}' for t in sequential)}")
    print(f"2-worker LocalCluster seconds: {', '.join(f'{t:.2f}' for t in distributed)}")
    ratio = statistics.median(sequential) / statistics.median(distributed)
    print(f"speed-up (median/median)={ratio:.2f}x")
    concurrency = ", ".join(f"{b / t:.2f}" for b, t in zip(busy, distributed, strict=True))
    print(f"worker task seconds / wall seconds: {concurrency}")
    print(f"best_params_={two.best_params_} same as one process: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    nystroem = commands.add_parser("nystroem")
    nystroem.add_argument("--rows", type=int, default=1_000_000)
    nystroem.add_argument("--block", type=int, default=20_000)
    nystroem.add_argument("--check-rows", type=int, default=40_000)
    gridsearch = commands.add_parser("gridsearch")
    gridsearch.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.command == "nystroem":
        run_nystroem(args.rows, args.block, args.check_rows)
    else:
        run_gridsearch(args.repeats)


if __name__ == "__main__":
    main()
