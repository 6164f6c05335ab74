"""Domain and target losses of deep domain adaptation, each a Keras layer on two batches.

Two families of objectives are added to a network's supervised loss while it trains on a
labeled source batch and an unlabeled target batch.

Domain losses make the network's features alike on the two domains, each a differentiable
function of two feature batches written in ``keras.ops``:

- :func:`mmd_loss`: the multi-kernel maximum mean discrepancy of DAN (Long et al. 2015), a
  sum of Gaussian kernels whose bandwidths span a geometric ladder around the batches'
  mean squared distance;
- :func:`coral_loss`: Deep CORAL (Sun and Saenko 2016), the squared Frobenius distance of
  the two feature covariances;
- adversarial (DANN, Ganin et al. 2016): a domain classifier learns to tell the batches
  apart while the features receive its gradient reversed (:func:`gradient_reversal`);
- conditional adversarial (CDAN+E, Long et al. 2018): the domain classifier sees the
  features conditioned on the predictions (:func:`multilinear_map`), its rows weighted by
  the certainty of the predictions (:func:`conditional_adversarial_loss`).

Each is one Keras layer class, :class:`MMDLoss`, :class:`CORALLoss`,
:class:`AdversarialLoss` and :class:`ConditionalAdversarialLoss`, on the base
:class:`DomainLoss`: called on ``[source_features, target_features]`` (CDAN also on the two
batches' class probabilities), it returns the source features and, while training, adds its
loss to the model's. :func:`domain_loss_layer` makes one by name (:data:`DOMAIN_LOSSES`).

Target losses shape the predictions on the target batch alone, each a function of the class
probabilities (or logits) of one batch:

- :func:`mcc_loss`: Minimum Class Confusion (Jin et al. 2020), the confusion between
  classes of the certainty-weighted target predictions;
- :func:`information_maximization_loss`: the information maximisation of RIM (Krause et al.
  2010) and SHOT (Liang et al. 2020), confident predictions that are diverse over the batch;
- :func:`self_training_loss`: FixMatch's self-training (Sohn et al. 2020), confident
  pseudo-labels of a weakly augmented view taught to a strongly augmented one.

Each is one Keras layer class, :class:`MCCLoss`, :class:`InformationMaximizationLoss` and
:class:`SelfTrainingLoss`, on the base :class:`TargetLoss`: called on ``[source_outputs,
target_outputs]`` (the head's class probabilities; the self-training loss takes the two
views of the target batch), it returns the source outputs and, while training, adds its weighted
loss to the model's. :func:`target_loss_layer` makes one by name (:data:`TARGET_LOSSES`).

Every layer's term is scaled by a warm-up factor that :class:`DomainLossWarmup` sets before
every batch (:func:`warmup_factor`): the loss itself for the discrepancies and the target
losses, the reversed gradient for the adversarial losses.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from ._runtime import scoped_seed

__all__ = [
    "AUTO_TARGET_WEIGHTS",
    "AUTO_WEIGHTS",
    "DOMAIN_LOSSES",
    "TARGET_LOSSES",
    "WARMUP_SCHEDULES",
    "AdversarialLoss",
    "CORALLoss",
    "ConditionalAdversarialLoss",
    "DomainLoss",
    "DomainLossWarmup",
    "InformationMaximizationLoss",
    "MCCLoss",
    "MMDLoss",
    "SelfTrainingLoss",
    "TargetLoss",
    "conditional_adversarial_loss",
    "coral_loss",
    "domain_loss_layer",
    "gradient_reversal",
    "information_maximization_loss",
    "mcc_loss",
    "mmd_loss",
    "multilinear_map",
    "self_training_loss",
    "target_loss_layer",
    "warmup_factor",
]

#: Warm-up schedules of the domain loss's weight over training progress ``p`` in [0, 1].
WARMUP_SCHEDULES = ("constant", "linear", "sigmoid")

# probabilities are clipped to [_EPSILON, 1] before their logarithm
_EPSILON = 1e-7


def warmup_factor(progress: float, schedule: str) -> float:
    """Return the factor in [0, 1] that multiplies the domain loss at training progress ``progress``.

    The warm-up keeps the domain or target term from acting on the random features and
    predictions of the first steps: :class:`DomainLossWarmup` assigns this factor to the
    loss layer's ``factor`` before every training batch.

    Parameters
    ----------
    progress : float
        Fraction of the training steps done, in [0, 1].
    schedule : {"constant", "linear", "sigmoid"}
        ``"constant"``: 1 throughout. ``"linear"``: :math:`p`. ``"sigmoid"``: the schedule of
        Ganin et al. (2016), :math:`2 / (1 + e^{-10 p}) - 1`, which rises from 0 to 0.76 within
        the first 20 % of training, so that the domain term does not act on the random
        features of the first steps.

    Returns
    -------
    factor : float
        The warm-up factor.

    See Also
    --------
    DomainLossWarmup : The callback that sets a loss layer's factor with this schedule.

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


def _entropy(proba):
    """Shannon entropy (natural log) of each row of ``proba``, probabilities clipped at _EPSILON."""
    return -ops.sum(proba * ops.log(ops.clip(proba, _EPSILON, 1.0)), axis=-1)


def _certainty_weights(proba):
    """``1 + exp(-H(p_i))`` per row, held constant in the gradient (CDAN+E's and MCC's weights)."""
    return ops.stop_gradient(1.0 + ops.exp(-_entropy(proba)))


