"""FineTunedCNNClassifier: a pretrained Keras backbone fine-tuned as a scikit-learn classifier.

The recipe is :class:`~skltransfer.keras._recipe.FineTunedCNN`'s and the task
:class:`~skltransfer.keras._tasks.Classification`; this module holds the public interface.
"""

from __future__ import annotations

from numbers import Real
from typing import ClassVar

import numpy as np
from sklearn.base import ClassifierMixin

from ..utils._sklearn_compat import Interval, StrOptions, _fit_context
from ._recipe import FineTunedCNN
from ._tasks import Classification
from .losses import TARGET_LOSSES

__all__ = ["FineTunedCNNClassifier"]


class FineTunedCNNClassifier(ClassifierMixin, FineTunedCNN):
    """A pretrained CNN with a new classification head, trained in two phases.

    The transfer-learning recipe as one scikit-learn classifier: the backbone (a
    ``keras.applications`` network, a saved ``.keras`` model or a ``keras.Model``, cut at
    ``layer`` and globally pooled) gets a new head (optional hidden layer, dropout, L1/L2
    penalties, softmax over the classes). Phase 1 trains the head on the frozen backbone;
    phase 2 unfreezes the top layers of the backbone, optionally in steps, and fine-tunes
    them with a smaller learning rate. BatchNormalization layers stay frozen and in inference
    mode throughout (the backbone is called with ``training=False``). Augmentation layers are
    active only while training.

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
    domain classifier behind a gradient-reversal layer, "cdan" CDAN+E (Long et al. 2018): a
    domain classifier of the features conditioned on the predicted classes. With
    ``target_loss``, the head's predictions on the target batch are also shaped: "mcc"
    minimises the confusion between classes (MCC, Jin et al. 2020), "im" maximises the
    mutual information of images and predicted classes (confident and diverse predictions,
    as in SHOT, Liang et al. 2020); a domain loss and a target loss combine. The loss acts on whatever the
    current phase trains: the hidden layer in phase 1, the unfrozen backbone layers (and the
    hidden layer) in phase 2; with ``hidden_units=0`` phase 1 trains only the output layer
    and the loss has nothing to move until phase 2.

    TensorFlow is imported with this class (``from skltransfer import ...``), never by
    ``import skltransfer`` alone.

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
    pooling : {"auto", "avg", "max", "cls"} or None, default="auto"
        How the cut layer's output becomes one row: global average or max over the spatial
        axes of a feature map (or over the tokens, or the steps of a signal); ``"cls"``
        takes the first (class) token of a 3-D token output; None flattens it. A 2-D
        output (a dense layer) is taken as is. See :class:`PretrainedFeatureExtractor`
        for the backbones taken (images, tokens, 1-D signals, table rows). ``"auto"`` reads the cut layer as
        the network's own head did: flattened where the network flattens it (a small CNN
        with a dense head: its feature map is small and its layout carries the class),
        pooled where it pools it, and global average pooling for a backbone without its
        head (every ``keras.applications`` name).
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
    memory : None, str, path or joblib.Memory, default=None
        A folder (or a ``joblib.Memory``, whose folder is used) where the frozen backbone's
        features are cached per image, keyed by the image's pixels and the backbone's
        identity (architecture and weights, layer, pooling, preprocessing, input size).
        A fit without fine-tuning (``fine_tune_epochs=0``, no augmentation) whose images
        are all cached neither builds nor runs the backbone, and neither does its
        prediction of cached images: every fit of a ``GridSearchCV`` over the head's
        parameters after the first, in any process, trains on cached features. The
        network ``model_`` is then assembled on first access. None: no cache.
    engine : {"auto", "keras", "litert", "litert-dynamic", "litert-int8"}, default="auto"
        What runs ``predict_proba``: the compiled TensorFlow function, or the network
        converted once to LiteRT and run by its XNNPACK CPU kernels; "auto" takes LiteRT
        for calls large enough to repay the conversion where it is installed (see
        :class:`PretrainedFeatureExtractor`, also for the quantized engines, never "auto").
    hidden_units : int, default=0
        Units of a ReLU hidden layer in the head; 0 for none (a linear head: a multinomial
        logistic regression on the standardised features).
    dropout : float, default=0.2
        Dropout rate before the output layer, in the phases trained by stochastic steps (the
        exact solve of phase 1 has its L2 penalty as regulariser instead).
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
        convergence; so is a head with a hidden layer when ``l1=0`` and no domain or target
        loss takes part (L-BFGS on its penalised loss, in NumPy); another head trains for
        about 500 optimizer steps
        (``ceil(500 / batches per epoch)`` epochs, at most 200) and stops earlier on a
        plateau of its loss (see ``patience``), with a ``ConvergenceWarning`` when the
        budget runs out first. An int trains exactly that many epochs of stochastic steps.
    learning_rate : float, default=1e-3
        Phase 1 initial learning rate (stochastic steps only).
    fine_tune_epochs : int or "auto", default="auto"
        Phase 2: epochs of fine-tuning; 0 skips the phase. "auto": about 300 optimizer
        steps (``ceil(300 / batches per epoch)`` epochs, at most 100: many epochs on a few
        hundred images, one on a hundred thousand), or about 1,000 when the unlabeled target
        rows take part (a domain or target loss: the target objective keeps moving the
        network after the source loss has settled), stopping earlier on a plateau, with a
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
    domain_loss : {"mmd", "coral", "adversarial", "cdan"} or None, default=None
        The domain loss on the adapted features of labeled and target batches
        (:mod:`skltransfer.keras.losses`); None (with ``target_loss=None``) trains a plain
        classifier on the labeled rows: rows with ``y == -1`` are never a class, and are
        left out unless ``bn_statistics="target"`` takes their statistics.
    domain_loss_weight : float or "auto", default="auto"
        Weight of the domain loss against the classification loss (for "adversarial", of
        the domain classifier's cross-entropy). "auto": 1 for "mmd" and "coral" (the
        weights of DAN and Deep CORAL), 0.1 for "adversarial" (the DANN default of ADAPT;
        the reversed gradient of a stronger domain classifier destabilises small
        networks), 1 for "cdan" (the weight of CDAN). 0 ignores the target rows: the
        baseline of the same training without domain loss, e.g. in a grid search.
    target_loss : {"auto", "mcc", "im", "self_training"} or None, default="auto"
        The loss on the head's class probabilities of the target batches: "mcc", minimum
        class confusion; "im", information maximisation (mean entropy of the predictions
        minus the entropy of their mean); "self_training", FixMatch's consistency: the
        predictions of confidence at least 0.95 on the target images become labels of a
        strongly augmented view of them (translation, zoom and contrast at twice the
        strength of the named augmentations; on cached features, dropout of half the
        features). Combines with ``domain_loss``. "auto": "im" when the fit has at least 2
        target rows (``y == -1`` or ``sample_domain < 0``), None otherwise: a fit given
        unlabeled target images adapts to them (see Notes).
    target_loss_weight : float or "auto", default="auto"
        Weight of the target loss; "auto": 1 (the weights of MCC, SHOT and FixMatch). It
        ramps up with ``domain_warmup``.
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
    bn_statistics : {"source", "target"}, default="source"
        The statistics the backbone's batch normalizations predict with. "source": those it
        was trained with. "target": AdaBN (Li et al. 2016) at test time: after training,
        each batch normalization of the backbone takes the mean and variance of its inputs
        over the target rows (``y == -1`` or ``sample_domain < 0``; with or without a
        ``domain_loss`` or a ``target_loss``), so that ``model_`` normalises target images
        with their own statistics. A backbone without batch normalization warns.
    batch_size : int, default=32
    verbose : int, default=0
        Keras progress bars when positive (2: one line per epoch).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout, augmentation, the validation split and the
        batch order; the same seed gives identical predictions on CPU. Global random states
        are left unchanged.
    guard : bool, default=True
        With labeled target rows (``sample_domain < 0`` and a label): compare the fit as
        configured (the transfer fit) with the same estimator without its target objectives
        (``domain_loss=None, target_loss=None, bn_statistics="source"``: a plain
        fine-tuning) fitted on the source rows only, on the labeled target rows only and on
        both pooled, by cross-validation
        over at most 3 folds of the labeled target rows (each fold's transfer fit also gets
        every unlabeled target row, and the fold's held-out rows as unlabeled ones), and
        keep the transfer fit unless a plain fit beats it by more than one standard error
        (the rule of :class:`TrAdaBoostClassifier`; a ``UserWarning`` says so). The guard
        costs up to 11 more fits (3 transfer fits and 8 plain fine-tunings, one of them the
        refit of the kept plain fit); ``guard=False`` for one fit. Without labeled target
        rows nothing is compared.

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
        backbone trained from a random initialisation together with it: ``weights=None``,
        ``epochs=0``, fine-tuning that unfreezes layers), probabilities out.
    history_ : dict
        ``{"head": {...}, "fine_tune": {...}}``: per phase, metric name -> per-epoch values
        (``loss``, ``accuracy`` and, with early stopping, ``val_loss``, ``val_accuracy``).
    target_loss_ : str or None
        The target loss the fit used (``"auto"`` resolved).
    selected_ : {"transfer", "source only", "target only", "pooled"}
        The fit used for prediction: the fit as configured (``"transfer"``) or the plain
        fit the guard kept instead. ``model_``, ``head_``, ``history_`` and ``export`` are
        those of the transfer fit.
    baseline_scores_ : dict or None
        Each compared fit's cross-validated accuracy on the labeled target rows, by name:
        ``{"mean", "std_error", "gain", "gain_std_error"}`` (``gain``: mean difference with
        the transfer fit on the same rows). None when the guard is off or compares nothing.
    baseline_estimator_ : FineTunedCNNClassifier or None
        The plain fit used for prediction (a fitted clone without target objectives and
        ``guard=False``); None when the transfer fit is kept.
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
    The ``"auto"`` target loss. A fit whose rows include unlabeled target images (stacked
    with :func:`skltransfer.stack_domains`, or marked by ``sample_domain``) trains with
    ``target_loss="im"`` at weight 1: the source classification loss plus the information
    maximisation of the target predictions (confident on each target image, diverse over
    them: SHOT's objective). Of the label-free objectives it was the one that never lost
    on the development shifts: above the source-only fit on all six Office-31 tasks (a
    small CNN pretrained on CIFAR-10, 32 px: 25.5 % mean accuracy against 22.5 %,
    ``benchmarks/office31.py``) and above training without it on the digits shift on each
    of 3 seeds (0.807 mean against 0.580, ``benchmarks/deep_da_selection.py``), where MMD
    collapsed the target onto one class on 2 of the 3 seeds alone and on 1 with it. A fit
    without target rows trains a plain classifier; ``target_loss=None`` ignores target
    rows that are given.

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

    _parameter_constraints: ClassVar[dict] = {
        **FineTunedCNN._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "target_loss": [StrOptions({"auto", *TARGET_LOSSES}), None],
        "target_loss_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
    }
    AUTO_TARGET_LOSS: ClassVar[str | None] = "im"
    _expected_failed_checks: ClassVar[dict] = {
        "check_classifiers_classes": (
            "the check trains on the labels [-1, 1]; -1 is the marker of unlabeled target rows, "
            "as in SelfTrainingClassifier"
        ),
    }

    def __init__(
        self,
        base_model="mobilenet_v2",
        *,
        weights="imagenet",
        layer=None,
        pooling="auto",
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
        target_loss="auto",
        target_loss_weight="auto",
        domain_warmup="sigmoid",
        discriminator_units=(64,),
        bn_statistics="source",
        batch_size=32,
        verbose=0,
        random_state=None,
        guard=True,
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
        self.target_loss = target_loss
        self.target_loss_weight = target_loss_weight
        self.domain_warmup = domain_warmup
        self.discriminator_units = discriminator_units
        self.bn_statistics = bn_statistics
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state
        self.guard = guard

    def _make_task(self) -> Classification:
        return Classification(self._name, self.class_weight)

    # ------------------------------------------------------------------- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_domain=None):
        """Build the network and train it: the head on the frozen backbone, then the top layers.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Training images (see :class:`PretrainedFeatureExtractor` for the accepted forms).
        y : array-like of shape (n,)
            Class labels (ints or strings), at least two classes. ``-1`` marks unlabeled
            target images (:func:`skltransfer.stack_domains`), never a class: the target rows
            of ``domain_loss``, ``target_loss`` and ``bn_statistics="target"``, left out of
            a fit without them.
        sample_domain : array-like of int of shape (n,), default=None
            With ``domain_loss``, ``target_loss`` or ``bn_statistics="target"`` only: the
            domain of each row (``>= 0`` source, ``< 0`` target), overriding the ``-1``
            rule, e.g. for labeled target rows. Requested through metadata routing
            (``set_fit_request(sample_domain=True)``).

        Returns
        -------
        self : object

        Warns
        -----
        UserWarning
            When the guard keeps a plain fit instead of the fit as configured.
        """
        self._fit_with_guard(X, y, sample_domain)
        self.classes_ = self._task.classes_
        return self

    # --------------------------------------------------------------- predict

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
        outputs = self._baseline_outputs(X)
        return self._outputs(X) if outputs is None else outputs

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

        Rows with ``y == -1`` are unlabeled target rows and left out,
        as :class:`skltransfer.LabeledOnly` does, so that ``GridSearchCV`` and
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
        return self._score_labeled(super().score, X, y, sample_weight)
