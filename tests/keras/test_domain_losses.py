"""Deep domain adaptation: domain losses against NumPy references; FineTunedCNNClassifier using them."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from skltransfer import FineTunedCNNClassifier, stack_domains
from skltransfer.keras._finetune import shuffled_batches
from skltransfer.keras.losses import (
    coral_loss,
    domain_loss_layer,
    gradient_reversal,
    mmd_loss,
    warmup_callback,
    warmup_factor,
)
from skltransfer.metrics import maximum_mean_discrepancy
from tests._checks import with_alternate_domains
from tests.keras.test_classifier import CHECKED as PLAIN_CHECKED

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
    callback = warmup_callback(layer, "linear", total_steps=4)
    seen = []
    for _ in range(4):
        callback.on_train_batch_begin(0)
        seen.append(float(layer.factor.numpy()))
    assert_allclose(seen, [0.0, 0.25, 0.5, 0.75])


def test_batches_with_target_pair_full_batches_and_cover_the_target():
    x, target = np.arange(10.0)[:, None], 100 + np.arange(7.0)[:, None]
    batches = shuffled_batches(x, np.arange(10), np.ones(10), 4, np.random.RandomState(0), target=target)
    assert len(batches) == 2  # the 2 rows that do not fill a batch wait for the next epoch
    drawn = []
    for i in range(len(batches)):
        (xb, tb), yb, wb = batches[i]
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
    check(estimator)


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
    clf = _da().fit(X, y_partly, sample_domain=domain)
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
