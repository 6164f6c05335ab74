"""FineTunedCNNRegressor: conformance, the exact ridge head, standardised targets, domains, persistence."""

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.linear_model import ElasticNet, Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skltransfer import FineTunedCNNRegressor, PretrainedFeatureExtractor, stack_domains
from skltransfer.utils._tags import get_domain_tags
from tests._checks import check_beyond_input_conversion, with_alternate_domains

from .conftest import write_check_model

keras = pytest.importorskip("keras")


# Each row of the checks' 2-D data is a 1 x n_features grayscale image.
CHECKED = FineTunedCNNRegressor(
    write_check_model(4), image_shape=(1, -1), pooling=None, fine_tune_epochs=0, batch_size=64, random_state=0
)


@parametrize_with_checks([CHECKED], expected_failed_checks=lambda e: e._expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("FineTunedCNNRegressor", CHECKED)


def _base(seed=0):
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", kernel_initializer=init(seed))(inputs)
    return keras.Model(inputs, x, name="tiny_base")


def _images(n=60, seed=0):
    """8x8 images; the target is the brightness of their top half, in percent, plus 3."""
    rng = np.random.RandomState(seed)
    X = rng.rand(n, 64)
    return X, 100.0 * X[:, :32].mean(axis=1) + 3.0


def _reg(**params):
    defaults = dict(image_shape=(8, 8), pooling=None, fine_tune_epochs=0, random_state=0)
    return FineTunedCNNRegressor(_base(), **{**defaults, **params})


def _standardised_features(X):
    extractor = PretrainedFeatureExtractor(_base(), image_shape=(8, 8), pooling=None)
    return StandardScaler().fit_transform(extractor.fit_transform(X))


@pytest.mark.parametrize(
    ("params", "reference"),
    [
        ({}, Ridge(alpha=1.0)),  # l2="auto": scikit-learn's default ridge
        ({"l2": 0.01}, Ridge(alpha=0.01 * 40)),  # alpha = n l2
        ({"l1": 0.02, "l2": 0.01}, ElasticNet(alpha=0.01 + 0.01, l1_ratio=0.5, max_iter=1000)),
    ],
)
def test_linear_head_is_the_exact_ridge_of_the_standardised_features(params, reference):
    X, y = _images(40)
    reg = _reg(**params).fit(X, y)
    z = _standardised_features(X)
    y_std = (y - y.mean()) / y.std()
    expected = reference.fit(z, y_std).predict(z) * y.std() + y.mean()
    assert_allclose(reg.predict(X), expected, rtol=1e-4, atol=1e-3)
    head = reg.history_["head"]
    assert head["stop_reason"] == "converged" and reg.history_["fine_tune"] == {}
    assert_allclose(head["r2_score"][0], r2_score(y, expected), rtol=1e-4)


def test_default_l2_matches_the_extractor_scaler_ridge_pipeline():
    X, y = _images(40)
    pipe = make_pipeline(
        PretrainedFeatureExtractor(_base(), image_shape=(8, 8), pooling=None), StandardScaler(), Ridge()
    )
    assert_allclose(_reg().fit(X, y).predict(X), pipe.fit(X, y).predict(X), rtol=1e-4, atol=1e-3)


@pytest.mark.slow
def test_targets_are_standardised_inside_and_rescaled_in_the_network():
    """Any affine change of the targets' units changes the predictions alike, training included."""
    X, y = _images(40)
    params = dict(epochs=5, fine_tune_epochs=2, unfreeze=1, learning_rate=0.01)
    small = _reg(**params).fit(X, y)
    large = _reg(**params).fit(X, 1e4 * y - 7.0)
    assert_allclose(large.predict(X), 1e4 * small.predict(X) - 7.0, rtol=1e-3)
    layer = large.model_.get_layer("head").get_layer("destandardize")
    assert_allclose(np.ravel(layer.offset), (1e4 * y - 7.0).mean(), rtol=1e-6)
    assert_allclose(
        large.model_.predict(X.reshape(-1, 8, 8, 1), verbose=0).ravel(), large.predict(X), rtol=1e-5
    )


@pytest.mark.slow
def test_defaults_fit_tiny_images_well():
    """Every training parameter at its default: R^2 on held-out images well above 0."""
    X, y = _images(100)
    reg = FineTunedCNNRegressor(_base(), image_shape=(8, 8), random_state=0).fit(X[:70], y[:70])
    assert reg.score(X[70:], y[70:]) > 0.5
    assert reg.history_["fine_tune"]["stop_reason"] in {"plateau", "budget"}
    # the training loss, in the standardised targets' units: a constant prediction scores 1
    z = ((y[:70] - y[:70].mean()) / y[:70].std())[:, None]
    assert reg._loss(X[:70].reshape(-1, 8, 8, 1), z, np.ones(70)) < 0.7


@pytest.mark.slow
def test_two_targets_pickle_clone_and_export(tmp_path):
    X, y = _images(40)
    Y = np.c_[y, -2.0 * y + 1.0]
    reg = _reg(fine_tune_epochs=1, unfreeze=1).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (40, 2)
    assert r2_score(Y, reg.predict(X)) > 0.9
    again = pickle.loads(pickle.dumps(reg))
    assert_allclose(again.predict(X), reg.predict(X), rtol=1e-5)
    assert "head_" not in clone(reg).__dict__
    path = reg.export(tmp_path / "reg.keras")
    loaded = keras.saving.load_model(path)
    assert_allclose(
        loaded.predict(X.reshape(-1, 8, 8, 1).astype("float32"), verbose=0), reg.predict(X), rtol=1e-5
    )


def test_domain_loss_takes_nan_rows_as_target_and_minus_one_as_a_value():
    Xs, ys = _images(40, seed=0)
    Xt, _ = _images(20, seed=1)
    ys[:5] = -1.0  # a value like any other
    X, y = stack_domains(Xs, ys, Xt + 0.3)
    assert np.isnan(y[40:]).all()
    reg = _reg(domain_loss="coral", fine_tune_epochs=2, unfreeze=1, batch_size=8).fit(X, y)
    assert get_domain_tags(reg).learns_from_unlabeled
    assert np.isfinite(reg.predict(X)).all()
    # score: R^2 of the labeled rows only
    assert reg.score(X, y) == pytest.approx(r2_score(ys, reg.predict(Xs)))
    plain = _reg().fit(Xs, ys)  # -1.0 is a target: every row trains
    assert plain.score(Xs, ys) > 0.9


def test_errors_name_the_target_rows():
    X, y = _images(20)
    y_nan = y.copy()
    y_nan[0] = np.nan  # one unlabeled row
    with pytest.raises(ValueError, match=r"every row of y is unlabeled \(NaN in y, the marker"):
        _reg().fit(X, np.full_like(y, np.nan))
    with pytest.raises(ValueError, match=r"needs at least 2 target rows \(NaN in y"):
        _reg(domain_loss="mmd").fit(X, y_nan)
    with pytest.raises(ValueError, match="requires y to be passed"):
        _reg().fit(X, None)


# scikit-learn's checks with every second pair of rows as target rows (tests/_checks.py), with a
# hidden layer trained by stochastic steps and a domain loss.
DA_CHECKED = with_alternate_domains(FineTunedCNNRegressor)(
    **{
        **CHECKED.get_params(deep=False),
        **{"hidden_units": 8, "domain_loss": "coral", "epochs": 10, "learning_rate": 0.05},
    }
)


@pytest.mark.slow
@parametrize_with_checks([DA_CHECKED], expected_failed_checks=lambda e: e._expected_failed_checks)
def test_sklearn_compatible_with_a_domain_loss(estimator, check):
    check_beyond_input_conversion(estimator, check, "FineTunedCNNRegressor without a domain loss")


def test_training_phases_and_their_budget_warning_name_the_regressor(monkeypatch):
    """The budget ConvergenceWarning of train_phase names the estimator it trains for."""
    from sklearn.exceptions import ConvergenceWarning

    from skltransfer.keras import _recipe, _training

    owners = []

    def recording(*args, **kwargs):
        owners.append(kwargs["owner"])
        return _training.train_phase(*args, **kwargs)

    monkeypatch.setattr(_recipe, "train_phase", recording)
    X, y = _images(40)
    _reg(hidden_units=4, epochs=1).fit(X, y)
    assert owners == ["FineTunedCNNRegressor"]
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    batches = _training.ShuffledBatches(
        np.ones((8, 3), "float32"), np.ones(8, "float32"), np.ones(8, "float32"), 4, np.random.RandomState(0)
    )
    phase = dict(
        optimizer="sgd", lr_schedule="constant", early_stopping=False, patience=10, callbacks=[], verbose=0
    )
    with pytest.warns(ConvergenceWarning, match="^FineTunedCNNRegressor: the epochs='auto' budget"):
        _training.train_phase(
            model,
            batches,
            None,
            steps=[(2, lambda: None)],
            learning_rate=0.1,
            budget="epochs",
            loss="mean_squared_error",
            metrics=(),
            owner="FineTunedCNNRegressor",
            **phase,
        )
