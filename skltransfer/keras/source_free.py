"""Source-free and test-time adaptation: adapt a fitted classifier to unlabeled target images alone.

The classifiers of this module take a classifier already fitted on a source domain (a fitted
:class:`FineTunedCNNClassifier`, a ``keras.Model`` mapping images to class probabilities, or
the path of one saved as ``.keras``) and adapt a copy of its network to a target domain from
unlabeled target images only: the source data are not needed, and ``fit`` sees target rows
only.

- :class:`SHOTClassifier`: Source HypOthesis Transfer (Liang et al. 2020). The classifier's
  last layer, the *hypothesis*, is frozen; the layers before it, the *feature extractor*, are
  trained on the target images with information maximisation (confident, diverse
  predictions) and a cross-entropy to pseudo-labels from a clustering of the target
  features.
- :class:`TENTClassifier`: test-time entropy minimisation (Wang et al. 2021). Only the affine
  parameters (gamma, beta) of the network's batch normalizations are trained, normalising
  with target batch statistics, to minimise the entropy of the predictions.

Both run the copied network layer by layer (nested functional and sequential models and the
backbone's inference-mode wrapper of :class:`FineTunedCNNClassifier` walked into), so that
each layer's mode, training or inference, is theirs to choose. After training, the batch
normalizations' moving mean and variance are set to the statistics of the target images:
the fitted network ``model_`` normalises every image alike, whatever else is predicted with
it. The target images are held in memory during ``fit`` (files are decoded once, at the
network's input size).
"""

from __future__ import annotations

import math
import os
from numbers import Integral, Real
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils import assert_all_finite, check_consistent_length, check_random_state, column_or_1d
from sklearn.utils.multiclass import check_classification_targets

from .._domains import score_labeled_rows, unlabeled_mask
from ..utils._sklearn_compat import HasMethods, Interval, _fit_context, check_is_fitted
from ..utils._tags import LearnsFromTargetMixin
from ._inference import Runtime, fold_batch_normalization
from ._layerwise import (
    LayerwiseNetwork,
    batch_signature,
    is_graph,
    restore_trainable,
    set_batch_statistics,
    trainable_flags,
)
from ._persistence import KerasStateMixin, load_keras_model, model_from_bytes, model_to_bytes
from ._runtime import derive_seed, scoped_seed
from .classifier import FineTunedCNNClassifier
from .images import Images, as_images, check_channels
from .losses import information_maximization_loss

__all__ = ["SHOTClassifier", "TENTClassifier"]

# probabilities are clipped to [_EPSILON, 1] before their logarithm (as in skltransfer.keras.losses)
_EPSILON = 1e-7

#: SHOT's optimizer (Liang et al. 2020, official code): SGD with Nesterov momentum 0.9 and
#: weight decay 1e-3, the learning rate decaying as ``(1 + 10 p) ** -0.75`` over the progress ``p``.
SHOT_MOMENTUM, SHOT_WEIGHT_DECAY, SHOT_DECAY_GAMMA, SHOT_DECAY_POWER = 0.9, 1e-3, 10.0, 0.75

#: TENT's optimizer for its CIFAR experiments (Wang et al. 2021): Adam, beta_1 0.9, no weight decay.
TENT_BETA_1 = 0.9


def _symbolic(model, name: str) -> list:
    """``model.inputs`` or ``model.outputs``; empty for a sequential model never built."""
    try:
        return list(getattr(model, name) or [])
    except (AttributeError, ValueError):
        return []


def _check_labels(y, n_images: int) -> None:
    """Check the ignored ``y`` all the same: one label per image, class labels, finite (``-1``: unlabeled)."""
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty(n_images), y)
    if y.dtype.kind in "fc":
        assert_all_finite(y, input_name="y")
    labeled = y[~unlabeled_mask(y, regression=False)]
    if len(labeled):
        check_classification_targets(labeled)


def _epoch_batches(n: int, batch_size: int, rng: np.random.RandomState) -> list:
    """A new random order of ``n`` rows, cut into ``ceil(n / batch_size)`` batches of near-equal size."""
    return np.array_split(rng.permutation(n), math.ceil(n / batch_size))


def _entropy(proba):
    """Shannon entropy (natural log) of each row of ``proba``, probabilities clipped at 1e-7."""
    return -ops.sum(proba * ops.log(ops.clip(proba, _EPSILON, 1.0)), axis=-1)


