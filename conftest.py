"""Collection rules shared by the test suite and the doctests of the package, and the
thread budget of parallel test workers.

Without TensorFlow (an install without the extra ``keras``) the doctests of
``skltransfer.keras`` cannot run; the tests that need it skip themselves.
"""

import importlib.util
import os

import joblib

collect_ignore = []
if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
    collect_ignore.append("skltransfer/keras")


def pytest_configure(config):
    """Each parallel test worker (pytest-xdist) gets its share of the cores as thread budget.

    Without it, every worker's TensorFlow would start one thread per core. The budget is
    joblib's rule for its own workers (``cpu_count() // n_workers``), set before TensorFlow
    is imported through ``OMP_NUM_THREADS``, which skltransfer passes on to TensorFlow
    (``skltransfer.keras._base``); a budget set by the user is kept.
    """
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers and "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, joblib.cpu_count() // int(workers)))
