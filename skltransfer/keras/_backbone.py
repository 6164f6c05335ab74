"""The backbone of the Keras estimators: build or load it, re-initialise it, cut it at a layer.

:func:`resolve_backbone` turns ``base_model`` (a ``keras.applications`` name, a saved
``.keras`` file or a ``keras.Model``) and ``weights`` into a network and the facts needed to
feed it; :func:`feature_layer` finds the layer whose output is the feature;
:func:`resolve_pooling` reads ``pooling="auto"`` off the network's own head;
:func:`pooling_layer` pools a feature map or a sequence of tokens of any rank.

A backbone takes one input, whose rank says what a sample is (:func:`input_ndim`): images
``(height, width, channels)``, 1-D signals ``(steps, channels)`` or rows of features.
A model without a defined input (a subclassed ``keras.Model``, a ``Sequential`` without
``keras.Input``) takes the shape of the samples seen in ``fit``.
"""

from __future__ import annotations

import difflib
import json
import os
import zipfile
from numbers import Integral

import keras
from sklearn.utils import check_random_state

from ._layers import ClassTokenPooling
from ._persistence import copy_model, load_keras_model
from ._runtime import derive_seed, scoped_seed
from .applications import build_application, get_application
from .images import SAMPLE_KINDS, check_sample_shape

__all__ = [
    "application_name",
    "feature_layer",
    "input_ndim",
    "is_saved_model_path",
    "known_input_shape",
    "pooling_layer",
    "pooling_of",
    "reinitialize_model",
    "resolve_pooling",
    "resolve_backbone",
]


def is_saved_model_path(base_model) -> bool:
    return isinstance(base_model, os.PathLike) or (
        isinstance(base_model, str)
        and (base_model.endswith((".keras", ".h5")) or os.sep in base_model or os.path.isfile(base_model))
    )


def application_name(base_model) -> str | None:
    """The ``keras.applications`` name of ``base_model``; None for a model or a saved model."""
    if isinstance(base_model, (str, os.PathLike)) and not is_saved_model_path(base_model):
        return get_application(base_model).name
    return None


def _single_input(model):
    """``model``'s one input tensor; None for a model without a defined input."""
    inputs = getattr(model, "inputs", None)  # a Sequential without Input raises AttributeError
    if not inputs:
        return None
    if len(inputs) > 1:
        names = ", ".join(repr(t.name) for t in inputs)
        raise ValueError(
            f"base_model takes {len(inputs)} inputs ({names}); the Keras estimators feed one: pass a "
            "model with a single input (e.g. a keras.Model whose one input builds the others)."
        )
    return inputs[0]


