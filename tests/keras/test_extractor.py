"""PretrainedFeatureExtractor: conformance, equivalence with the Keras recipe, inputs, errors."""

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
from sklearn.utils.estimator_checks import check_param_validation, parametrize_with_checks

from skltransfer import PretrainedFeatureExtractor

keras = pytest.importorskip("keras")


def _write_check_model():
    """A one-convolution model taking grayscale images of any size, saved once per session."""
    folder = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    inputs = keras.Input((None, None, 1))
    outputs = keras.layers.Conv2D(
        3, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(0), name="conv"
    )(inputs)
    path = str(Path(folder) / "check.keras")
    keras.Model(inputs, outputs).save(path)
    return path


# Each row of the checks' 2-D data is a 1 x n_features grayscale image.
CHECKED = PretrainedFeatureExtractor(_write_check_model(), image_shape=(1, -1), batch_size=8)


@parametrize_with_checks([CHECKED], expected_failed_checks=lambda e: e._expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_param_validation():
    check_param_validation("PretrainedFeatureExtractor", CHECKED)