def mmd_loss(source, target, *, kernel_mul: float = 2.0, kernel_num: int = 5):
    r"""Compute the multi-kernel MMD² between two feature batches (biased V-statistic).

    The kernel is the sum of ``kernel_num`` Gaussian kernels
    :math:`\exp(-\lVert a - b \rVert^2 / s_k)` with
    :math:`s_k = s \cdot m^{k - \lfloor n / 2 \rfloor}` (:math:`m` is ``kernel_mul``, :math:`n`
    ``kernel_num``), where :math:`s` is the mean squared distance
    between the rows of both batches (held constant in the gradient), as in DAN [1]_.

    Parameters
    ----------
    source : tensor of shape (n, d)
        Features of the source batch.
    target : tensor of shape (m, d)
        Features of the target batch.
    kernel_mul : float, default=2.0
        Ratio of successive bandwidths.
    kernel_num : int, default=5
        Number of kernels.

    Returns
    -------
    loss : scalar tensor
        ``mean K(s, s') + mean K(t, t') - 2 mean K(s, t)``; 0 for identical batches.

    See Also
    --------
    MMDLoss : The layer that adds this loss to a model's.
    skltransfer.metrics.maximum_mean_discrepancy : The MMD of NumPy arrays, with its tests.

    References
    ----------
    .. [1] M. Long, Y. Cao, J. Wang and M. I. Jordan, "Learning Transferable Features with
       Deep Adaptation Networks", ICML 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import mmd_loss
    >>> a = np.random.RandomState(0).normal(size=(64, 3)).astype("float32")
    >>> float(mmd_loss(a, a)) == 0.0, float(mmd_loss(a, a + 2.0)) > 0.5
    (True, True)
    """
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
    r"""Compute the Deep CORAL loss :math:`\|C_s - C_t\|_F^2 / (4 d^2)` of the feature covariances.

    Deep CORAL [1]_ aligns the second-order statistics of the two batches: a shift of the
    means leaves the loss unchanged, a different covariance raises it.

    Parameters
    ----------
    source : tensor of shape (n, d)
        Features of the source batch, at least two rows (covariances use ``n - 1``).
    target : tensor of shape (m, d)
        Features of the target batch, at least two rows.

    Returns
    -------
    loss : scalar tensor
        The squared Frobenius distance of the covariances, divided by ``4 d²``.

    See Also
    --------
    CORALLoss : The layer that adds this loss to a model's.
    skltransfer.alignment.CORALAligner : CORAL as a transformer of fixed features.

    References
    ----------
    .. [1] B. Sun and K. Saenko, "Deep CORAL: Correlation Alignment for Deep Domain
       Adaptation", ECCV 2016 Workshops.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import coral_loss
    >>> a = np.random.RandomState(0).normal(size=(500, 2)).astype("float32")
    >>> round(float(coral_loss(a, a + 5.0)), 6), round(float(coral_loss(a, 2.0 * a)), 2)
    (0.0, 1.07)
    """

    def covariance(x):
        x = ops.convert_to_tensor(x)
        rows = ops.cast(ops.shape(x)[0], x.dtype)
        centred = x - ops.mean(x, axis=0, keepdims=True)
        return ops.matmul(ops.transpose(centred), centred) / (rows - 1.0)

    cs, ct = covariance(source), covariance(target)
    d = ops.cast(ops.shape(cs)[0], cs.dtype)
    return ops.sum(ops.square(cs - ct)) / (4.0 * d * d)


def gradient_reversal(x, coefficient):
    """Pass ``x`` unchanged forward and its gradient multiplied by ``-coefficient`` backward.

    The gradient reversal layer of DANN [1]_: placed between the features and a domain
    classifier, it lets the classifier minimise its loss while the features, receiving the
    reversed gradient, maximise it.

    Parameters
    ----------
    x : tensor
        The input.
    coefficient : float or scalar tensor
        Scale of the reversed gradient (the warm-up factor of the adversarial losses).

    Returns
    -------
    tensor
        Equal to ``x``.

    See Also
    --------
    AdversarialLoss : DANN's domain classifier behind this reversal.
    ConditionalAdversarialLoss : CDAN's conditional domain classifier behind it.

    References
    ----------
    .. [1] Y. Ganin, E. Ustinova, H. Ajakan, P. Germain, H. Larochelle, F. Laviolette,
       M. Marchand and V. Lempitsky, "Domain-Adversarial Training of Neural Networks",
       JMLR 17(59), 2016.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from skltransfer.keras.losses import gradient_reversal
    >>> x = tf.constant([1.0, 2.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = gradient_reversal(x, 0.5)
    >>> y.numpy().tolist(), tape.gradient(y, x).numpy().tolist()
    ([1.0, 2.0], [-0.5, -0.5])
    """
    # forward: (1 + c) x - c x = x; backward: only the -c x term carries a gradient
    return ops.stop_gradient((1.0 + coefficient) * x) - coefficient * x


def multilinear_map(features, proba, random_matrices=None):
    """Condition features on class probabilities by CDAN's (randomized) multilinear map.

    Without ``random_matrices``, the flattened outer product of each row's features and
    probabilities, ``out[:, i * K + k] = features[:, i] * proba[:, k]``, of width ``d * K``:
    the map of CDAN [1]_, which captures the dependence between features and predictions.
    With ``random_matrices = (R_f, R_g)`` of shapes ``(d, m)`` and ``(K, m)``, the randomized
    multilinear map ``(features @ R_f) * (proba @ R_g) / sqrt(m)`` of width ``m``, whose inner
    products approximate those of the full map when the entries of ``R_f`` and ``R_g`` are
    independent standard Gaussians.

    Parameters
    ----------
    features : tensor of shape (n, d)
        Features of a batch.
    proba : tensor of shape (n, K)
        Class probabilities of the same rows.
    random_matrices : tuple of two tensors of shape (d, m) and (K, m), default=None
        The fixed random matrices of the randomized map; None for the full map.

    Returns
    -------
    tensor of shape (n, d * K) or (n, m)
        The conditioned features.

    See Also
    --------
    ConditionalAdversarialLoss : The layer whose domain classifier sees this map.

    References
    ----------
    .. [1] M. Long, Z. Cao, J. Wang and M. I. Jordan, "Conditional Adversarial Domain
       Adaptation", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import multilinear_map
    >>> f = np.array([[1.0, 2.0]], dtype="float32")
    >>> p = np.array([[0.25, 0.75]], dtype="float32")
    >>> np.asarray(multilinear_map(f, p)).tolist()
    [[0.25, 0.75, 0.5, 1.5]]
    """
    features, proba = ops.convert_to_tensor(features), ops.convert_to_tensor(proba)
    if random_matrices is None:
        d, k = features.shape[-1], proba.shape[-1]
        return ops.reshape(features[:, :, None] * proba[:, None, :], (-1, d * k))
    features_matrix, proba_matrix = random_matrices
    width = ops.cast(ops.shape(features_matrix)[-1], features.dtype)
    return ops.matmul(features, features_matrix) * ops.matmul(proba, proba_matrix) / ops.sqrt(width)


