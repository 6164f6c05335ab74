"""Same seed, same answer: every public core estimator, fitted in two fresh processes.

One child process fits every public estimator of the core (numpy/scipy/scikit-learn) with
``random_state=0`` where it has one, on small stacked data, and prints a digest of the exact
bytes of its predictions (``predict`` and ``predict_proba``, or ``transform``). Two children
run with different ``PYTHONHASHSEED`` values, so that an order taken from a ``set`` or a
``dict`` of strings, a global random state or an unseeded generator shows as a difference.
"""

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

from sklearn.base import BaseEstimator

import skltransfer

CHILD = r"""
import hashlib, inspect, json, warnings
import numpy as np
from sklearn.base import BaseEstimator, is_regressor
from sklearn.linear_model import LogisticRegression, Ridge
import skltransfer as skt

warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
Xs = rng.normal(size=(40, 4)); ys = (Xs[:, 0] + 0.5 * Xs[:, 1] > 0).astype(int)
Xt = rng.normal(0.5, 1.2, size=(30, 4)); yt = (Xt[:, 0] + 0.5 * Xt[:, 1] > 0.3).astype(int)
X, y = skt.stack_domains(Xs, ys, Xt)
# 10 labeled target rows, for the estimators that learn from them
y_few = np.r_[yt[:10], np.full(20, -1)]
Xl, yl, sd = skt.stack_domains(Xs, ys, Xt, y_few, return_sample_domain=True)
rs, rt = Xs @ [1.0, -0.5, 0.2, 0.0], Xt @ [1.2, -0.5, 0.2, 0.1]
Xr, yr, sdr = skt.stack_domains(Xs, rs, Xt, np.r_[rt[:10], np.full(20, np.nan)], return_sample_domain=True)

VARIANTS = {  # extra settings whose randomness random_state governs; fewer boosting rounds
    "MMDAligner": [{"solver": "exact"}, {"solver": "nystroem", "n_landmarks": 20}],
    "KernelMeanMatching": [{}, {"batch_size": 16}],
    "TrAdaBoostClassifier": [{"n_estimators": 5}],
    "TrAdaBoostRegressor": [{"n_steps": 3, "n_estimators": 3}],
}
NEEDS_LABELED_TARGET = {"TrAdaBoostClassifier"}


def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a, dtype=np.float64))
        h.update(str(a.shape).encode()); h.update(a.tobytes())
    return h.hexdigest()


def output(est, rows):
    if hasattr(est, "predict"):
        outs = [est.predict(rows)]
        if hasattr(est, "predict_proba"):
            outs.append(est.predict_proba(rows))
        return digest(*outs)
    return digest(est.transform(rows))


results = {}
for name in skt.__all__:
    if name in skt._KERAS_NAMES:
        continue
    cls = getattr(skt, name)
    if not (inspect.isclass(cls) and issubclass(cls, BaseEstimator)):
        continue
    params = inspect.signature(cls).parameters
    for i, variant in enumerate(VARIANTS.get(name, [{}])):
        kwargs = dict(variant)
        if "random_state" in params:
            kwargs["random_state"] = 0
        regression = name in ("TrAdaBoostRegressor", "TransferRidge")
        if "estimator" in params and params["estimator"].default is inspect.Parameter.empty:
            kwargs["estimator"] = Ridge() if regression else LogisticRegression()
        est = cls(**kwargs)
        if regression:
            est.fit(Xr, yr, sample_domain=sdr)
        elif name in NEEDS_LABELED_TARGET:
            est.fit(Xl, yl, sample_domain=sd)
        else:
            est.fit(X, y)
        results[f"{name}[{i}]"] = output(est, Xt)

# a different seed must show: the digests are not blind to randomness
other = skt.MMDAligner(solver="nystroem", n_landmarks=20, random_state=1).fit(X, y)
results["MMDAligner[nystroem, random_state=1]"] = output(other, Xt)
print(json.dumps(results))
"""


def _run_child(hash_seed: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[1],
    )


def _public_core_estimators() -> set[str]:
    return {
        name
        for name in skltransfer.__all__
        if name not in skltransfer._KERAS_NAMES
        and inspect.isclass(getattr(skltransfer, name))
        and issubclass(getattr(skltransfer, name), BaseEstimator)
    }


def test_same_random_state_same_predictions_in_two_fresh_processes():
    children = [_run_child(seed) for seed in ("1", "2")]  # run side by side
    outputs = []
    for child in children:
        stdout, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    first, second = outputs
    assert {key.split("[")[0] for key in first} >= _public_core_estimators()
    different = sorted(key for key in first if first[key] != second[key])
    assert not different, f"different predictions in two processes with the same random_state: {different}"
    assert first["MMDAligner[nystroem, random_state=1]"] != first["MMDAligner[1]"]
