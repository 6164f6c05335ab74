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
        (None, losses.SelfTrainingLoss(1.0, threshold=0.4)),
    ],
)
def test_adaptation_graph_adds_each_loss_and_outputs_the_head_of_the_labeled_batch(
    domain_layer, target_layer
):
    head = _head()

    def strong(x):  # a deterministic "strong view", so that the expected loss is known
        return x * 0.5

    net = adaptation_model(head, lambda x: x, (6,), domain_layer, target_layer, strong)
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
    if isinstance(target_layer, losses.SelfTrainingLoss):
        strong_view = head.get_layer("probabilities")(
            head.get_layer("hidden")(head.get_layer("standardize")(target * 0.5))
        )
        expected.append(losses.self_training_loss(proba[1], strong_view, 0.4))
    elif target_layer is not None:
        expected.append(target_layer.loss(proba[1]))
    assert_allclose([float(v) for v in net.losses], [float(v) for v in expected], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [
        {"domain_loss": "cdan"},
        {"domain_loss": None, "target_loss": "mcc"},
        {"domain_loss": None, "target_loss": "im"},
        {"domain_loss": "mmd", "target_loss": "im"},
        {"domain_loss": None, "target_loss": "self_training"},
        {"domain_loss": None, "target_loss": "self_training", "epochs": 0},  # strong image view only
    ],
)
def test_objectives_train_on_stacked_domains_and_persist(params):
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    clf = _da(**{"hidden_units": 4, "epochs": 2, **params}).fit(X, y)
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
    plain = _da(domain_loss="mmd", domain_loss_weight=0.0, target_loss=None, **common)
    plain = plain.fit(X, y).predict_proba(Xt)
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


def test_self_training_loss_against_numpy():
    rng = np.random.RandomState(0)
    weak = rng.dirichlet(np.full(4, 0.3), size=32).astype("float32")
    strong = rng.dirichlet(np.ones(4), size=32).astype("float32")
    for threshold in (0.5, 0.8, 0.95):
        expected = 0.0
        for w, s in zip(weak, strong, strict=True):
            if w.max() >= threshold:
                expected -= np.log(max(s[np.argmax(w)], 1e-7))
        expected /= len(weak)
        assert_allclose(float(losses.self_training_loss(weak, strong, threshold)), expected, rtol=1e-5)
    assert float(losses.self_training_loss(weak, strong, 1.01)) == 0.0  # nothing confident enough


def test_self_training_pseudo_labels_carry_no_gradient():
    import tensorflow as tf

    weak = tf.Variable(np.array([[0.97, 0.03], [0.02, 0.98]], dtype="float32"))
    strong = tf.Variable(np.array([[0.6, 0.4], [0.3, 0.7]], dtype="float32"))
    with tf.GradientTape() as tape:
        loss = losses.self_training_loss(weak, strong)
    grad_weak, grad_strong = tape.gradient(loss, [weak, strong])
    assert grad_weak is None or not np.any(grad_weak.numpy())
    assert_allclose(grad_strong.numpy(), [[-1 / (2 * 0.6), 0], [0, -1 / (2 * 0.7)]], rtol=1e-5)


def _bn_backbone():
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, kernel_initializer=init(0), name="conv")(
        inputs
    )
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", kernel_initializer=init(1), name="embedding")(x)
    return keras.Model(inputs, x)


def test_adabn_sets_the_target_statistics_and_keeps_every_other_weight():
    from skltransfer.keras.losses import gradient_reversal  # noqa: F401  (the wing is importable)

    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    params = dict(domain_loss="mmd", domain_loss_weight=0.0, weights="imagenet")  # the backbone's own weights
    plain = _da(**params).set_params(base_model=_bn_backbone()).fit(X, y)
    adapted = _da(**params, bn_statistics="target").set_params(base_model=_bn_backbone()).fit(X, y)
    backbone = adapted.model_.get_layer("backbone").model
    conv = backbone.get_layer("conv")(Xt.reshape(-1, 8, 8, 1).astype("float32")).numpy()
    bn = backbone.get_layer("bn")
    assert_allclose(bn.moving_mean.numpy(), conv.reshape(-1, 4).mean(axis=0), rtol=1e-4, atol=1e-5)
    assert_allclose(bn.moving_variance.numpy(), conv.reshape(-1, 4).var(axis=0), rtol=1e-4, atol=1e-5)
    before = plain.model_.get_layer("backbone").model
    for layer in (lay for lay in backbone.layers if lay.weights):  # the same training, other statistics
        for w, v in zip(layer.weights, before.get_layer(layer.name).weights, strict=True):
            if "moving" not in w.path:
                assert_allclose(w.numpy(), v.numpy(), rtol=1e-5, atol=1e-6)
    # the prediction runs the adapted network, and pickles with it
    expected = adapted.model_.predict(Xt.reshape(-1, 8, 8, 1), verbose=0)
    assert_allclose(adapted.predict_proba(Xt), expected, rtol=1e-4, atol=1e-5)
    assert_allclose(pickle.loads(pickle.dumps(adapted)).predict_proba(Xt), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(
        ValueError, match="bn_statistics='target' takes the batch statistics of the target rows"
    ):
        _da(domain_loss=None, bn_statistics="target").fit(Xs, ys)
    with pytest.warns(UserWarning, match="no BatchNormalization layer"):
        _da(bn_statistics="target").fit(X, y)