def conditional_adversarial_loss(source_logits, target_logits, source_proba, target_proba):
    """Compute the entropy-conditioned domain classification loss of CDAN+E.

    The binary cross-entropy of the domain classifier's logits, source rows labeled 1 and
    target rows 0, each row weighted by the certainty of its prediction,
    :math:`w_i = 1 + e^{-H(p_i)}` (:math:`H` the entropy, natural log): the weights are normalised
    to sum to 1 within each domain and the loss is half the sum of the weighted row losses,
    as in the code of CDAN+E [1]_. Confident rows, whose conditioned features carry the most
    reliable class information, count the most; with equally certain rows and batches of
    equal size the loss is the mean binary cross-entropy of DANN. The weights are held
    constant in the gradient.

    Parameters
    ----------
    source_logits : tensor of shape (n,)
        The domain classifier's logits on the source rows.
    target_logits : tensor of shape (m,)
        Its logits on the target rows.
    source_proba : tensor of shape (n, K)
        Class probabilities of the source rows.
    target_proba : tensor of shape (m, K)
        Class probabilities of the target rows.

    Returns
    -------
    loss : scalar tensor
        The entropy-weighted binary cross-entropy.

    See Also
    --------
    ConditionalAdversarialLoss : The layer that computes the logits and adds this loss.
    multilinear_map : The conditioning of the features that the domain classifier sees.

    References
    ----------
    .. [1] M. Long, Z. Cao, J. Wang and M. I. Jordan, "Conditional Adversarial Domain
       Adaptation", NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import conditional_adversarial_loss
    >>> logits = np.zeros(3, dtype="float32")  # a classifier that cannot tell the domains apart
    >>> p = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]], dtype="float32")
    >>> round(float(conditional_adversarial_loss(logits, logits[:2], p, p[:2])), 4)  # log 2
    0.6931
    """
    source_logits = ops.reshape(ops.convert_to_tensor(source_logits), (-1,))
    target_logits = ops.reshape(ops.convert_to_tensor(target_logits), (-1,))
    source_weights = _certainty_weights(ops.convert_to_tensor(source_proba))
    target_weights = _certainty_weights(ops.convert_to_tensor(target_proba))
    source_weights = source_weights / ops.sum(source_weights)
    target_weights = target_weights / ops.sum(target_weights)
    source_bce = ops.binary_crossentropy(ops.ones_like(source_logits), source_logits, from_logits=True)
    target_bce = ops.binary_crossentropy(ops.zeros_like(target_logits), target_logits, from_logits=True)
    return 0.5 * (ops.sum(source_weights * source_bce) + ops.sum(target_weights * target_bce))


def mcc_loss(logits, temperature: float = 2.5):
    r"""Compute the Minimum Class Confusion loss of a batch's logits.

    MCC [1]_ penalises the confusion between classes in the predictions on an unlabeled
    batch. The probabilities :math:`P = \operatorname{softmax}(z / T)` (:math:`z` the logits,
    :math:`T` the temperature) are weighted per row by
    their certainty :math:`w_i = 1 + \exp(-H(P_i))` (:math:`H` the entropy, natural log; the weights
    are scaled to sum to the batch size and held constant in the gradient), and give the
    class correlation matrix :math:`C = P^T W P`. Each row of :math:`C` is divided by its sum and
    the loss is the mass off the diagonal, :math:`(\sum_{jk} C_{jk} - \operatorname{tr} C) / K`.
    (The paper normalises the columns; :math:`C` is symmetric, so the loss is the same.) It lies in
    ``[0, (K - 1) / K]``: near 0 when every row predicts one class with confidence and no
    two classes are predicted together, ``(K - 1) / K`` for uniform predictions.

    Parameters
    ----------
    logits : tensor of shape (n, K)
        Class logits of a batch (``K >= 2``).
    temperature : float, default=2.5
        Temperature of the softmax: larger values soften the probabilities, so that the
        loss also sees the classes a confident prediction nearly chose.

    Returns
    -------
    loss : scalar tensor
        The class confusion.

    See Also
    --------
    MCCLoss : The layer that adds this loss, on a head's probabilities, to a model's.
    information_maximization_loss : Another loss on the target predictions alone.

    References
    ----------
    .. [1] Y. Jin, X. Wang, M. Long and J. Wang, "Minimum Class Confusion for Versatile
       Domain Adaptation", ECCV 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import mcc_loss
    >>> confident = 50.0 * np.eye(3, dtype="float32")  # three rows, three distinct classes
    >>> round(float(mcc_loss(confident)), 6), round(float(mcc_loss(np.zeros((4, 3), "float32"))), 4)
    (0.0, 0.6667)
    """
    logits = ops.convert_to_tensor(logits)
    proba = ops.softmax(logits / temperature, axis=-1)
    rows = ops.cast(ops.shape(proba)[0], proba.dtype)
    weights = _certainty_weights(proba)
    weights = rows * weights / ops.sum(weights)
    correlation = ops.matmul(ops.transpose(proba * weights[:, None]), proba)
    correlation = correlation / ops.maximum(ops.sum(correlation, axis=1, keepdims=True), 1e-12)
    classes = ops.cast(ops.shape(proba)[1], proba.dtype)
    return (ops.sum(correlation) - ops.trace(correlation)) / classes


