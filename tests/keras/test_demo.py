"""The small source-pretrained CNN behind the demo rows."""

import random

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import ndimage
from sklearn.datasets import load_digits

from skltransfer.keras._demo import EMBEDDING_LAYER, pretrained_cnn_rows, train_small_cnn, train_source_cnn

keras = pytest.importorskip("keras")


def _digits_shift():
    """Source: the digits; target: the same digits rotated by 30 degrees (a stand-in shift)."""
    digits = load_digits()
    images, y = digits.images / 16.0, digits.target
    source, target = np.arange(0, len(y), 2), np.arange(1, len(y), 2)
    rotated = ndimage.rotate(images[target], 30, axes=(2, 1), reshape=False, order=1)
    return images[source].reshape(len(source), -1), y[source], rotated.reshape(len(target), -1), y[target]


def test_train_small_cnn_is_reproducible_without_global_side_effects():
    Xs, ys, _, _ = _digits_shift()
    state = random.getstate()
    first = train_small_cnn(Xs[:96], ys[:96], (8, 8), epochs=1, random_state=0)
    second = train_small_cnn(Xs[:96], ys[:96], (8, 8), epochs=1, random_state=0)
    assert random.getstate() == state
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        assert_array_equal(a, b)
    assert first.get_layer(EMBEDDING_LAYER).output.shape == (None, 64)
    assert first.output.shape == (None, 10)


@pytest.mark.slow
def test_pretrained_cnn_rows(tmp_path):
    Xs, ys, Xt, yt = _digits_shift()
    rng = np.random.RandomState(0)
    few = np.concatenate([rng.choice(np.flatnonzero(yt == c), 5, replace=False) for c in range(10)])
    rest = np.setdiff1d(np.arange(len(yt)), few)
    source_cnn = train_source_cnn(Xs, ys, (8, 8), str(tmp_path), random_state=0)
    rows = pretrained_cnn_rows(source_cnn, Xt[few], yt[few], Xt[rest], yt[rest], (8, 8))
    assert [type(name) for name, _ in rows] == [str] * 3
    scores = dict(rows)
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    # Far above chance (0.1): the reloaded .keras features carry what the source taught.
    assert scores["Source-pretrained CNN (.keras) features + logistic regression (few labels)"] > 0.5


@pytest.mark.slow
def test_deep_adaptation_rows(monkeypatch):
    from skltransfer.keras import _demo

    monkeypatch.setattr(_demo, "ADAPTATION_EPOCHS", 2)
    Xs, ys, Xt, yt = _digits_shift()
    rows = _demo.deep_adaptation_rows(
        Xs[:200], ys[:200], Xt[:200], Xt[200:400], yt[200:400], (8, 8), losses=("mmd", "adversarial")
    )
    assert [name for name, _ in rows] == [
        "CNN trained on source + unlabeled target, no domain loss",
        "Same CNN with a domain loss (multi-kernel MMD)",
        "Same CNN with a domain loss (adversarial, DANN)",
    ]
    assert all(0.0 <= accuracy <= 1.0 for _, accuracy in rows)
