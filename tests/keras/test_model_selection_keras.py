"""LOOCV and bootstrap with the Keras estimators (the core ones: tests/test_model_selection.py)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut, cross_val_score

from skltransfer import FineTunedCNNClassifier, PretrainedFeatureExtractor, make_da_pipeline, stack_domains
from skltransfer.model_selection import BootstrapSplit, DomainAwareSplit, bootstrap_632_score
from tests.keras.conftest import make_tiny_model


def _images(n_source=8, n_target=4, seed=0):
    """8x8 grayscale rows whose class brightens one half; the target is dimmer."""
    rng = np.random.default_rng(seed)
    ys = np.tile([0, 1], n_source // 2)
    Xs = rng.random((n_source, 8, 8))
    Xs[ys == 1, :4] += 1.0
    Xt = 0.7 * rng.random((n_target, 8, 8))
    Xt[np.tile([0, 1], n_target // 2) == 1, :4] += 0.7
    return stack_domains(Xs.reshape(n_source, 64), ys, Xt.reshape(n_target, 64))


MODELS = [
    (
        "PretrainedFeatureExtractor",
        lambda: make_da_pipeline(
            PretrainedFeatureExtractor(make_tiny_model(1, None, head=False), image_shape=(8, 8)),
            LogisticRegression(),
        ),
    ),
    (
        "FineTunedCNNClassifier",
        lambda: make_da_pipeline(
            FineTunedCNNClassifier(
                make_tiny_model(1, None, head=False),
                image_shape=(8, 8),
                epochs=1,
                fine_tune_epochs=0,
                batch_size=8,
                random_state=0,
            )
        ),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "make_model"), MODELS, ids=[n for n, _ in MODELS])
def test_loocv_and_bootstrap_with_keras_estimators(name, make_model):
    X, y = _images()
    model = make_model()
    loo = cross_val_score(model, X, y, cv=DomainAwareSplit(LeaveOneOut()), error_score="raise")
    assert loo.shape == (8,) and np.all(np.isfinite(loo))
    boot = cross_val_score(model, X, y, cv=BootstrapSplit(2, random_state=0), error_score="raise")
    assert np.all(np.isfinite(boot))
    assert np.isfinite(bootstrap_632_score(model, X, y, n_splits=2, random_state=0))
