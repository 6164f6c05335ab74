"""The training phases' batches: the ``tf.data`` pipeline gives the batches of the ``PyDataset``."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras
import tensorflow as tf

from skltransfer.keras._training import ShuffledBatches, train_phase


def _batches(n, batch_size, n_target, seed=3):
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    target = (
        None if n_target is None else 1000 + np.arange(2 * n_target, dtype=np.float32).reshape(n_target, 2)
    )
    return ShuffledBatches(
        x, np.arange(n), np.linspace(0, 1, n), batch_size, np.random.RandomState(seed), target=target
    )


def _flat(batch):
    return [np.asarray(part) for part in tf.nest.flatten(batch)]


@pytest.mark.parametrize(
    "n, batch_size, n_target",
    [(10, 4, None), (8, 4, None), (3, 4, None), (10, 4, 7), (3, 4, 5), (37, 5, 100)],
)
def test_the_dataset_gives_the_batches_of_indexing_epoch_after_epoch(n, batch_size, n_target):
    indexed, piped = _batches(n, batch_size, n_target), _batches(n, batch_size, n_target)
    dataset = piped.as_dataset()
    assert int(dataset.cardinality()) == len(piped)
    for _ in range(3):
        expected = [_flat(indexed[i]) for i in range(len(indexed))]
        indexed.on_epoch_end()
        got = [_flat(batch) for batch in dataset]
        assert len(got) == len(expected)
        for parts, expected_parts in zip(got, expected, strict=True):
            for part, expected_part in zip(parts, expected_parts, strict=True):
                assert part.dtype == expected_part.dtype
                np.testing.assert_array_equal(part, expected_part)


def test_a_phase_trains_on_the_dataset_and_counts_its_steps():
    rng = np.random.RandomState(0)
    x = rng.rand(20, 3).astype("float32")
    y = x.sum(1, keepdims=True)

    def trained():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        batches = ShuffledBatches(x, y, np.ones(20, "float32"), 8, np.random.RandomState(1))
        history = train_phase(
            model,
            batches,
            None,
            steps=[(1, lambda: None), (3, lambda: None)],
            optimizer="sgd",
            learning_rate=0.1,
            lr_schedule="constant",
            early_stopping=False,
            patience=10,
            callbacks=[],
            verbose=0,
            loss="mean_squared_error",
            metrics=(),
            owner="test",
        )
        return history, model.get_weights()

    (history, weights), (_, again) = trained(), trained()
    assert history["steps"] == [3, 6, 9] and len(history["loss"]) == 3
    for w, w_again in zip(weights, again, strict=True):
        np.testing.assert_array_equal(w, w_again)


@pytest.mark.parametrize("n_target", [None, 7])
def test_a_phase_trains_as_on_the_py_dataset(monkeypatch, n_target):
    """The same random state gives the same weights through the pipeline as through the PyDataset."""
    rng = np.random.RandomState(0)
    x, y = rng.rand(20, 3).astype("float32"), rng.rand(20, 1).astype("float32")
    target = None if n_target is None else rng.rand(n_target, 3).astype("float32")

    def trained():
        keras.utils.set_random_seed(0)
        inputs = [keras.Input((3,)), keras.Input((3,))]
        # the target batch moves the output through a penalty-free path: the weights depend on its rows
        merged = keras.layers.Concatenate()(inputs) if target is not None else inputs[0]
        model = keras.Model(inputs if target is not None else inputs[0], keras.layers.Dense(1)(merged))
        batches = ShuffledBatches(x, y, np.ones(20, "float32"), 8, np.random.RandomState(1), target=target)
        train_phase(
            model,
            batches,
            None,
            steps=[(2, lambda: None), (4, lambda: None)],
            optimizer="sgd",
            learning_rate=0.1,
            lr_schedule="constant",
            early_stopping=False,
            patience=10,
            callbacks=[],
            verbose=0,
            loss="mean_squared_error",
            metrics=(),
            owner="test",
        )
        return model.get_weights()

    piped = trained()
    monkeypatch.setattr(ShuffledBatches, "as_dataset", lambda self: self)
    for w, w_indexed in zip(piped, trained(), strict=True):
        np.testing.assert_array_equal(w, w_indexed)