def _saved_input_ndim(path) -> int | None:
    """The sample axes of a saved model with one ``InputLayer``, read from its archive's config."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
        shapes = [
            layer["config"]["batch_shape"]
            for layer in config["config"]["layers"]
            if layer["class_name"] == "InputLayer"
        ]
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile):
        return None
    return len(shapes[0]) - 1 if len(shapes) == 1 else None


def input_ndim(base_model) -> int | None:
    """Axes of one sample the backbone takes: 3 for images, 2 for 1-D signals, 1 for rows.

    Known without building for a ``keras.applications`` name (images) and a model with a
    defined input; a saved model is read from its archive's config (loaded when the config
    does not say). None for a model without a defined input (a subclassed ``keras.Model``,
    a ``Sequential`` without ``keras.Input``), which takes the samples' own form.
    """
    if isinstance(base_model, (str, os.PathLike)):
        if not is_saved_model_path(base_model):
            return 3
        ndim = _saved_input_ndim(base_model)
        if ndim is None:
            return input_ndim(load_keras_model(base_model))
        shape = (None,) * ndim
    else:
        tensor = _single_input(base_model)
        if tensor is None:
            return None
        shape = tuple(tensor.shape[1:])
    _check_input_rank(shape)
    return len(shape)


def _check_input_rank(shape) -> None:
    if len(shape) not in SAMPLE_KINDS:
        raise ValueError(
            f"base_model takes inputs of shape {shape}; the Keras estimators take images (height, width, "
            "channels), 1-D signals (steps, channels) or rows of features: pass a model with such an input."
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


def resolve_backbone(base_model, weights, *, input_size, sample_shape, random_state):
    """Build or load the backbone and the shape of one sample it takes.

    Shared by the Keras-backed estimators.

    Parameters
    ----------
    base_model : str, path or keras.Model
        A ``keras.applications`` name, a saved ``.keras`` model or a model (copied, never
        modified; a subclassed model too, see :func:`~._persistence.copy_model`).
    weights : "imagenet", None or path
        For a named application: ImageNet weights, random initialisation or a weights
        file. For a model or a saved model, ``"imagenet"`` (the default) keeps the model's
        own weights, None re-initialises them and a path loads that weights file.
    input_size : int, (height, width) or None
        Network input size of images; None means the application's native size or the
        model's own.
    sample_shape : tuple of int or None
        Shape of one training sample (None for image files): the size of images when the
        model accepts any size and ``input_size`` is None, the length of signals when it
        accepts any length, the input shape of a model without a defined input. Checked
        against what the model takes.
    random_state : None, int or RandomState
        Seeds random initialisation (``weights=None``).

    Returns
    -------
    model : keras.Model
        With one defined input.
    input_shape : tuple of int
        ``(height, width, channels)``, ``(steps, channels)`` or ``(n_features,)``.
    """
    size = _size_pair(input_size)
    if weights is not None and weights != "imagenet":
        _check_weights_file(weights)
    if isinstance(base_model, (str, os.PathLike)) and not is_saved_model_path(base_model):
        app = get_application(base_model)
        shape = _application_input_shape(app, size, sample_shape)
        if weights is None:
            with scoped_seed(derive_seed(random_state)):
                return build_application(app, input_shape=shape, weights=None), shape
        return build_application(app, input_shape=shape, weights=weights), shape

    model = (
        load_keras_model(base_model) if isinstance(base_model, (str, os.PathLike)) else copy_model(base_model)
    )
    if _single_input(model) is None and isinstance(model, keras.Sequential):
        model.build((None, *_undefined_input_shape(model, size, sample_shape)))
    if weights is not None and weights != "imagenet":
        try:
            model.load_weights(weights)
        except Exception as e:
            raise ValueError(
                f"Cannot load the weights file {os.fspath(weights)!r} into the model: {e}"
            ) from e
    if _single_input(model) is None:  # a subclassed model: called on an input of the samples' shape
        model = _with_input(model, _undefined_input_shape(model, size, sample_shape))
    if weights is None:
        model = reinitialize_model(model, random_state)
    return model, _model_input_shape(model, size, input_size, sample_shape)


def _application_input_shape(app, size, sample_shape) -> tuple[int, int, int]:
    """The input shape of a ``keras.applications`` network (``sample_shape`` checked against it)."""
    shape = (*(size or (app.native_size, app.native_size)), 3)
    if sample_shape is not None:
        check_sample_shape(sample_shape, shape)
    return shape


def _undefined_input_shape(model, size, sample_shape) -> tuple:
    """The input shape of a model without a defined input: the samples' (images at ``input_size``)."""
    if sample_shape is None:
        raise ValueError(
            f"base_model ({type(model).__name__}) has no defined input shape and X is image files: "
            "give the model an input (keras.Input((height, width, channels)) as its first layer), "
            "or pass X as an array."
        )
    if size is not None and len(sample_shape) == 3:
        return (*size, sample_shape[-1])
    return tuple(sample_shape)


def _with_input(model, shape):
    """A functional model calling ``model`` (subclassed) on an input of ``shape``."""
    inputs = keras.Input(shape)
    try:
        outputs = model(inputs)
    except Exception as e:
        raise ValueError(
            f"base_model ({type(model).__name__}) has no defined input shape and cannot be called on "
            f"samples of shape {shape} (those of X): {e}. Pass X in the form the model takes, or a model "
            "with a keras.Input."
        ) from e
    return keras.Model(inputs, outputs, name=model.name)


