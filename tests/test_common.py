"""Conformance of every public estimator with scikit-learn's API."""

import importlib.util
import inspect
import subprocess
import sys

import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

import skltransfer
from tests._checks import with_alternate_domains

# Estimators whose every check needs TensorFlow are covered in tests/keras.
_KERAS = set(skltransfer._KERAS_NAMES)

# Values for constructor parameters that have no default.
_REQUIRED = {"estimator": LogisticRegression(max_iter=200)}

# Smaller settings where the defaults make the checks' many fits slow. The TrAdaBoost pair
# fits without the guard, whose out-of-fold fits (five per fit here) made most of their
# checks' time; the other estimators with a guard run every check with it.
_FAST = {
    "TrAdaBoostClassifier": {"guard": False},
    "TrAdaBoostRegressor": {"n_steps": 3, "n_estimators": 3, "guard": False},
}


def _public_estimator_classes():
    for name in skltransfer.__all__:
        if name in _KERAS:
            continue
        obj = getattr(skltransfer, name)
        if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
            yield obj


def _instance(cls):
    params = {
        name: _REQUIRED[name]
        for name, p in inspect.signature(cls).parameters.items()
        if p.default is inspect.Parameter.empty and p.kind is not p.VAR_KEYWORD
    }
    params.update(_FAST.get(cls.__name__, {}))
    if hasattr(cls, "_resolve_domains"):
        cls = with_alternate_domains(cls)
    return cls(**params)


ESTIMATORS = [_instance(cls) for cls in _public_estimator_classes()]


def _expected_failed_checks(estimator):
    return dict(getattr(estimator, "_expected_failed_checks", {}))


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)


def test_all_is_consistent():
    has_tensorflow = importlib.util.find_spec("tensorflow") is not None
    for name in skltransfer.__all__:
        if name in skltransfer._KERAS_NAMES and not has_tensorflow:
            continue  # tests/test_bad_input.py checks the ImportError naming the extra
        assert hasattr(skltransfer, name), name
    assert sorted(skltransfer.__all__) == skltransfer.__all__


def test_import_does_not_import_tensorflow():
    code = (
        "import sys, skltransfer, skltransfer.metrics, skltransfer.datasets, skltransfer.pipeline\n"
        "for name in skltransfer.__all__:\n"
        "    if name not in skltransfer._KERAS_NAMES: getattr(skltransfer, name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
