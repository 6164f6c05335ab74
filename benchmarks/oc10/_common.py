"""Shared harness of the Office-Caltech10 (SURF) benchmarks.

Loads the four domains, runs named methods on the 12 tasks in the order of the published
table, times each fit + predict and prints a markdown table of per-task target accuracy.

A *method* is any callable ``method(Xs, ys, Xt) -> yt_pred``: the source rows with their
labels, the unlabeled target rows, and it returns predicted target labels. Use
:func:`da_pipeline_method` to turn a skltransfer pipeline into one; peers (ADAPT, skada)
are wrapped by hand in the benchmark scripts.

Data: ``$SKLTRANSFER_OC10_HOME`` if set, else ``../shared/data/office_caltech10_surf`` next
to the repository (the four ``.mat`` files named in that folder's README). Run the
benchmark scripts from the repository root, e.g. ``python -m benchmarks.oc10.tca``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import numpy as np
from sklearn.base import clone

__all__ = [
    "DOMAINS",
    "TASKS",
    "da_pipeline_method",
    "data_home",
    "format_table",
    "load_domain",
    "parse_tasks",
    "published_rows",
    "run_methods",
]

#: Domain letter -> file stem.
DOMAINS = {"C": "caltech", "A": "amazon", "W": "webcam", "D": "dslr"}

#: The 12 tasks (source, target) in the column order of the published table.
TASKS = [
    ("C", "A"), ("C", "W"), ("C", "D"),
    ("A", "C"), ("A", "W"), ("A", "D"),
    ("W", "C"), ("W", "A"), ("W", "D"),
    ("D", "C"), ("D", "A"), ("D", "W"),
]  # fmt: skip

Method = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def data_home() -> Path:
    """Folder holding the four ``.mat`` files (``$SKLTRANSFER_OC10_HOME`` overrides)."""
    env = os.environ.get("SKLTRANSFER_OC10_HOME")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "office_caltech10_surf"


@cache
def load_domain(letter: str) -> tuple[np.ndarray, np.ndarray]:
    """Features (float64, as stored: z-scored within the domain) and labels of one domain.

    Uses ``skltransfer.datasets.fetch_office_caltech10`` when available, else reads the
    ``.mat`` file directly.
    """
    name = DOMAINS[letter]
    try:
        from skltransfer.datasets import fetch_office_caltech10
    except ImportError:
        from scipy.io import loadmat

        mat = loadmat(data_home() / f"{name}.mat")
        X, y = mat["feas"], mat["label"]
    else:
        X, y = fetch_office_caltech10(name, data_home=data_home())
    return np.asarray(X, dtype=np.float64), np.asarray(y).ravel().astype(np.int64)


def da_pipeline_method(pipeline) -> Method:
    """A method fitting a clone of a skltransfer DA pipeline on stacked source + target rows."""
    from skltransfer import stack_domains

    def method(Xs, ys, Xt):
        X, y = stack_domains(Xs, ys, Xt)
        return clone(pipeline).fit(X, y).predict(Xt)

    return method


def run_methods(
    methods: dict[str, Method], tasks: Iterable[tuple[str, str]] = TASKS, *, verbose: bool = True
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Run every method on every task.

    Returns
    -------
    accuracy : dict name -> list of per-task target accuracy (%), in the order of ``tasks``
    seconds : dict name -> list of per-task fit + predict wall times
    """
    tasks = list(tasks)
    accuracy = {name: [] for name in methods}
    seconds = {name: [] for name in methods}
    for source, target in tasks:
        Xs, ys = load_domain(source)
        Xt, yt = load_domain(target)
        for name, method in methods.items():
            start = time.perf_counter()
            pred = method(Xs, ys, Xt)
            seconds[name].append(time.perf_counter() - start)
            accuracy[name].append(100.0 * float(np.mean(np.asarray(pred) == yt)))
            if verbose:
                print(
                    f"  {source}-{target} {name}: {accuracy[name][-1]:.1f}% ({seconds[name][-1]:.2f} s)",
                    flush=True,
                )
    return accuracy, seconds


