"""The CNN classifier with the conditional domain loss (CDAN) and the target losses (MCC, IM)."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone

from skltransfer import FineTunedCNNClassifier, FineTunedCNNRegressor, stack_domains
from skltransfer.keras import losses
from skltransfer.keras._heads import adaptation_model, build_head

from .test_domain_losses import _da, _shifted_domains

keras = pytest.importorskip("keras")


def _head(hidden_units=4, dropout=0.0):
    return build_head(
        6,
        3,
        mean=np.zeros(6),
        variance=np.ones(6),
        hidden_units=hidden_units,
        dropout=dropout,
        l1=0,
        l2=0,
        seed=0,
    )


@pytest.mark.parametrize(
    ("domain_layer", "target_layer"),
    [
        (None, losses.InformationMaximizationLoss(1.0)),
        (losses.MMDLoss(1.0), losses.MCCLoss(1.0)),
        (losses.ConditionalAdversarialLoss(1.0), None),
        (losses.ConditionalAdversarialLoss(1.0), losses.InformationMaximizationLoss(1.0)),
    ],
)
def test_adaptation_graph_adds_each_loss_and_outputs_the_head_of_the_labeled_batch(
    domain_layer, target_layer
):
    head = _head()
    net = adaptation_model(head, lambda x: x, (6,), domain_layer, target_layer)
    rng = np.random.RandomState(0)
    labeled, target = rng.randn(8, 6).astype("float32"), rng.randn(8, 6).astype("float32") + 1
    assert_allclose(net([labeled, target], training=False), head(labeled, training=False), rtol=1e-6)
    for layer in (domain_layer, target_layer):
        if layer is not None:
            layer.factor.assign(1.0)
    net([labeled, target], training=True)
    expected = []
    adapted = [head.get_layer("hidden")(head.get_layer("standardize")(x)) for x in (labeled, target)]
    proba = [head.get_layer("probabilities")(a) for a in adapted]
    if isinstance(domain_layer, losses.ConditionalAdversarialLoss):
        expected.append(domain_layer.loss(*adapted, *proba))
    elif domain_layer is not None:
        expected.append(domain_layer.loss(*adapted))
    if target_layer is not None:
        expected.append(target_layer.loss(proba[1]))
    assert_allclose([float(v) for v in net.losses], [float(v) for v in expected], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"domain_loss": "cdan"},
        {"domain_loss": None, "target_loss": "mcc"},
        {"domain_loss": None, "target_loss": "im"},
        {"domain_loss": "mmd", "target_loss": "im"},
    ],
)
def test_objectives_train_on_stacked_domains_and_persist(params):
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    clf = _da(hidden_units=4, epochs=2, **params).fit(X, y)
    assert_array_equal(clf.classes_, [0, 1])  # -1 marks unlabeled rows, not a class
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(Xs) == ys))  # labeled rows only
    proba = clf.predict_proba(Xt)
    assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(Xt), proba)
    assert_array_equal(clone(clf).fit(X, y).predict_proba(Xt), proba)  # reproducible


def test_target_loss_weight_zero_is_the_plain_training_and_a_weight_moves_it():
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    common = dict(dropout=0.0)  # the target batch's dropout masks would draw from the same seed
    without = (
        _da(domain_loss=None, target_loss="im", target_loss_weight=0.0, **common).fit(X, y).predict_proba(Xt)
    )
    plain = _da(domain_loss="mmd", domain_loss_weight=0.0, **common).fit(X, y).predict_proba(Xt)
    assert_allclose(without, plain, rtol=1e-5, atol=1e-6)
    weighted = _da(domain_loss=None, target_loss="im", **common).fit(X, y).predict_proba(Xt)
    assert np.abs(weighted - without).max() > 1e-3


def test_target_loss_errors_and_the_regressor():
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match="target_loss"):
        _da(domain_loss=None, target_loss="entropy").fit(X, y)
    with pytest.raises(ValueError, match="target_loss='im' needs at least 2 target rows"):
        _da(domain_loss=None, target_loss="im").fit(X[: len(Xs) + 1], y[: len(Xs) + 1])
    assert "target_loss" not in FineTunedCNNRegressor().get_params()
    yr = np.where(y == -1, np.nan, y.astype(float))
    with pytest.raises(ValueError, match="no class probabilities to condition domain_loss='cdan'"):
        FineTunedCNNRegressor(_da().base_model, domain_loss="cdan", image_shape=(8, 8), weights=None).fit(
            X, yr
        )
    assert FineTunedCNNClassifier(target_loss="im").__sklearn_tags__() is not None
