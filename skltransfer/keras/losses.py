"""Domain losses on the features of a source batch and a target batch (deep domain adaptation).

Three ways to make a network's features alike on two domains, each a differentiable function
of two feature batches written in ``keras.ops``:

- :func:`mmd_loss`: the multi-kernel maximum mean discrepancy of DAN (Long et al. 2015), a
  sum of Gaussian kernels whose bandwidths span a geometric ladder around the batches'
  mean squared distance;
- :func:`coral_loss`: Deep CORAL (Sun and Saenko 2016), the squared Frobenius distance of
  the two feature covariances;
- adversarial (DANN, Ganin et al. 2016): a domain classifier learns to tell the batches
  apart while the features receive its gradient reversed (:func:`gradient_reversal`).

:func:`domain_loss_layer` wraps them in a Keras layer that adds the loss to the training
objective, weighted by a warm-up schedule (:func:`warmup_factor`). Classes that subclass Keras
types are created on first use, so importing this module does not import TensorFlow.
"""

from __future__ import annotations

import functools
import math

from ._base import require_keras, scoped_seed

__all__ = [
    "AUTO_WEIGHTS",
    "DOMAIN_LOSSES",
    "WARMUP_SCHEDULES",
    "coral_loss",
    "domain_loss_layer",
    "gradient_reversal",
    "mmd_loss",
    "warmup_callback",
    "warmup_factor",
]

_PURPOSE = "FineTunedCNNClassifier"

#: The domain losses by name.
DOMAIN_LOSSES = ("mmd", "coral", "adversarial")

#: The weight of each domain loss when ``domain_loss_weight="auto"``.
AUTO_WEIGHTS = {"mmd": 1.0, "coral": 1.0, "adversarial": 0.1}

#: Warm-up schedules of the domain loss's weight over training progress ``p`` in [0, 1].
WARMUP_SCHEDULES = ("constant", "linear", "sigmoid")


