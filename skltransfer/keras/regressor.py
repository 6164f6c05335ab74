"""FineTunedCNNRegressor: a pretrained Keras backbone fine-tuned as a scikit-learn regressor.

The recipe is :class:`~skltransfer.keras._recipe.FineTunedCNN`'s and the task
:class:`~skltransfer.keras._tasks.Regression` (float targets standardised and mapped back by
the network's last layer); this module holds the public interface.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin

from ..utils._sklearn_compat import _fit_context
from ._recipe import FineTunedCNN
from ._tasks import Regression

__all__ = ["FineTunedCNNRegressor"]


class FineTunedCNNRegressor(RegressorMixin, FineTunedCNN):
    """A pretrained CNN with a new linear regression head, trained in two phases.

    Image regression by transfer learning, the regression sibling of
    :class:`FineTunedCNNClassifier` (same recipe and parameters, ``class_weight`` excepted):
    the backbone, cut at ``layer`` and globally pooled, gets a new head (standardised
    features, optional hidden layer, dropout, L1/L2 penalties, a linear output per target).
    Phase 1 trains the head on the frozen backbone: a linear head (``hidden_units=0``) is
    solved exactly as a ridge regression of the standardised targets on the standardised,
    cached features (an elastic net with ``l1``), a head with a hidden layer by L-BFGS on its
    penalised squared error (``l1=0``, without a domain loss). Phase 2 fine-tunes the top layers of the
    backbone with the mean squared error, never ending worse than phase 1 on the monitored
    loss.

    Targets are standardised inside (their mean and standard deviation over the training
    rows), so that the defaults train on any target scale; the network's last layer,
    ``"destandardize"`` (a ``Rescaling``), maps its outputs back to the targets' units, in
    ``model_`` and in what :meth:`export` writes.

    With ``domain_loss``, the regressor also learns from unlabeled images of a target domain:
    rows whose target is NaN (the regression domain convention, see
    :func:`skltransfer.stack_domains`; ``-1.0`` is a target like any other), or the rows that
    ``sample_domain`` marks as target, as in :class:`FineTunedCNNClassifier`.

    TensorFlow is imported with this class (``from skltransfer import ...``), never by
    ``import skltransfer`` alone.

    Parameters
    ----------
    base_model : str, path or keras.Model, default="mobilenet_v2"
        The backbone, as in :class:`FineTunedCNNClassifier`.
    weights : "imagenet", None or path, default="imagenet"
        The backbone's weights, as in :class:`FineTunedCNNClassifier`.
    layer : str, int or None, default=None
        Backbone layer whose output feeds the head; None: the last 4-D one.
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
        Network input size; None: the network's native size.
    image_shape : tuple of int, default=None
        Shape of one image when ``X`` holds flattened images.
    preprocessing : "auto", str, callable or None, default="auto"
        Pixel preprocessing, as in :class:`FineTunedCNNClassifier`.
    memory : None, str, path or joblib.Memory, default=None
        Cache of the frozen backbone's features, as in :class:`FineTunedCNNClassifier`.
    engine : {"auto", "keras", "litert", "litert-dynamic", "litert-int8"}, default="auto"
        What runs :meth:`predict`, as in :class:`FineTunedCNNClassifier`.
    hidden_units : int, default=0
        Units of a ReLU hidden layer in the head; 0 for a linear head (a ridge regression on
        the standardised features).
    dropout : float, default=0.2
        Dropout rate before the output layer, in the phases trained by stochastic steps.
    l1 : float, default=0.0
        L1 penalty on the kernels of the head's dense layers (added to the mean loss).
    l2 : float or "auto", default="auto"
        L2 penalty on the kernels of the head's dense layers (added to the mean loss).
        "auto": ``1 / (n k)`` for ``n`` training rows and ``k`` targets, the penalty of
        scikit-learn's ``Ridge(alpha=1.0)``: the linear head's phase 1 is then exactly that
        ridge regression on the standardised features, of the standardised targets.
    epochs : int or "auto", default="auto"
        Phase 1 epochs; "auto": the exact solve of the head on cached features (a linear
        head, or a hidden one with ``l1=0`` and no domain loss), else the step budget of
        :class:`FineTunedCNNClassifier`.
    learning_rate : float, default=1e-3
        Phase 1 initial learning rate (stochastic steps only).
    fine_tune_epochs : int or "auto", default="auto"
        Phase 2 epochs, as in :class:`FineTunedCNNClassifier`.
    fine_tune_learning_rate : float or "auto", default="auto"
        Phase 2 initial learning rate; "auto": ``learning_rate / 10``.
    unfreeze : int, float or str, default=0.2
        Which top layers of the backbone phase 2 trains.
    unfreeze_steps : int, default=1
        Progressive unfreezing in this many steps.
    augmentation : list of str or keras layers, str or None, default=None
        Random transformations of training images.
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd"} or keras optimizer, default="adam"
        A new optimizer for each phase.
    lr_schedule : {"constant", "cosine", "exponential", "plateau"} or callable, default="constant"
        Per-epoch learning rate within each phase.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training images and stop each phase on the
        validation loss.
    validation_fraction : float, default=0.1
        Fraction held out when ``early_stopping`` (not stratified).
    patience : int or "auto", default="auto"
        Epochs without improvement before a phase stops.
    callbacks : list of keras callbacks or None, default=None
        Extra callbacks for every ``Model.fit`` call (copied at fit).
    cache_features : bool, default=True
        Train phase 1 on features computed once, when there is no augmentation.
    domain_loss : {"mmd", "coral", "adversarial"} or None, default=None
        The domain loss on the adapted features of labeled and target batches ("cdan"
        needs class probabilities: a ``ValueError`` at ``fit``). None trains a plain
        regressor on the labeled rows: rows with a NaN target are left out unless
        ``bn_statistics="target"`` takes their statistics.
    domain_loss_weight : float or "auto", default="auto"
        Weight of the domain loss against the mean squared error.
    domain_warmup : {"sigmoid", "linear", "constant"}, default="sigmoid"
        How the domain term ramps up over the whole training.
    discriminator_units : tuple of int, default=(64,)
        Hidden ReLU layers of the domain classifier ("adversarial" only).
    bn_statistics : {"source", "target"}, default="source"
        The statistics the backbone's batch normalizations predict with. "source": those it
        was trained with. "target": AdaBN (Li et al. 2016) at test time: after training,
        each batch normalization of the backbone takes the mean and variance of its inputs
        over the target rows (a NaN target or ``sample_domain < 0``; with or without a
        ``domain_loss``), so that ``model_`` normalises target images with their own
        statistics. A backbone without batch normalization warns.
    batch_size : int, default=32
    verbose : int, default=0
        Keras progress bars when positive.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, dropout, augmentation, the validation split and the
        batch order; global random states are left unchanged.
    guard : bool, default=True
        With labeled target rows (``sample_domain < 0`` and a label): compare the fit as
        configured (the transfer fit) with the same estimator without its target objectives
        (``domain_loss=None, bn_statistics="source"``: a plain fine-tuning) fitted on the source
        rows only, on the labeled target rows only and on both pooled, by cross-validation
        over at most 3 folds of the labeled target rows (each fold's transfer fit also gets
        every unlabeled target row, and the fold's held-out rows as unlabeled ones), and
        keep the transfer fit unless a plain fit beats it by more than one standard error
        (the rule of :class:`TrAdaBoostClassifier`; a ``UserWarning`` says so). The guard
        costs up to 11 more fits (3 transfer fits and 8 plain fine-tunings, one of them the
        refit of the kept plain fit); ``guard=False`` for one fit. Without labeled target
        rows nothing is compared.

    Attributes
    ----------
    n_outputs_ : int
        Number of targets (columns of a 2-D ``y``, else 1).
    model_ : keras.Model
        The whole network: raw images of ``image_shape_`` in, predictions in the targets'
        units out. Its sub-model ``"head"`` takes the pooled features; its layer
        ``"backbone"`` holds the backbone.
    head_ : keras.Model
        The head: pooled features in, predictions out (its output layer ``"predictions"``
        predicts the standardised targets, ``"destandardize"`` maps them back).
    history_ : dict
        ``{"head": {...}, "fine_tune": {...}}``: per phase, metric name -> per-epoch values
        (``loss``, the mean squared error of the standardised targets plus penalties, and
        ``r2_score``), ``steps`` and ``stop_reason``.
    target_loss_ : None
        No target loss for regression (an attribute of the classifier's recipe).
    selected_ : {"transfer", "source only", "target only", "pooled"}
        The fit used for prediction: the fit as configured (``"transfer"``) or the plain
        fit the guard kept instead. ``model_``, ``head_``, ``history_`` and ``export`` are
        those of the transfer fit.
    baseline_scores_ : dict or None
        Each compared fit's cross-validated minus squared error on the labeled target rows, by name:
        ``{"mean", "std_error", "gain", "gain_std_error"}`` (``gain``: mean difference with
        the transfer fit on the same rows). None when the guard is off or compares nothing.
    baseline_estimator_ : FineTunedCNNRegressor or None
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
    FineTunedCNNClassifier : The same recipe for class labels.
    PretrainedFeatureExtractor : The frozen backbone's features as a transformer.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from skltransfer import FineTunedCNNRegressor
    >>> inputs = keras.Input((8, 8, 1))
    >>> init = keras.initializers.GlorotUniform(seed=0)
    >>> conv = keras.layers.Conv2D(4, 3, kernel_initializer=init)
    >>> base = keras.Model(inputs, conv(inputs))
    >>> rng = np.random.RandomState(0)
    >>> brightness = rng.uniform(0.5, 2.0, size=40)
    >>> X = rng.rand(40, 64) * brightness[:, None]
    >>> reg = FineTunedCNNRegressor(base, image_shape=(8, 8), fine_tune_epochs=0).fit(X[:30], brightness[:30])
    >>> round(reg.score(X[30:], brightness[30:]), 2), reg.predict(X[:3]).shape
    (0.96, (3,))
    """

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
        callbacks=None,
        cache_features=True,
        domain_loss=None,
        domain_loss_weight="auto",
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
        self.callbacks = callbacks
        self.cache_features = cache_features
        self.domain_loss = domain_loss
        self.domain_loss_weight = domain_loss_weight
        self.domain_warmup = domain_warmup
        self.discriminator_units = discriminator_units
        self.bn_statistics = bn_statistics
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state
        self.guard = guard

    def _make_task(self) -> Regression:
        return Regression(self._name)

    # ------------------------------------------------------------------- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, sample_domain=None):
        """Build the network and train it: the head on the frozen backbone, then the top layers.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Training images (see :class:`PretrainedFeatureExtractor` for the accepted forms).
        y : array-like of shape (n,) or (n, n_outputs)
            Float targets. NaN marks unlabeled target images
            (:func:`skltransfer.stack_domains`): the target rows of ``domain_loss`` and
            ``bn_statistics="target"``, left out of a fit without them; ``-1.0`` is a
            target like any other.
        sample_domain : array-like of int of shape (n,), default=None
            With ``domain_loss`` or ``bn_statistics="target"`` only: the domain of each row
            (``>= 0`` source, ``< 0`` target), overriding the NaN rule. Requested through metadata routing
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
        self.n_outputs_ = self._task.n_outputs_
        return self

    # --------------------------------------------------------------- predict

    def predict(self, X) -> np.ndarray:
        """Predicted targets of images.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Images of the shape seen in ``fit`` (files are read at that size).

        Returns
        -------
        y : ndarray of shape (n,) or (n, n_outputs_)
            The shape of the ``y`` seen in ``fit``.
        """
        baseline = self._baseline_outputs(X)
        if baseline is not None:
            return baseline
        outputs = np.asarray(self._outputs(X), dtype=np.float64)
        return outputs.ravel() if self._task.one_dimensional_ else outputs

    def score(self, X, y, sample_weight=None) -> float:
        """R^2 on the labeled rows.

        Rows with a NaN target are unlabeled target rows and left out, as
        :class:`skltransfer.LabeledOnly` does, so that ``GridSearchCV`` and
        ``cross_val_score`` on stacked source and target rows score meaningfully.

        Parameters
        ----------
        X : array-like or list of paths
            Images (see :meth:`predict`).
        y : array-like of shape (n,) or (n, n_outputs)
        sample_weight : array-like of shape (n,), default=None

        Returns
        -------
        score : float
        """
        return self._score_labeled(super().score, X, y, sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