def information_maximization_loss(proba):
    r"""Compute the information maximisation loss of a batch's class probabilities.

    The objective of RIM [1]_ as SHOT [2]_ uses it for domain adaptation: the mean entropy of
    the rows' predictions minus the entropy of their mean,
    :math:`\frac{1}{n} \sum_i H(p_i) - H\left(\frac{1}{n} \sum_i p_i\right)`
    (natural log, probabilities clipped at 1e-7). The first term makes each prediction
    confident, the second keeps the batch's predictions spread over the classes, so that the
    network cannot lower the first by predicting one class everywhere. The loss is negative when
    the predictions are diverse enough; its minimum, :math:`-\log K`, is reached by one-hot
    predictions equally shared among the :math:`K` classes.

    Parameters
    ----------
    proba : tensor of shape (n, K)
        Class probabilities of a batch.

    Returns
    -------
    loss : scalar tensor
        ``mean_i H(p_i) - H(mean_i p_i)``.

    See Also
    --------
    InformationMaximizationLoss : The layer that adds this loss to a model's.
    mcc_loss : Another loss on the target predictions alone.

    References
    ----------
    .. [1] A. Krause, P. Perona and R. Gomes, "Discriminative Clustering by Regularized
       Information Maximization", NeurIPS 2010.
    .. [2] J. Liang, D. Hu and J. Feng, "Do We Really Need to Access the Source Data? Source
       Hypothesis Transfer for Unsupervised Domain Adaptation", ICML 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import information_maximization_loss
    >>> balanced = np.eye(4, dtype="float32")  # confident, and every class once
    >>> round(float(information_maximization_loss(balanced)), 4), round(float(-np.log(4)), 4)
    (-1.3863, -1.3863)
    >>> round(float(information_maximization_loss(np.full((4, 4), 0.25, "float32"))), 4)
    0.0
    """
    proba = ops.convert_to_tensor(proba)
    return ops.mean(_entropy(proba)) - _entropy(ops.mean(proba, axis=0))


