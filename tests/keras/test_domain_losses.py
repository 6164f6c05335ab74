"""Deep domain adaptation: domain losses, CDAN+E too, against NumPy references; the classifier using them."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from skltransfer import FineTunedCNNClassifier, stack_domains
from skltransfer.keras._training import ShuffledBatches
from skltransfer.keras.losses import (
    AUTO_WEIGHTS,
    DOMAIN_LOSSES,
    ConditionalAdversarialLoss,
    DomainLossWarmup,
    conditional_adversarial_loss,
    coral_loss,
    domain_loss_layer,
    gradient_reversal,
    mmd_loss,
    multilinear_map,
    warmup_factor,
)
from skltransfer.metrics import maximum_mean_discrepancy
from tests._checks import check_beyond_input_conversion, with_alternate_domains
from tests.keras.test_classifier import CHECKED as PLAIN_CHECKED
from tests.keras.test_training import epoch_batches

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")


def _mmd_reference(a, b, kernel_mul=2.0, kernel_num=5):
    """Multi-kernel MMD² by explicit loops over the pairs of rows."""
    both = np.concatenate([a, b]).astype(np.float64)
    n = len(both)
    d2 = np.array([[np.sum((u - v) ** 2) for v in both] for u in both])
    scale = d2.sum() / (n * n - n)
    k = sum(np.exp(-d2 / (scale * kernel_mul ** (i - kernel_num // 2))) for i in range(kernel_num))
    m = len(a)
    return k[:m, :m].mean() + k[m:, m:].mean() - 2 * k[:m, m:].mean()


def test_mmd_loss_matches_brute_force():
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)) + np.array([1.0, 0.0, -0.5])
    assert_allclose(
        float(mmd_loss(a.astype("float32"), b.astype("float32"))), _mmd_reference(a, b), rtol=1e-4
    )
    assert_allclose(
        float(mmd_loss(a.astype("float32"), b.astype("float32"), kernel_mul=3.0, kernel_num=3)),
        _mmd_reference(a, b, 3.0, 3),
        rtol=1e-4,
    )
    assert float(mmd_loss(a.astype("float32"), a.astype("float32"))) == pytest.approx(0.0, abs=1e-6)


def test_mmd_loss_single_kernel_agrees_with_the_metric():
    """One kernel of bandwidth s is the rbf kernel with gamma = 1 / s of skltransfer.metrics."""
    rng = np.random.RandomState(1)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=(20, 4)) * 1.5
    both = np.concatenate([a, b])
    d2 = ((both[:, None] - both[None]) ** 2).sum(-1)
    gamma = 1.0 / (d2.sum() / (len(both) ** 2 - len(both)))
    expected = maximum_mean_discrepancy(a, b, kernel="rbf", gamma=gamma, estimate="biased")
    got = float(mmd_loss(a.astype("float32"), b.astype("float32"), kernel_num=1))
    assert_allclose(got, expected, rtol=1e-4)


def test_coral_loss_matches_numpy_covariances():
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=(30, 4)), rng.normal(size=(25, 4)) @ rng.normal(size=(4, 4))
    expected = np.sum((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2) / (4 * 4**2)
    assert_allclose(float(coral_loss(a.astype("float32"), b.astype("float32"))), expected, rtol=1e-4)
    # a shift of the mean is invisible to CORAL
    assert float(coral_loss(a.astype("float32"), (a + 3.0).astype("float32"))) == pytest.approx(0.0, abs=1e-5)


def test_gradient_reversal_is_identity_forward_and_negated_backward():
    x = tf.constant([[1.0, -2.0], [0.5, 3.0]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gradient_reversal(x, 0.7)
        loss = tf.reduce_sum(y * tf.constant([[1.0, 2.0], [3.0, 4.0]]))
    assert_allclose(y.numpy(), x.numpy(), atol=1e-6)
    assert_allclose(tape.gradient(loss, x).numpy(), -0.7 * np.array([[1.0, 2.0], [3.0, 4.0]]), rtol=1e-6)


def test_warmup_factor():
    assert warmup_factor(0.0, "sigmoid") == 0.0
    assert warmup_factor(1.0, "sigmoid") == pytest.approx(2 / (1 + np.exp(-10)) - 1)
    ramp = [warmup_factor(p, "sigmoid") for p in np.linspace(0, 1, 11)]
    assert np.all(np.diff(ramp) > 0)
    assert warmup_factor(0.3, "linear") == pytest.approx(0.3)
    assert warmup_factor(0.0, "constant") == 1.0
    with pytest.raises(ValueError, match="schedule"):
        warmup_factor(0.5, "cosine")


@pytest.mark.parametrize("kind", ["mmd", "coral", "adversarial"])
def test_domain_loss_layer_adds_its_weighted_loss_only_while_training(kind):
    rng = np.random.RandomState(0)
    a, b = rng.normal(size=(16, 5)).astype("float32"), (rng.normal(size=(16, 5)) * 2 + 1).astype("float32")
    layer = domain_loss_layer(kind, weight=0.5, seed=0)
    layer.factor.assign(1.0)
    out = layer([a, b], training=False)
    assert_array_equal(np.asarray(out), a)
    assert not layer.losses
    layer([a, b], training=True)
    (added,) = layer.losses
    if kind == "mmd":
        assert_allclose(float(added), 0.5 * _mmd_reference(a, b), rtol=1e-4)
    elif kind == "coral":
        expected = np.sum((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2) / (4 * 25)
        assert_allclose(float(added), 0.5 * expected, rtol=1e-4)
    else:  # half the binary cross-entropy of the domain classifier's logits
        logits = np.asarray(layer.discriminator(np.concatenate([a, b])))[:, 0]
        labels = np.r_[np.ones(16), np.zeros(16)]
        bce = np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits))))
        assert_allclose(float(added), 0.5 * bce, rtol=1e-4)


def test_unknown_domain_loss():
    with pytest.raises(ValueError, match="domain_loss must be one of"):
        domain_loss_layer("wasserstein", weight=1.0)


def test_warmup_callback_counts_steps_across_fits():
    layer = domain_loss_layer("mmd", weight=1.0)
    callback = DomainLossWarmup(layer, "linear", total_steps=4)
    seen = []
    for _ in range(4):
        callback.on_train_batch_begin(0)
        seen.append(float(layer.factor.numpy()))
    assert_allclose(seen, [0.0, 0.25, 0.5, 0.75])


# ------------------------------------------------------------------ CDAN+E


def _certainty_reference(proba):
    """1 + exp(-H(p_i)) per row, by loops."""
    return np.array([1.0 + np.exp(sum(p * np.log(max(p, 1e-7)) for p in row)) for row in proba])


def _bce_reference(label, logit):
    return max(logit, 0.0) - logit * label + np.log1p(np.exp(-abs(logit)))


def _cdan_reference(source_logits, target_logits, source_proba, target_proba):
    """Entropy-conditioned binary cross-entropy, weights normalised within each domain, by loops."""
    ws, wt = _certainty_reference(source_proba), _certainty_reference(target_proba)
    ws, wt = ws / ws.sum(), wt / wt.sum()
    source = sum(w * _bce_reference(1.0, z) for w, z in zip(ws, source_logits, strict=True))
    target = sum(w * _bce_reference(0.0, z) for w, z in zip(wt, target_logits, strict=True))
    return 0.5 * (source + target)


def _multilinear_reference(features, proba, matrices=None):
    n, d = features.shape
    k = proba.shape[1]
    if matrices is None:
        return np.array(
            [[features[r, i] * proba[r, j] for i in range(d) for j in range(k)] for r in range(n)]
        )
    rf, rg = (np.asarray(m, dtype=np.float64) for m in matrices)
    m = rf.shape[1]
    return np.array(
        [
            [
                sum(features[r, i] * rf[i, c] for i in range(d))
                * sum(proba[r, j] * rg[j, c] for j in range(k))
                / np.sqrt(m)
                for c in range(m)
            ]
            for r in range(n)
        ]
    )


def _cdan_batches(seed=0, n=5, m=7, d=4, k=3):
    rng = np.random.RandomState(seed)
    fs, ft = rng.normal(size=(n, d)).astype("float32"), (rng.normal(size=(m, d)) + 1).astype("float32")
    ps, pt = (rng.dirichlet(np.full(k, 0.7), size=size).astype("float32") for size in (n, m))
    return fs, ft, ps, pt


def test_conditional_adversarial_loss_matches_the_reference():
    rng = np.random.RandomState(0)
    _, _, ps, pt = _cdan_batches()
    zs, zt = rng.normal(size=5).astype("float32") * 2, rng.normal(size=7).astype("float32") * 2
    assert_allclose(
        float(conditional_adversarial_loss(zs, zt, ps, pt)), _cdan_reference(zs, zt, ps, pt), rtol=1e-5
    )
    # (n, 1) logits, as a discriminator returns them, are read as (n,)
    assert_allclose(
        float(conditional_adversarial_loss(zs[:, None], zt[:, None], ps, pt)),
        _cdan_reference(zs, zt, ps, pt),
        rtol=1e-5,
    )


def test_conditional_adversarial_weights_sum_to_one_within_each_domain():
    """Whatever the certainties and the batch sizes, a constant row loss c in a domain
    contributes c / 2: the weights of each domain sum to 1."""
    _, _, ps, pt = _cdan_batches(n=3, m=9)
    zs, zt = np.zeros(3, "float32"), np.zeros(9, "float32")
    assert float(conditional_adversarial_loss(zs, zt, ps, pt)) == pytest.approx(np.log(2), rel=1e-6)
    sure = np.full(9, -40.0, "float32")  # target rows classified as target: no loss
    assert float(conditional_adversarial_loss(zs, sure, ps, pt)) == pytest.approx(np.log(2) / 2, rel=1e-6)
    assert float(conditional_adversarial_loss(-sure[:3], zt, ps, pt)) == pytest.approx(
        np.log(2) / 2, rel=1e-6
    )
    # confident rows weigh more: a mistake on the one-hot row costs more than on the uniform one
    proba = np.array([[1.0, 0.0], [0.5, 0.5]], "float32")
    wrong_confident = conditional_adversarial_loss(np.array([-3.0, 3.0], "float32"), zt, proba, pt)
    wrong_uncertain = conditional_adversarial_loss(np.array([3.0, -3.0], "float32"), zt, proba, pt)
    assert float(wrong_confident) > float(wrong_uncertain)


@pytest.mark.parametrize("randomized", [False, True])
def test_multilinear_map_matches_the_reference(randomized):
    fs, _, ps, _ = _cdan_batches()
    rng = np.random.RandomState(1)
    matrices = (
        (rng.normal(size=(4, 6)).astype("float32"), rng.normal(size=(3, 6)).astype("float32"))
        if randomized
        else None
    )
    got = np.asarray(multilinear_map(fs, ps, matrices))
    assert got.shape == ((5, 6) if randomized else (5, 12))
    assert_allclose(got, _multilinear_reference(fs, ps, matrices), rtol=1e-5, atol=1e-6)


def test_randomized_multilinear_map_preserves_inner_products_in_expectation():
    """<T(f, g), T(f', g')> estimates <f, f'> <g, g'> (the 1 / sqrt(m) scaling of the paper)."""
    rng = np.random.RandomState(0)
    f, g = rng.normal(size=(2, 3)).astype("float32"), rng.dirichlet(np.ones(4), size=2).astype("float32")
    m = 200_000
    matrices = (rng.normal(size=(3, m)).astype("float32"), rng.normal(size=(4, m)).astype("float32"))
    t = np.asarray(multilinear_map(f, g, matrices), dtype=np.float64)
    full = np.asarray(multilinear_map(f, g), dtype=np.float64)
    assert_allclose(t @ t.T, full @ full.T, rtol=0.05, atol=0.02)


@pytest.mark.parametrize(("max_multilinear", "width"), [(4096, 12), (12, 12), (11, 11), (5, 5)])
def test_cdan_layer_adds_its_weighted_loss_only_while_training(max_multilinear, width):
    fs, ft, ps, pt = _cdan_batches()
    layer = ConditionalAdversarialLoss(0.5, discriminator_units=(8,), max_multilinear=max_multilinear)
    layer.factor.assign(1.0)
    out = layer([fs, ft, ps, pt], training=False)
    assert_array_equal(np.asarray(out), fs)
    assert not layer.losses
    assert layer.discriminator.input_shape == (None, width)
    randomized = width < 12
    if randomized:
        rf, rg = layer.random_matrices
        assert tuple(rf.shape) == (4, width) and tuple(rg.shape) == (3, width)
        assert not rf.trainable and not rg.trainable
        assert {id(v) for v in layer.trainable_weights}.isdisjoint({id(rf), id(rg)})
    else:
        assert layer.random_matrices is None
    out = layer([fs, ft, ps, pt], training=True)
    assert_array_equal(np.asarray(out), fs)
    (added,) = layer.losses
    matrices = [np.asarray(m) for m in layer.random_matrices] if randomized else None
    conditioned = _multilinear_reference(np.concatenate([fs, ft]), np.concatenate([ps, pt]), matrices)
    logits = np.asarray(layer.discriminator(conditioned.astype("float32")))[:, 0]
    assert_allclose(float(added), 0.5 * _cdan_reference(logits[:5], logits[5:], ps, pt), rtol=1e-5)


def test_cdan_reverses_the_gradient_reaching_the_features():
    """The discriminator descends the loss; the features receive its gradient times -factor;
    the probabilities receive none."""
    fs, ft, ps, pt = (tf.constant(a) for a in _cdan_batches())
    layer = domain_loss_layer("cdan", weight=2.0, discriminator_units=(8,), seed=0)
    layer([fs, ft, ps, pt])  # builds
    layer.factor.assign(0.3)
    inputs = [fs, ft, ps, pt]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        reversed_loss = layer.loss(*inputs)
        conditioned = multilinear_map(tf.concat([fs, ft], 0), tf.concat([ps, pt], 0))
        logits = tf.squeeze(layer.discriminator(conditioned), -1)
        plain_loss = 2.0 * conditional_adversarial_loss(logits[:5], logits[5:], ps, pt)
    assert_allclose(float(reversed_loss), float(plain_loss), rtol=1e-6)
    variables = layer.discriminator.trainable_variables
    for got, expected in zip(
        tape.gradient(reversed_loss, variables), tape.gradient(plain_loss, variables), strict=True
    ):
        assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)
    for features in (fs, ft):
        got, plain = tape.gradient(reversed_loss, features), tape.gradient(plain_loss, features)
        assert np.abs(plain.numpy()).max() > 1e-4
        assert_allclose(got.numpy(), -0.3 * plain.numpy(), rtol=1e-5, atol=1e-7)
    for proba in (ps, pt):
        gradient = tape.gradient(reversed_loss, proba)
        assert gradient is None or not np.any(gradient.numpy())


def test_cdan_random_matrices_are_seeded():
    fs, ft, ps, pt = _cdan_batches()

    def built(seed):
        layer = domain_loss_layer("cdan", weight=1.0, seed=seed)
        layer.max_multilinear = 6  # the randomized map, before build
        layer([fs, ft, ps, pt])
        return layer

    first, again, other = built(0), built(0), built(1)
    for a, b, c in zip(first.weights, again.weights, other.weights, strict=True):
        assert_array_equal(np.asarray(a), np.asarray(b))
        if np.std(np.asarray(a)) > 0:  # the random ones: kernels and projections
            assert not np.array_equal(np.asarray(a), np.asarray(c))
    rf, rg = (np.asarray(m) for m in first.random_matrices)
    assert not np.allclose(rf[:3, :3], rg[:3, :3])
    big = ConditionalAdversarialLoss(1.0, max_multilinear=400)
    big.build([(None, 100), (None, 100), (None, 10), (None, 10)])
    assert abs(np.std(np.asarray(big.random_matrices[0])) - 1.0) < 0.01  # standard Gaussian entries


@pytest.mark.parametrize("max_multilinear", [4096, 8])
def test_cdan_trains_in_a_functional_model(max_multilinear):
    """The layer on symbolic inputs (the estimators' training network), with the warm-up."""
    rng = np.random.RandomState(0)
    xs, xt = rng.normal(size=(32, 5)).astype("float32"), rng.normal(size=(32, 5)).astype("float32") + 1
    ys = rng.randint(0, 3, 32)
    keras.utils.set_random_seed(0)
    source_in, target_in = keras.Input((5,)), keras.Input((5,))
    features, head = keras.layers.Dense(4, activation="relu"), keras.layers.Dense(3, activation="softmax")
    fs, ft = features(source_in), features(target_in)
    layer = ConditionalAdversarialLoss(1.0, max_multilinear=max_multilinear, name="domain_loss")
    adapted = layer([fs, ft, head(fs), head(ft)])
    model = keras.Model([source_in, target_in], head(adapted))
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy")
    before = [np.asarray(w).copy() for w in layer.weights]
    callback = DomainLossWarmup(layer, "sigmoid", total_steps=8)
    history = model.fit([xs, xt], ys, batch_size=8, epochs=2, callbacks=[callback], verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert float(layer.factor.numpy()) == pytest.approx(warmup_factor(7 / 8, "sigmoid"))
    for variable, old in zip(layer.weights, before, strict=True):
        changed = not np.array_equal(np.asarray(variable), old)
        assert changed == (variable.trainable or variable.name == "factor"), variable.name
    model([xs, xt], training=True)
    assert len(model.losses) == 1 and np.isfinite(float(model.losses[0]))


def test_cdan_is_registered():
    assert DOMAIN_LOSSES["cdan"] is ConditionalAdversarialLoss and AUTO_WEIGHTS["cdan"] == 1.0
    layer = domain_loss_layer("cdan", weight=0.7, discriminator_units=(16, 8), name="d")
    assert isinstance(layer, ConditionalAdversarialLoss) and layer.name == "d" and layer.weight == 0.7
    assert [lay.units for lay in layer.discriminator.layers] == [16, 8, 1]


def test_batches_with_target_pair_full_batches_and_cover_the_target():
    x, target = np.arange(10.0)[:, None], 100 + np.arange(7.0)[:, None]
    batches = ShuffledBatches(x, np.arange(10), np.ones(10), 4, np.random.RandomState(0), target=target)
    assert len(batches) == 2  # the 2 rows that do not fill a batch wait for the next epoch
    drawn = []
    for (xb, tb), yb, wb in epoch_batches(batches, 0):
        assert xb.shape == tb.shape == (4, 1) and yb.shape == wb.shape == (4,)
        drawn.extend(tb[:, 0])
    # 8 target rows drawn from 7: every row once before any row twice
    assert set(drawn) == set(target[:, 0]) and len(drawn) == 8


# ------------------------------------------------------------------ the classifier


# scikit-learn's checks with every second pair of rows as target rows (tests/_checks.py), on
# the plain classifier's check configuration plus a hidden layer and a domain loss.
CHECKED = with_alternate_domains(FineTunedCNNClassifier)(
    # a hidden head trains by stochastic steps: 10 epochs of one batch instead of the 500-step budget
    **{
        **PLAIN_CHECKED.get_params(deep=False),
        **{"hidden_units": 8, "domain_loss": "coral", "epochs": 10, "learning_rate": 0.1},
    }
)


DA_EXPECTED_FAILED_CHECKS = {
    "check_classifiers_classes": (
        "the check trains on the labels [-1, 1]; with a domain loss -1 marks unlabeled target rows, "
        "as in SelfTrainingClassifier"
    ),
}


@pytest.mark.slow
@parametrize_with_checks([CHECKED], expected_failed_checks=lambda e: DA_EXPECTED_FAILED_CHECKS)
def test_sklearn_compatible_with_a_domain_loss(estimator, check):
    check_beyond_input_conversion(estimator, check, "FineTunedCNNClassifier without a domain loss")


def _shifted_domains(n=40, seed=0):
    """8x8 images whose class brightens one row; the target domain adds a brightness gradient."""
    rng = np.random.RandomState(seed)

    def images(y, shift):
        X = rng.rand(len(y), 8, 8) * 0.5
        for k in range(2):
            X[y == k, 2 + 3 * k] += 1.0
        return X + shift * np.linspace(0, 1.5, 8)[None, None, :]

    ys, yt = rng.randint(0, 2, n), rng.randint(0, 2, n)
    return images(ys, 0.0).reshape(n, 64), ys, images(yt, 1.0).reshape(n, 64), yt


def _backbone(seed=0):
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=init(seed))(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(8, activation="relu", kernel_initializer=init(seed + 1), name="embedding")(x)
    return keras.Model(inputs, x)


def _da(**params):
    defaults = dict(
        weights=None,
        layer="embedding",
        image_shape=(8, 8),
        epochs=0,
        fine_tune_epochs=3,
        fine_tune_learning_rate=1e-2,
        unfreeze=1.0,
        batch_size=16,
        domain_loss="mmd",
        random_state=0,
    )
    return FineTunedCNNClassifier(_backbone(), **{**defaults, **params})


@pytest.mark.parametrize("loss", ["mmd", "coral", "adversarial"])
def test_fit_on_stacked_domains_learns_the_labeled_classes(loss):
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    clf = _da(domain_loss=loss, hidden_units=4, epochs=2).fit(X, y)
    assert_array_equal(clf.classes_, [0, 1])  # -1 marks unlabeled rows, not a class
    assert set(clf.predict(Xt)) <= {0, 1}
    assert set(clf.history_) == {"head", "fine_tune"} and len(clf.history_["fine_tune"]["loss"]) == 3
    assert len(clf.model_.inputs) == 1  # the exported network is the plain classifier
    assert "domain_loss" not in [layer.name for layer in clf.model_.layers]


def test_mmd_loss_brings_the_domains_closer():
    """The embedding learnt with the MMD term is closer across domains than the one learnt without it."""
    Xs, ys, Xt, _ = _shifted_domains(n=64)
    X, y = stack_domains(Xs, ys, Xt)

    def gap(weight):
        clf = _da(domain_loss_weight=weight, domain_warmup="constant", fine_tune_epochs=8).fit(X, y)
        backbone = clf.model_.get_layer("backbone").model  # called in inference mode in model_
        fs, ft = (backbone.predict(Z.reshape(-1, 8, 8, 1), verbose=0) for Z in (Xs, Xt))
        return maximum_mean_discrepancy(fs, ft, kernel="rbf", gamma="median")

    assert gap(5.0) < 0.5 * gap(0.0)


def _statistics(clf):
    layer = clf.head_.get_layer("standardize")
    return np.ravel(layer.mean), np.ravel(layer.variance)


def test_a_backbone_trained_from_scratch_is_not_standardised_with_its_initial_statistics():
    """The head standardises the features it is first fitted to. A randomly initialised backbone
    trained end to end with its head (weights=None, epochs=0) has none: its head takes the
    features unscaled, while the same random features, frozen or fitted first, and the
    given (pretrained) weights are standardised with the labeled rows' statistics."""
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    mean, variance = _statistics(_da(fine_tune_epochs=1).fit(X, y))
    assert_array_equal(mean, 0.0)
    assert_array_equal(variance, 1.0)

    def assert_standardises(clf, features):
        variance = features.var(axis=0)
        assert_allclose(_statistics(clf)[0], features.mean(axis=0), rtol=1e-4, atol=1e-7)
        assert_allclose(_statistics(clf)[1], np.where(variance < 1e-12, 1.0, variance), rtol=1e-3)

    frozen = _da(epochs=1, fine_tune_epochs=0).fit(X, y)
    images = Xs.reshape(-1, 8, 8, 1)
    features = frozen.model_.get_layer("backbone").model.predict(images, verbose=0)
    assert np.median(features.std(axis=0)) < 0.1  # far from the unit scale
    assert_standardises(frozen, features)
    assert_standardises(_da(epochs=1, fine_tune_epochs=1).fit(X, y), features)
    pretrained = _da(weights="imagenet", fine_tune_epochs=1).fit(X, y)  # the model's own weights
    assert_standardises(pretrained, _backbone().predict(images, verbose=0))


def test_reproducible_and_persistent():
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    first = _da(domain_loss="adversarial").fit(X, y)
    second = _da(domain_loss="adversarial").fit(X, y)
    assert_array_equal(first.predict_proba(Xt), second.predict_proba(Xt))
    restored = pickle.loads(pickle.dumps(first))
    assert_allclose(restored.predict_proba(Xt), first.predict_proba(Xt), atol=1e-6)
    assert clone(first).get_params()["domain_loss"] == "adversarial"


def test_score_leaves_out_unlabeled_rows_and_grid_search_runs():
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    clf = _da().fit(X, y)
    assert clf.score(X, y) == pytest.approx(np.mean(clf.predict(Xs) == ys))
    grid = GridSearchCV(_da(fine_tune_epochs=1), {"domain_loss": ["mmd", "coral"]}, cv=2).fit(X, y)
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_params_["domain_loss"] in {"mmd", "coral"}


def test_sample_domain_marks_labeled_target_rows():
    Xs, ys, Xt, yt = _shifted_domains()
    X, y = np.concatenate([Xs, Xt]), np.concatenate([ys, yt])
    domain = np.r_[np.zeros(len(Xs), int), -np.ones(len(Xt), int)]
    y_partly = y.copy()
    y_partly[len(Xs) + 4 :] = -1  # 4 labeled target rows, the rest unlabeled
    clf = _da(guard=False).fit(X, y_partly, sample_domain=domain)  # the guard: test_guard_keras.py
    assert_array_equal(clf.classes_, [0, 1])


def test_errors():
    Xs, ys, Xt, _ = _shifted_domains()
    X, y = stack_domains(Xs, ys, Xt)
    with pytest.raises(ValueError, match=r"sample_domain .* domain_loss is None"):
        _da(domain_loss=None).fit(X, y, sample_domain=np.zeros(len(y), int))
    with pytest.raises(ValueError, match="at least 2 target rows"):
        _da().fit(X[: len(Xs) + 1], y[: len(Xs) + 1])
    with pytest.raises(ValueError, match="no target rows"):
        _da().fit(Xs, ys)
    with pytest.raises(ValueError, match="domain_loss"):
        _da(domain_loss="wasserstein").fit(X, y)


def test_collapse_warning_needs_a_rise_then_a_fall_to_the_majority_share():
    codes = np.repeat(np.arange(10), 12)  # majority share 0.1
    clf = FineTunedCNNClassifier()
    clf._task = clf._make_task()
    clf.history_ = {"head": {}, "fine_tune": {"accuracy": [0.16, 0.29, 0.28, 0.15, 0.12, 0.12]}}
    with pytest.warns(
        UserWarning, match=r"rose to 0.29 and ended at 0.12.*most frequent class \(0.10\)"
    ) as record:
        clf._warn_if_collapsed(codes)
    assert record[0].filename == __file__
    for accuracy in (
        [0.16, 0.5, 0.9, 0.98],
        [0.1, 0.11, 0.12],
        [0.3, 0.4, 0.35],
    ):  # learns; never learns; no collapse
        clf.history_ = {"head": {}, "fine_tune": {"accuracy": accuracy}}
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clf._warn_if_collapsed(codes)


@pytest.mark.slow
def test_collapse_check_warns_when_the_accuracy_falls_back_to_the_majority_share():
    """The check reads the training history: rose, then fell to a constant guess's accuracy."""
    clf = _da()
    clf._task = clf._make_task()
    codes = np.repeat([0, 1, 2, 3], 25)  # majority share 0.25
    clf.history_ = {"head": {}, "fine_tune": {"accuracy": [0.2, 0.6, 0.29]}}
    with pytest.warns(UserWarning, match="features have probably collapsed") as record:
        clf._warn_if_collapsed(codes)
    assert [w.filename for w in record] == [__file__]
    for healthy in ([0.2, 0.6, 0.55], [0.2, 0.24, 0.26]):  # still learning; never learnt
        clf.history_["fine_tune"]["accuracy"] = healthy
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            clf._warn_if_collapsed(codes)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    raises=UserWarning,
    reason="known limitation: with 20 % of the source held out, MMD at weight 1 with the sigmoid "
    "warm-up collapses the digit CNN trained from scratch (its head takes unscaled features); "
    "fit warns. Standardising with the random initial network's statistics avoided it but cost "
    "every other setting of benchmarks/deep_da.py (DANN -0.35).",
)
def test_the_collapsing_mmd_setting_trains():
    """With 20 % of the source held out, MMD at weight 1 with the sigmoid warm-up should train
    without collapsing the embedding (today: one class, target accuracy 0.08, and fit warns)."""
    from sklearn.model_selection import train_test_split

    from skltransfer.datasets import make_digits_shift
    from skltransfer.keras._demo import deep_adaptation_estimators

    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    Xs, _, ys, _ = train_test_split(Xs, ys, test_size=0.2, stratify=ys, random_state=0)
    X, y = stack_domains(Xs, ys, Xt)
    _, clf = deep_adaptation_estimators(10, (8, 8), losses=("mmd",), random_state=0)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        clf.fit(X, y)
    assert np.mean(clf.predict(Xt) == yt) > 0.5  # chance: 0.1
