"""PretrainedFeatureExtractor: a Keras backbone as a scikit-learn transformer."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin

from ..utils._dask import is_dask_collection
from ..utils._sklearn_compat import _fit_context, check_is_fitted
from ._backbone import pooling_layer, pooling_of
from ._base import KerasImageEstimator
from ._distributed import first_image, transform_dask
from ._export import export_extractor
from ._features import FrozenFeatures, build_frozen_features, preprocessing_layer
from ._inference import CompiledPredictor
from ._litert import REPRESENTATIVE_SIZE
from ._runtime import derive_seed
from .images import check_sample_shape

__all__ = ["PretrainedFeatureExtractor"]


class PretrainedFeatureExtractor(ClassNamePrefixFeaturesOutMixin, TransformerMixin, KerasImageEstimator):
    """Features of images (or signals, or rows) computed by a pretrained Keras network.

    The classic transfer-learning recipe (a ``keras.applications`` network without its
    classification top, followed by global pooling) as one scikit-learn step, so that
    ``make_pipeline(PretrainedFeatureExtractor("mobilenet_v2"), LogisticRegression())`` can
    be cross-validated, grid-searched, cached and pickled. Images are converted (grayscale
    repeated to three channels, resized to the network's input size, the network's own
    ``preprocess_input`` applied) and run through one compiled, fixed-shape TensorFlow
    function, which is faster than ``model.predict``.

    TensorFlow is imported with this class (``from skltransfer import ...``), never by
    ``import skltransfer`` alone.

    Parameters
    ----------
    base_model : str, path or keras.Model, default="mobilenet_v2"
        A ``keras.applications`` network by name, case-insensitive, in any common spelling
        (``"mobilenet_v2"``, ``"ResNet50"``, ``"efficientnet_b0"``; see
        :func:`skltransfer.keras.applications.list_applications`), a path to a saved
        ``.keras`` model, or a ``keras.Model`` (copied at fit, never modified): functional,
        sequential, subclassed or from KerasHub, taking images, 1-D signals or rows of
        features (see "Backbones" below). Pass a name or a path rather than a model object
        when the estimator is cached by ``Pipeline(memory=...)``.
    weights : "imagenet", None or path, default="imagenet"
        For a named network: the ImageNet weights (downloaded by Keras on first use and
        cached in ``~/.keras/models``; offline, the error names the file to place there),
        None for random initialisation seeded by ``random_state``, or the path of a weights
        file. For a model or a saved model, ``"imagenet"`` keeps the model's own weights,
        None re-initialises them and a path loads that weights file.
    layer : str, int or None, default=None
        Name or index (in ``model.layers``) of the layer whose output is the feature. None
        takes the last layer (the input aside) whose output keeps a spatial or token axis
        (3-D or more, batch included): the last convolutional block of a CNN, the last
        block of a transformer; a tabular network is taken whole. Required for a model
        with several outputs.
    pooling : {"avg", "max", "cls", "auto"} or None, default="avg"
        How a feature map or a sequence of tokens becomes one row: global average
        (``"avg"``) or max (``"max"``) over its spatial axes (or over the tokens, or the
        steps of a signal); ``"cls"`` takes the first token of a 3-D token output (the
        class token of ViT- and BERT-style encoders); None flattens it. A 2-D layer output
        (a dense layer) is returned as is. ``"auto"`` reads the layer as the network's own
        head did (the default of :class:`FineTunedCNNClassifier`): flattened where the
        network flattens it (a small CNN with a dense head), pooled where it pools it,
        averaged for a backbone without its head (every ``keras.applications`` name, where
        it equals ``"avg"``). For a small network of one's own, ``"auto"`` keeps the layout
        of its small feature maps that averaging throws away.
    input_size : int, (height, width) or None, default=None
        Network input size of images. None: the network's native size (224 for most
        applications; a model's own input size; for a model that accepts any size, the
        size of the images seen in ``fit``). Leave None for signal and tabular networks.
    image_shape : tuple of int, default=None
        Shape ``(height, width)`` or ``(height, width, channels)`` of one image when ``X``
        is a 2-D array of flattened images (row-major; one entry may be -1); for a signal
        network, ``(steps, channels)`` of one flattened signal.
    preprocessing : "auto", str, callable or None, default="auto"
        Applied to the float32 pixel batch (values as given, e.g. 0-255) inside the compiled
        function. "auto": the named application's own ``preprocess_input``, and nothing for
        a model or saved model (whatever its input: images, signals, rows). Another
        string names the application whose ``preprocess_input`` to use (e.g. for a saved
        fine-tuned MobileNetV2). A callable must accept a TensorFlow tensor (e.g. a KerasHub
        preset's image converter). None: no preprocessing.
    memory : None, str, path or joblib.Memory, default=None
        A folder (or a ``joblib.Memory``, whose folder is used) where ``transform`` caches
        the features of each image, keyed by the image's pixels and the backbone's identity
        (architecture and weights, layer, pooling, preprocessing, input size): images seen
        before are not run through the network again, in this process or another, e.g. in
        every fold and candidate of a grid search. None: no cache.
    engine : {"auto", "keras", "litert", "litert-dynamic", "litert-int8"}, default="auto"
        What runs ``transform``: ``"keras"``, the compiled TensorFlow function;
        ``"litert"``, the same function converted once to LiteRT (float32, no
        quantization) and run by its XNNPACK CPU kernels (``pip install
        "skltransfer[litert]"``, or TensorFlow's own interpreter where it still ships);
        ``"auto"``, LiteRT where it is installed for calls whose images hold at least
        2**27 values at the network's input size (891 images at 224 x 224 x 3, 43691 at
        32 x 32 x 3: enough to repay the conversion, measured in
        ``benchmarks/RESULTS.md``) and once the network is converted, Keras otherwise and
        for networks LiteRT cannot run (with one ``LiteRTFallbackWarning``). Features agree
        within 1e-4 of their scale. Quantized after training, never chosen by ``"auto"``
        (see "Quantized engines" below): ``"litert-dynamic"``, int8 weights;
        ``"litert-int8"``, int8 weights and activations, calibrated on up to 100 images
        seen at ``fit`` (drawn with ``random_state`` when an int, else with seed 0, and
        pickled with the extractor).
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
        ``(height, width, channels)`` fed to ``model_``; ``(steps, channels)`` for a signal
        network, ``(n_features,)`` for a tabular one.
    layer_name_ : str
        Name of the feature layer.
    pooling_ : {"avg", "max", "cls"} or None
        The pooling applied (``pooling`` with ``"auto"`` resolved; None for a flattened or
        a 2-D output).
    n_features_in_ : int
        Number of values per row, when fitted on a 2-D array.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    skltransfer.datasets.load_image_folder : File paths and labels of an image folder tree.

    Notes
    -----
    **Backbones.** What a sample is follows from the rank of the network's one input:

    - *Images* (input ``(height, width, channels)``: ``keras.applications``, CNNs, vision
      transformers, KerasHub image backbones). ``X`` as described above; images are
      resized to the input size and grayscale is repeated to the network's channels.
      Default cut: the last convolutional block of a CNN; for a token network (a layer
      output ``(batch, tokens, features)``, e.g. a ViT), the last layer with token outputs,
      pooled by ``pooling`` (``"cls"`` for the class token, ``"avg"`` for the mean token).
      Preprocessing under ``"auto"``: the application's ``preprocess_input``, none for a
      model (pass a KerasHub preset's image converter as ``preprocessing``).
    - *1-D signals* (input ``(steps, channels)``, e.g. ``Conv1D`` networks). ``X`` is a 3-D
      array ``(n, steps, channels)``, a 2-D array ``(n, steps)`` of one-channel signals, or
      flattened signals with ``image_shape=(steps, channels)``; signals must have the
      network's length (any length when its input is ``(None, channels)``). Default cut:
      the last layer with a 3-D output (the last ``Conv1D`` block), pooled over the steps.
      Preprocessing under ``"auto"``: none.
    - *Rows of features* (input ``(n_features,)``: a tabular network). ``X`` is a 2-D array
      ``(n, n_features)``, taken as it is. Default cut: none (the whole network, no
      pooling); set ``layer`` to cut before a classification top. Preprocessing under
      ``"auto"``: none.

    A model without a defined input (a subclassed ``keras.Model``, a ``Sequential``
    without ``keras.Input``) takes the samples seen in ``fit`` in their own form (4-D
    arrays as images, 3-D as signals, 2-D as rows); image files then need the model to
    have an input. A subclassed model is used whole, and its class (and its custom
    layers') need a ``get_config`` when ``__init__`` takes arguments other than numbers,
    strings and lists; it need not be registered with Keras: it is pickled by reference
    with the estimator. A model with several inputs is not supported (pass a model with
    one input).

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
    function, for its later blocks. The engine is chosen for the whole job: under
    ``"auto"``, a job large enough for LiteRT (a bag's paths are counted; an array of
    unknown length counts as large) is converted for LiteRT once, before the extractor is
    pickled, and every worker runs that conversion on its blocks, however small; the
    extractor keeps it for its later calls. The same holds for a fitted pipeline whose first step is
    the extractor: its ``transform`` stays lazy as far as the next steps accept Dask arrays.
    ``fit`` of a Dask collection computes its first image only (it builds the network and
    records the input form). Needs ``pip install "skltransfer[dask]"``.

    Quantized engines. ``"litert-dynamic"`` and ``"litert-int8"`` run the network converted
    with LiteRT's post-training quantization: dynamic range (int8 weights, activations
    quantized on the fly where a kernel supports it) and full integer (int8 weights and
    activations, each activation's range recorded over a representative set; operations
    without an int8 kernel stay in float32). The representative set is drawn at ``fit``:
    at most 100 of the rows seen (the first 100 of a Dask collection), kept with the
    extractor and its pickles, so a loaded or Dask-shipped extractor converts nothing
    again once converted; set the engine before ``fit`` (``"litert-dynamic"`` may be set
    after). Inputs and features stay float32. ``"auto"`` never picks them: they change the
    features (by design), and ``benchmarks/quantized.py`` is the check (speed against the
    float interpreter, feature cosine, downstream accuracy of a logistic regression on
    Office-31) a quantized default would have to pass. Measured on 2 AVX2 cores (no 8-bit
    dot-product instructions), MobileNetV2 at 224 px: ``"litert-int8"`` ran at 0.95-1.23x
    the float interpreter's speed in a network 3.3x smaller, ``"litert-dynamic"`` at
    0.46-0.64x (XNNPACK does not run its hybrid kernels); with a trained backbone both lost
    at most 0.5 point of accuracy. Of the two, ``"litert-int8"`` is the one to choose; for speed
    on such CPUs, ``"litert"``.

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

    A network over 1-D signals (here 20 steps of 2 channels), pooled over the
    steps of its last ``Conv1D`` block:

    >>> signals = keras.Sequential([keras.Input((20, 2)), keras.layers.Conv1D(6, 3, name="conv1d")])
    >>> waves = np.random.RandomState(0).randn(5, 20, 2)
    >>> PretrainedFeatureExtractor(signals).fit_transform(waves).shape
    (5, 6)

    A Dask array of images, computed block by block (here by Dask's local threads; with a
    ``dask.distributed`` client, by its workers):

    >>> import dask.array as da
    >>> features = extractor.transform(da.from_array(X, chunks=(2, 64)))
    >>> features.chunks, features.dtype
    (((2, 2, 1), (4,)), dtype('float32'))
    >>> features.compute().shape
    (5, 4)
    """

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
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the network; ``X`` fixes the input form and, for 2-D input, ``n_features_in_``.

        Parameters
        ----------
        X : array-like of shape (n, height, width[, channels]) or (n, n_features), or list of paths
            Images (see the class docstring). Of a Dask array or bag only the first image is
            computed (the first ``REPRESENTATIVE_SIZE`` = 100 with ``engine="litert-int8"``):
            the network learns nothing from the data, only their form.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        if is_dask_collection(X):  # the first image; the first rows where they calibrate int8
            X = first_image(X, REPRESENTATIVE_SIZE if self.engine == "litert-int8" else 1)
        images = self._images(X, reset=True)
        self._seed = derive_seed(self.random_state)
        self._record_backbone_identity(self._seed)
        frozen, self.input_shape_ = build_frozen_features(self, images.shape, self._seed)
        self.model_ = frozen.backbone
        self.layer_name_ = self.model_.layers[-1].name
        self.pooling_ = pooling_of(frozen.pooling)
        self._reset_runtime()
        self._n_features_out = int(self._predictor(images).output_shape[-1])
        return self

    def _frozen(self) -> FrozenFeatures:
        """The path from images to features through ``model_`` (rebuilt after unpickling)."""

        def build():
            rank = len(self.model_.outputs[0].shape)
            preprocessing = preprocessing_layer(self.preprocessing, self.base_model, self.input_shape_)
            pooling = pooling_layer(rank, self.pooling_, self.layer_name_)
            return FrozenFeatures(self.model_, preprocessing, pooling)

        return self._runtime.get("frozen", build)

    def _predictor(self, images) -> CompiledPredictor:
        """The compiled features for samples of this shape and dtype, traced on first use."""
        shape = tuple(int(d) for d in (images.shape or self.input_shape_))
        check_sample_shape(shape, self.input_shape_)
        uint8 = images.array is None or images.array.dtype == np.uint8  # files decode to uint8
        return self._frozen().compiled(self._runtime, shape, self.batch_size, "uint8" if uint8 else "float32")

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
        if is_dask_collection(X):
            return transform_dask(self, X)
        images = self._images(X, reset=False)
        return self._run_batches(
            self._predictor(images), images, size=self.input_shape_[:2], cache=self._feature_cache()
        )

    def export(self, path, format: str = "keras") -> str:
        """Save the feature network for serving without scikit-learn.

        One ``keras.Model``: float32 images of ``input_shape_`` in (its input is named
        ``"images"``), the preprocessing, the cut backbone and the pooling, the features of
        :meth:`transform` out. Images of another size must be resized first, as
        ``transform`` does.

        Parameters
        ----------
        path : str or path-like
            A ``.keras`` file, a SavedModel folder, a ``.tflite`` file or a ``.onnx`` file.
        format : {"keras", "saved_model", "tflite", "onnx"}, default="keras"
            As for :meth:`FineTunedCNNClassifier.export`; ``"onnx"`` needs the extra
            ``onnx`` (tf2onnx and onnx).

        Returns
        -------
        path : str
        """
        check_is_fitted(self, "model_")
        return export_extractor(self, path, format)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
