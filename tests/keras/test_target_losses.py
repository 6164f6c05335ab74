"""Target losses (MCC, information maximisation) against NumPy references; their layers."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from skltransfer.keras.losses import (  # noqa: E402
    AUTO_TARGET_WEIGHTS,
    TARGET_LOSSES,
    DomainLossWarmup,
    InformationMaximizationLoss,
    MCCLoss,
    SelfTrainingLoss,
    TargetLoss,
    information_maximization_loss,
    mcc_loss,
    target_loss_layer,
    warmup_factor,
)


def _softmax_row(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _entropy_row(p):
    return -sum(p[k] * np.log(max(p[k], 1e-7)) for k in range(len(p)))


def _mcc_reference(logits, temperature=2.5):
    """Minimum Class Confusion by explicit loops (Jin et al. 2020)."""
    logits = np.asarray(logits, dtype=np.float64)
    n, k = logits.shape
    p = np.array([_softmax_row(logits[i] / temperature) for i in range(n)])
    w = np.array([1.0 + np.exp(-_entropy_row(p[i])) for i in range(n)])
    w = n * w / w.sum()
    c = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            c[a, b] = sum(w[i] * p[i, a] * p[i, b] for i in range(n))
    for a in range(k):
        c[a] = c[a] / c[a].sum()
    return (c.sum() - sum(c[a, a] for a in range(k))) / k


def _im_reference(proba):
    """mean_i H(p_i) - H(mean_i p_i) by explicit loops."""
    proba = np.asarray(proba, dtype=np.float64)
    n, k = proba.shape
    mean_entropy = sum(_entropy_row(proba[i]) for i in range(n)) / n
    mean = np.array([sum(proba[i, j] for i in range(n)) / n for j in range(k)])
    return mean_entropy - _entropy_row(mean)


def _random_proba(rng, n, k, concentration=0.5):
    return rng.dirichlet(np.full(k, concentration), size=n).astype("float32")


@pytest.mark.parametrize(("n", "k", "temperature"), [(6, 3, 2.5), (9, 5, 1.0), (4, 2, 3.0)])
def test_mcc_loss_matches_the_reference(n, k, temperature):
    logits = (np.random.RandomState(n).normal(size=(n, k)) * 3).astype("float32")
    assert_allclose(float(mcc_loss(logits, temperature)), _mcc_reference(logits, temperature), rtol=1e-5)


def test_mcc_loss_bounds():
    """0 for confident predictions of distinct classes; (K - 1) / K, its maximum, for uniform ones."""
    for k in (2, 3, 5):
        assert float(mcc_loss(50.0 * np.eye(k, dtype="float32"))) == pytest.approx(0.0, abs=1e-6)
        uniform = np.zeros((7, k), dtype="float32")
        assert float(mcc_loss(uniform)) == pytest.approx((k - 1) / k, rel=1e-6)
    rng = np.random.RandomState(0)
    values = [float(mcc_loss(rng.normal(size=(8, 4)).astype("float32") * 4)) for _ in range(20)]
    assert min(values) >= 0.0 and max(values) <= 0.75 + 1e-6


def test_mcc_layer_on_probabilities():
    """The layer takes log(clip(p)) as logits: one-hot rows of distinct classes give a small
    confusion (the clipped zeros become exp(log(1e-7) / 2.5) ~ 1.6e-3 after the softmax), while
    one-hot rows that all predict one class give nearly the maximum (K - 1) / K: MCC punishes
    a collapse of the predictions."""
    layer = MCCLoss(weight=1.0)
    layer.factor.assign(1.0)
    eye = np.eye(3, dtype="float32")
    layer([eye, eye], training=True)
    distinct = float(layer.losses[0])
    assert_allclose(distinct, _mcc_reference(np.log(np.clip(eye, 1e-7, 1.0))), rtol=1e-5)
    assert 0.0 < distinct < 0.01
    collapsed = np.tile(eye[:1], (4, 1))
    layer([eye, collapsed], training=True)
    assert float(layer.losses[0]) > 0.6
    proba = _random_proba(np.random.RandomState(1), 10, 4)
    layer([eye, proba], training=True)
    assert_allclose(float(layer.losses[0]), _mcc_reference(np.log(np.clip(proba, 1e-7, 1))), rtol=1e-5)
    # the temperature reaches the loss
    hot = MCCLoss(weight=1.0, temperature=1.0)
    hot.factor.assign(1.0)
    hot([eye, proba], training=True)
    assert_allclose(float(hot.losses[0]), _mcc_reference(np.log(np.clip(proba, 1e-7, 1)), 1.0), rtol=1e-5)


@pytest.mark.parametrize(("n", "k"), [(6, 3), (11, 5), (3, 2)])
def test_information_maximization_loss_matches_the_reference(n, k):
    proba = _random_proba(np.random.RandomState(n), n, k)
    assert_allclose(float(information_maximization_loss(proba)), _im_reference(proba), rtol=1e-5)


def test_information_maximization_loss_extremes():
    """-log K, its minimum, for confident balanced predictions; 0 for uniform or collapsed ones."""
    for k in (2, 3, 6):
        balanced = np.tile(np.eye(k, dtype="float32"), (3, 1))
        assert float(information_maximization_loss(balanced)) == pytest.approx(-np.log(k), rel=1e-6)
        assert float(information_maximization_loss(np.full((5, k), 1 / k, "float32"))) == pytest.approx(
            0.0, abs=1e-6
        )
        collapsed = np.tile(np.eye(k, dtype="float32")[:1], (5, 1))
        assert float(information_maximization_loss(collapsed)) == pytest.approx(0.0, abs=1e-6)
    rng = np.random.RandomState(0)
    for _ in range(20):
        value = float(information_maximization_loss(_random_proba(rng, 8, 4, 0.3)))
        assert -np.log(4) - 1e-6 <= value <= np.log(4)


def test_registry_and_auto_weights():
    assert TARGET_LOSSES == {
        "mcc": MCCLoss,
        "im": InformationMaximizationLoss,
        "self_training": SelfTrainingLoss,
    }
    assert AUTO_TARGET_WEIGHTS == {"mcc": 1.0, "im": 1.0, "self_training": 1.0}
    assert all(issubclass(cls, TargetLoss) for cls in TARGET_LOSSES.values())


@pytest.mark.parametrize("kind", ["mcc", "im"])
def test_target_loss_layer_adds_its_weighted_loss_only_while_training(kind):
    rng = np.random.RandomState(0)
    source, target = _random_proba(rng, 6, 4), _random_proba(rng, 9, 4)
    layer = target_loss_layer(kind, weight=0.5, name="t")
    assert isinstance(layer, TARGET_LOSSES[kind]) and layer.name == "t" and layer.weight == 0.5
    assert not layer.trainable_weights and float(layer.factor.numpy()) == 0.0
    out = layer([source, target], training=False)
    assert_array_equal(np.asarray(out), source)
    assert not layer.losses
    out = layer([source, target], training=True)
    assert_array_equal(np.asarray(out), source)
    (added,) = layer.losses
    assert float(added) == 0.0  # the warm-up factor starts at 0
    layer.factor.assign(0.8)
    layer([source, target], training=True)
    (added,) = layer.losses
    reference = _mcc_reference(np.log(np.clip(target, 1e-7, 1))) if kind == "mcc" else _im_reference(target)
    assert_allclose(float(added), 0.5 * 0.8 * reference, rtol=1e-5)


def test_unknown_target_loss():
    with pytest.raises(
        ValueError, match=r"target_loss must be one of \('mcc', 'im', 'self_training'\) or None; got 'ent'"
    ):
        target_loss_layer("ent", weight=1.0)


def test_base_layer_needs_a_loss():
    with pytest.raises(NotImplementedError):
        TargetLoss(weight=1.0)([np.ones((2, 2), "float32")] * 2, training=True)


@pytest.mark.parametrize("kind", ["mcc", "im"])
def test_warmup_callback_drives_a_target_loss_in_a_fitted_model(kind):
    """In a functional model trained by fit, DomainLossWarmup sets the factor of a target loss
    before every batch and the target term is part of the training loss."""
    rng = np.random.RandomState(0)
    xs, xt = rng.normal(size=(32, 5)).astype("float32"), rng.normal(size=(32, 5)).astype("float32") + 1
    ys = rng.randint(0, 3, 32)
    keras.utils.set_random_seed(0)
    source_in, target_in = keras.Input((5,)), keras.Input((5,))
    head = keras.layers.Dense(3, activation="softmax")
    layer = target_loss_layer(kind, weight=1.0)
    model = keras.Model([source_in, target_in], layer([head(source_in), head(target_in)]))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    callback = DomainLossWarmup(layer, "linear", total_steps=8)
    history = model.fit([xs, xt], ys, batch_size=8, epochs=2, callbacks=[callback], verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert callback.step == 8
    assert float(layer.factor.numpy()) == pytest.approx(warmup_factor(7 / 8, "linear"))
    # the model's training loss is the cross-entropy plus weight * factor * the target term
    layer.factor.assign(1.0)
    proba = np.asarray(model([xs, xt], training=True))
    target = np.asarray(head(xt))
    reference = _mcc_reference(np.log(np.clip(target, 1e-7, 1))) if kind == "mcc" else _im_reference(target)
    assert_allclose(float(model.losses[0]), reference, rtol=1e-4)
    assert_allclose(proba, np.asarray(head(xs)), rtol=1e-6)
