"""Time and peak memory of TCA: exact and Nyström MMDAligner against ADAPT's and skada's TCA.

Data (``--data``): ``classification``, a synthetic shifted pair of domains with 800 features
(``make_classification``, 5 classes, 30 informative features; the target half is shifted and
rescaled), or ``isotropic``, 800 independent standard Gaussian features with the target
shifted by 0.5 in every feature (labels: the sign of the difference of the first two
features, which the shift leaves unchanged; no method can do much better than chance, so
this data set measures cost only: its rbf kernel has a nearly flat leading spectrum, where
an eigensolver that converges eigenvector by eigenvector is slow). ``n`` rows in all, half
source, half target. Setting: rbf kernel with ``gamma = 1 / 800`` (scikit-learn's default, the only one
skada allows), 30 components, our ``mu = 1``; the peers get the equivalent MMD weight
``1 / (mu * (1/ns + 1/nt))`` (they weight the MMD term and do not scale the MMD matrix).
Each (method, n) runs in a fresh process, timing fit on all rows plus the embedding of all
rows; peak memory is the peak of the memory allocated during that work, as traced by
``tracemalloc`` (numpy arrays included; the input data are allocated before).
Accuracy is that of a 1-nearest-neighbour classifier trained on the embedded source rows
and scored on the embedded target rows.

The comparison runs twice, with the BLAS/OpenMP threads the machine gives by default and
with one thread per process (``--threads default,1``), and prints the ratio of the faster
peer's time to the exact MMDAligner's at every ``n``. ``--growth`` times the exact
MMDAligner alone from 1k to 16k rows, next to the rbf kernel matrix alone (the ``O(n^2 d)``
floor of every exact method), and prints both normalised by ``n^2 d``.

Run from the repository root (the peers need the benchmark environment)::

    python -m benchmarks.tca_scaling                                 # n = 1000, 2000, 4000
    python -m benchmarks.tca_scaling --sizes 4000 --repeats 1        # the ratio at n = 4000
    python -m benchmarks.tca_scaling --sizes 4000 --data classification,isotropic  # both data sets
    python -m benchmarks.tca_scaling --growth 1000,2000,4000,8000,16000 --threads default
    python -m benchmarks.tca_scaling --nystroem 10000,30000,100000   # Nyström only
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from sklearn.datasets import make_classification
from sklearn.neighbors import KNeighborsClassifier

N_FEATURES = 800
N_COMPONENTS = 30
MU = 1.0


def make_domains(n: int, seed: int = 0):
    X, y = make_classification(
        n_samples=n,
        n_features=N_FEATURES,
        n_informative=30,
        n_redundant=0,
        n_classes=5,
        n_clusters_per_class=1,
        class_sep=2.0,
        random_state=seed,
    )
    ns = n // 2
    rng = np.random.default_rng(seed)
    Xt = X[ns:] * rng.uniform(0.5, 1.5, N_FEATURES) + rng.normal(0, 1.0, N_FEATURES)
    return X[:ns], y[:ns], Xt, y[ns:]


def make_isotropic(n: int, seed: int = 0):
    """Isotropic Gaussian rows, the target half shifted by 0.5 in every feature."""
    rng = np.random.default_rng(seed)
    ns = n // 2
    X = rng.standard_normal((n, N_FEATURES))
    X[ns:] += 0.5
    y = (X[:, 0] > X[:, 1]).astype(int)
    return X[:ns], y[:ns], X[ns:], y[ns:]


DATA = {"classification": make_domains, "isotropic": make_isotropic}


def _peer_mu(ns: int, nt: int) -> float:
    return 1.0 / (MU * (1.0 / ns + 1.0 / nt))


def embed_ours(Xs, Xt, solver: str):
    from skltransfer import MMDAligner, stack_domains

    X, y = stack_domains(Xs, np.zeros(len(Xs), dtype=int), Xt)
    Z = MMDAligner(N_COMPONENTS, kernel="rbf", mu=MU, solver=solver, random_state=0).fit_transform(X, y)
    return Z[: len(Xs)], Z[len(Xs) :]


def embed_adapt(Xs, Xt):
    from adapt.feature_based import TCA

    tca = TCA(None, Xt=Xt, n_components=N_COMPONENTS, mu=_peer_mu(len(Xs), len(Xt)), kernel="rbf", verbose=0)
    return tca.fit_transform(Xs, Xt), tca.transform(Xt)


def embed_skada(Xs, Xt):
    from skada import TransferComponentAnalysisAdapter

    X = np.vstack([Xs, Xt])
    sample_domain = np.r_[np.ones(len(Xs), dtype=int), -np.ones(len(Xt), dtype=int)]
    tca = TransferComponentAnalysisAdapter(
        kernel="rbf", n_components=N_COMPONENTS, mu=_peer_mu(len(Xs), len(Xt))
    )
    Z = tca.fit_transform(X, sample_domain=sample_domain)
    return Z[: len(Xs)], Z[len(Xs) :]


def rbf_kernel_only(Xs, Xt):
    """The rbf kernel matrix of all rows: the ``O(n^2 d)`` work every exact method starts with."""
    from sklearn.metrics.pairwise import rbf_kernel

    rbf_kernel(np.vstack([Xs, Xt]), gamma=1.0 / N_FEATURES)
    return Xs[:, :1], Xt[:, :1]


METHODS = {
    "rbf kernel matrix": rbf_kernel_only,
    "MMDAligner exact": lambda Xs, Xt: embed_ours(Xs, Xt, "exact"),
    "MMDAligner Nyström": lambda Xs, Xt: embed_ours(Xs, Xt, "nystroem"),
    "ADAPT TCA": embed_adapt,
    "skada TCA": embed_skada,
}


def worker(method: str, n: int, data: str = "classification") -> dict:
    """Run one (method, n) on one data set in this process; return seconds, peak MB and accuracy."""
    Xs, ys, Xt, yt = DATA[data](n)
    METHODS[method](Xs[:50], Xt[:50])  # imports and first-call costs, outside the timing
    tracemalloc.start()
    start = time.perf_counter()
    Zs, Zt = METHODS[method](Xs, Xt)
    seconds = time.perf_counter() - start
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    accuracy = 100 * np.mean(KNeighborsClassifier(1).fit(Zs, ys).predict(Zt) == yt)
    return {"seconds": seconds, "peak_mb": peak_mb, "accuracy": float(accuracy)}


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def measure(
    method: str, n: int, repeats: int, timeout: float, threads: str = "default", data: str = "classification"
) -> dict:
    env = dict(os.environ)
    for name in _THREAD_VARIABLES:
        env.pop(name, None)
        if threads != "default":
            env[name] = threads
    runs = []
    for _ in range(repeats):
        cmd = [sys.executable, "-m", "benchmarks.tca_scaling", "--worker", method, str(n), data]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True, env=env)
        except subprocess.TimeoutExpired:
            return {"seconds": float("inf"), "peak_mb": float("nan"), "accuracy": float("nan")}
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {method} n={n} threads={threads} data={data}: {runs[-1]}", flush=True)
    return {
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "accuracy": runs[0]["accuracy"],
    }


def _table(results: dict, sizes: list[int], methods: list[str]) -> str:
    lines = ["| method | n | median s | peak MB | target acc. % |", "| --- | --- | --- | --- | --- |"]
    for n in sizes:
        for method in methods:
            r = results[method, n]
            lines.append(
                f"| {method} | {n} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['accuracy']:.1f} |"
            )
    return "\n".join(lines)


def _growth_table(results: dict, sizes: list[int]) -> str:
    """Seconds of the exact MMDAligner and of the kernel alone, and both over ``n^2 d``."""
    base = sizes[0]
    lines = [
        "| n | kernel s | MMDAligner exact s | exact / kernel | kernel s / (n^2 d), rel. "
        "| exact s / (n^2 d), rel. |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for n in sizes:
        kernel, exact = results["rbf kernel matrix", n]["seconds"], results["MMDAligner exact", n]["seconds"]
        growth = (base / n) ** 2
        kernel_base = results["rbf kernel matrix", base]["seconds"]
        exact_base = results["MMDAligner exact", base]["seconds"]
        kernel_rel, exact_rel = kernel / kernel_base * growth, exact / exact_base * growth
        cells = [kernel, exact, exact / kernel, kernel_rel, exact_rel]
        lines.append(f"| {n} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000", help="n for the exact-vs-peers comparison")
    parser.add_argument("--nystroem", help="comma-separated n for a Nyström-only run, e.g. 10000,100000")
    parser.add_argument("--growth", help="comma-separated n for the exact solver against the kernel alone")
    parser.add_argument(
        "--threads", default="default,1", help="comma-separated thread settings: 'default' or a number"
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per (method, n); medians reported")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before a run counts as failed")
    parser.add_argument(
        "--data",
        default="classification",
        help="comma-separated data sets: 'classification' (make_classification) and/or 'isotropic'",
    )
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "N", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.worker[2])))
        return
    ours = ("MMDAligner exact", "MMDAligner Nyström", "rbf kernel matrix")
    if args.nystroem:
        sizes, methods = [int(v) for v in args.nystroem.split(",")], ["MMDAligner Nyström"]
    elif args.growth:
        sizes, methods = [int(v) for v in args.growth.split(",")], ["rbf kernel matrix", "MMDAligner exact"]
    else:
        sizes, methods = [int(v) for v in args.sizes.split(",")], ["MMDAligner exact"]
        for peer, module in (("ADAPT TCA", "adapt"), ("skada TCA", "skada")):
            try:
                __import__(module)
                methods.append(peer)
            except ImportError:
                print(f"{module} not installed: {peer} skipped (use the benchmark environment)")
    datasets = args.data.split(",")
    unknown = set(datasets) - set(DATA)
    if unknown:
        parser.error(f"unknown --data {sorted(unknown)}; choose from {sorted(DATA)}")
    for data, threads in [(d, t) for t in args.threads.split(",") for d in datasets]:
        results = {
            (m, n): measure(m, n, args.repeats, args.timeout, threads, data) for n in sizes for m in methods
        }
        print(f"\ndata: {data}, threads: {threads}")
        print(_table(results, sizes, methods))
        if args.growth:
            print()
            print(_growth_table(results, sizes))
        peers = [m for m in methods if m not in ours]
        if peers:
            print()
            for n in sizes:
                fastest = min(peers, key=lambda m: results[m, n]["seconds"])
                ratio = results[fastest, n]["seconds"] / results["MMDAligner exact", n]["seconds"]
                print(
                    f"data={data}, n={n}, threads={threads}: exact MMDAligner is {ratio:.1f}x faster "
                    f"than the faster peer ({fastest})"
                )


if __name__ == "__main__":
    main()
