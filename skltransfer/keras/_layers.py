"""The custom Keras layers of skltransfer, defined and registered when this module is imported.

They are registered under the package name ``skltransfer``, so that
``keras.saving.load_model`` of a network that :class:`FineTunedCNNClassifier` exported (or
that an estimator pickled) works in a fresh process once ``skltransfer.keras`` is imported,
before any estimator is used.
"""

from __future__ import annotations

import keras

from .applications import get_application
from .images import adapt_batch

__all__ = ["ClassTokenPooling", "FoldedBatchNormalization", "ImagePreprocessing", "InferenceMode"]


@keras.saving.register_keras_serializable(package="skltransfer", name="ImagePreprocessing")
class ImagePreprocessing(keras.layers.Layer):
    """Raw input to the network's input: float32, channels repeated, resized, preprocessed.

    Grayscale is repeated to the network's ``channels``, images are resized (bilinear) to
    ``size``, and the named ``keras.applications`` network's own ``preprocess_input`` is
    applied, so that a saved network takes raw images. Signals and rows of features (a
    ``size`` of one or no entry) are only cast and preprocessed.

    Parameters
    ----------
    size : tuple of int
        Height and width the network takes; ``(steps,)`` for 1-D signals, ``()`` for rows.
    channels : int
        Channels the network takes (features, for rows).
    application : str or None, default=None
        A ``keras.applications`` name whose ``preprocess_input`` to apply; None for none.
    function : callable or None, default=None
        A preprocessing function of a float32 tensor, applied after ``application``'s.
        Saved by Keras' serialisation of functions: a module-level function (ideally
        registered with ``keras.saving.register_keras_serializable``) loads anywhere its
        module is importable; a lambda does not load in safe mode.
    """

    def __init__(self, size, channels, application=None, function=None, **kwargs):
        super().__init__(**kwargs)
        self.size = tuple(int(d) for d in size)
        self.channels = int(channels)
        self.application = application
        if isinstance(function, dict):
            function = keras.saving.deserialize_keras_object(function)
        self.function = function

    def call(self, x):
        x = adapt_batch(keras.ops.cast(x, "float32"), size=self.size, channels=self.channels)
        if self.application is not None:
            x = get_application(self.application).preprocess_input(x)
        if self.function is not None:
            x = self.function(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.size, self.channels)

    def get_config(self):
        config = super().get_config()
        config.update(
            size=list(self.size),
            channels=self.channels,
            application=self.application,
            function=None if self.function is None else keras.saving.serialize_keras_object(self.function),
        )
        return config


@keras.saving.register_keras_serializable(package="skltransfer", name="InferenceMode")
class InferenceMode(keras.layers.Layer):
    """Calls a wrapped model in inference mode, whatever mode the enclosing model trains in.

    A functional Keras model passes its own ``training`` flag to every layer it calls, a
    nested model included, overriding a ``training=False`` given when the graph was built.
    A pretrained backbone holds layers that must stay in inference mode while its top
    layers are fine-tuned: dropout, noise and augmentation layers, and batch
    normalizations (whose moving statistics would otherwise be updated). This layer's
    ``call`` takes no ``training`` argument, so the flag stops here, and it calls the
    backbone with ``training=False``. The backbone's weights stay its own: they train when
    its layers are trainable.

    Parameters
    ----------
    model : keras.Model
        The wrapped network (a config dict when loading).
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model, dict):
            model = keras.saving.deserialize_keras_object(model)
        self.model = model

    def build(self, input_shape):
        self.built = True

    def call(self, x):
        return self.model(x, training=False)

    def compute_output_shape(self, input_shape):
        return self.model.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(model=keras.saving.serialize_keras_object(self.model))
        return config


@keras.saving.register_keras_serializable(package="skltransfer", name="FoldedBatchNormalization")
class FoldedBatchNormalization(keras.layers.Layer):
    """Stands for a batch normalization folded into the convolution before it (identity)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, training=None, mask=None):
        return inputs


@keras.saving.register_keras_serializable(package="skltransfer", name="ClassTokenPooling")
class ClassTokenPooling(keras.layers.Layer):
    """The first token of a sequence: ``(batch, tokens, dim)`` to ``(batch, dim)``.

    The pooling ``"cls"`` of token outputs: the class token that ViT- and BERT-style
    encoders put first and train to summarise the sequence.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras._layers import ClassTokenPooling
    >>> tokens = np.arange(12, dtype="float32").reshape(1, 3, 4)
    >>> np.asarray(ClassTokenPooling()(tokens)).tolist()
    [[0.0, 1.0, 2.0, 3.0]]
    """

    def call(self, x):
        return x[:, 0]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])
