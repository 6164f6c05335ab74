"""FineTunedCNNClassifier: a pretrained Keras backbone fine-tuned as a scikit-learn classifier."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import ClassVar, NamedTuple

import numpy as np
from scipy.special import logsumexp
from sklearn.base import ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing, check_random_state, column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length

from .._domains import resolve_domains, unlabeled_mask
from ..utils._sklearn_compat import (
    HasMethods,
    Interval,
    RealNotInt,
    StrOptions,
    _fit_context,
    check_is_fitted,
)
from ..utils._tags import DomainTags
from ..utils._warnings import warn_at_caller
from ._backbone import feature_layer, known_input_shape, resolve_backbone
from ._base import CompiledPredictor, derive_seed, fold_batch_normalization, require_keras, scoped_seed
from ._estimator import KerasImageEstimator
from ._export import export_model
from ._finetune import OPTIMIZERS, auto_epochs, auto_patience, shuffled_batches, train_phase
from ._heads import (
    adaptation_model,
    augmentation_layers,
    build_head,
    pooling_layer,
    set_unfrozen,
    unfrozen_count,
)
from ._layers import ImagePreprocessing, InferenceMode
from ._logistic_head import MAX_ITER as LOGISTIC_MAX_ITER
from ._logistic_head import logistic_penalty, solve_logistic_head
from .applications import get_application
from .images import check_channels
from .losses import AUTO_WEIGHTS, DOMAIN_LOSSES, WARMUP_SCHEDULES, domain_loss_layer, warmup_callback

__all__ = ["FineTunedCNNClassifier"]

_NAME = "FineTunedCNNClassifier"

# The "auto" training budgets: optimizer steps per phase, converted to epochs by
# auto_epochs (at least one epoch, at most the cap), and the plateau stop's patience.
HEAD_STEPS, MAX_HEAD_EPOCHS = 500, 200
FINE_TUNE_STEPS, MAX_FINE_TUNE_EPOCHS = 300, 100
PLATEAU_STEPS = 50


class FineTunedCNNClassifier(ClassifierMixin, KerasImageEstimator):
    """A pretrained CNN with a new classification head, trained in two phases.

    The transfer-learning recipe as one scikit-learn classifier: the backbone (a
    ``keras.applications`` network, a saved ``.keras`` model or a ``keras.Model``, cut at
    ``layer`` and globally pooled) gets a new head (optional hidden layer, dropout, L1/L2
    penalties, softmax over the classes). Phase 1 trains the head on the frozen backbone;
    phase 2 unfreezes the top layers of the backbone, optionally in steps, and fine-tunes
    them with a smaller learning rate. BatchNormalization layers stay frozen and in inference
    mode throughout (the backbone is called with ``training=False``). Augmentation layers are
    active only while training.

    The head standardises its input (its first layer, a ``Normalization`` with the mean and
    variance of the labeled training rows' pooled features), so that its training does not
    depend on the backbone's feature scale. The exception is a backbone trained from a random
    initialisation together with its head (``weights=None``, ``epochs=0``, fine-tuning that
    unfreezes layers): no phase fits the head to fixed features, and the statistics of the
    random initial network (per-feature scales spread over orders of magnitude) describe
    features that the training replaces; frozen into the network as gains, they change how
    it trains. Its head takes the features unscaled, as in a network trained end to end.

    When phase 1 uses no augmentation, the frozen backbone's features are computed once,
    through a compiled fixed-shape function, and the head is trained on them: the same
    training, many times faster than running every epoch through the backbone.

    With ``domain_loss``, the classifier also learns from unlabeled images of a target domain
    (deep domain adaptation): rows with ``y == -1`` (the domain convention, see
    :func:`skltransfer.stack_domains`), or the rows that ``sample_domain`` marks as target,
    are not classified but pulled towards the labeled ones in feature space. Every training
    step pairs a batch of labeled images with as many target images and adds a domain loss on
    their *adapted features*: the head's hidden layer when ``hidden_units > 0``, else the
    pooled backbone features. "mmd" is the multi-kernel MMD of DAN (Long et al. 2015),
    "coral" Deep CORAL (Sun and Saenko 2016), "adversarial" DANN (Ganin et al. 2016): a
    domain classifier behind a gradient-reversal layer. The loss acts on whatever the
    current phase trains: the hidden layer in phase 1, the unfrozen backbone layers (and the
    hidden layer) in phase 2; with ``hidden_units=0`` phase 1 trains only the output layer
    and the loss has nothing to move until phase 2.

    TensorFlow is imported on the first ``fit``, never when :mod:`skltransfer` is imported.

    Parameters
    ----------
    base_model : str, path or keras.Model, default="mobilenet_v2"
        A ``keras.applications`` network by name (case-insensitive, e.g. ``"mobilenet_v2"``,
        ``"ResNet50"``), a path to a saved ``.keras`` model or a ``keras.Model`` (copied at
        fit, never modified), as in :class:`PretrainedFeatureExtractor`.
    weights : "imagenet", None or path, default="imagenet"
        For a named network: ImageNet weights (downloaded by Keras on first use; offline,
        the error names the file to place in Keras' cache), None for random initialisation
        or a weights file. For a model or saved model: ``"imagenet"`` keeps its own weights,
        None re-initialises them (training from scratch), a path loads that weights file.
    layer : str, int or None, default=None
        Name or index of the backbone layer whose output feeds the head. None: the last
        layer with a 4-D output (the last convolutional block).
    pooling : {"avg", "max"} or None, default="avg"
        Global pooling of a 4-D feature map; None flattens it.
    input_size : int, (height, width) or None, default=None
        Network input size; None: the network's native size (a model's own; for a model that
        accepts any size, the size of the training images).
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of one image when ``X`` is a
        2-D array of flattened images (one entry may be -1).
    preprocessing : "auto", str, callable or None, default="auto"
        Pixel preprocessing inside the network. "auto": the named application's own
        ``preprocess_input``, nothing for a model. Another string names the application
        whose ``preprocess_input`` to use. A callable of a float32 tensor is applied as is
        (a module-level function, so that the network can be saved and pickled). None: none.
    engine : {"auto", "keras", "litert"}, default="auto"
        What runs ``predict_proba``: the compiled TensorFlow function, or the network
        converted once to LiteRT and run by its XNNPACK CPU kernels; "auto" takes LiteRT
        for calls of at least 2048 images where it is installed (see
        :class:`PretrainedFeatureExtractor`).
    memory : None, str, path or joblib.Memory, default=None
        A folder (or a ``joblib.Memory``, whose folder is used) where the frozen backbone's
        features are cached per image, keyed by the image's pixels and the backbone's
        identity (architecture and weights, layer, pooling, preprocessing, input size).
        A fit without fine-tuning (``fine_tune_epochs=0``, no augmentation) whose images
        are all cached neither builds nor runs the backbone, and neither does its
        prediction of cached images: every fit of a ``GridSearchCV`` over the head's
        parameters after the first, in any process, trains on cached features. The
        network ``model_`` is then assembled on first access. None: no cache.
    hidden_units : int, default=0
        Units of a ReLU hidden layer in the head; 0 for none (a linear head: a multinomial
        logistic regression on the standardised features).
    dropout : float, default=0.2
        Dropout rate before the output layer, in the phases trained by stochastic steps (the
        exact solve of a linear head has its L2 penalty as regulariser instead).
    l1 : float, default=0.0
        L1 penalty on the kernels of the head's dense layers (added to the mean loss).
    l2 : float or "auto", default="auto"
        L2 penalty on the kernels of the head's dense layers (added to the mean loss).
        "auto": ``1 / (2 n)`` for ``n`` training rows, the penalty of scikit-learn's
        ``LogisticRegression(C=1.0)``: the linear head's phase 1 is then exactly that
        logistic regression on the standardised features.
    epochs : int or "auto", default="auto"
        Phase 1: epochs of head training on the frozen backbone; 0 skips the phase.
        "auto": a linear head on cached features (``hidden_units=0``, no augmentation) is
        solved exactly, as a logistic regression (L-BFGS, or SAGA with ``l1``), to
        convergence; another head trains for about 500 optimizer steps
        (``ceil(500 / batches per epoch)`` epochs, at most 200) and stops earlier on a
        plateau of its loss (see ``patience``), with a ``ConvergenceWarning`` when the
        budget runs out first. An int trains exactly that many epochs of stochastic steps.
    learning_rate : float, default=1e-3
        Phase 1 initial learning rate (stochastic steps only).
    fine_tune_epochs : int or "auto", default="auto"
        Phase 2: epochs of fine-tuning; 0 skips the phase. "auto": about 300 optimizer
        steps (``ceil(300 / batches per epoch)`` epochs, at most 100: many epochs on a few
        hundred images, one on a hundred thousand), stopping earlier on a plateau, with a
        ``ConvergenceWarning`` when the budget runs out first.
    fine_tune_learning_rate : float or "auto", default="auto"
        Phase 2 initial learning rate. "auto": ``learning_rate / 10``, small enough to keep
        the pretrained features, large enough to move them in a few hundred steps.
    unfreeze : int, float or str, default=0.2
        Which top layers of the backbone phase 2 trains, counting the layers with weights
        (batch normalizations excepted, they stay frozen): a count, a fraction in (0, 1],
        or the name of the lowest layer to train.
    unfreeze_steps : int, default=1
        Progressive unfreezing: phase 2 is split into this many equal runs of epochs, the
        ``k``-th training the top ``k / unfreeze_steps`` of the ``unfreeze`` layers.
    augmentation : list of str or keras layers, str or None, default=None
        Random transformations applied to training images only: names among ``"flip"``,
        ``"rotation"``, ``"zoom"``, ``"translation"``, ``"contrast"``, or Keras
        preprocessing layers (rebuilt from their config at fit).
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"} or keras optimizer, default="adam"
        A new optimizer is made for each phase (an object is rebuilt from its config with the
        phase's learning rate).
    lr_schedule : {"constant", "cosine", "exponential", "plateau"} or callable, default="constant"
        Per-epoch learning rate within each phase: cosine decay to 0, exponential decay to
        1% of the initial rate, halving after 2 epochs without improvement of the
        (validation) loss, or a callable ``schedule(epoch, lr) -> lr``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training images and, in each phase, stop when
        the validation loss has not improved for ``patience`` epochs, restoring the weights
        of the best epoch. Without it, the ``"auto"`` budgets stop on a plateau of the
        training loss.
    validation_fraction : float, default=0.1
        Fraction held out (stratified when possible) when ``early_stopping``.
    patience : int or "auto", default="auto"
        Epochs without improvement (of the validation loss with ``early_stopping``, else of
        the training loss by at least 1e-3 under an ``"auto"`` budget) before a phase stops.
        "auto": about 50 optimizer steps, at least 3 epochs.
    class_weight : "balanced", dict or None, default=None
        Weights of the classes in the loss; a dict maps class labels to weights (missing
        classes weigh 1).
    callbacks : list of keras callbacks or None, default=None
        Extra callbacks for every ``Model.fit`` call (copied at fit). With cached features,
        phase 1 trains the head model alone.
    cache_features : bool, default=True
        Train phase 1 on features computed once, when there is no augmentation. False runs
        every epoch through the frozen backbone (same result, slower).
    domain_loss : {"mmd", "coral", "adversarial"} or None, default=None
        The domain loss on the adapted features of labeled and target batches; None trains
        a plain classifier, on every row (a label ``-1`` is then a class like any other).
    domain_loss_weight : float or "auto", default="auto"
        Weight of the domain loss against the classification loss (for "adversarial", of
        the domain classifier's cross-entropy). "auto": 1 for "mmd" and "coral" (the
        weights of DAN and Deep CORAL), 0.1 for "adversarial" (the DANN default of ADAPT;
        the reversed gradient of a stronger domain classifier destabilises small
        networks). 0 ignores the target rows: the baseline of the same training without
        domain loss, e.g. in a grid search.
    domain_warmup : {"sigmoid", "linear", "constant"}, default="sigmoid"
        How the domain term ramps up over the steps of the whole training (both phases):
        ``2 / (1 + exp(-10 p)) - 1`` at progress ``p`` (Ganin et al. 2016), ``p``, or 1
        throughout. For "adversarial" it scales the reversed gradient that reaches the
        features; the domain classifier itself always learns at full weight. The sigmoid
        reaches three quarters of the weight a fifth of the way in: a network trained from
        scratch may not have learned the classes by then, and a constant embedding has no
        domain gap. ``fit`` warns when the labeled rows' training accuracy falls back to the
        share of the most frequent class; "linear" or a smaller weight then helps.
    discriminator_units : tuple of int, default=(64,)
        Hidden ReLU layers of the domain classifier ("adversarial" only).
    batch_size : int, default=32
    verbose : int, default=0
        Keras progress bars when positive (2: one line per epoch).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout, augmentation, the validation split and the
        batch order; the same seed gives identical predictions on CPU. Global random states
        are left unchanged.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : keras.Model
        The whole network: raw images of ``image_shape_`` in, class probabilities out (in the
        order of ``classes_``). Its sub-model ``"head"`` takes the pooled features, and its
        layer ``"backbone"`` holds the backbone, called in inference mode. Assembled on
        first access when ``fit`` did not need the backbone (see ``memory``).
    head_ : keras.Model
        The head: pooled features in (standardised by its first layer, the identity for a
        backbone trained from scratch with it), probabilities out.
    history_ : dict
        ``{"head": {...}, "fine_tune": {...}}``: per phase, metric name -> per-epoch values
        (``loss``, ``accuracy`` and, with early stopping, ``val_loss``, ``val_accuracy``).
    image_shape_ : tuple of int
        ``(height, width, channels)`` of the images ``model_`` takes.
    input_shape_ : tuple of int
        ``(height, width, channels)`` fed to the backbone.
    n_features_in_ : int
        Number of values per row, when fitted on a 2-D array.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    PretrainedFeatureExtractor : The frozen backbone's features as a transformer.
    skltransfer.plotting.plot_history : Learning curves of both phases.

    Notes
    -----
    Training images are held in memory (image files are decoded once, at the network's
    input size). Prediction runs through one compiled, fixed-shape function per image shape,
    never pickled; pickles hold ``model_`` as a ``.keras`` archive. In joblib process workers
    (``GridSearchCV(n_jobs=k)``, ``cross_val_score``) TensorFlow's thread pools follow the
    per-worker ``OMP_NUM_THREADS`` that joblib sets (``cpu_count() // n_jobs``, or
    ``joblib.parallel_config(inner_max_num_threads=k)``), so workers do not each use every
    core. TensorFlow reads its thread counts once per process, before its first operation:
    in the main process, set ``OMP_NUM_THREADS`` (or call ``tf.config.threading``) before the
    first fit to change them.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from skltransfer import FineTunedCNNClassifier
    >>> inputs = keras.Input((8, 8, 1))
    >>> init = keras.initializers.GlorotUniform(seed=0)
    >>> conv = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer=init)
    >>> base = keras.Model(inputs, conv(inputs))
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.rand(40, 64), np.repeat(["dark", "bright"], 20)
    >>> X[y == "bright"] += 1.0
    >>> clf = FineTunedCNNClassifier(base, image_shape=(8, 8), epochs=30, learning_rate=0.1, dropout=0.0,
    ...                              fine_tune_epochs=2, unfreeze=1, random_state=0).fit(X, y)
    >>> clf.score(X, y), clf.predict_proba(X[:3]).shape, list(clf.history_)
    (1.0, (3, 2), ['head', 'fine_tune'])
    """

    _own_parameter_constraints: ClassVar[dict] = {
        "hidden_units": [Interval(Integral, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "l1": [Interval(Real, 0, None, closed="left")],
        "l2": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "fine_tune_epochs": [Interval(Integral, 0, None, closed="left"), StrOptions({"auto"})],
        "fine_tune_learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "unfreeze": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
            str,
        ],
        "unfreeze_steps": [Interval(Integral, 1, None, closed="left")],
        "augmentation": [list, tuple, str, None],
        "optimizer": [StrOptions(set(OPTIMIZERS)), HasMethods(["get_config", "apply_gradients"])],
        "lr_schedule": [StrOptions({"constant", "cosine", "exponential", "plateau"}), callable],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "callbacks": [list, None],
        "cache_features": ["boolean"],
        "domain_loss": [StrOptions(set(DOMAIN_LOSSES)), None],
        "domain_loss_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "domain_warmup": [StrOptions(set(WARMUP_SCHEDULES))],
        "discriminator_units": [tuple, list],
    }
    _keras_models = ("_model", "head_")
    _unpicklable = ("_predictors", "_frozen_predictor")
    # scikit-learn checks this estimator cannot pass, with the reason (see tests/keras).
    _expected_failed_checks: ClassVar[dict] = {}

    def __init__(
        self,
        base_model="mobilenet_v2",
        *,
        weights="imagenet",
        layer=None,
        pooling="avg",
        input_size=None,
        image_shape=None,
        preprocessing="auto",
        memory=None,
        engine="auto",
        hidden_units=0,
        dropout=0.2,
        l1=0.0,
        l2="auto",
        epochs="auto",
        learning_rate=1e-3,
        fine_tune_epochs="auto",
        fine_tune_learning_rate="auto",
        unfreeze=0.2,
        unfreeze_steps=1,
        augmentation=None,
        optimizer="adam",
        lr_schedule="constant",
        early_stopping=False,
        validation_fraction=0.1,
        patience="auto",
        class_weight=None,
        callbacks=None,
        cache_features=True,
        domain_loss=None,
        domain_loss_weight="auto",
        domain_warmup="sigmoid",
        discriminator_units=(64,),
        batch_size=32,
        verbose=0,
        random_state=None,
    ):
        self.base_model = base_model
        self.weights = weights
        self.layer = layer
        self.pooling = pooling
        self.input_size = input_size
        self.image_shape = image_shape
        self.preprocessing = preprocessing
        self.memory = memory
        self.engine = engine
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.l1 = l1
        self.l2 = l2
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.fine_tune_epochs = fine_tune_epochs
        self.fine_tune_learning_rate = fine_tune_learning_rate
        self.unfreeze = unfreeze
        self.unfreeze_steps = unfreeze_steps
        self.augmentation = augmentation
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.cache_features = cache_features
        self.domain_loss = domain_loss
        self.domain_loss_weight = domain_loss_weight
        self.domain_warmup = domain_warmup
        self.discriminator_units = discriminator_units
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------------ data

    def _labels(self, y, n_images: int) -> np.ndarray:
        """Record ``classes_`` and return the class codes of ``y``."""
        y = column_or_1d(y, warn=True)
        check_consistent_length(np.empty(n_images), y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{_NAME} needs samples of at least 2 classes in y; got only one class: {self.classes_[0]!r}."
            )
        return codes.astype(np.int64)

    def _class_weights(self, codes: np.ndarray) -> np.ndarray:
        """Per-sample weights from ``class_weight``."""
        per_class = np.ones(len(self.classes_))
        if isinstance(self.class_weight, str):
            per_class = compute_class_weight("balanced", classes=np.arange(len(self.classes_)), y=codes)
        elif self.class_weight is not None:
            unknown = [c for c in self.class_weight if c not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(
                    f"class_weight names classes not in y: {unknown}; "
                    f"the classes are {self.classes_.tolist()}."
                )
            for i, c in enumerate(self.classes_):
                per_class[i] = self.class_weight.get(c, 1.0)
        return per_class[codes].astype(np.float32)

    def _as_array(self, images, shape) -> np.ndarray:
        batches = images.batches(self.batch_size, size=shape[:2], channels=shape[-1])
        return np.concatenate([np.asarray(b, dtype=np.float32) for b in batches])

    # ---------------------------------------------------------------- network

    def _preprocessing_layer(self, own_preprocess):
        """The network's first layer: raw pixels to what the backbone takes."""
        application, function = None, None
        if self.preprocessing == "auto":
            application = None if own_preprocess is None else get_application(self.base_model).name
        elif isinstance(self.preprocessing, str):
            application = get_application(self.preprocessing).name
        else:
            function = self.preprocessing
        return ImagePreprocessing(
            self.input_shape_[:2], self.input_shape_[-1], application, function, name="preprocess"
        )

    def _build_network(self, image_size, seed: int) -> _Network:
        """Build the backbone (sets ``input_shape_``) and the layers of ``model_`` before the head.

        The backbone is cut at ``layer``, frozen, and called in inference mode
        (:class:`~skltransfer.keras._layers.InferenceMode`); augmentation layers are seeded
        by ``seed``.
        """
        keras = require_keras(_NAME)
        backbone, self.input_shape_, own_preprocess = resolve_backbone(
            self.base_model,
            self.weights,
            input_size=self.input_size,
            image_size=image_size,
            random_state=self._seed,
            purpose=_NAME,
        )
        layer = feature_layer(backbone, self.layer)
        base = backbone if layer is backbone.layers[-1] else keras.Model(backbone.inputs, layer.output)
        base.trainable = False
        preprocessing = self._preprocessing_layer(own_preprocess)
        pool = pooling_layer(len(base.outputs[0].shape), self.pooling)
        augment = augmentation_layers(self.augmentation, seed)

        def frozen_features(x, backbone):
            out = backbone(preprocessing(x), training=False)
            return out if pool is None else pool(out)

        in_inference_mode = InferenceMode(base, name="backbone")

        def features(x):
            for aug in augment:
                x = aug(x)
            return frozen_features(x, in_inference_mode)

        return _Network(base, features, frozen_features)

    def _assemble(self, features, head, seed: int):
        """``model_``: raw images -> ``features`` -> ``head`` (the sub-model named ``"head"``)."""
        keras = require_keras(_NAME)
        with scoped_seed(seed):
            inputs = keras.Input(self.image_shape_, name="images")
            return keras.Model(inputs, head(features(inputs)), name="finetuned_cnn")

    @property
    def model_(self):
        model = self.__dict__.get("_model")
        if model is None:
            check_is_fitted(self, "head_")
            if self._cache_identity != self._backbone_identity(self._seed):
                raise ValueError(
                    f"{_NAME}: base_model or weights changed since fit (the backbone's identity "
                    "differs from the one its cached features were computed with); fit again."
                )
            network = self._build_network(self.image_shape_[:2], self._network_seed)
            model = self._model = self._assemble(network.features, self.head_, self._network_seed)
        return model

    def _frozen_features(self, base, frozen_features, x: np.ndarray) -> np.ndarray:
        """Pooled features of images through the frozen backbone (its batch normalizations folded)."""
        folded = fold_batch_normalization(base)
        extract = CompiledPredictor(
            lambda images: frozen_features(images, folded), self.image_shape_, self.batch_size
        )
        return np.concatenate([extract(b) for b in _chunks(x, self.batch_size)])

    def _frozen_predictor_features(self, x: np.ndarray) -> np.ndarray:
        """Frozen-backbone features through ``model_`` (up to the head's input), compiled once."""
        if self.__dict__.get("_frozen_predictor") is None:
            keras = require_keras(_NAME)
            model = self.model_
            names = {layer.name for layer in model.layers}
            pooled = model.get_layer("pooling" if "pooling" in names else "backbone").output
            truncated = fold_batch_normalization(keras.Model(model.inputs, pooled))
            self._frozen_predictor = CompiledPredictor(
                lambda images: truncated(images, training=False), self.image_shape_, self.batch_size
            )
        return np.concatenate([self._frozen_predictor(b) for b in _chunks(x, self.batch_size)])

    # ------------------------------------------------------------ budgets

    def _l2(self, n_train: int) -> float:
        return 1.0 / (2 * n_train) if self.l2 == "auto" else float(self.l2)

    def _solves_head_exactly(self, augmentation) -> bool:
        """Whether phase 1 is an exact logistic regression (epochs "auto", linear head, no augmentation)."""
        return self.epochs == "auto" and self.hidden_units == 0 and not augmentation

    def _trains_features_from_scratch(self, network, fine_tune_epochs: int) -> bool:
        """Whether the head trains only together with a randomly initialised backbone.

        ``weights=None``, ``epochs=0`` and fine-tuning that unfreezes layers: no phase fits
        the head to fixed features, so its ``Normalization`` is the identity (see the class
        description).
        """
        return (
            self.weights is None
            and self.epochs == 0
            and fine_tune_epochs > 0
            and unfrozen_count(network.base, self.unfreeze) > 0
        )

    def _epochs(self, value, n_train: int, target_steps: int, max_epochs: int) -> int:
        return auto_epochs(n_train, self.batch_size, target_steps, max_epochs) if value == "auto" else value

    # ------------------------------------------------------------------- fit

    # ------------------------------------------------------------------- fit

    def _resolve_domains(self, y, sample_domain, n_samples: int):
        return resolve_domains(y, sample_domain, n_samples=n_samples)

    def _rows(self, y, sample_domain, n_images: int):
        """Indices of the labeled rows (every row without a domain loss) and of the target rows (or None)."""
        if self.domain_loss is None:
            if sample_domain is not None:
                raise ValueError(
                    "sample_domain marks target rows for a domain loss, but domain_loss is None; "
                    "set domain_loss (and domain_loss_weight=0 for training without its term)."
                )
            return np.arange(n_images), None
        domains = self._resolve_domains(y, sample_domain, n_images)
        labeled, target = np.flatnonzero(domains.labeled), np.flatnonzero(domains.target)
        if len(target) < 2:
            raise ValueError(
                f"domain_loss={self.domain_loss!r} needs at least 2 target rows (y == -1 or "
                f"sample_domain < 0); got {len(target)}."
            )
        return labeled, target

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_domain=None):
        """Build the network and train it: the head on the frozen backbone, then the top layers.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Training images (see :class:`PretrainedFeatureExtractor` for the accepted forms).
        y : array-like of shape (n,)
            Class labels (ints or strings), at least two classes. With ``domain_loss``,
            ``-1`` marks unlabeled target images (:func:`skltransfer.stack_domains`).
        sample_domain : array-like of int of shape (n,), default=None
            With ``domain_loss`` only: the domain of each row (``>= 0`` source, ``< 0``
            target), overriding the ``-1`` rule, e.g. for labeled target rows. Requested
            through metadata routing (``set_fit_request(sample_domain=True)``).

        Returns
        -------
        self : object
        """
        require_keras(_NAME)
        images = self._images(X, reset=True)
        labeled, target = self._rows(y, sample_domain, len(images))
        if target is None:
            codes = self._labels(y, len(images))
        else:
            codes = self._labels(column_or_1d(y, warn=True, dtype=None)[labeled], len(labeled))
        n_classes = len(self.classes_)
        rng = check_random_state(self.random_state)
        self._seed = derive_seed(rng)  # the backbone's random initialisation (weights=None)
        seed = self._network_seed = derive_seed(rng)
        train, val = self._split(codes, rng)
        sample_weight = self._class_weights(codes)
        self.__dict__.update(_model=None, _predictors={}, _frozen_predictor=None, _litert={})

        # How each phase trains decides whether the backbone must be built at all.
        exact = self._solves_head_exactly(self.augmentation)
        head_epochs = 0 if exact else self._epochs(self.epochs, len(train), HEAD_STEPS, MAX_HEAD_EPOCHS)
        fine_tune_epochs = self._epochs(
            self.fine_tune_epochs, len(train), FINE_TUNE_STEPS, MAX_FINE_TUNE_EPOCHS
        )
        through_network = head_epochs > 0 and (bool(self.augmentation) or not self.cache_features)
        self._frozen_backbone = fine_tune_epochs == 0
        image_size = None if images.shape is None else images.shape[:2]
        self._record_backbone_identity(self._seed)
        cache = self._feature_cache()
        network = None
        self.input_shape_ = known_input_shape(
            self.base_model, input_size=self.input_size, image_size=image_size
        )
        if cache is None or self.input_shape_ is None or fine_tune_epochs or through_network:
            network = self._build_network(image_size, seed)
        self.image_shape_ = images.shape or self.input_shape_
        check_channels(self.image_shape_[-1], self.input_shape_[-1])
        x = self._as_array(images, self.image_shape_)

        def compute(rows):
            nonlocal network
            if network is None:
                network = self._build_network(image_size, seed)
            return self._frozen_features(network.base, network.frozen_features, rows)

        cached = compute(x) if cache is None else cache.lookup(x, compute)
        mean, variance = _standardization(cached[labeled[train]])
        if self._trains_features_from_scratch(network, fine_tune_epochs):
            mean, variance = np.zeros_like(mean), np.ones_like(variance)
        l2 = self._l2(len(train))
        head = self.head_ = build_head(
            cached.shape[1],
            n_classes,
            mean=mean,
            variance=variance,
            hidden_units=self.hidden_units,
            dropout=self.dropout,
            l1=self.l1,
            l2=l2,
            seed=seed,
        )
        if network is not None:
            self._model = self._assemble(network.features, head, seed)
        patience = (
            auto_patience(len(train), self.batch_size, PLATEAU_STEPS)
            if self.patience == "auto"
            else self.patience
        )
        shuffle_rng = np.random.RandomState(derive_seed(rng))
        domain_layer, own_callbacks = None, []
        if target is not None:
            domain_layer = domain_loss_layer(
                self.domain_loss,
                weight=AUTO_WEIGHTS[self.domain_loss]
                if self.domain_loss_weight == "auto"
                else self.domain_loss_weight,
                discriminator_units=self.discriminator_units,
                seed=derive_seed(rng),
            )
            steps = max(1, len(train) // self.batch_size) * (head_epochs + fine_tune_epochs)
            own_callbacks = [warmup_callback(domain_layer, self.domain_warmup, steps)]
        training = {
            "optimizer": self.optimizer,
            "lr_schedule": self.lr_schedule,
            "early_stopping": self.early_stopping,
            "patience": patience,
            "callbacks": self.callbacks or [],
            "verbose": self.verbose,
            "own_callbacks": own_callbacks,
        }

        def phase(net, inputs, input_features, input_shape):
            """The network to train and its batches; with a domain loss, the two-input graph."""
            validation = None if val is None else (inputs[labeled[val]], codes[val])
            target_inputs = None
            if domain_layer is not None:
                net = adaptation_model(head, input_features, input_shape, domain_layer)
                target_inputs = inputs[target]
                if validation is not None:
                    validation = ((validation[0], validation[0]), validation[1])
            batches = shuffled_batches(
                inputs[labeled[train]],
                codes[train],
                sample_weight[train],
                self.batch_size,
                shuffle_rng,
                target=target_inputs,
            )
            return net, batches, validation

        self.history_ = {"head": {}, "fine_tune": {}}
        if exact:
            self.history_["head"] = self._solve_head(
                head, cached[labeled[train]], codes[train], sample_weight[train], l2
            )
        elif head_epochs:
            if through_network:
                net, batches, validation = phase(self.model_, x, network.features, self.image_shape_)
            else:
                net, batches, validation = phase(head, cached, lambda f: f, cached.shape[1:])
            self.history_["head"] = train_phase(
                net,
                batches,
                validation,
                steps=[(head_epochs, lambda: None)],
                learning_rate=self.learning_rate,
                budget="epochs" if self.epochs == "auto" else None,
                **training,
            )
        if fine_tune_epochs:
            self.history_["fine_tune"] = self._fine_tune(
                network,
                x,
                codes,
                sample_weight,
                labeled,
                train,
                val,
                fine_tune_epochs,
                domain_layer,
                phase,
                training,
            )
        if domain_layer is not None:
            self._warn_if_collapsed(codes[train])
        return self

    def _fine_tune(
        self, network, x, codes, sample_weight, labeled, train, val, epochs, domain_layer, phase, training
    ) -> dict:
        """Phase 2: the top ``unfreeze`` layers and the head, in ``unfreeze_steps`` runs.

        Without a domain loss, the model never ends worse than phase 1 on the monitored
        objective (the validation loss with early stopping, else the training loss): phase
        1's weights are kept if it would.
        """
        base = network.base
        count = unfrozen_count(base, self.unfreeze)
        n_steps = min(self.unfreeze_steps, epochs)
        steps = [
            (
                round(epochs * k / n_steps),
                lambda k=k: set_unfrozen(base, max(1, round(count * k / n_steps)) if count else 0),
            )
            for k in range(1, n_steps + 1)
        ]
        rows = train if val is None else val
        monitored = (x[labeled[rows]], codes[rows], sample_weight[rows])
        guard = None if domain_layer is not None else (self._loss(*monitored), self.model_.get_weights())
        net, batches, validation = phase(self.model_, x, network.features, self.image_shape_)
        history = train_phase(
            net,
            batches,
            validation,
            steps=steps,
            learning_rate=self.learning_rate / 10
            if self.fine_tune_learning_rate == "auto"
            else self.fine_tune_learning_rate,
            budget="fine_tune_epochs" if self.fine_tune_epochs == "auto" else None,
            **training,
        )
        set_unfrozen(base, 0)
        if guard is not None:
            before, weights = guard
            history["reverted"] = bool(self._loss(*monitored) > before)
            if history["reverted"]:
                self.model_.set_weights(weights)
        return history

    def _solve_head(self, head, features, codes, sample_weight, l2: float) -> dict:
        """Phase 1 of a linear head: the exact logistic regression, written into ``head``."""
        z = np.asarray(head.get_layer("standardize")(features), dtype=np.float64)
        C, l1_ratio = logistic_penalty(self.l1, l2, len(codes), len(self.classes_))
        kernel, bias, n_iter = solve_logistic_head(
            z, codes, sample_weight, len(self.classes_), C=C, l1_ratio=l1_ratio
        )
        head.get_layer("probabilities").set_weights([kernel, bias])
        logits = z @ kernel + bias
        loss = _cross_entropy(logits, codes, sample_weight)
        accuracy = float(np.mean(np.argmax(logits, axis=1) == codes))
        return {
            "loss": [loss],
            "accuracy": [accuracy],
            "steps": [n_iter],
            "stop_reason": "budget" if n_iter >= LOGISTIC_MAX_ITER else "converged",
        }

    def _loss(self, x: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray) -> float:
        """The training objective of ``model_`` (in inference mode) on these images.

        The mean weighted cross-entropy plus the head's penalties, as Keras reports the loss.
        """
        keras = require_keras(_NAME)
        proba = self.model_.predict(x, batch_size=self.batch_size, verbose=0)
        penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in self.model_.losses)
        return _cross_entropy(np.log(np.clip(proba, 1e-12, None)), codes, sample_weight) + penalty

    def _warn_if_collapsed(self, train_codes: np.ndarray) -> None:
        """Warn when the training accuracy, after rising, fell to that of a constant guess.

        A constant embedding has no domain gap, so a domain loss that grows faster than the
        classifier learns can collapse the features: the labeled rows' accuracy drops to the
        share of the most frequent class and the predictions become one class.
        """
        accuracy = [value for phase in self.history_.values() for value in phase.get("accuracy", [])]
        majority = np.bincount(train_codes).max() / len(train_codes)
        if accuracy and accuracy[-1] <= majority + 0.05 and max(accuracy) >= accuracy[-1] + 0.1:
            warn_at_caller(
                f"{_NAME}: the training accuracy on the labeled rows rose to {max(accuracy):.2f} "
                f"and ended at {accuracy[-1]:.2f}, no better than always predicting the most "
                f"frequent class ({majority:.2f}), while the domain loss ramped up: the features "
                "have probably collapsed. Try domain_warmup='linear', a smaller "
                "domain_loss_weight, or a pretrained backbone with its head trained first "
                "(epochs > 0)."
            )

    def _split(self, codes: np.ndarray, rng):
        """Indices of the training and validation images (validation None without early stopping)."""
        everything = np.arange(len(codes))
        if not self.early_stopping:
            return everything, None
        n_val = int(np.ceil(self.validation_fraction * len(codes)))
        if n_val >= len(codes):
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training images "
                f"out of {len(codes)}."
            )
        seed = derive_seed(rng)
        try:
            return train_test_split(everything, test_size=n_val, stratify=codes, random_state=seed)
        except ValueError:  # too few images of a class to stratify
            return train_test_split(everything, test_size=n_val, random_state=seed)

    # --------------------------------------------------------------- predict

    def _predictor(self, image_shape) -> CompiledPredictor:
        """The compiled ``model_`` for images of this shape, its backbone's batch normalizations folded."""
        predictors = self.__dict__.setdefault("_predictors", {})
        if image_shape not in predictors:
            model = fold_batch_normalization(self.model_)

            def probabilities(x):
                return model(x, training=False)

            predictors[image_shape] = CompiledPredictor(probabilities, image_shape, self.batch_size)
        return predictors[image_shape]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of images.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Images of the shape seen in ``fit`` (files are read at that size).

        Returns
        -------
        proba : ndarray of shape (n, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self, "head_")
        images = self._images(X, reset=False)
        shape = images.shape or self.image_shape_
        if shape != self.image_shape_:
            raise ValueError(
                f"X holds images of shape {shape}, but the classifier was fitted on images of shape "
                f"{self.image_shape_}; resize them (or pass image files, which are resized)."
            )
        cache = self._feature_cache() if self._frozen_backbone else None
        if cache is not None:  # the head on cached features of the frozen backbone
            features = cache.lookup(self._as_array(images, shape), self._frozen_predictor_features)
            return self.head_.predict(features, batch_size=max(self.batch_size, 256), verbose=0)
        predictor = self._predictor(self.image_shape_)
        batches = images.batches(self.batch_size, size=shape[:2], channels=shape[-1])
        run = self._runner(predictor, len(images))
        return np.concatenate([run(batch) for batch in batches])

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
        """Mean accuracy on the labeled rows.

        With ``domain_loss``, rows with ``y == -1`` are unlabeled target rows and left out
        (as :class:`skltransfer.LabeledOnly` does), so that ``GridSearchCV`` and
        ``cross_val_score`` on stacked source and target rows score meaningfully.

        Parameters
        ----------
        X : array-like or list of paths
            Images (see :meth:`predict_proba`).
        y : array-like of shape (n,)
        sample_weight : array-like of shape (n,), default=None

        Returns
        -------
        score : float
        """
        if self.domain_loss is not None:
            keep = np.flatnonzero(~unlabeled_mask(column_or_1d(y, warn=True, dtype=None)))
            X, y = _safe_indexing(X, keep), _safe_indexing(y, keep)
            sample_weight = None if sample_weight is None else _safe_indexing(sample_weight, keep)
        return super().score(X, y, sample_weight=sample_weight)

    # ---------------------------------------------------------- persistence

    def __getstate__(self):
        # First in the state, so that unpickling (e.g. in a joblib worker) sets TensorFlow's
        # thread counts before any Keras object in the parameters or model_ starts its runtime.
        state = {"_configure_threads": _ConfigureThreadsFirst(), **super().__getstate__()}
        blobs = state["_keras_model_bytes"]
        if "_model" in blobs:  # the head is inside the network: stored once
            blobs.pop("head_", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop("_configure_threads", None)
        super().__setstate__(state)
        if self.__dict__.get("_model") is not None:
            self.head_ = self._model.get_layer("head")
        self.__dict__.setdefault("_model", None)

    def export(self, path, format="keras"):
        """Save the fitted network for serving without scikit-learn.

        The network takes raw images of shape ``image_shape_`` (float32; 2-D rows reshaped)
        and returns class probabilities in the order of ``classes_``.

        Parameters
        ----------
        path : str or path-like
            A ``.keras`` file, a SavedModel folder or a ``.tflite`` file.
        format : {"keras", "saved_model", "tflite"}, default="keras"
            ``"keras"``: a Keras archive, loaded with ``keras.saving.load_model`` once
            ``skltransfer.keras`` is imported (its custom layers are registered under
            ``skltransfer>``). ``"saved_model"``: a TensorFlow SavedModel with a ``serve``
            endpoint. ``"tflite"``: a TensorFlow Lite flat buffer.

        Returns
        -------
        path : str
        """
        check_is_fitted(self, "head_")
        return export_model(self.model_, path, format)

    def __skltransfer_tags__(self) -> DomainTags:
        return DomainTags(learns_from_unlabeled=self.domain_loss is not None)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class _ConfigureThreadsFirst:
    """Unpickles as :func:`require_keras`, which sets TensorFlow's threads from joblib's budget."""

    def __reduce__(self):
        return (require_keras, (_NAME,))


class _Network(NamedTuple):
    """The layers of ``model_`` before the head (see :meth:`FineTunedCNNClassifier._build_network`)."""

    base: object
    features: Callable
    frozen_features: Callable


def _standardization(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the training features; constant features get a variance of 1."""
    features = np.asarray(features, dtype=np.float64)
    variance = features.var(axis=0)
    variance[variance < 1e-12] = 1.0
    return features.mean(axis=0).astype(np.float32), variance.astype(np.float32)


def _cross_entropy(logits: np.ndarray, codes: np.ndarray, sample_weight: np.ndarray) -> float:
    """Keras' sparse categorical cross-entropy of ``logits`` (mean of the weighted row losses)."""
    log_proba = logits - logsumexp(logits, axis=1, keepdims=True)
    return float(np.mean(-log_proba[np.arange(len(codes)), codes] * sample_weight))


def _chunks(x: np.ndarray, size: int):
    for start in range(0, len(x), size):
        yield x[start : start + size]