class DomainLoss(keras.layers.Layer):
    """A layer ``[source_features, target_features] -> source_features`` adding a domain loss.

    While training, the layer adds its :meth:`loss` of the two batches to the model's
    losses: ``weight * factor * loss(source, target)`` for the discrepancies, where ``factor``
    is its non-trainable variable (the warm-up, 0 until :class:`DomainLossWarmup` sets it
    before every batch); the adversarial losses scale their reversed gradient by ``factor``
    instead. At inference it adds nothing and returns the source features unchanged.
    Subclasses define :meth:`loss`.

    Parameters
    ----------
    weight : float
        Weight of the domain term in the training objective.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    domain_loss_layer : Make a domain loss layer by name.
    TargetLoss : The base of the losses on the target predictions alone.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import MMDLoss
    >>> layer = MMDLoss(weight=2.0)
    >>> _ = layer.factor.assign(1.0)
    >>> a = np.random.RandomState(0).normal(size=(8, 3)).astype("float32")
    >>> bool(np.array_equal(layer([a, a + 1.0], training=True), a)), len(layer.losses)
    (True, 1)
    """

    def __init__(self, weight: float, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.factor = self.add_weight(shape=(), initializer="zeros", trainable=False, name="factor")

    def call(self, inputs, training=None):
        source, target = inputs
        if training:
            self.add_loss(self.loss(source, target))
        return source

    def loss(self, source, target):
        """Return the weighted domain term of two feature batches.

        Parameters
        ----------
        source : tensor of shape (n, d)
            Features of the source batch.
        target : tensor of shape (m, d)
            Features of the target batch.

        Returns
        -------
        loss : scalar tensor
            The term added to the model's losses.
        """
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape[0]


class MMDLoss(DomainLoss):
    """DAN's multi-kernel MMD between the batches (:func:`mmd_loss`), Long et al. 2015.

    Adds ``weight * factor * mmd_loss(source, target)`` while training: the discrepancy of
    the two batches' feature distributions in the reproducing kernel Hilbert space of a sum
    of Gaussian kernels.

    Parameters
    ----------
    weight : float
        Weight of the domain term in the training objective.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    mmd_loss : The loss.
    CORALLoss : A discrepancy of second-order statistics only.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import MMDLoss
    >>> layer = MMDLoss(weight=1.0)
    >>> _ = layer.factor.assign(1.0)
    >>> a = np.random.RandomState(0).normal(size=(32, 2)).astype("float32")
    >>> _ = layer([a, a + 2.0], training=True)
    >>> float(layer.losses[0]) > 0.5
    True
    """

    def loss(self, source, target):
        """Return ``weight * factor * mmd_loss(source, target)``.

        Parameters
        ----------
        source : tensor of shape (n, d)
            Features of the source batch.
        target : tensor of shape (m, d)
            Features of the target batch.

        Returns
        -------
        loss : scalar tensor
            The weighted MMD².
        """
        return self.weight * self.factor * mmd_loss(source, target)


class CORALLoss(DomainLoss):
    """Deep CORAL's distance of the batches' covariances (:func:`coral_loss`), Sun and Saenko 2016.

    Adds ``weight * factor * coral_loss(source, target)`` while training: the squared
    Frobenius distance of the two batches' feature covariances.

    Parameters
    ----------
    weight : float
        Weight of the domain term in the training objective.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    coral_loss : The loss.
    MMDLoss : A discrepancy of the whole distributions.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import CORALLoss
    >>> layer = CORALLoss(weight=1.0)
    >>> _ = layer.factor.assign(0.5)
    >>> a = np.random.RandomState(0).normal(size=(500, 2)).astype("float32")
    >>> _ = layer([a, 2.0 * a], training=True)
    >>> round(float(layer.losses[0]), 2)  # half of coral_loss(a, 2 a)
    0.54
    """

    def loss(self, source, target):
        """Return ``weight * factor * coral_loss(source, target)``.

        Parameters
        ----------
        source : tensor of shape (n, d)
            Features of the source batch.
        target : tensor of shape (m, d)
            Features of the target batch.

        Returns
        -------
        loss : scalar tensor
            The weighted CORAL loss.
        """
        return self.weight * self.factor * coral_loss(source, target)


class AdversarialLoss(DomainLoss):
    """DANN (Ganin et al. 2016): a domain classifier behind a gradient-reversal layer.

    The domain classifier (ReLU layers of ``discriminator_units``, then one logit) learns to
    tell source (1) from target (0) rows by a binary cross-entropy weighted by ``weight``,
    while the features receive its gradient reversed and scaled by the warm-up ``factor``
    (:func:`gradient_reversal`).

    Parameters
    ----------
    weight : float
        Weight of the domain classifier's loss in the training objective.
    discriminator_units : sequence of int, default=(64,)
        Hidden layers of the domain classifier.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    ConditionalAdversarialLoss : The domain classifier conditioned on the predictions (CDAN).
    gradient_reversal : The reversal of the gradient that reaches the features.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import domain_loss_layer
    >>> layer = domain_loss_layer("adversarial", weight=0.1, discriminator_units=(8,), seed=0)
    >>> a = np.random.RandomState(0).normal(size=(8, 3)).astype("float32")
    >>> _ = layer([a, a + 1.0], training=True)
    >>> len(layer.losses), layer.discriminator.layers[-1].units
    (1, 1)
    """

    def __init__(self, weight: float, discriminator_units=(64,), **kwargs):
        super().__init__(weight, **kwargs)
        hidden = [keras.layers.Dense(units, activation="relu") for units in discriminator_units]
        self.discriminator = keras.Sequential([*hidden, keras.layers.Dense(1)], name="discriminator")

    def build(self, input_shape):
        self.discriminator.build(input_shape[0])

    def loss(self, source, target):
        """Return ``weight`` times the domain classifier's binary cross-entropy.

        Parameters
        ----------
        source : tensor of shape (n, d)
            Features of the source batch (domain label 1).
        target : tensor of shape (m, d)
            Features of the target batch (domain label 0).

        Returns
        -------
        loss : scalar tensor
            The weighted mean binary cross-entropy of the domain classifier.
        """
        both = gradient_reversal(ops.concatenate([source, target], axis=0), self.factor)
        logits = ops.squeeze(self.discriminator(both), axis=-1)
        labels = ops.concatenate([ops.ones_like(source[:, 0]), ops.zeros_like(target[:, 0])], axis=0)
        return self.weight * ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


class ConditionalAdversarialLoss(DomainLoss):
    """CDAN+E (Long et al. 2018): a domain classifier of the features conditioned on the predictions.

    Called on ``[source_features, target_features, source_proba, target_proba]``, it returns
    the source features. The domain classifier (ReLU layers of ``discriminator_units``, then
    one logit) sees the multilinear map of the features and the class probabilities
    (:func:`multilinear_map`): their flattened outer product, of width ``d * K``, when
    ``d * K <= max_multilinear``, else the randomized map of width ``max_multilinear``,
    whose Gaussian matrices are drawn once, when the layer is built, and never trained. It
    learns to tell source (1) from target (0) rows by a binary cross-entropy whose rows are
    weighted by the certainty of their predictions (entropy conditioning,
    :func:`conditional_adversarial_loss`), times ``weight``. The features pass through
    :func:`gradient_reversal`, scaled by the warm-up ``factor``; the probabilities are held
    constant, as in CDAN. Conditioning on the predictions aligns the joint distribution of
    features and classes rather than the features' marginal.

    Parameters
    ----------
    weight : float
        Weight of the domain classifier's loss in the training objective.
    discriminator_units : sequence of int, default=(64,)
        Hidden layers of the domain classifier.
    max_multilinear : int, default=4096
        Largest width of the full multilinear map, and the width of the randomized map used
        beyond it.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    AdversarialLoss : The unconditioned domain classifier (DANN).
    multilinear_map : The conditioning of the features.
    conditional_adversarial_loss : The entropy-weighted loss of the domain classifier.

    References
    ----------
    M. Long, Z. Cao, J. Wang and M. I. Jordan, "Conditional Adversarial Domain Adaptation",
    NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import domain_loss_layer
    >>> rng = np.random.RandomState(0)
    >>> fs, ft = rng.normal(size=(2, 8, 5)).astype("float32")
    >>> ps, pt = rng.dirichlet(np.ones(3), size=(2, 8)).astype("float32")
    >>> layer = domain_loss_layer("cdan", weight=1.0, seed=0)
    >>> out = layer([fs, ft, ps, pt], training=True)
    >>> bool(np.array_equal(out, fs)), len(layer.losses), layer.discriminator.input_shape
    (True, 1, (None, 15))
    """

    def __init__(self, weight: float, discriminator_units=(64,), max_multilinear: int = 4096, **kwargs):
        super().__init__(weight, **kwargs)
        self.max_multilinear = int(max_multilinear)
        hidden = [keras.layers.Dense(units, activation="relu") for units in discriminator_units]
        self.discriminator = keras.Sequential([*hidden, keras.layers.Dense(1)], name="discriminator")
        # standard Gaussians (Keras' default stddev is 0.05); their seeds are drawn here, where
        # domain_loss_layer's seed applies, and the matrices when the layer is built
        self._initializers = tuple(keras.initializers.RandomNormal(stddev=1.0) for _ in range(2))
        self.features_projection = self.proba_projection = None

    def build(self, input_shape):
        features, proba = int(input_shape[0][-1]), int(input_shape[2][-1])
        width = features * proba
        if width > self.max_multilinear:
            width = self.max_multilinear
            self.features_projection = self.add_weight(
                shape=(features, width),
                initializer=self._initializers[0],
                trainable=False,
                name="features_projection",
            )
            self.proba_projection = self.add_weight(
                shape=(proba, width),
                initializer=self._initializers[1],
                trainable=False,
                name="proba_projection",
            )
        self.discriminator.build((None, width))

    def call(self, inputs, training=None):
        source, target, source_proba, target_proba = inputs
        if training:
            self.add_loss(self.loss(source, target, source_proba, target_proba))
        return source

    @property
    def random_matrices(self):
        """The randomized map's matrices ``(R_f, R_g)``; None for the full map or before build.

        Returns
        -------
        tuple of two variables or None
            The fixed Gaussian matrices of shapes ``(d, m)`` and ``(K, m)``.
        """
        if self.features_projection is None:
            return None
        return self.features_projection, self.proba_projection

    def loss(self, source, target, source_proba, target_proba):
        """Return ``weight`` times the entropy-weighted loss of the conditional domain classifier.

        Parameters
        ----------
        source : tensor of shape (n, d)
            Features of the source batch (domain label 1).
        target : tensor of shape (m, d)
            Features of the target batch (domain label 0).
        source_proba : tensor of shape (n, K)
            Class probabilities of the source batch.
        target_proba : tensor of shape (m, K)
            Class probabilities of the target batch.

        Returns
        -------
        loss : scalar tensor
            The weighted loss of the domain classifier.
        """
        features = gradient_reversal(ops.concatenate([source, target], axis=0), self.factor)
        proba = ops.stop_gradient(ops.concatenate([source_proba, target_proba], axis=0))
        logits = self.discriminator(multilinear_map(features, proba, self.random_matrices))
        logits = ops.squeeze(logits, axis=-1)
        n = ops.shape(source)[0]
        return self.weight * conditional_adversarial_loss(
            logits[:n], logits[n:], ops.stop_gradient(source_proba), ops.stop_gradient(target_proba)
        )


class TargetLoss(keras.layers.Layer):
    """A layer ``[source_outputs, target_outputs] -> source_outputs`` adding a loss of the target outputs.

    While training, the layer adds ``weight * factor * loss(target_outputs)`` to the model's
    losses, where ``factor`` is its non-trainable variable (the warm-up, initialised to 0
    and set before every batch by :class:`DomainLossWarmup`, as a :class:`DomainLoss`'s).
    At inference it adds nothing and returns the source outputs unchanged: the source
    outputs only carry the layer in the training network. Subclasses define :meth:`loss`,
    a function of the head's class probabilities on the target batch.

    Parameters
    ----------
    weight : float
        Weight of the target term in the training objective.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    target_loss_layer : Make a target loss layer by name.
    DomainLoss : The base of the losses that compare the two domains' features.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import InformationMaximizationLoss
    >>> layer = InformationMaximizationLoss(weight=0.5)
    >>> ps = np.full((2, 2), 0.5, dtype="float32")
    >>> pt = np.eye(2, dtype="float32")
    >>> _ = layer([ps, pt], training=True)
    >>> float(layer.losses[0])  # the factor is 0 until the warm-up sets it
    -0.0
    >>> _ = layer.factor.assign(1.0)
    >>> _ = layer([ps, pt], training=True)
    >>> round(float(layer.losses[0]), 4)  # 0.5 * -log 2
    -0.3466
    """

    def __init__(self, weight: float, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.factor = self.add_weight(shape=(), initializer="zeros", trainable=False, name="factor")

    def call(self, inputs, training=None):
        source, target = inputs
        if training:
            self.add_loss(self.weight * self.factor * self.loss(target))
        return source

    def loss(self, target):
        """Return the unweighted target term of the target batch's class probabilities.

        Parameters
        ----------
        target : tensor of shape (m, K)
            Class probabilities of the target batch.

        Returns
        -------
        loss : scalar tensor
            The term, before ``weight`` and ``factor``.
        """
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return input_shape[0]


class MCCLoss(TargetLoss):
    """Minimum Class Confusion on the target predictions (:func:`mcc_loss`), Jin et al. 2020.

    Adds ``weight * factor * mcc_loss(log(p), temperature)`` while training, ``p`` the
    target batch's class probabilities clipped at 1e-7: their logarithm serves as logits,
    since the softmax is invariant to the constant that it lacks.

    Parameters
    ----------
    weight : float
        Weight of the class confusion in the training objective.
    temperature : float, default=2.5
        Temperature of the softmax of :func:`mcc_loss`.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    mcc_loss : The loss.
    InformationMaximizationLoss : Another loss on the target predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import MCCLoss
    >>> layer = MCCLoss(weight=1.0)
    >>> _ = layer.factor.assign(1.0)
    >>> ps = np.full((3, 3), 1 / 3, dtype="float32")
    >>> _ = layer([ps, ps], training=True)
    >>> round(float(layer.losses[0]), 4)  # uniform predictions: (K - 1) / K
    0.6667
    """

    def __init__(self, weight: float, temperature: float = 2.5, **kwargs):
        super().__init__(weight, **kwargs)
        self.temperature = float(temperature)

    def loss(self, target):
        """Return the class confusion of the target batch's class probabilities.

        Parameters
        ----------
        target : tensor of shape (m, K)
            Class probabilities of the target batch.

        Returns
        -------
        loss : scalar tensor
            ``mcc_loss(log(clip(target, 1e-7)), temperature)``.
        """
        return mcc_loss(ops.log(ops.clip(target, _EPSILON, 1.0)), self.temperature)


class InformationMaximizationLoss(TargetLoss):
    """Information maximisation on the target predictions (:func:`information_maximization_loss`).

    Adds ``weight * factor * (mean_i H(p_i) - H(mean_i p_i))`` while training, ``p`` the
    target batch's class probabilities: confident predictions (RIM, Krause et al. 2010) that
    stay diverse over the batch, as in SHOT (Liang et al. 2020). The term is negative for
    diverse, confident predictions.

    Parameters
    ----------
    weight : float
        Weight of the information maximisation in the training objective.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    information_maximization_loss : The loss.
    MCCLoss : Another loss on the target predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import target_loss_layer
    >>> layer = target_loss_layer("im", weight=1.0)
    >>> _ = layer.factor.assign(1.0)
    >>> pt = np.eye(4, dtype="float32")
    >>> _ = layer([pt, pt], training=True)
    >>> round(float(layer.losses[0]), 4)  # its minimum, -log 4
    -1.3863
    """

    def loss(self, target):
        """Return the information maximisation loss of the target batch's class probabilities.

        Parameters
        ----------
        target : tensor of shape (m, K)
            Class probabilities of the target batch.

        Returns
        -------
        loss : scalar tensor
            ``information_maximization_loss(target)``.
        """
        return information_maximization_loss(target)


def self_training_loss(weak_proba, strong_proba, threshold: float = 0.95):
    """Compute FixMatch's consistency loss: confident pseudo-labels of a weak view for a strong one.

    The pseudo-label of a row is the most probable class of its weakly augmented view, held
    constant; rows whose largest probability is below ``threshold`` are masked out. The
    loss is the mean, over every row of the batch (masked rows count as 0, as in FixMatch),
    of the cross-entropy of the strongly augmented view's probabilities to that label.

    Parameters
    ----------
    weak_proba, strong_proba : tensor of shape (m, K)
        Class probabilities of the weak and the strong view of the same rows.
    threshold : float, default=0.95
        Confidence a pseudo-label needs (FixMatch's setting).

    Returns
    -------
    loss : scalar tensor

    See Also
    --------
    SelfTrainingLoss : The layer that adds it to a model.

    References
    ----------
    Sohn et al., "FixMatch: Simplifying semi-supervised learning with consistency and
    confidence", NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import self_training_loss
    >>> weak = np.array([[0.99, 0.01], [0.6, 0.4]], dtype="float32")  # only row 0 is confident
    >>> strong = np.array([[0.5, 0.5], [0.1, 0.9]], dtype="float32")
    >>> round(float(self_training_loss(weak, strong)), 4)  # -log(0.5) / 2
    0.3466
    """
    weak = ops.stop_gradient(ops.convert_to_tensor(weak_proba))
    strong = ops.clip(ops.convert_to_tensor(strong_proba), _EPSILON, 1.0)
    labels = ops.one_hot(ops.argmax(weak, axis=-1), ops.shape(weak)[-1], dtype=strong.dtype)
    mask = ops.cast(ops.max(weak, axis=-1) >= threshold, strong.dtype)
    return ops.mean(mask * -ops.sum(labels * ops.log(strong), axis=-1))


class SelfTrainingLoss(TargetLoss):
    """Self-training on the target rows with weak/strong consistency, FixMatch-style.

    Called on ``[source_outputs, weak_target_outputs, strong_target_outputs]`` (the head's
    class probabilities of the source batch and of two views of the target batch), it
    returns the source outputs and, while training, adds ``weight * factor *
    self_training_loss(weak, strong, threshold)``: the confident predictions on the weak
    view become labels of the strong view (:func:`self_training_loss`).

    Parameters
    ----------
    weight : float
        Weight of the self-training term in the training objective.
    threshold : float, default=0.95
        Confidence a pseudo-label needs.
    **kwargs
        Keras layer arguments (``name``, ...).

    See Also
    --------
    self_training_loss : The loss.
    InformationMaximizationLoss : A target loss without pseudo-labels.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import SelfTrainingLoss
    >>> layer = SelfTrainingLoss(weight=1.0)
    >>> _ = layer.factor.assign(1.0)
    >>> weak = np.array([[0.99, 0.01], [0.6, 0.4]], dtype="float32")
    >>> strong = np.array([[0.5, 0.5], [0.1, 0.9]], dtype="float32")
    >>> _ = layer([weak, weak, strong], training=True)
    >>> round(float(layer.losses[0]), 4)
    0.3466
    """

    def __init__(self, weight: float, threshold: float = 0.95, **kwargs):
        super().__init__(weight, **kwargs)
        self.threshold = float(threshold)

    def call(self, inputs, training=None):
        source, weak, strong = inputs
        if training:
            self.add_loss(self.weight * self.factor * self_training_loss(weak, strong, self.threshold))
        return source

    def loss(self, target):
        """Raise: the self-training term needs two views of the target batch (see :meth:`call`).

        Parameters
        ----------
        target : tensor
            Unused.

        Returns
        -------
        loss : scalar tensor
            Never: raises ``TypeError``.
        """
        raise TypeError("SelfTrainingLoss compares two views of the target batch: call it on three inputs.")


#: The domain losses by name.
DOMAIN_LOSSES = {
    "mmd": MMDLoss,
    "coral": CORALLoss,
    "adversarial": AdversarialLoss,
    "cdan": ConditionalAdversarialLoss,
}

#: The weight of each domain loss when ``domain_loss_weight="auto"``.
AUTO_WEIGHTS = {"mmd": 1.0, "coral": 1.0, "adversarial": 0.1, "cdan": 1.0}

#: The target losses by name.
TARGET_LOSSES = {"mcc": MCCLoss, "im": InformationMaximizationLoss, "self_training": SelfTrainingLoss}

#: The weight of each target loss when its weight is ``"auto"``: 1, the weight of MCC on most
#: tasks of its paper, of the information maximisation in SHOT and of FixMatch's unlabeled term.
AUTO_TARGET_WEIGHTS = {"mcc": 1.0, "im": 1.0, "self_training": 1.0}


def domain_loss_layer(
    kind: str, *, weight: float, discriminator_units=(64,), seed: int = 0, name="domain_loss"
) -> DomainLoss:
    """Make the :class:`DomainLoss` layer of ``kind``, its initial weights seeded by ``seed``.

    The layer classes are those of :data:`DOMAIN_LOSSES`. The domain classifier of the
    adversarial losses, and the random matrices of CDAN's randomized multilinear map, are
    drawn reproducibly from ``seed`` without a change to any global random state.

    Parameters
    ----------
    kind : {"mmd", "coral", "adversarial", "cdan"}
        The domain loss.
    weight : float
        Weight of the domain term in the training objective.
    discriminator_units : sequence of int, default=(64,)
        Hidden layers of the domain classifier ("adversarial" and "cdan" only).
    seed : int, default=0
        Seeds the domain classifier's initial weights and CDAN's random matrices.
    name : str, default="domain_loss"
        Name of the layer.

    Returns
    -------
    layer : DomainLoss
        The layer, not built.

    See Also
    --------
    target_loss_layer : Make a target loss layer by name.
    DomainLossWarmup : The callback that sets the layer's warm-up factor.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.losses import domain_loss_layer
    >>> layer = domain_loss_layer("coral", weight=1.0)
    >>> a = np.random.RandomState(0).normal(size=(8, 3)).astype("float32")
    >>> bool(np.array_equal(layer([a, 2 * a]), a)), type(layer).__name__
    (True, 'CORALLoss')
    """
    if kind not in DOMAIN_LOSSES:
        raise ValueError(f"domain_loss must be one of {tuple(DOMAIN_LOSSES)} or None; got {kind!r}.")
    adversarial = kind in ("adversarial", "cdan")
    extra = {"discriminator_units": tuple(discriminator_units)} if adversarial else {}
    with scoped_seed(seed):
        return DOMAIN_LOSSES[kind](weight, name=name, **extra)


def target_loss_layer(kind: str, *, weight: float, name="target_loss") -> TargetLoss:
    """Make the :class:`TargetLoss` layer of ``kind``.

    The layer classes are those of :data:`TARGET_LOSSES`, with their default parameters
    (MCC's temperature 2.5). They have no weights of their own: only the warm-up factor.

    Parameters
    ----------
    kind : {"mcc", "im", "self_training"}
        The target loss: ``"mcc"`` Minimum Class Confusion, ``"im"`` information maximisation.
    weight : float
        Weight of the target term in the training objective.
    name : str, default="target_loss"
        Name of the layer.

    Returns
    -------
    layer : TargetLoss
        The layer.

    See Also
    --------
    domain_loss_layer : Make a domain loss layer by name.
    DomainLossWarmup : The callback that sets the layer's warm-up factor.

    Examples
    --------
    >>> from skltransfer.keras.losses import target_loss_layer
    >>> type(target_loss_layer("mcc", weight=1.0)).__name__
    'MCCLoss'
    """
    if kind not in TARGET_LOSSES:
        raise ValueError(f"target_loss must be one of {tuple(TARGET_LOSSES)} or None; got {kind!r}.")
    return TARGET_LOSSES[kind](weight, name=name)


class DomainLossWarmup(keras.callbacks.Callback):
    """Set a loss layer's warm-up ``factor`` before every training batch.

    The factor is ``warmup_factor(step / total_steps, schedule)``, ``step`` counting the
    batches trained so far by every ``fit`` the callback takes part in, so the warm-up runs
    once over all training phases. The layer is a :class:`DomainLoss` or a
    :class:`TargetLoss`: any layer with a scalar ``factor`` variable.

    Parameters
    ----------
    layer : DomainLoss or TargetLoss
        The layer whose ``factor`` the callback sets.
    schedule : {"constant", "linear", "sigmoid"}
        The warm-up schedule (:func:`warmup_factor`).
    total_steps : int
        Number of batches of the whole training.

    See Also
    --------
    warmup_factor : The schedules.

    Examples
    --------
    >>> from skltransfer.keras.losses import DomainLossWarmup, target_loss_layer
    >>> layer = target_loss_layer("im", weight=1.0)
    >>> callback = DomainLossWarmup(layer, "linear", total_steps=4)
    >>> for batch in range(3):
    ...     callback.on_train_batch_begin(batch)
    >>> float(layer.factor.numpy())
    0.5
    """

    def __init__(self, layer: DomainLoss | TargetLoss, schedule: str, total_steps: int):
        super().__init__()
        self.layer, self.schedule, self.total_steps, self.step = layer, schedule, max(int(total_steps), 1), 0

    def on_train_batch_begin(self, batch, logs=None):
        self.layer.factor.assign(warmup_factor(self.step / self.total_steps, self.schedule))
        self.step += 1
