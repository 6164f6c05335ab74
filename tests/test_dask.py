"""Grid search of a domain-adaptation pipeline on a Dask cluster through joblib's Dask backend."""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer

from skltransfer import MMDAligner, make_da_pipeline, stack_domains
from skltransfer.datasets import make_digits_shift

distributed = pytest.importorskip("dask.distributed")


@pytest.mark.slow
def test_grid_search_on_local_cluster_matches_one_process():
    Xs, ys, Xt, _ = make_digits_shift(random_state=0)
    X, y = stack_domains(Xs[::2], ys[::2], Xt[::2])  # 899 rows: 8 fits of about 0.1 s
    pipe = make_da_pipeline(
        Normalizer(), MMDAligner(10, kernel="rbf", gamma=1.0, random_state=0), KNeighborsClassifier(1)
    )
    grid = {"mmdaligner__n_components": [3, 6, 12, 24]}
    search = GridSearchCV(pipe, grid, cv=KFold(2, shuffle=True, random_state=0))
    local = clone(search).fit(X, y)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        distributed.get_task_stream() as tasks,
        joblib.parallel_backend("dask"),
    ):
        remote = clone(search).set_params(n_jobs=-1).fit(X, y)
    assert len({task["worker"] for task in tasks.data}) >= 1  # the fits ran on the cluster's workers
    assert len(tasks.data) >= 8
    assert remote.best_params_ == local.best_params_
    for key in ("split0_test_score", "split1_test_score", "mean_test_score", "rank_test_score"):
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key], rtol=1e-12)
    assert len(set(local.cv_results_["mean_test_score"])) == 4  # the grid points are told apart