def _feature_extractor(network: LayerwiseNetwork):
    """SHOT's split of a network: ``(output layer, the layers before it, their weights)``.

    The output layer (the hypothesis) is the last executed layer with weights; the layers
    executed before it are the feature extractor, all made trainable, whatever their flags
    (a :class:`FineTunedCNNClassifier`'s backbone is frozen); the output layer is frozen.
    """
    weighted = [i for i, layer in enumerate(network.leaves) if layer.weights]
    if not weighted:
        raise ValueError("SHOTClassifier needs an output layer with weights in classifier's network.")
    final, body = network.leaves[weighted[-1]], network.leaves[: weighted[-1]]
    final.trainable = False
    seen, variables = set(), []
    for layer in body:
        layer.trainable = True
        for variable in layer.trainable_weights:
            if id(variable) not in seen:
                seen.add(id(variable))
                variables.append(variable)
    if not variables:
        raise ValueError(
            "SHOTClassifier trains the layers before the output layer of classifier, and its network "
            "has no weights there."
        )
    return final, body, variables


def _shot_pseudo_labels(features: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """SHOT's self-supervised pseudo-labels: weighted k-means-like clustering of the target features.

    As in the official code of Liang et al. (2020): the features, with a constant 1
    appended, are L2-normalised; each class's initial centroid is the mean of the features
    weighted by the predicted probabilities of that class; every row goes to the closest
    centroid (cosine distance), among the classes the network predicts for at least one
    row; then one refinement round: centroids of the rows assigned to each class, rows
    assigned again. A class left without rows has no centroid in that round.

    Parameters
    ----------
    features : ndarray of shape (n, d)
        Inputs of the classifier's output layer.
    proba : ndarray of shape (n, n_classes)
        The network's predictions.

    Returns
    -------
    labels : ndarray of int of shape (n,)
    """
    features = np.hstack([np.asarray(features, np.float64), np.ones((len(features), 1))])
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    proba = np.asarray(proba, np.float64)
    n_classes = proba.shape[1]
    present = np.flatnonzero(np.bincount(proba.argmax(axis=1), minlength=n_classes) > 0)

    def assign(weights):
        centroids = weights.T @ features / (1e-8 + weights.sum(axis=0)[:, None])
        centroids = centroids[present]
        norms = np.linalg.norm(centroids, axis=1)
        similarity = features @ (centroids / np.maximum(norms, 1e-12)[:, None]).T
        similarity[:, norms < 1e-12] = -np.inf  # a class without rows has no centroid
        return present[np.argmax(similarity, axis=1)]  # the smallest cosine distance

    labels = assign(proba)
    return assign(np.eye(n_classes)[labels])  # one refinement round


class _ShotSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """SHOT's learning rate: ``initial * (1 + 10 p) ** -0.75`` at progress ``p = step / total_steps``."""

    def __init__(self, initial: float, total_steps: int):
        self.initial, self.total_steps = float(initial), int(total_steps)

    def __call__(self, step):
        progress = ops.cast(step, "float32") / float(max(self.total_steps, 1))
        return self.initial * (1.0 + SHOT_DECAY_GAMMA * progress) ** (-SHOT_DECAY_POWER)

    def get_config(self):
        return {"initial": self.initial, "total_steps": self.total_steps}


# ---------------------------------------------------------------------------------- the estimators


class _SourceFreeClassifier(ClassifierMixin, KerasStateMixin, BaseEstimator):
    """What SHOT and TENT share: the given classifier, target images, the copy, prediction (not public)."""

    _parameter_constraints: ClassVar[dict] = {
        "classifier": [
            HasMethods(["predict_proba"]),
            HasMethods(["get_layer", "save"]),
            str,
            os.PathLike,
        ],
        "classes": ["array-like", None],
        "epochs": [Interval(Integral, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "image_shape": [tuple, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }
    _keras_models = ("model_",)
    # scikit-learn checks these estimators cannot pass, with the reason (see tests/keras).
    _expected_failed_checks: ClassVar[dict] = {
        "check_classifiers_classes": "the classes are the given classifier's; fit ignores y",
        "check_classifiers_train": "the classes are the given classifier's; fit ignores y",
        "check_classifiers_one_label": "the classes are the given classifier's; fit ignores y",
    }

    def __sklearn_clone__(self):
        # The fitted classifier is the point of the parameter: scikit-learn's clone would
        # return it unfitted. It is shared with the clone, never modified (fit copies its network).
        params = self.get_params(deep=False)
        classifier = params.pop("classifier")
        return type(self)(classifier, **{name: clone(value, safe=False) for name, value in params.items()})

    # ----------------------------------------------------------------- the classifier

    def _source(self):
        """``(network, classes, image_shape, copied)`` of ``classifier``, which is left as it is.

        ``network`` is the classifier's own network, to be copied, unless ``copied`` (a
        network loaded from a path is a copy already).
        """
        classifier = self.classifier
        if isinstance(classifier, FrozenEstimator):
            classifier = classifier.estimator
        if isinstance(classifier, (str, os.PathLike)):
            model = load_keras_model(classifier)
            return model, self._model_classes(model), self._model_image_shape(model), True
        if isinstance(classifier, keras.Model):
            return classifier, self._model_classes(classifier), self._model_image_shape(classifier), False
        if not isinstance(classifier, FineTunedCNNClassifier):
            raise ValueError(
                "classifier must be a fitted FineTunedCNNClassifier, a keras.Model mapping images to "
                f"class probabilities, or the path of a saved one; got {type(classifier).__name__}."
            )
        try:
            check_is_fitted(classifier, "head_")
        except NotFittedError as e:
            raise ValueError(
                f"classifier: this FineTunedCNNClassifier is not fitted; fit it on the source domain "
                f"before adapting it with {self._name}."
            ) from e
        if self.classes is not None:
            raise ValueError(
                "classes names the outputs of a keras.Model classifier; a FineTunedCNNClassifier has "
                "its own classes_. Leave classes=None."
            )
        return classifier.model_, np.asarray(classifier.classes_), tuple(classifier.image_shape_), False

    def _model_classes(self, model) -> np.ndarray:
        """``classes`` (checked against the model's outputs), or ``arange(n_outputs)``."""
        if not is_graph(model):
            raise ValueError(
                "classifier must be a functional or sequential keras.Model, whose layers can be run "
                f"one by one; got the subclassed model {type(model).__name__}."
            )
        outputs = _symbolic(model, "outputs")
        shape = tuple(outputs[0].shape) if len(outputs) == 1 else ()
        if len(shape) != 2 or shape[1] is None or shape[1] < 2:
            raise ValueError(
                "classifier must map images to class probabilities: one output of shape "
                f"(batch, n_classes) with n_classes >= 2; its outputs have shapes "
                f"{[tuple(o.shape) for o in outputs]}."
            )
        if self.classes is None:
            return np.arange(shape[1])
        classes = np.asarray(self.classes)
        if classes.ndim != 1 or len(classes) != shape[1] or len(np.unique(classes)) != len(classes):
            raise ValueError(
                f"classes must hold {shape[1]} distinct labels, one per output of classifier; got "
                f"{self.classes!r}."
            )
        return classes

    @staticmethod
    def _model_image_shape(model) -> tuple:
        inputs = _symbolic(model, "inputs")
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ValueError(
                "classifier must take one batch of images (batch, height, width, channels); its inputs "
                f"have shapes {[tuple(i.shape) for i in inputs]}."
            )
        return tuple(inputs[0].shape[1:])

    # --------------------------------------------------------------------- images

    def _images(self, X, *, reset: bool, network_shape=None) -> Images:
        """``X`` as images (2-D rows reshaped to ``image_shape``, else to the network's image shape)."""
        shape = network_shape if reset else self.image_shape_
        image_shape = self.image_shape
        if image_shape is None and shape is not None and None not in shape:
            image_shape = shape
        images = as_images(X, image_shape=image_shape, estimator=self, reset=reset)
        if reset and not images.from_rows:  # n_features_in_ describes 2-D input only
            for name in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
        return images

    def _check_shape(self, images: Images, network_shape) -> tuple:
        """The image shape the network takes, checked against the images'."""
        height, width, channels = network_shape
        given = images.shape
        if given is None and (height is None or width is None):
            raise ValueError(
                "classifier takes images of any size: pass the images as an array, not as files."
            )
        if given is not None and None not in (height, width) and given[:2] != (height, width):
            raise ValueError(
                f"X holds images of shape {given}, but classifier takes images of shape "
                f"{network_shape}; resize them (or pass image files, which are resized)."
            )
        if given is not None:
            height, width = given[:2]
            channels = given[2] if channels is None else channels
            check_channels(given[2], channels)
        return (int(height), int(width), int(channels))

    def _batches(self, images: Images):
        """Batches of ``images`` as float32 arrays of ``image_shape_`` (grayscale repeated)."""
        shape = self.image_shape_
        for batch in images.batches(self.batch_size, size=shape[:2], channels=shape[-1]):
            batch = np.asarray(batch, dtype=np.float32)
            if batch.shape[-1] != shape[-1]:
                batch = np.repeat(batch, shape[-1], axis=-1)
            yield batch

    # ------------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Adapt a copy of the classifier's network to the target images ``X``.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Unlabeled target images: a 4-D array, a 3-D array of grayscale images, a 2-D
            array of flattened images (of ``image_shape``, by default the network's image
            shape) or image file paths. At least 2 images.
        y : None or array-like of shape (n,), default=None
            Ignored: every row of ``X`` is used as an unlabeled target image, labeled or not
            (rows with ``y != -1`` are allowed, and their labels unused; ``y`` is only
            checked to hold one class label per row). Accepted so that stacked rows of
            :func:`skltransfer.stack_domains` fit too.

        Returns
        -------
        self : object
        """
        rng = check_random_state(self.random_state)
        seed = derive_seed(rng)
        source, classes, network_shape, copied = self._source()
        images = self._images(X, reset=True, network_shape=network_shape)
        if y is not None:
            _check_labels(y, len(images))
        if len(images) < 2:
            raise ValueError(f"{self._name} needs at least 2 target images; got {len(images)} sample.")
        self.__dict__["_runtime"] = Runtime()  # built here: predict fills it, never replaces it
        self.image_shape_ = self._check_shape(images, network_shape)
        x = np.concatenate(list(self._batches(images)))
        with scoped_seed(seed):  # layers without a seed of their own draw it from Python's random
            model = source if copied else model_from_bytes(model_to_bytes(source))
        network = LayerwiseNetwork(model)
        flags = trainable_flags(model)
        try:
            proba = network.record(x[: self.batch_size])
            if proba.shape[1] != len(classes):
                raise ValueError(
                    f"classifier's network has {proba.shape[1]} outputs for {len(classes)} classes."
                )
            if np.any(proba < -1e-6) or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-3):
                raise ValueError(
                    "classifier must output class probabilities (a softmax): its outputs on X are "
                    "not non-negative rows summing to 1. Add a softmax to the network."
                )
            self.history_ = self._adapt(network, x, rng)
        finally:
            restore_trainable(flags)
        self.model_ = model
        self.classes_ = classes
        return self

    def _adapt(self, network: LayerwiseNetwork, x: np.ndarray, rng) -> dict:
        """Train the copy in ``network`` on ``x``; return the per-epoch history."""
        raise NotImplementedError

    def _progress(self, epoch: int, n_batches: int):
        if not self.verbose:
            return None
        print(f"Epoch {epoch + 1}/{self.epochs}")
        return keras.utils.Progbar(n_batches, verbose=1 if self.verbose == 1 else 2)

    # -------------------------------------------------------------------- predict

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of images, by the adapted network.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Images of the shape the network takes (files are read at that size).

        Returns
        -------
        proba : ndarray of shape (n, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self, "model_")
        images = self._images(X, reset=False)
        if images.shape is not None and images.shape[:2] != self.image_shape_[:2]:
            raise ValueError(
                f"X holds images of shape {images.shape}, but {self._name} was fitted on images of "
                f"shape {self.image_shape_}; resize them (or pass image files, which are resized)."
            )
        if images.shape is not None:
            check_channels(images.shape[-1], self.image_shape_[-1])
        model = self.model_
        folded = self._runtime.get("folded", lambda: fold_batch_normalization(model))
        try:  # a functional model built on a list of one input takes a list
            listed = isinstance(model.input, (list, tuple))
        except AttributeError:  # a sequential model
            listed = False
        predictor = self._runtime.predictor(
            ("model", self.image_shape_),
            lambda x: folded([x] if listed else x, training=False),
            self.image_shape_,
            self.batch_size,
        )
        outputs = [predictor(batch) for batch in self._batches(images)]
        return np.concatenate(outputs).astype(np.float32, copy=False)

    def predict(self, X) -> np.ndarray:
        """Most probable class of images.

        Parameters
        ----------
        X : array-like or list of paths
            Images (see :meth:`predict_proba`).

        Returns
        -------
        y : ndarray of shape (n,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy on the labeled rows: rows with ``y == -1`` are left out.

        Parameters
        ----------
        X : array-like or list of paths
            Images (see :meth:`predict_proba`).
        y : array-like of shape (n,)
            True labels, ``-1`` for unlabeled rows.
        sample_weight : array-like of shape (n,), default=None
            Weights of the rows.

        Returns
        -------
        score : float
        """
        return score_labeled_rows(super().score, X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # fit learns from the images alone
        tags.non_deterministic = False
        return tags


class SHOTClassifier(LearnsFromTargetMixin, _SourceFreeClassifier):
    r"""Source-free domain adaptation of a fitted classifier by SHOT (source hypothesis transfer).

    SHOT (Liang et al. 2020) adapts a classifier trained on a source domain to an unlabeled
    target domain without the source data. The classifier's output layer (the source
    *hypothesis*) is frozen; every layer before it (the *feature extractor*: for a
    :class:`FineTunedCNNClassifier`, the backbone and the head's hidden layer, whatever their
    trainable flags) is trained on the target images, in training mode (as the paper's code
    trains it: batch normalizations normalise with batch statistics, dropout is active), to
    minimise

    .. math::

        \mathrm{IM} + \beta \, \mathrm{CE}(\text{pseudo-labels})

    where :math:`\mathrm{IM} = \frac{1}{n} \sum_i H(p_i) - H\left(\frac{1}{n} \sum_i p_i\right)` is the
    information maximisation loss (confident predictions that stay diverse over the batch,
    weight 1) and :math:`\mathrm{CE}` the cross-entropy to
    self-supervised pseudo-labels. These are recomputed at the start of every epoch by a
    weighted k-means-like clustering of the target features (the inputs of the output layer,
    computed in inference mode): class centroids of the features weighted by the predicted
    probabilities, each image assigned to the closest centroid by cosine distance, then one
    refinement round with the centroids of the assigned images. ``beta=0`` is SHOT-IM.

    The optimizer is the paper's: SGD with Nesterov momentum 0.9 and weight decay 1e-3, the
    learning rate decaying as :math:`\eta_0 (1 + 10 p)^{-0.75}` (:math:`\eta_0` is
    ``learning_rate``) over the training's progress :math:`p`, one learning rate for every layer
    (as its digits code; its Office code gives an ImageNet backbone a tenth of it). The batch
    normalizations' moving statistics, which PyTorch's momentum of 0.1 turns into the target's
    within an epoch but Keras' momentum of 0.99 would leave a mix of source and target
    statistics after a few dozen steps, are instead set to the statistics of the target images
    before each epoch's pseudo-labels (the first epoch's are the given network's) and at the
    end, so that the clustering and the fitted network normalise with the statistics the
    training saw. The given classifier is never modified: a copy of its network is adapted.

    Parameters
    ----------
    classifier : FineTunedCNNClassifier, keras.Model or path
        The source classifier: a fitted :class:`FineTunedCNNClassifier` (its ``model_``,
        ``classes_`` and ``image_shape_``; ``sklearn.frozen.FrozenEstimator`` of one too), a
        ``keras.Model`` mapping a batch of images to class probabilities (a softmax output),
        or the path of one saved as ``.keras``. It is shared with clones, not copied.
    classes : array-like of shape (n_classes,), default=None
        Labels of the outputs of a ``keras.Model`` classifier; None: ``0 .. n_classes - 1``.
        Must be None for a :class:`FineTunedCNNClassifier`, which has its own.
    epochs : int, default=15
        Passes over the target images; 0 keeps the given network. 15 is the paper's setting
        for Office-31, whose domains hold 500 to 2,800 images (8 to 44 steps per epoch at its
        batch size 64): the small data this estimator is meant for. Every epoch recomputes the
        pseudo-labels.
    learning_rate : float, default=1e-2
        Initial learning rate of SGD (the paper's).
    beta : float, default=0.3
        Weight of the pseudo-label cross-entropy (the paper's 0.3); 0: information
        maximisation alone (SHOT-IM), without clustering.
    batch_size : int, default=32
        Target images per step; an epoch's images are cut into ``ceil(n / batch_size)``
        batches of near-equal size.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one image when ``X`` is a 2-D
        array of flattened images; None: the image shape the network takes.
    verbose : int, default=0
        A progress bar per epoch when positive (2: one line per epoch).
    random_state : int, RandomState instance or None, default=None
        Seeds the batch order; the same seed gives the same adapted network on CPU.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The classifier's classes.
    model_ : keras.Model
        The adapted network: raw images of ``image_shape_`` in, class probabilities out.
    history_ : dict
        Per epoch: ``"loss"`` and ``"information_maximization"``, means over the target
        images; with ``beta > 0``, also ``"pseudo_label_loss"`` (the unweighted
        cross-entropy) and ``"pseudo_label_agreement"``: the fraction of images whose
        pseudo-label is the class the network predicted for them at the start of the epoch.
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images ``model_`` takes.
    n_features_in_ : int
        Number of values per row, when fitted on a 2-D array.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    TENTClassifier : Test-time adaptation of the batch normalizations alone.
    FineTunedCNNClassifier : The source classifier; with ``target_loss="im"`` it adapts with
        the source data at hand.

    References
    ----------
    .. [1] J. Liang, D. Hu and J. Feng, "Do We Really Need to Access the Source Data? Source
       Hypothesis Transfer for Unsupervised Domain Adaptation", ICML 2020.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from skltransfer import SHOTClassifier
    >>> inputs = keras.Input((8, 8, 1))
    >>> x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(keras.layers.BatchNormalization()(x))
    >>> dense = keras.layers.Dense(2, "softmax", kernel_initializer=keras.initializers.GlorotUniform(1))
    >>> network = keras.Model(inputs, dense(x))
    >>> X_target = 2.0 * np.random.RandomState(0).rand(20, 8, 8) + 1.0  # brighter, more contrast
    >>> shot = SHOTClassifier(network, classes=["a", "b"], epochs=2, random_state=0).fit(X_target)
    >>> shot.predict_proba(X_target[:3]).shape, shot.classes_.tolist(), len(shot.history_["loss"])
    ((3, 2), ['a', 'b'], 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_SourceFreeClassifier._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        classifier,
        *,
        classes=None,
        epochs=15,
        learning_rate=1e-2,
        beta=0.3,
        batch_size=32,
        image_shape=None,
        verbose=0,
        random_state=None,
    ):
        self.classifier = classifier
        self.classes = classes
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.beta = beta
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.verbose = verbose
        self.random_state = random_state

    def _adapt(self, network: LayerwiseNetwork, x: np.ndarray, rng) -> dict:
        beta = float(self.beta)
        names = ["loss", "information_maximization"] + (
            ["pseudo_label_loss", "pseudo_label_agreement"] if beta else []
        )
        history: dict = {name: [] for name in names}
        if self.epochs == 0:
            return history
        final, body, variables = _feature_extractor(network)
        body_ids = {id(layer) for layer in body}

        def forward(batch, training):
            captured = {}

            def on_call(layer, inputs):
                if layer is final:
                    captured["features"] = inputs

            proba = network.run(batch, training=training, on_call=on_call)
            features = captured["features"]
            return ops.reshape(features, (ops.shape(features)[0], -1)), proba

        @tf.function(input_signature=[batch_signature(x)], autograph=False)
        def infer(batch):
            return forward(batch, lambda layer: False)

        optimizer = keras.optimizers.SGD(
            learning_rate=_ShotSchedule(
                self.learning_rate, self.epochs * math.ceil(len(x) / self.batch_size)
            ),
            momentum=SHOT_MOMENTUM,
            nesterov=True,
            weight_decay=SHOT_WEIGHT_DECAY,
        )
        optimizer.build(variables)

        @tf.function(input_signature=[batch_signature(x), tf.TensorSpec((None,), tf.int32)], autograph=False)
        def step(batch, labels):
            with tf.GradientTape() as tape:
                _, proba = forward(batch, lambda layer: id(layer) in body_ids)  # the body in training mode
                terms = [information_maximization_loss(proba)]
                if beta:
                    picked = ops.take_along_axis(proba, ops.expand_dims(labels, 1), axis=1)
                    terms.append(-ops.mean(ops.log(ops.clip(picked, _EPSILON, 1.0))))
                loss = terms[0] + beta * terms[1] if beta else terms[0]
            gradients = tape.gradient(loss, variables)
            optimizer.apply_gradients(
                [(g, v) for g, v in zip(gradients, variables, strict=True) if g is not None]
            )
            return [loss, *terms]

        labels = np.zeros(len(x), dtype=np.int32)
        for epoch in range(self.epochs):
            if epoch > 0:  # the first pseudo-labels are the given network's, with its own statistics
                set_batch_statistics(network, x, self.batch_size)
            if beta:
                outputs = [infer(x[s : s + self.batch_size]) for s in range(0, len(x), self.batch_size)]
                features = np.concatenate([np.asarray(f) for f, _ in outputs])
                proba = np.concatenate([np.asarray(p) for _, p in outputs])
                labels = _shot_pseudo_labels(features, proba).astype(np.int32)
            batches = _epoch_batches(len(x), self.batch_size, rng)
            progress = self._progress(epoch, len(batches))
            sums = np.zeros(3 if beta else 2)  # loss, information maximisation[, cross-entropy]
            for i, rows in enumerate(batches):
                values = np.asarray([float(v) for v in step(x[rows], labels[rows])])
                sums += len(rows) * values
                if progress is not None:
                    progress.update(i + 1, values=[("loss", values[0])])
            for name, total in zip(names[: len(sums)], sums / len(x), strict=True):
                history[name].append(float(total))
            if beta:
                history["pseudo_label_agreement"].append(float(np.mean(labels == proba.argmax(axis=1))))
        set_batch_statistics(network, x, self.batch_size)
        return history


class TENTClassifier(LearnsFromTargetMixin, _SourceFreeClassifier):
    r"""Test-time adaptation of a fitted classifier by TENT (entropy minimisation of the batch norms).

    TENT (Wang et al. 2021) adapts a classifier to a shifted target domain from unlabeled
    target images alone, changing as little as possible: only the affine parameters (gamma
    and beta) of the network's ``BatchNormalization`` layers are trained, all other weights
    stay as they are. Each batch normalization normalises with the statistics of the target
    batch (training mode; its moving averages are not used), every other layer runs in
    inference mode, and the parameters take Adam steps (the paper's CIFAR setting) that
    minimise the mean entropy :math:`\frac{1}{n} \sum_i H(p_i)` of the predictions on the batch. TENT uses
    one epoch (one pass over the test data).

    The paper predicts each test batch with the statistics of that batch, online; a
    scikit-learn classifier's prediction of an image must not depend on the other images
    predicted with it, so here ``fit`` adapts on the target images and then sets each batch
    normalization's moving mean and variance to the statistics of its input over all of them
    (a pass in the same mode as training). ``model_`` then normalises every image with the
    target statistics: for images of the same target domain the same normalisation as the
    paper's, up to the sampling noise of a batch. ``epochs=0`` does this alone: prediction-time
    batch normalization with target statistics (Schneider et al. 2020), the baseline that
    TENT improves on. The given classifier is never modified: a copy of its network is adapted.

    Parameters
    ----------
    classifier : FineTunedCNNClassifier, keras.Model or path
        The source classifier: a fitted :class:`FineTunedCNNClassifier` (its ``model_``,
        ``classes_`` and ``image_shape_``; ``sklearn.frozen.FrozenEstimator`` of one too), a
        ``keras.Model`` mapping a batch of images to class probabilities (a softmax output),
        or the path of one saved as ``.keras``. Its network must hold ``BatchNormalization``
        layers with gamma or beta. It is shared with clones, not copied.
    classes : array-like of shape (n_classes,), default=None
        Labels of the outputs of a ``keras.Model`` classifier; None: ``0 .. n_classes - 1``.
        Must be None for a :class:`FineTunedCNNClassifier`, which has its own.
    epochs : int, default=1
        Passes over the target images (the paper's one); 0: target statistics only.
    learning_rate : float, default=1e-3
        Learning rate of Adam (the paper's, with beta_1 0.9 and no weight decay).
    batch_size : int, default=128
        Target images per step (the paper's CIFAR batch); an epoch's images are cut into
        ``ceil(n / batch_size)`` batches of near-equal size. Batch statistics need a batch of
        some size: with small ones, the normalisation is noisy.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one image when ``X`` is a 2-D
        array of flattened images; None: the image shape the network takes.
    verbose : int, default=0
        A progress bar per epoch when positive (2: one line per epoch).
    random_state : int, RandomState instance or None, default=None
        Seeds the batch order; the same seed gives the same adapted network on CPU.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The classifier's classes.
    model_ : keras.Model
        The adapted network: raw images of ``image_shape_`` in, class probabilities out.
    history_ : dict
        ``{"loss": [...]}``: the mean entropy of the predictions in each epoch.
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images ``model_`` takes.
    n_features_in_ : int
        Number of values per row, when fitted on a 2-D array.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    SHOTClassifier : Source-free adaptation of the whole feature extractor.
    FineTunedCNNClassifier : The source classifier.

    References
    ----------
    .. [1] D. Wang, E. Shelhamer, S. Liu, B. Olshausen and T. Darrell, "Tent: Fully Test-Time
       Adaptation by Entropy Minimization", ICLR 2021.
    .. [2] S. Schneider, E. Rusak, L. Eck, O. Bringmann, W. Brendel and M. Bethge, "Improving
       robustness against common corruptions by covariate shift adaptation", NeurIPS 2020.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from skltransfer import TENTClassifier
    >>> inputs = keras.Input((8, 8, 1))
    >>> x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(keras.layers.BatchNormalization()(x))
    >>> dense = keras.layers.Dense(2, "softmax", kernel_initializer=keras.initializers.GlorotUniform(1))
    >>> network = keras.Model(inputs, dense(x))
    >>> X_target = 2.0 * np.random.RandomState(0).rand(20, 8, 8) + 1.0  # brighter, more contrast
    >>> tent = TENTClassifier(network, classes=["a", "b"], random_state=0).fit(X_target)
    >>> tent.predict_proba(X_target[:3]).shape, tent.classes_.tolist(), len(tent.history_["loss"])
    ((3, 2), ['a', 'b'], 1)
    """

    def __init__(
        self,
        classifier,
        *,
        classes=None,
        epochs=1,
        learning_rate=1e-3,
        batch_size=128,
        image_shape=None,
        verbose=0,
        random_state=None,
    ):
        self.classifier = classifier
        self.classes = classes
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.verbose = verbose
        self.random_state = random_state

    def _adapt(self, network: LayerwiseNetwork, x: np.ndarray, rng) -> dict:
        norms = network.batch_normalizations
        if not norms:
            raise ValueError(
                "TENTClassifier trains the BatchNormalization layers of classifier, and its network "
                "has none; use SHOTClassifier, which trains the whole feature extractor."
            )
        variables = [
            variable
            for layer in norms
            for variable in (layer.gamma if layer.scale else None, layer.beta if layer.center else None)
            if variable is not None
        ]
        if not variables:
            raise ValueError(
                "TENTClassifier trains the gamma and beta of the BatchNormalization layers of "
                "classifier, and its batch normalizations have neither (scale=False, center=False)."
            )
        for layer in norms:
            layer.trainable = True  # Keras runs a frozen batch normalization in inference mode
        norm_ids = {id(layer) for layer in norms}
        history = {"loss": []}
        if self.epochs:
            optimizer = keras.optimizers.Adam(learning_rate=self.learning_rate, beta_1=TENT_BETA_1)
            optimizer.build(variables)

            @tf.function(input_signature=[batch_signature(x)], autograph=False)
            def step(batch):
                with tf.GradientTape() as tape:
                    proba = network.run(batch, training=lambda layer: id(layer) in norm_ids)
                    loss = ops.mean(_entropy(proba))
                gradients = tape.gradient(loss, variables)
                optimizer.apply_gradients(
                    [(g, v) for g, v in zip(gradients, variables, strict=True) if g is not None]
                )
                return loss

            for epoch in range(self.epochs):
                batches = _epoch_batches(len(x), self.batch_size, rng)
                progress = self._progress(epoch, len(batches))
                total = 0.0
                for i, rows in enumerate(batches):
                    loss = float(step(x[rows]))
                    total += len(rows) * loss
                    if progress is not None:
                        progress.update(i + 1, values=[("loss", loss)])
                history["loss"].append(total / len(x))
        set_batch_statistics(network, x, self.batch_size)
        return history
