"""PretrainedFeatureExtractor: a Keras backbone as a scikit-learn transformer."""

from __future__ import annotations

import difflib
import os
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin

from ..utils._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context, check_is_fitted
from ._base import (
    CompiledPredictor,
    KerasStateMixin,
    derive_seed,
    fold_batch_normalization,
    load_keras_model,
    model_from_bytes,
    model_to_bytes,
    reinitialize_model,
    require_keras,
    scoped_seed,
)
from .applications import build_application, get_application
from .images import adapt_batch, as_images, check_channels

__all__ = ["PretrainedFeatureExtractor", "resolve_backbone"]

_NAME = "PretrainedFeatureExtractor"


def _is_saved_model_path(base_model) -> bool:
    return isinstance(base_model, os.PathLike) or (
        isinstance(base_model, str)
        and (base_model.endswith((".keras", ".h5")) or os.sep in base_model or os.path.isfile(base_model))
    )


def _check_weights_file(weights) -> None:
    if not os.path.isfile(weights):
        raise ValueError(
            "weights must be 'imagenet', None or the path of a weights file; "
            f"no file at {os.fspath(weights)!r}."
        )


def _size_pair(input_size) -> tuple[int, int] | None:
    if input_size is None:
        return None
    if isinstance(input_size, Integral):
        return (int(input_size), int(input_size))
    if len(input_size) != 2 or not all(isinstance(d, Integral) and d > 0 for d in input_size):
        raise ValueError(f"input_size must be an int or a (height, width) pair of ints; got {input_size!r}.")
    return (int(input_size[0]), int(input_size[1]))


def resolve_backbone(base_model, weights, *, input_size, image_size, random_state, purpose=_NAME):
    """Build or load the backbone and the facts needed to feed it.

    Shared by the Keras-backed estimators.

    Parameters
    ----------
    base_model : str, path or keras.Model
        A ``keras.applications`` name, a saved ``.keras`` model or a model (copied, never
        modified).
    weights : "imagenet", None or path
        For a named application: ImageNet weights, random initialisation or a weights
        file. For a model or a saved model, ``"imagenet"`` (the default) keeps the model's
        own weights, None re-initialises them and a path loads that weights file.
    input_size : int, (height, width) or None
        Network input size; None means the application's native size or the model's own.
    image_size : (height, width) or None
        Size of the training images, used when the model accepts any size and
        ``input_size`` is None.
    random_state : None, int or RandomState
        Seeds random initialisation (``weights=None``).
    purpose : str
        Name used in error messages.

    Returns
    -------
    model : keras.Model
    input_shape : (height, width, channels)
    preprocess_input : callable or None
        The application's own ``preprocess_input``; None for models.
    """
    size = _size_pair(input_size)
    if weights is not None and weights != "imagenet":
        _check_weights_file(weights)
    if isinstance(base_model, (str, os.PathLike)) and not _is_saved_model_path(base_model):
        app = get_application(base_model)
        shape = (*(size or (app.native_size, app.native_size)), 3)
        if weights is None:
            with scoped_seed(derive_seed(random_state)):
                return build_application(app, input_shape=shape, weights=None), shape, app.preprocess_input
        return build_application(app, input_shape=shape, weights=weights), shape, app.preprocess_input

    if isinstance(base_model, (str, os.PathLike)):
        model = load_keras_model(base_model, purpose)
    else:
        model = model_from_bytes(model_to_bytes(base_model), purpose)  # a private copy
    if weights is None:
        model = reinitialize_model(model, random_state, purpose)
    elif weights != "imagenet":
        try:
            model.load_weights(weights)
        except Exception as e:
            raise ValueError(
                f"Cannot load the weights file {os.fspath(weights)!r} into the model: {e}"
            ) from e
    fixed = tuple(model.input_shape[1:3])
    channels = model.input_shape[-1]
    if None not in fixed:
        if size is not None and size != fixed:
            raise ValueError(f"input_size={input_size!r} differs from the model's input size {fixed}.")
        size = fixed
    elif size is None:
        size = image_size
    if size is None:
        raise ValueError(
            "The model accepts images of any size and the images are files: set input_size=(height, width)."
        )
    return model, (*size, channels), None


