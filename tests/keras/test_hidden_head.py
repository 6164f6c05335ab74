"""The hidden-layer head of phase 1 solved on cached features (``epochs="auto"``): L-BFGS in NumPy."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import check_grad
from sklearn.exceptions import ConvergenceWarning

from skltransfer import FineTunedCNNClassifier, FineTunedCNNRegressor, PretrainedFeatureExtractor
from skltransfer.keras import _mlp_head
from skltransfer.keras._mlp_head import hidden_head_objective

keras = pytest.importorskip("keras")


def _base(seed=0):
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", kernel_initializer=init(seed))(inputs)
    return keras.Model(inputs, x, name="tiny_base")


def _data(n=40, seed=0):
    """8x8 images, two classes told apart by the brightness of the top half, and that brightness."""
    rng = np.random.RandomState(seed)
    X = rng.rand(n, 64)
    brightness = X[:, :32].mean(axis=1)
    return X, (brightness > np.median(brightness)).astype(int), 100.0 * brightness


# Flattened 8x8x6 maps: 384 features, more than the rows (the solve's reduced coordinates).
COMMON = dict(image_shape=(8, 8), pooling=None, fine_tune_epochs=0, hidden_units=8, random_state=0)


def _objective_at_solution(est, X, targets, sample_weight, l2, regression):
    """The head's objective and its gradient in the features' coordinates, at the fitted weights."""
    features = PretrainedFeatureExtractor(_base(), image_shape=(8, 8), pooling=None).fit_transform(X)
    z = np.asarray(est.head_.get_layer("standardize")(features), dtype=np.float64)
    out = est.head_.get_layer("predictions" if regression else "probabilities")
    weights = [np.asarray(w, dtype=np.float64) for w in est.head_.get_layer("hidden").get_weights()]
    weights += [np.asarray(w, dtype=np.float64) for w in out.get_weights()]
    return hidden_head_objective(z, targets, sample_weight, weights, l2=l2, regression=regression)


@pytest.mark.parametrize("regression", [False, True])
def test_objective_gradient(regression):
    rng = np.random.RandomState(0)
    z, sample_weight = rng.randn(15, 5), rng.uniform(0.5, 2.0, 15)
    targets = rng.randn(15, 2) if regression else rng.randint(0, 3, 15)
    shapes = [(5, 4), (4,), (4, 2 if regression else 3), (2 if regression else 3,)]
    splits = np.cumsum([int(np.prod(s)) for s in shapes])[:-1]

    def unpack(theta):
        return [p.reshape(s) for p, s in zip(np.split(theta, splits), shapes, strict=True)]

    def loss(theta):
        return hidden_head_objective(
            z, targets, sample_weight, unpack(theta), l2=0.01, regression=regression
        )[0]

    def grad(theta):
        _, gradients = hidden_head_objective(
            z, targets, sample_weight, unpack(theta), l2=0.01, regression=regression
        )
        return np.concatenate([g.ravel() for g in gradients])

    assert check_grad(loss, grad, rng.randn(int(sum(np.prod(s) for s in shapes)))) < 1e-5


@pytest.mark.parametrize("class_weight", [None, {0: 3.0, 1: 1.0}])
def test_classifier_solution_is_stationary(class_weight, monkeypatch):
    """Without the plateau stop, the written weights are a stationary point of the weighted,
    penalised objective in the features' own coordinates (not only in the reduced ones the
    solve runs in)."""
    monkeypatch.setattr(_mlp_head, "PLATEAU_TOLERANCE", 0.0)
    monkeypatch.setattr(_mlp_head, "MAX_ITER", 5000)
    X, y, _ = _data()
    clf = FineTunedCNNClassifier(_base(), l2=1e-2, class_weight=class_weight, **COMMON).fit(X, y)
    history = clf.history_["head"]
    assert history["stop_reason"] == "converged" and history["steps"][0] > 0
    weight = np.where(y == 0, 3.0, 1.0) if class_weight else np.ones(len(y))
    loss, gradients = _objective_at_solution(clf, X, y, weight, 1e-2, regression=False)
    assert_allclose(history["loss"][0], loss, rtol=1e-4)
    assert max(np.abs(g).max() for g in gradients) < 1e-3  # GTOL, plus the float32 rounding
    if class_weight:  # a different objective from the unweighted one
        _, unweighted = _objective_at_solution(clf, X, y, np.ones(len(y)), 1e-2, regression=False)
        assert max(np.abs(g).max() for g in unweighted) > 3e-3


def test_reaches_the_loss_of_keras_trained_to_convergence():
    """Reference: the same head, from the same initial weights, trained by Keras (full batch,
    Adam, no dropout) for many steps: the solve's objective is no higher."""
    X, y, _ = _data()
    clf = FineTunedCNNClassifier(_base(), l2=1e-2, **COMMON).fit(X, y)
    solved = clf.history_["head"]["loss"][0]
    reference = FineTunedCNNClassifier(
        _base(), l2=1e-2, dropout=0.0, epochs=600, learning_rate=1e-2, batch_size=len(X), **COMMON
    ).fit(X, y)
    trained = reference.history_["head"]["loss"][-1]
    assert clf.history_["head"]["stop_reason"] in {"converged", "plateau"}
    assert solved <= trained * 1.02 + 1e-4
    assert_array_equal(clf.predict(X), reference.predict(X))


