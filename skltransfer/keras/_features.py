"""The one path from images (or signals, or rows) to a frozen backbone's pooled features.

Raw pixels go through the network's preprocessing layer (float32, grayscale repeated,
resized, the application's own ``preprocess_input``; signals and rows are only cast and
preprocessed), the backbone cut at its feature layer (in inference mode) and the pooling
layer (over the spatial axes of a feature map, or over the tokens of a token output).
:class:`PretrainedFeatureExtractor` returns these features; the fine-tuned estimators train
their head on them (computed once, or read from ``memory``) and put the same layers in front
of the head of ``model_``.
"""

from __future__ import annotations

from typing import NamedTuple

import keras

from ._backbone import application_name, feature_layer, pooling_layer, resolve_backbone, resolve_pooling
from ._inference import Runtime, fold_batch_normalization
from ._layers import ImagePreprocessing
from .applications import get_application

__all__ = ["FrozenFeatures", "build_frozen_features", "preprocessing_layer"]


def preprocessing_layer(preprocessing, base_model, input_shape) -> ImagePreprocessing:
    """The network's first layer, raw pixels to what the backbone takes, from ``preprocessing``.

    ``"auto"``: the named application's own ``preprocess_input`` (nothing for a model or a
    saved model); another string: that application's; a callable: applied as is; None: none.
    ``input_shape`` is one sample's: ``(height, width, channels)``, ``(steps, channels)`` or
    ``(n_features,)``.
    """
    application, function = None, None
    if preprocessing == "auto":
        application = application_name(base_model)
    elif isinstance(preprocessing, str):
        application = get_application(preprocessing).name
    else:
        function = preprocessing
    return ImagePreprocessing(input_shape[:-1], input_shape[-1], application, function, name="preprocess")


class FrozenFeatures(NamedTuple):
    """Images (signals, rows) to pooled features: ``pooling(backbone(preprocessing(x), training=False))``.

    Attributes
    ----------
    backbone : keras.Model
        The backbone cut at its feature layer.
    preprocessing : ImagePreprocessing
    pooling : keras.layers.Layer or None
        None for a 2-D feature layer.
    """

    backbone: keras.Model
    preprocessing: ImagePreprocessing
    pooling: keras.layers.Layer | None

    def __call__(self, x, backbone=None):
        """The features of a batch of images (symbolic or eager), through ``backbone`` if given.

        ``backbone`` replaces ``self.backbone`` (e.g. its folded copy, or a layer calling it
        in inference mode inside a larger network).
        """
        out = (self.backbone if backbone is None else backbone)(self.preprocessing(x), training=False)
        return out if self.pooling is None else self.pooling(out)

    def compiled(self, runtime: Runtime, image_shape: tuple, batch_size: int, dtype: str = "float32"):
        """The compiled predictor of these features for images of ``image_shape`` and ``dtype``.

        It runs a copy of the backbone with its batch normalizations folded into the
        convolutions before them (see :func:`fold_batch_normalization`), kept in ``runtime``.
        """
        folded = runtime.get(("folded", id(self.backbone)), lambda: fold_batch_normalization(self.backbone))
        return runtime.predictor(
            ("features", tuple(image_shape), dtype),
            lambda x: self(x, folded),
            image_shape,
            batch_size,
            dtype=dtype,
        )

    @classmethod
    def from_model(cls, model: keras.Model) -> FrozenFeatures:
        """The frozen features in front of the head of a fine-tuned ``model_``."""
        names = {layer.name for layer in model.layers}
        return cls(
            model.get_layer("backbone").model,
            model.get_layer("preprocess"),
            model.get_layer("pooling") if "pooling" in names else None,
        )


def build_frozen_features(estimator, sample_shape, seed: int) -> tuple[FrozenFeatures, tuple[int, ...]]:
    """Build, cut and freeze the backbone of ``estimator``'s parameters, with its preprocessing and pooling.

    Parameters
    ----------
    estimator : KerasImageEstimator
        Its ``base_model``, ``weights``, ``layer``, ``pooling``, ``input_size`` and
        ``preprocessing`` are read.
    sample_shape : tuple of int or None
        Shape of one training sample, None for image files (the size of images or the
        length of signals for a model that accepts any; the input shape of a model without
        a defined input).
    seed : int
        Seeds the random initialisation (``weights=None``).

    Returns
    -------
    features : FrozenFeatures
    input_shape : tuple of int
        What the backbone takes: ``(height, width, channels)``, ``(steps, channels)`` or
        ``(n_features,)``.
    """
    model, input_shape = resolve_backbone(
        estimator.base_model,
        estimator.weights,
        input_size=estimator.input_size,
        sample_shape=sample_shape,
        random_state=seed,
    )
    layer = feature_layer(model, estimator.layer)
    whole = len(model.outputs) == 1 and layer is model.layers[-1]
    backbone = model if whole else keras.Model(model.inputs, layer.output)
    backbone.trainable = False
    pooling = pooling_layer(
        len(backbone.outputs[0].shape), resolve_pooling(model, layer, estimator.pooling), layer.name
    )
    preprocessing = preprocessing_layer(estimator.preprocessing, estimator.base_model, input_shape)
    return FrozenFeatures(backbone, preprocessing, pooling), input_shape