def _model_input_shape(model, size, input_size, sample_shape) -> tuple[int, ...]:
    shape = tuple(_single_input(model).shape[1:])
    _check_input_rank(shape)
    if len(shape) != 3:
        if input_size is not None:
            raise ValueError(
                f"input_size is the (height, width) of images, but base_model takes "
                f"{SAMPLE_KINDS[len(shape)][0]}: leave input_size=None."
            )
        if sample_shape is not None:
            check_sample_shape(sample_shape, shape)
            shape = tuple(d if d is not None else given for d, given in zip(shape, sample_shape, strict=True))
        return shape
    fixed, channels = shape[:2], shape[-1]
    if None not in fixed:
        if size is not None and size != fixed:
            raise ValueError(f"input_size={input_size!r} differs from the model's input size {fixed}.")
        size = fixed
    elif size is None and sample_shape is not None:
        size = tuple(sample_shape[:2])
    if size is None:
        raise ValueError(
            "The model accepts images of any size and the images are files: set input_size=(height, width)."
        )
    if channels is None:
        if sample_shape is None:
            raise ValueError(
                "The model accepts any number of channels and the images are files: give the model "
                "an input with its channels (keras.Input((height, width, channels)))."
            )
        channels = sample_shape[-1]
    if sample_shape is not None:
        check_sample_shape(sample_shape, (*size, channels))
    return (*size, channels)


def known_input_shape(base_model, *, input_size, sample_shape) -> tuple[int, ...] | None:
    """The input shape :func:`resolve_backbone` will give, when it is known without building.

    Known for a ``keras.applications`` name and for a ``keras.Model`` object with a defined
    input; None for a saved model file (loading it builds it) and a model without a
    defined input. Checks ``sample_shape`` as :func:`resolve_backbone` does.
    """
    size = _size_pair(input_size)
    if isinstance(base_model, (str, os.PathLike)):
        if is_saved_model_path(base_model):
            return None
        return _application_input_shape(get_application(base_model), size, sample_shape)
    if _single_input(base_model) is None:
        return None
    return _model_input_shape(base_model, size, input_size, sample_shape)


def _rank(tensor) -> int | None:
    """The rank of a layer's output; None when the layer has several outputs."""
    return len(tensor.shape) if isinstance(tensor, keras.KerasTensor) else None


def feature_layer(model, layer):
    """The layer named or indexed by ``layer``, whose output is the feature.

    None: the last layer (the input aside) whose output keeps a spatial or token axis
    (rank 3 or more, batch included): the last convolutional block of an image or signal
    network, the last block of a token network. A network without one (a tabular network)
    is taken whole. A model with several outputs needs ``layer``.
    """
    if layer is None:
        if len(model.outputs) > 1:
            names = ", ".join(map(repr, getattr(model, "output_names", [])))
            raise ValueError(
                f"base_model has {len(model.outputs)} outputs ({names}): set layer to the name of "
                "the layer whose output is the feature."
            )
        for candidate in reversed(model.layers):
            if not isinstance(candidate, keras.layers.InputLayer) and (_rank(candidate.output) or 0) >= 3:
                return candidate
        return model.layers[-1]
    if isinstance(layer, str):
        names = [lay.name for lay in model.layers]
        if layer not in names:
            close = difflib.get_close_matches(layer, names, n=5, cutoff=0.4)
            hint = "Did you mean " + ", ".join(map(repr, close)) + "?" if close else f"Layers: {names}."
            raise ValueError(f"The model has no layer named {layer!r} (layer). {hint}")
        chosen = model.get_layer(layer)
    else:
        n = len(model.layers)
        if not -n <= layer < n:
            raise ValueError(f"layer={layer} is out of range: the model has {n} layers.")
        chosen = model.layers[layer]
    if _rank(chosen.output) is None:
        raise ValueError(
            f"The layer {chosen.name!r} (layer) has {len(chosen.output)} outputs: set layer to a layer "
            "with one output."
        )
    return chosen


_POOLING_OF_HEAD = {
    "Flatten": None,
    "GlobalAveragePooling1D": "avg",
    "GlobalAveragePooling2D": "avg",
    "GlobalAveragePooling3D": "avg",
    "GlobalMaxPooling1D": "max",
    "GlobalMaxPooling2D": "max",
    "GlobalMaxPooling3D": "max",
}