def warmup_factor(progress: float, schedule: str) -> float:
    """The factor in [0, 1] that multiplies the domain loss at training progress ``progress``.

    Parameters
    ----------
    progress : float
        Fraction of the training steps done, in [0, 1].
    schedule : {"constant", "linear", "sigmoid"}
        ``"constant"``: 1 throughout. ``"linear"``: ``p``. ``"sigmoid"``: the schedule of
        Ganin et al. (2016), ``2 / (1 + exp(-10 p)) - 1``, which rises from 0 to 0.76 within
        the first 20 % of training, so that the domain term does not act on the random
        features of the first steps.

    Returns
    -------
    factor : float

    Examples
    --------
    >>> from skltransfer.keras.losses import warmup_factor
    >>> warmup_factor(0.0, "sigmoid"), round(warmup_factor(1.0, "sigmoid"), 4), warmup_factor(0.5, "linear")
    (0.0, 0.9999, 0.5)
    """
    p = min(max(float(progress), 0.0), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return p
    if schedule == "sigmoid":
        return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0
    raise ValueError(f"schedule must be one of {WARMUP_SCHEDULES}; got {schedule!r}.")


def mmd_loss(source, target, *, kernel_mul: float = 2.0, kernel_num: int = 5):
    """Multi-kernel MMD² between two feature batches (biased V-statistic).

    The kernel is the sum of ``kernel_num`` Gaussian kernels ``exp(-||a - b||² / s_k)`` with
    ``s_k = s * kernel_mul ** (k - kernel_num // 2)``, where ``s`` is the mean squared distance
    between the rows of both batches (held constant in the gradient), as in DAN.

    Parameters
    ----------
    source, target : tensor of shape (n, d) and (m, d)
    kernel_mul : float, default=2.0
        Ratio of successive bandwidths.
    kernel_num : int, default=5
        Number of kernels.

    Returns
    -------
    loss : scalar tensor
        ``mean K(s, s') + mean K(t, t') - 2 mean K(s, t)``; 0 for identical batches.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import mmd_loss
    >>> a = np.random.RandomState(0).normal(size=(64, 3)).astype("float32")
    >>> float(mmd_loss(a, a)) == 0.0, float(mmd_loss(a, a + 2.0)) > 0.5
    (True, True)
    """
    ops = require_keras(_PURPOSE).ops
    source, target = ops.convert_to_tensor(source), ops.convert_to_tensor(target)
    n = ops.shape(source)[0]
    both = ops.concatenate([source, target], axis=0)
    squared = ops.sum(both * both, axis=1)
    distances = ops.maximum(
        squared[:, None] + squared[None, :] - 2.0 * ops.matmul(both, ops.transpose(both)), 0.0
    )
    total = ops.cast(ops.shape(both)[0], distances.dtype)
    scale = ops.stop_gradient(ops.sum(distances) / (total * total - total))
    scale = ops.maximum(scale, 1e-12)
    kernel = 0.0
    for k in range(kernel_num):
        kernel = kernel + ops.exp(-distances / (scale * kernel_mul ** (k - kernel_num // 2)))
    ss, tt, st = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
    return ops.mean(ss) + ops.mean(tt) - 2.0 * ops.mean(st)


def coral_loss(source, target):
    """Deep CORAL loss: ``||C_s - C_t||_F² / (4 d²)`` for the feature covariances ``C``.

    Parameters
    ----------
    source, target : tensor of shape (n, d) and (m, d)
        At least two rows each (covariances use ``n - 1``).

    Returns
    -------
    loss : scalar tensor

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import coral_loss
    >>> a = np.random.RandomState(0).normal(size=(500, 2)).astype("float32")
    >>> round(float(coral_loss(a, a + 5.0)), 6), round(float(coral_loss(a, 2.0 * a)), 2)
    (0.0, 1.07)
    """
    ops = require_keras(_PURPOSE).ops

    def covariance(x):
        x = ops.convert_to_tensor(x)
        rows = ops.cast(ops.shape(x)[0], x.dtype)
        centred = x - ops.mean(x, axis=0, keepdims=True)
        return ops.matmul(ops.transpose(centred), centred) / (rows - 1.0)

    cs, ct = covariance(source), covariance(target)
    d = ops.cast(ops.shape(cs)[0], cs.dtype)
    return ops.sum(ops.square(cs - ct)) / (4.0 * d * d)


def gradient_reversal(x, coefficient):
    """Identity forward; the gradient multiplied by ``-coefficient`` backward (DANN's layer).

    Parameters
    ----------
    x : tensor
    coefficient : float or scalar tensor

    Returns
    -------
    tensor
        Equal to ``x``.
    """
    ops = require_keras(_PURPOSE).ops
    # forward: (1 + c) x - c x = x; backward: only the -c x term carries a gradient
    return ops.stop_gradient((1.0 + coefficient) * x) - coefficient * x


def domain_loss_layer(
    kind: str, *, weight: float, discriminator_units=(64,), seed: int = 0, name="domain_loss"
):
    """A layer ``[source_features, target_features] -> source_features`` adding a domain loss.

    While training, the layer adds ``weight * factor * loss`` to the model's losses, where
    ``factor`` is its non-trainable variable ``factor`` (the warm-up, set by the caller, e.g.
    per batch from :func:`warmup_factor`) and ``loss`` is :func:`mmd_loss` or
    :func:`coral_loss` of the two batches. With ``kind="adversarial"`` the layer owns a domain
    classifier (ReLU layers of ``discriminator_units``, then one logit) that learns to tell
    source (1) from target (0) rows by binary cross-entropy weighted by ``weight``, while the
    features receive its gradient reversed and scaled by ``factor``. At inference the layer
    adds nothing and returns the source features unchanged.

    Parameters
    ----------
    kind : {"mmd", "coral", "adversarial"}
    weight : float
        Weight of the domain term in the training objective.
    discriminator_units : sequence of int, default=(64,)
        Hidden layers of the domain classifier (adversarial only).
    seed : int, default=0
        Seeds the domain classifier's initial weights.
    name : str, default="domain_loss"

    Returns
    -------
    layer : keras.layers.Layer
    """
    if kind not in DOMAIN_LOSSES:
        raise ValueError(f"domain_loss must be one of {DOMAIN_LOSSES} or None; got {kind!r}.")
    with scoped_seed(seed):
        return _domain_loss_class()(
            kind, weight=weight, discriminator_units=tuple(discriminator_units), name=name
        )


@functools.cache
def _domain_loss_class():
    keras = require_keras(_PURPOSE)
    ops = keras.ops

    class DomainLoss(keras.layers.Layer):
        def __init__(self, kind, weight, discriminator_units, **kwargs):
            super().__init__(**kwargs)
            self.kind, self.weight = kind, float(weight)
            self.factor = self.add_weight(shape=(), initializer="zeros", trainable=False, name="factor")
            self.discriminator = None
            if kind == "adversarial":
                hidden = [keras.layers.Dense(units, activation="relu") for units in discriminator_units]
                self.discriminator = keras.Sequential([*hidden, keras.layers.Dense(1)], name="discriminator")

        def build(self, input_shape):
            if self.discriminator is not None:
                self.discriminator.build(input_shape[0])

        def call(self, inputs, training=None):
            source, target = inputs
            if training:
                self.add_loss(self._loss(source, target))
            return source

        def _loss(self, source, target):
            if self.kind == "mmd":
                return self.weight * self.factor * mmd_loss(source, target)
            if self.kind == "coral":
                return self.weight * self.factor * coral_loss(source, target)
            both = gradient_reversal(ops.concatenate([source, target], axis=0), self.factor)
            logits = ops.squeeze(self.discriminator(both), axis=-1)
            labels = ops.concatenate([ops.ones_like(source[:, 0]), ops.zeros_like(target[:, 0])], axis=0)
            return self.weight * ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))

        def compute_output_shape(self, input_shape):
            return input_shape[0]

    return DomainLoss


def warmup_callback(layer, schedule: str, total_steps: int):
    """A Keras callback that sets ``layer.factor`` before every training batch.

    The factor is ``warmup_factor(step / total_steps, schedule)``, ``step`` counting the
    batches trained so far by every ``fit`` the callback takes part in, so the warm-up runs
    once over all training phases.

    Parameters
    ----------
    layer : layer made by :func:`domain_loss_layer`
    schedule : {"constant", "linear", "sigmoid"}
    total_steps : int
        Number of batches of the whole training.

    Returns
    -------
    callback : keras.callbacks.Callback
    """
    return _warmup_class()(layer, schedule, max(int(total_steps), 1))


@functools.cache
def _warmup_class():
    keras = require_keras(_PURPOSE)

    class DomainLossWarmup(keras.callbacks.Callback):
        def __init__(self, layer, schedule, total_steps):
            super().__init__()
            self.layer, self.schedule, self.total_steps, self.step = layer, schedule, total_steps, 0

        def on_train_batch_begin(self, batch, logs=None):
            self.layer.factor.assign(warmup_factor(self.step / self.total_steps, self.schedule))
            self.step += 1

    return DomainLossWarmup
