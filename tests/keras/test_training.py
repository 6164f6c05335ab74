"""Training batches: each epoch's rows from its number; the ``tf.data`` pipeline over every epoch."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras
import tensorflow as tf

from skltransfer.keras._training import ShuffledBatches, train_phase

# a phase of plain SGD at a constant rate on a mean squared error
SGD_PHASE = dict(
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


def epoch_batches(batches, epoch):
    """Epoch ``epoch``'s batches of a :class:`ShuffledBatches`, gathered in NumPy from its rows."""
    rows, target_rows = batches.epoch_rows(epoch)
    result = []
    for start in range(0, len(rows), batches.batch_size):
        part = rows[start : start + batches.batch_size]
        x = batches.x[part]
        if target_rows is not None:
            x = (x, batches.target[target_rows[start : start + batches.batch_size]])
        result.append((x, batches.y[part], batches.sample_weight[part]))
    return result


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
def test_the_dataset_gives_each_epochs_batches_and_one_iterator_serves_every_epoch(n, batch_size, n_target):
    batches = _batches(n, batch_size, n_target)
    iterator = iter(batches.as_dataset(start_epoch=2))
    for epoch in range(2, 6):
        expected = epoch_batches(batches, epoch)
        assert len(expected) == len(batches)
        for expected_batch in expected:
            got = _flat(next(iterator))
            for part, expected_part in zip(got, _flat(expected_batch), strict=True):
                assert part.dtype == expected_part.dtype
                np.testing.assert_array_equal(part, expected_part)


@pytest.mark.parametrize("n, batch_size, n_target", [(10, 4, None), (3, 4, None), (10, 4, 7), (37, 5, 100)])
def test_each_epoch_shuffles_every_row_and_the_target_rows_come_in_turn(n, batch_size, n_target):
    batches = _batches(n, batch_size, n_target)
    epochs = [batches.epoch_rows(epoch) for epoch in range(6)]
    if n_target is None:
        for rows, target_rows in epochs:
            assert sorted(rows) == list(range(n)) and target_rows is None
    else:  # full batches; the target rows: every row once before any row twice, across epochs
        count = len(batches) * batch_size
        assert all(len(rows) == len(set(rows)) == count for rows, _ in epochs)
        stream = np.concatenate([target_rows for _, target_rows in epochs])
        for start in range(0, len(stream) - n_target + 1, n_target):
            assert sorted(stream[start : start + n_target]) == list(range(n_target))
    assert len({tuple(rows) for rows, _ in epochs}) > 1  # a new order every epoch
    again = _batches(n, batch_size, n_target)  # the same seed, the same epochs
    for (rows, target_rows), epoch in zip(epochs, range(6), strict=True):
        rows_again, target_again = again.epoch_rows(epoch)
        np.testing.assert_array_equal(rows, rows_again)
        assert (target_rows is None) == (target_again is None)
        if target_rows is not None:
            np.testing.assert_array_equal(target_rows, target_again)


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
            **SGD_PHASE,
        )
        return history, model.get_weights()

    (history, weights), (_, again) = trained(), trained()
    assert history["steps"] == [3, 6, 9] and len(history["loss"]) == 3
    for w, w_again in zip(weights, again, strict=True):
        np.testing.assert_array_equal(w, w_again)


@pytest.mark.parametrize("n_target", [None, 7])
def test_a_phase_trains_as_train_on_batch_over_the_epochs_batches(n_target):
    """Reference: the same model, optimizer and random state, stepped by ``train_on_batch`` over
    the batches of every epoch in turn (NumPy arrays, no pipeline)."""
    rng = np.random.RandomState(0)
    x, y = rng.rand(20, 3).astype("float32"), rng.rand(20, 1).astype("float32")
    target = None if n_target is None else rng.rand(n_target, 3).astype("float32")

    def model_and_batches():
        keras.utils.set_random_seed(0)
        inputs = [keras.Input((3,)), keras.Input((3,))]
        # the target batch moves the output through a penalty-free path: the weights depend on its rows
        merged = keras.layers.Concatenate()(inputs) if target is not None else inputs[0]
        model = keras.Model(inputs if target is not None else inputs[0], keras.layers.Dense(1)(merged))
        batches = ShuffledBatches(x, y, np.ones(20, "float32"), 8, np.random.RandomState(1), target=target)
        return model, batches

    model, batches = model_and_batches()
    train_phase(
        model,
        batches,
        None,
        steps=[(2, lambda: None), (4, lambda: None)],
        **SGD_PHASE,
    )
    reference, reference_batches = model_and_batches()
    reference.compile(optimizer=keras.optimizers.SGD(0.1), loss="mean_squared_error")
    for epoch in range(4):
        for inputs, targets, weights in epoch_batches(reference_batches, epoch):
            reference.train_on_batch(inputs, targets, sample_weight=weights)
    for w, w_reference in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(w, w_reference, rtol=1e-6, atol=1e-7)


class StepCountingModel(keras.Model):
    """A functional model that counts the traces of its training step."""

    traces = 0

    def train_step(self, data):
        self.traces += 1
        return super().train_step(data)


def test_a_phase_traces_its_step_once_and_trains_as_model_fit():
    """Keras creates the optimizer's slots and the metrics' counts while tracing the first step,
    and ``tf.function`` then traces it again; the phase creates them first. Reference: plain
    ``model.fit`` of the same model on the same batches (its two traces train the same way)."""
    rng = np.random.RandomState(0)
    x, y = rng.rand(30, 4).astype("float32"), rng.randint(0, 3, 30)
    phase = {**SGD_PHASE, "optimizer": "adam", "loss": "sparse_categorical_crossentropy"}
    phase["metrics"] = ("accuracy",)

    def model_and_batches():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((4,))
        model = StepCountingModel(inputs, keras.layers.Dense(3, activation="softmax")(inputs))
        return model, ShuffledBatches(x, y, rng.rand(30).astype("float32"), 8, np.random.RandomState(1))

    model, batches = model_and_batches()
    history = train_phase(model, batches, None, steps=[(3, lambda: None)], **phase)
    assert model.traces == 1
    reference, _ = model_and_batches()
    reference.compile(optimizer=keras.optimizers.Adam(0.1), loss=phase["loss"], metrics=["accuracy"])
    expected = reference.fit(
        batches.as_dataset(), steps_per_epoch=len(batches), epochs=3, shuffle=False, verbose=0
    )
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(history[name], expected.history[name], rtol=1e-6)
    for w, w_reference in zip(model.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(w, w_reference, rtol=1e-6, atol=1e-7)