def resolve_pooling(model, layer, pooling):
    """``pooling`` with ``"auto"`` replaced by how ``model``'s own head reads ``layer``.

    ``"auto"`` follows the network: a layer whose output the network itself flattens
    (``Flatten``, as in a small CNN with a dense head, or VGG's top) is flattened (None),
    one it pools globally is pooled the same way (``"avg"`` or ``"max"``); anything else (a
    network cut without its head, such as a ``keras.applications`` backbone, or a layer
    the network feeds to another convolution) gets global average pooling. Flattening
    keeps where in the image a feature fired, which a small feature map (2x2 to 7x7 in
    networks for small images) cannot spare: averaging it throws away the layout the
    network's dense layers were trained on.

    Examples
    --------
    >>> import keras
    >>> from skltransfer.keras._backbone import resolve_pooling
    >>> inputs = keras.Input((8, 8, 1))
    >>> maps = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    >>> outputs = keras.layers.Dense(2)(keras.layers.Flatten()(maps))
    >>> model = keras.Model(inputs, outputs)
    >>> print(resolve_pooling(model, model.get_layer("conv"), "auto"))
    None
    >>> resolve_pooling(model, model.get_layer("conv"), "max")
    'max'
    """
    if pooling != "auto":
        return pooling
    own = {id(candidate) for candidate in model.layers}
    # Keras records which layers consume a layer's output as its outbound nodes.
    consumers = [node.operation for node in getattr(layer, "_outbound_nodes", ())]
    readings = {
        _POOLING_OF_HEAD[type(consumer).__name__]
        for consumer in consumers
        if id(consumer) in own and type(consumer).__name__ in _POOLING_OF_HEAD
    }
    return readings.pop() if len(readings) == 1 else "avg"


def pooling_of(layer) -> str | None:
    """The ``pooling`` value that :func:`pooling_layer` turns into ``layer`` (None: flattened or none).

    Examples
    --------
    >>> import keras
    >>> from skltransfer.keras._backbone import pooling_of, pooling_layer
    >>> pooling_of(pooling_layer(4, "max", "conv"))
    'max'
    """
    if isinstance(layer, ClassTokenPooling):
        return "cls"
    return None if layer is None else _POOLING_OF_HEAD[type(layer).__name__]


def pooling_layer(feature_rank: int, pooling, layer_name: str):
    """The layer named ``"pooling"`` that pools a feature map of rank ``feature_rank``, or None.

    Feature maps of rank 3 to 5 (1-D signals or tokens, images, volumes; batch and channels
    included) get global average (``"avg"``) or max (``"max"``) pooling over their spatial
    or token axes, or are flattened (None); a sequence of tokens (rank 3) may also be
    pooled by its first, class token (``"cls"``). A 2-D output (a dense layer) is used as it
    is (None).
    """
    if feature_rank <= 2:
        return None
    if feature_rank > 5:
        raise ValueError(
            f"The feature layer's output has rank {feature_rank}; pooling takes ranks 3 to 5 (layer)."
        )
    if pooling is None:
        return keras.layers.Flatten(name="pooling")
    if pooling == "cls":
        if feature_rank != 3:
            raise ValueError(
                f"pooling='cls' takes the first token of a 3-D output (batch, tokens, features), but the "
                f"feature layer {layer_name!r} has a {feature_rank}-D output: set pooling to 'avg', "
                "'max' or None, or layer to a layer with token outputs."
            )
        return ClassTokenPooling(name="pooling")
    kind = {"avg": "Average", "max": "Max"}[pooling]
    return getattr(keras.layers, f"Global{kind}Pooling{feature_rank - 2}D")(name="pooling")


def reinitialize_model(model, random_state):
    """A copy of ``model`` (functional or sequential) with fresh, reproducible initial weights.

    Every layer is rebuilt from its config with each initializer's seed replaced by one drawn
    from ``random_state``, so models whose initializers carry fixed seeds are re-initialised
    too, and the same ``random_state`` gives the same weights. A model of a class of its own
    defined outside Keras (a KerasHub backbone) is rebuilt from its config, its initializers
    seeded from ``random_state``.
    """
    rng = check_random_state(random_state)
    if type(model).__module__.split(".")[0] != "keras":  # e.g. a KerasHub backbone: built from its config
        with scoped_seed(derive_seed(rng)):
            return type(model).from_config(model.get_config())

    def reseeded(layer):
        config = layer.get_config()
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                value["config"]["seed"] = int(rng.randint(1, 2**31 - 1))
        return layer.__class__.from_config(config)

    with scoped_seed(derive_seed(rng)):  # initializers given as objects without a config seed
        return keras.models.clone_model(model, clone_function=reseeded, recursive=True)
