"""The process-wide runtime of the Keras wing: TensorFlow's thread budget and reproducible seeds.

TensorFlow reads its thread counts once per process, before its first operation, and would
start one thread per core in every joblib or Dask worker. :func:`configure_threads` gives it
the worker's budget; it runs when :mod:`skltransfer.keras` is imported and again when a
pickled estimator is loaded (a worker may have imported the package before it became a
worker). :func:`derive_seed` and :func:`scoped_seed` make random initial weights reproducible
from ``random_state`` without a lasting change to any global random state.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator

from sklearn.utils import check_random_state

__all__ = ["configure_threads", "dask_worker_threads", "derive_seed", "scoped_seed"]


def dask_worker_threads() -> int | None:
    """Thread count of the Dask worker(s) of this process; None outside a Dask worker.

    Inside a task, the worker running it. Outside one (a worker unpickles the arguments of
    a task on its event loop, before the task starts) the running workers of the process:
    one in a worker process started by a nanny. ``distributed`` is looked up, never imported.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return int(distributed.get_worker().state.nthreads)
    except ValueError:  # get_worker's answer outside a task
        # a private registry of distributed's: without it, OMP_NUM_THREADS is the budget
        instances = getattr(distributed.Worker, "_instances", ())
        running = [w for w in instances if getattr(w.status, "name", None) == "running"]
    return sum(int(w.state.nthreads) for w in running) or None


def configure_threads() -> None:
    """Give TensorFlow the thread budget of this process, if one is set.

    A Dask worker's budget is its own thread count (``nthreads``): its nanny sets
    ``OMP_NUM_THREADS=1`` whatever that count is. joblib's process workers run with
    ``OMP_NUM_THREADS`` set to their share of the cores (``cpu_count() // n_jobs``).
    TensorFlow ignores that variable and would start one thread per core in every worker.
    When there is a budget (a Dask worker's, or ``OMP_NUM_THREADS`` set by joblib or by the
    user) and the TensorFlow runtime is not yet initialised, the intra-op thread count
    follows it and the inter-op count is capped at 2. Otherwise TensorFlow's defaults are
    kept. These counts are process-wide and can only be set before TensorFlow's first
    operation: that is the one global setting made here, and only in that case.
    """
    import tensorflow as tf

    budget = dask_worker_threads()
    if budget is None:
        variable = os.environ.get("OMP_NUM_THREADS", "")
        budget = int(variable) if variable.isdigit() else 0
    if budget < 1:
        return
    threading = tf.config.threading
    with contextlib.suppress(RuntimeError):  # the runtime is already initialised: keep it
        if threading.get_intra_op_parallelism_threads() == 0:
            threading.set_intra_op_parallelism_threads(budget)
            threading.set_inter_op_parallelism_threads(min(budget, 2))


def derive_seed(random_state) -> int:
    """An integer seed drawn from ``random_state`` (None, int or RandomState)."""
    return int(check_random_state(random_state).randint(1, 2**31 - 1))


@contextlib.contextmanager
def scoped_seed(seed: int) -> Iterator[None]:
    """Build Keras layers with reproducible initial weights, leaving global state unchanged.

    Keras initializers and seed generators created without an explicit seed draw one from
    Python's :mod:`random` module when they are constructed. Inside this context that module
    is seeded with ``seed``; its previous state is restored on exit, so nothing outside the
    block observes a change. NumPy's and TensorFlow's global seeds are never touched.
    """
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)