def format_table(
    accuracy: dict[str, list[float]],
    seconds: dict[str, list[float]] | None = None,
    tasks: Iterable[tuple[str, str]] = TASKS,
    *,
    reference: dict[str, list[float]] | None = None,
) -> str:
    """Markdown table: one row per method, per-task accuracy (%), average, and times.

    ``reference`` rows (e.g. :func:`published_rows`) are printed first, without times.
    """
    tasks = list(tasks)
    header = ["method", *(f"{s}-{t}" for s, t in tasks), "avg"]
    if seconds is not None:
        header += ["total s", "median s/task"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    columns = [f"{s}-{t}" for s, t in tasks]
    all_columns = [f"{s}-{t}" for s, t in TASKS]
    for name, row in (reference or {}).items():
        values = [row[all_columns.index(c)] for c in columns]
        cells = [f"{v:.1f}" for v in values] + [f"{np.mean(values):.1f}"]
        if seconds is not None:
            cells += ["", ""]
        lines.append(f"| {name} (published) | " + " | ".join(cells) + " |")
    for name, row in accuracy.items():
        cells = [f"{v:.1f}" for v in row] + [f"**{np.mean(row):.1f}**"]
        if seconds is not None:
            cells += [f"{sum(seconds[name]):.2f}", f"{statistics.median(seconds[name]):.3f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def published_rows() -> dict[str, list[float]]:
    """Published per-task accuracies (%) for the 12 tasks in :data:`TASKS` order.

    Source: the benchmark table of github.com/jindongwang/transferlearning
    (data/benchmark.md, commit dd79a248af95060150254b0d0d339169e59ade35), as quoted in the
    data folder's README. TCA: Pan et al., IEEE TNN 2011; JDA: Long et al., ICCV 2013;
    CORAL: Sun et al., AAAI 2016; MEDA: Wang et al., ACM MM 2018. Classifier 1-NN unless
    named. "JDA" is the row of the data folder's README; "JDA, ICCV 2013 Table 2" is the
    JDA row of Long et al.'s own paper, as quoted (two decimals, reference [4]) in the
    same repository's data/benchmark.md at commits 0167fd36 and 12c13d37: average 46.31.
    """
    jda_paper = [44.78, 41.69, 45.22, 39.36, 37.97, 39.49, 31.17, 32.78, 89.17, 31.52, 33.09, 89.49]
    return {
        "1NN, no adaptation": [23.7, 25.8, 25.5, 26.0, 29.8, 25.5, 19.9, 23.0, 59.2, 26.3, 28.5, 63.4],
        "SVM, no adaptation": [53.1, 41.7, 47.8, 41.7, 31.9, 44.6, 28.8, 27.6, 78.3, 26.4, 26.2, 52.5],
        "TCA": [45.6, 39.3, 45.9, 42.0, 40.0, 35.7, 31.5, 30.5, 91.1, 33.0, 32.8, 87.5],
        "JDA": [43.1, 39.3, 49.0, 40.9, 38.0, 42.0, 33.0, 29.8, 92.4, 31.2, 33.4, 89.2],
        "JDA, ICCV 2013 Table 2": jda_paper,
        "CORAL + SVM": [52.1, 46.4, 45.9, 45.1, 44.4, 39.5, 33.7, 36.0, 86.6, 33.8, 37.7, 84.7],
        "MEDA": [56.5, 53.9, 50.3, 43.9, 53.2, 45.9, 34.0, 42.7, 88.5, 34.9, 41.2, 87.5],
    }


def parse_tasks(spec: str | None) -> list[tuple[str, str]]:
    """Tasks from a comma-separated spec such as ``"C-A,D-W"`` (None: all 12)."""
    if not spec:
        return list(TASKS)
    tasks = [tuple(part.strip().upper().split("-")) for part in spec.split(",")]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; choose among {['-'.join(t) for t in TASKS]}")
    return tasks
