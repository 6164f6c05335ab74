"""
The same grid search on a Dask cluster
======================================

skltransfer estimators are scikit-learn estimators, so a grid search distributes its fits
with joblib's Dask backend and nothing in the pipeline changes. This example runs a search
over a domain-adaptation pipeline once with joblib's default backend and once on a Dask
``LocalCluster`` of two workers, and checks that both find the same scores. Needs
``pip install "skltransfer[dask]"``.
"""

# %%
# The search
# ----------
import time

import joblib
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer

from skltransfer import MMDAligner, make_da_pipeline, stack_domains
from skltransfer.datasets import make_digits_shift
from skltransfer.model_selection import DomainAwareSplit

Xs, ys, Xt, yt = make_digits_shift(random_state=0)
X, y = stack_domains(Xs, ys, Xt)
pipe = make_da_pipeline(Normalizer(), MMDAligner(10, kernel="rbf", gamma=1.0), KNeighborsClassifier(1))
grid = {"mmdaligner__n_components": [5, 10, 20, 40]}
search = GridSearchCV(pipe, grid, cv=DomainAwareSplit(KFold(2, shuffle=True, random_state=0)))

start = time.perf_counter()
local = search.fit(X, y).cv_results_
local_seconds = time.perf_counter() - start

# %%
# On the cluster
# --------------
# The very same object, fitted inside ``joblib.parallel_backend("dask")``: each fit of the
# search becomes a task on a worker. The workers here are threads of this process
# (``processes=False``), so that the example runs anywhere as a plain script; on a real
# cluster, connect to its scheduler instead: ``Client("tcp://scheduler:8786")``
# (``examples/scale_out.py`` starts worker processes).
with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
    with Client(cluster) as client, joblib.parallel_backend("dask"):
        start = time.perf_counter()
        distributed = search.fit(X, y).cv_results_
        dask_seconds = time.perf_counter() - start
        workers = len(client.scheduler_info()["workers"])

same = np.allclose(local["mean_test_score"], distributed["mean_test_score"])
print(f"{workers} workers; same scores: {same}; best {search.best_params_}")
print(f"one process {local_seconds:.1f} s, cluster {dask_seconds:.1f} s (this machine, this run)")

# %%
# The scores of both searches
# ---------------------------
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
labels = [str(p["mmdaligner__n_components"]) for p in local["params"]]
positions = np.arange(len(labels))
for offset, results, label in [
    (-0.2, local, f"one process ({local_seconds:.1f} s)"),
    (0.2, distributed, f"Dask, {workers} workers ({dask_seconds:.1f} s)"),
]:
    ax.bar(positions + offset, results["mean_test_score"], 0.4, label=label)
ax.set_xticks(positions, labels)
ax.set_xlabel("MMDAligner n_components")
ax.set_ylabel("mean accuracy on held-out source rows")
ax.set_ylim(0.8, 1.0)
ax.legend(loc="upper left")
plt.show()

# %%
# The estimators hold no global state and are seeded through ``random_state``, so every
# score is the one of the single-process search. With fits this short, shipping the data
# and the estimator to the workers costs about as much as the fits themselves; a cluster
# pays off when each fit takes seconds or more. The guide's :doc:`/guide/scale_out` page
# covers data larger than memory (``MMDAligner``'s Nyström solver on a Dask array) and
# feature extraction on the workers.