def _feature_layer(model, layer):
    """The layer named or indexed by ``layer``; None: the last layer with a 4-D output."""
    if layer is None:
        for candidate in reversed(model.layers):
            if len(candidate.output.shape) == 4:
                return candidate
        return model.layers[-1]
    if isinstance(layer, str):
        names = [lay.name for lay in model.layers]
        if layer not in names:
            close = difflib.get_close_matches(layer, names, n=5, cutoff=0.4)
            hint = "Did you mean " + ", ".join(map(repr, close)) + "?" if close else f"Layers: {names}."
            raise ValueError(f"The model has no layer named {layer!r} (layer). {hint}")
        return model.get_layer(layer)
    n = len(model.layers)
    if not -n <= layer < n:
        raise ValueError(f"layer={layer} is out of range: the model has {n} layers.")
    return model.layers[layer]


def _pool(features, pooling):
    import tensorflow as tf

    if features.shape.rank <= 2:
        return features
    if pooling == "avg":
        return tf.reduce_mean(features, axis=list(range(1, features.shape.rank - 1)))
    if pooling == "max":
        return tf.reduce_max(features, axis=list(range(1, features.shape.rank - 1)))
    return tf.reshape(features, (features.shape[0], -1))


class PretrainedFeatureExtractor(
    KerasStateMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Features of images computed by a pretrained Keras network.

    The classic transfer-learning recipe (a ``keras.applications`` network without its
    classification top, followed by global pooling) as one scikit-learn step, so that
    ``make_pipeline(PretrainedFeatureExtractor("mobilenet_v2"), LogisticRegression())`` can
    be cross-validated, grid-searched, cached and pickled. Images are converted (grayscale
    repeated to three channels, resized to the network's input size, the network's own
    ``preprocess_input`` applied) and run through one compiled, fixed-shape TensorFlow
    function, which is faster than ``model.predict``.

    TensorFlow is imported on the first ``fit``, never when :mod:`skltransfer` is imported.

    Parameters
    ----------
    base_model : str, path or keras.Model, default="mobilenet_v2"
        A ``keras.applications`` network by name, case-insensitive, in any common spelling
        (``"mobilenet_v2"``, ``"ResNet50"``, ``"efficientnet_b0"``; see
        :func:`skltransfer.keras.applications.list_applications`), a path to a saved
        ``.keras`` model, or a functional or sequential ``keras.Model`` (copied at fit,
        never modified). Pass a name or a path rather than a model object when the
        estimator is cached by ``Pipeline(memory=...)``.
    weights : "imagenet", None or path, default="imagenet"
        For a named network: the ImageNet weights (downloaded by Keras on first use and
        cached in ``~/.keras/models``; offline, the error names the file to place there),
        None for random initialisation seeded by ``random_state``, or the path of a weights
        file. For a model or a saved model, ``"imagenet"`` keeps the model's own weights,
        None re-initialises them and a path loads that weights file.
    layer : str, int or None, default=None
        Name or index (in ``model.layers``) of the layer whose output is the feature. None
        takes the last layer with a 4-D output: the last convolutional block.
    pooling : {"avg", "max"} or None, default="avg"
        Global pooling of a 4-D feature map over its spatial axes; None flattens it. A 2-D
        layer output (a dense layer) is returned as is.
    input_size : int, (height, width) or None, default=None
        Network input size. None: the network's native size (224 for most applications;
        a model's own input size; for a model that accepts any size, the size of the images
        seen in ``fit``).
    image_shape : tuple of int, default=None
        Shape ``(height, width)`` or ``(height, width, channels)`` of one image when ``X``
        is a 2-D array of flattened images (row-major; one entry may be -1).
    preprocessing : "auto", str, callable or None, default="auto"
        Applied to the float32 pixel batch (values as given, e.g. 0-255) inside the compiled
        function. "auto": the named application's own ``preprocess_input``, and nothing for
        a model or saved model. Another string names the application whose
        ``preprocess_input`` to use (e.g. for a saved fine-tuned MobileNetV2). A callable
        must accept a TensorFlow tensor. None: no preprocessing.
    batch_size : int, default=32
        Images per compiled call; memory use is bounded by it (files are read batch by
        batch).
    verbose : int, default=0
        Show a progress bar while extracting when positive.
    random_state : int, RandomState instance or None, default=None
        Seeds the random initialisation when ``weights=None``; the same seed gives the same
        features. Global random states are left unchanged.

    Attributes
    ----------
    model_ : keras.Model
        The network truncated at ``layer`` (before pooling).
    input_shape_ : tuple of int
        ``(height, width, channels)`` fed to ``model_``.
    layer_name_ : str
        Name of the feature layer.
    n_features_in_ : int
        Number of values per row, when fitted on a 2-D array.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    skltransfer.datasets.load_image_folder : File paths and labels of an image folder tree.

    Notes
    -----
    Fitting only builds the network. ``transform`` reads, converts and processes images in
    batches of ``batch_size`` through a ``tf.function`` with a fixed input signature, built
    lazily for each input image shape and never pickled; the last batch is zero-padded.
    That function runs an inference copy of the network (built lazily, never pickled) in
    which each batch normalization that follows a convolution is folded into that
    convolution's kernel and bias, which saves a pass over every feature map of networks
    such as MobileNetV2 and ResNet50; features equal those of the network itself up to
    float32 rounding (about 1e-6 relative to the largest feature). Pickles hold the network
    as a ``.keras`` archive (architecture and weights), so an unpickled extractor gives
    identical features. In joblib process workers, TensorFlow's thread pools follow the
    per-worker ``OMP_NUM_THREADS`` that joblib sets; on a Dask worker, the worker's own
    thread count.

    ``transform`` of a Dask array of images (2-D rows with ``image_shape``, 3-D or 4-D; its
    blocks of rows are taken whole) or of a 1-D Dask array or Dask bag of file paths returns
    a lazy float32 Dask array of features with one block of rows per input block (per
    partition for a bag, of unknown size until computed) and all ``n_features_out`` columns.
    The fitted extractor is pickled once into a single key of the graph; each worker
    receives it once, builds the network on its first block and keeps it, with its compiled
    function, for its later blocks. The same holds for a fitted pipeline whose first step is
    the extractor: its ``transform`` stays lazy as far as the next steps accept Dask arrays.
    ``fit`` of a Dask collection computes its first image only (it builds the network and
    records the input form). Needs ``pip install "skltransfer[dask]"``.

    Examples
    --------
    The classic pipeline (ImageNet weights, downloaded by Keras on first use) on a folder
    with one subfolder per class:

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from skltransfer import PretrainedFeatureExtractor
    >>> from skltransfer.datasets import load_image_folder
    >>> paths, labels = load_image_folder("flowers/")  # doctest: +SKIP
    >>> pipe = make_pipeline(PretrainedFeatureExtractor("mobilenet_v2"), LogisticRegression())
    >>> cross_val_score(pipe, paths, labels)  # doctest: +SKIP

    Any Keras model works too; here a tiny one on flattened 8x8 grayscale images:

    >>> import keras
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="conv")])
    >>> X = np.random.RandomState(0).rand(5, 64)
    >>> extractor = PretrainedFeatureExtractor(model, image_shape=(8, 8)).fit(X)
    >>> extractor.transform(X).shape, extractor.layer_name_
    ((5, 4), 'conv')

    A Dask array of images, computed block by block (here by Dask's local threads; with a
    ``dask.distributed`` client, by its workers):

    >>> import dask.array as da
    >>> features = extractor.transform(da.from_array(X, chunks=(2, 64)))
    >>> features.chunks, features.dtype
    (((2, 2, 1), (4,)), dtype('float32'))
    >>> features.compute().shape
    (5, 4)
    """

    _parameter_constraints: ClassVar[dict] = {
        "base_model": [str, os.PathLike, HasMethods(["get_layer", "save"])],
        "weights": [str, os.PathLike, None],
        "layer": [str, Integral, None],
        "pooling": [StrOptions({"avg", "max"}), None],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, None],
        "image_shape": [tuple, None],
        "preprocessing": [str, callable, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }
    _unpicklable = ("_predictors", "_inference_model")
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
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    def _preprocess_function(self, own):
        if self.preprocessing == "auto":
            return own
        if isinstance(self.preprocessing, str):
            return get_application(self.preprocessing).preprocess_input
        return self.preprocessing

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the network; ``X`` fixes the input form and, for 2-D input, ``n_features_in_``.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Images (see the class docstring). Of a Dask array or bag only the first image is
            computed: the network learns nothing from the data, only their form.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        from ._distributed import first_image, is_dask_collection

        if is_dask_collection(X):
            X = first_image(X)
        images = as_images(X, image_shape=self.image_shape, estimator=self, reset=True)
        if not images.from_rows:  # n_features_in_ describes 2-D input only
            for name in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(name, None)
        model, self.input_shape_, own_preprocess = resolve_backbone(
            self.base_model,
            self.weights,
            input_size=self.input_size,
            image_size=None if images.shape is None else images.shape[:2],
            random_state=self.random_state,
        )
        keras = require_keras(_NAME)
        layer = _feature_layer(model, self.layer)
        self.layer_name_ = layer.name
        self.model_ = model if layer is model.layers[-1] else keras.Model(model.inputs, layer.output)
        self._preprocess = self._preprocess_function(own_preprocess)
        self._predictors, self._inference_model = {}, None
        self._n_features_out = int(self._predictor(images).output_shape[-1])
        return self

    def _predictor(self, images) -> CompiledPredictor:
        """The compiled function for images of this shape and dtype, traced on first use."""
        predictors = self.__dict__.setdefault("_predictors", {})
        shape = tuple(int(d) for d in (images.shape or self.input_shape_))
        check_channels(shape[-1], self.input_shape_[-1])
        uint8 = images.array is None or images.array.dtype == np.uint8  # files decode to uint8
        key = (shape, "uint8" if uint8 else "float32")
        if key not in predictors:
            size, channels = self.input_shape_[:2], self.input_shape_[-1]
            if self.__dict__.get("_inference_model") is None:  # after fit or unpickling
                self._inference_model = fold_batch_normalization(self.model_)
            model, preprocess, pooling = self._inference_model, self._preprocess, self.pooling

            def features(x):
                x = adapt_batch(x, size=size, channels=channels)
                if preprocess is not None:
                    x = preprocess(x)
                return _pool(model(x, training=False), pooling)

            predictors[key] = CompiledPredictor(features, shape, self.batch_size, dtype=key[1])
        return predictors[key]

    def transform(self, X):
        """Compute the features of images.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), paths or Dask collection
            Images in any accepted form (see the class docstring); arrays of another size
            than the network's are resized. A Dask array of images or of paths, or a Dask
            bag of paths, gives a lazy Dask array (see the class docstring).

        Returns
        -------
        features : ndarray or Dask array of shape (n, n_features_out) and dtype float32
        """
        check_is_fitted(self, "model_")
        from ._distributed import is_dask_collection, transform_dask

        if is_dask_collection(X):
            return transform_dask(self, X)
        images = as_images(X, image_shape=self.image_shape, estimator=self, reset=False)
        predictor = self._predictor(images)
        out = np.empty((len(images), self._n_features_out), dtype=np.float32)
        progress = None
        if self.verbose:
            progress = require_keras(_NAME).utils.Progbar(len(images), unit_name="image")
        start = 0
        for batch in images.batches(
            self.batch_size, size=self.input_shape_[:2], channels=predictor.input_shape[-1]
        ):
            out[start : start + len(batch)] = predictor(batch)
            start += len(batch)
            if progress is not None:
                progress.update(start)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
