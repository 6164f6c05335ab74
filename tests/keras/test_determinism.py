"""Same seed, same answer: each Keras estimator fitted in two fresh processes predicts the same."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("tensorflow")

# Fits every Keras estimator with random_state=0 on small data and prints one line per
# estimator: its name and the bytes of its predictions, in hexadecimal.
_FITS = """
import numpy as np, keras
from skltransfer import (FineTunedCNNClassifier, FineTunedCNNRegressor, PretrainedFeatureExtractor,
                         SHOTClassifier, TENTClassifier)

def base():  # no seeds of its own: weights=None draws them from random_state
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.BatchNormalization()(x)
    return keras.Model(inputs, keras.layers.Conv2D(6, 3, padding="same")(x))

rng = np.random.RandomState(0)
X, y = rng.rand(40, 64), np.repeat([0, 1], 20)
X[y == 1, :8] += 1.0
common = dict(image_shape=(8, 8), weights=None, random_state=0)
tuned = dict(common, epochs=2, fine_tune_epochs=1, unfreeze=1.0, hidden_units=4, dropout=0.3, batch_size=8,
             augmentation=["flip"])
clf = FineTunedCNNClassifier(base(), **tuned).fit(X, y)
fitted = {
    "FineTunedCNNClassifier": clf.predict_proba(X),
    "FineTunedCNNRegressor": FineTunedCNNRegressor(base(), **tuned).fit(X, X[:, :32].mean(1)).predict(X),
    "PretrainedFeatureExtractor": PretrainedFeatureExtractor(base(), **common).fit(X).transform(X),
    "SHOTClassifier": SHOTClassifier(clf, epochs=2, batch_size=8, random_state=0).fit(X).predict_proba(X),
    "TENTClassifier": TENTClassifier(clf, epochs=2, batch_size=8, random_state=0).fit(X).predict_proba(X),
}
for name, predictions in fitted.items():
    print(name, np.ascontiguousarray(predictions, dtype=np.float64).tobytes().hex())
"""


def _predictions_of_two_processes() -> tuple[dict, dict]:
    """The printed predictions of two fresh processes, run at the same time."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _FITS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        results.append(dict(line.split() for line in stdout.splitlines()))
    return results[0], results[1]


@pytest.mark.slow
def test_the_same_random_state_gives_the_same_predictions_in_two_fresh_processes():
    first, second = _predictions_of_two_processes()
    assert sorted(first) == [
        "FineTunedCNNClassifier",
        "FineTunedCNNRegressor",
        "PretrainedFeatureExtractor",
        "SHOTClassifier",
        "TENTClassifier",
    ]
    assert first == second  # bit for bit
