"""LabelShiftClassifier over image files, with a pretrained feature extractor in a pipeline."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from skltransfer import (
    FineTunedCNNClassifier,
    LabelShiftClassifier,
    PretrainedFeatureExtractor,
    stack_domains,
)
from skltransfer._image_folder import load_image_folder
from tests.keras.conftest import make_tiny_model


def test_image_paths_through_an_extractor_pipeline(image_folder, tiny_model_path):
    paths, labels = load_image_folder(image_folder)
    X, y = stack_domains(list(paths), labels, list(paths[[0, 1, 2, 4]]))
    pipe = make_pipeline(PretrainedFeatureExtractor(tiny_model_path, batch_size=8), LogisticRegression())
    clf = LabelShiftClassifier(pipe, method="bbse", calibration="ts", cv=3).fit(X, y)
    # The same correction on the extracted features: the extractor has no data-dependent state.
    features = PretrainedFeatureExtractor(tiny_model_path, batch_size=8).fit_transform(X)
    reference = LabelShiftClassifier(LogisticRegression(), method="bbse", calibration="ts", cv=3)
    reference.fit(features, y)
    assert_allclose(clf.target_priors_, reference.target_priors_, atol=1e-6)
    assert_allclose(
        clf.predict_proba(list(paths)), reference.predict_proba(features[: len(paths)]), atol=1e-6
    )
    assert clf.classes_.tolist() == sorted(set(labels))
    assert not hasattr(clf, "n_features_in_")
    assert np.isclose(clf.target_priors_.sum(), 1.0)


def _halves(n_dark, n_bright, seed):
    """8x8 grayscale images whose class brightens one half: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    y = np.array(["dark"] * n_dark + ["bright"] * n_bright)
    X = rng.random((len(y), 8, 8))
    X[y == "bright", :4] += 2.0
    return X, y


@pytest.mark.slow
def test_fine_tuned_cnn_with_string_labels_and_shifted_priors():
    X, y = _halves(12, 12, seed=0)
    X_target, y_target = _halves(27, 3, seed=1)
    cnn = FineTunedCNNClassifier(
        make_tiny_model(1, head=False),
        image_shape=(8, 8),
        pooling=None,
        epochs=3,
        fine_tune_epochs=0,
        learning_rate=0.05,
        random_state=0,
    )
    X_fit, y_fit = stack_domains(X, y, X_target)
    clf = LabelShiftClassifier(cnn, cv=2).fit(X_fit, y_fit)
    assert clf.classes_.tolist() == ["bright", "dark"]
    assert clf.target_priors_[1] > 0.7
    assert set(clf.predict(X_target)) <= {"bright", "dark"}
    assert np.mean(clf.predict(X_target) == y_target) >= np.mean(clf.estimator_.predict(X_target) == y_target)