def test_regressor_solution(monkeypatch):
    monkeypatch.setattr(_mlp_head, "PLATEAU_TOLERANCE", 0.0)
    monkeypatch.setattr(_mlp_head, "MAX_ITER", 5000)  # the slow last approach, run to its end
    X, _, target = _data(seed=1)
    reg = FineTunedCNNRegressor(_base(), l2=0.1, **COMMON).fit(X, target)
    history = reg.history_["head"]
    assert history["stop_reason"] == "converged" and set(history) >= {"loss", "r2_score"}
    standardized = ((target - target.mean()) / target.std())[:, None]
    loss, gradients = _objective_at_solution(reg, X, standardized, np.ones(len(X)), 0.1, regression=True)
    assert_allclose(history["loss"][0], loss, rtol=1e-4)
    assert max(np.abs(g).max() for g in gradients) < 1e-3
    assert history["r2_score"][0] > 0.9
    assert_allclose(reg.score(X, target), history["r2_score"][0], atol=1e-3)


@pytest.mark.parametrize("make", [FineTunedCNNClassifier, FineTunedCNNRegressor])
def test_deterministic(make):
    X, y, target = _data()
    y = target if make is FineTunedCNNRegressor else y
    first, second = (make(_base(), **COMMON).fit(X, y) for _ in range(2))
    assert_array_equal(first.predict(X), second.predict(X))
    for a, b in zip(first.head_.get_weights(), second.head_.get_weights(), strict=True):
        assert_array_equal(a, b)
    other = make(_base(), **{**COMMON, "random_state": 1}).fit(X, y)
    kernels = [est.head_.get_layer("hidden").get_weights()[0] for est in (first, other)]
    assert not np.array_equal(*kernels)


def test_iteration_cap_warns(monkeypatch):
    monkeypatch.setattr(_mlp_head, "MAX_ITER", 2)
    X, y, _ = _data()
    with pytest.warns(ConvergenceWarning, match=r"hidden head's exact solve \(epochs='auto'\) reached its 2"):
        clf = FineTunedCNNClassifier(_base(), **COMMON).fit(X, y)
    assert clf.history_["head"]["stop_reason"] == "budget"


@pytest.mark.parametrize("params", [{"l1": 1e-3}, {"epochs": 2}])
def test_stochastic_steps_otherwise(params):
    """An L1 penalty (not smooth) or a number of epochs trains the hidden head by Keras' steps."""
    X, y, _ = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = FineTunedCNNClassifier(_base(), **{**COMMON, **params}).fit(X, y)
    assert clf.history_["head"]["stop_reason"] in {"epochs", "plateau", "budget"}
