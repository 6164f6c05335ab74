"""The backbone of the Keras estimators: build or load it, re-initialise it, cut it at a layer.

:func:`resolve_backbone` turns ``base_model`` (a ``keras.applications`` name, a saved
``.keras`` file or a ``keras.Model``) and ``weights`` into a network and the facts needed to
feed it; :func:`feature_layer` finds the layer whose output is the feature;
:func:`pooling_layer` pools a feature map of any rank.
"""

from __future__ import annotations

import difflib
import os
from numbers import Integral

import keras
from sklearn.utils import check_random_state

from ._persistence import load_keras_model, model_from_bytes, model_to_bytes
from ._runtime import derive_seed, scoped_seed
from .applications import build_application, get_application

__all__ = [
    "application_name",
    "feature_layer",
    "is_saved_model_path",
    "known_input_shape",
    "pooling_layer",
    "reinitialize_model",
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


def resolve_backbone(base_model, weights, *, input_size, image_size, random_state):
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

    Returns
    -------
    model : keras.Model
    input_shape : (height, width, channels)
    """
    size = _size_pair(input_size)
    if weights is not None and weights != "imagenet":
        _check_weights_file(weights)
    if isinstance(base_model, (str, os.PathLike)) and not is_saved_model_path(base_model):
        app = get_application(base_model)
        shape = (*(size or (app.native_size, app.native_size)), 3)
        if weights is None:
            with scoped_seed(derive_seed(random_state)):
                return build_application(app, input_shape=shape, weights=None), shape
        return build_application(app, input_shape=shape, weights=weights), shape

    if isinstance(base_model, (str, os.PathLike)):
        model = load_keras_model(base_model)
    else:
        model = model_from_bytes(model_to_bytes(base_model))  # a private copy
    if weights is None:
        model = reinitialize_model(model, random_state)
    elif weights != "imagenet":
        try:
            model.load_weights(weights)
        except Exception as e:
            raise ValueError(
                f"Cannot load the weights file {os.fspath(weights)!r} into the model: {e}"
            ) from e
    return model, _model_input_shape(model, size, input_size, image_size)


def _model_input_shape(model, size, input_size, image_size) -> tuple[int, int, int]:
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
    return (*size, channels)


def known_input_shape(base_model, *, input_size, image_size) -> tuple[int, int, int] | None:
    """The input shape :func:`resolve_backbone` will give, when it is known without building.

    Known for a ``keras.applications`` name and for a ``keras.Model`` object; None for a
    saved model file (loading it builds it).
    """
    size = _size_pair(input_size)
    if isinstance(base_model, (str, os.PathLike)):
        if is_saved_model_path(base_model):
            return None
        app = get_application(base_model)
        return (*(size or (app.native_size, app.native_size)), 3)
    return _model_input_shape(base_model, size, input_size, image_size)


def feature_layer(model, layer):
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


def pooling_layer(feature_rank: int, pooling):
    """The layer named ``"pooling"`` that pools a feature map of rank ``feature_rank``, or None.

    Feature maps of rank 3 to 5 (1-D signals or tokens, images, volumes; batch and channels
    included) get global average (``"avg"``) or max (``"max"``) pooling over their spatial
    axes, or are flattened (None); a 2-D output (a dense layer) is used as it is (None).
    """
    if feature_rank <= 2:
        return None
    if feature_rank > 5:
        raise ValueError(
            f"The feature layer's output has rank {feature_rank}; pooling takes ranks 3 to 5 (layer)."
        )
    if pooling is None:
        return keras.layers.Flatten(name="pooling")
    kind = {"avg": "Average", "max": "Max"}[pooling]
    return getattr(keras.layers, f"Global{kind}Pooling{feature_rank - 2}D")(name="pooling")


def reinitialize_model(model, random_state):
    """A copy of ``model`` (functional or sequential) with fresh, reproducible initial weights.

    Every layer is rebuilt from its config with each initializer's seed replaced by one drawn
    from ``random_state``, so models whose initializers carry fixed seeds are re-initialised
    too, and the same ``random_state`` gives the same weights.
    """
    rng = check_random_state(random_state)

    def reseeded(layer):
        config = layer.get_config()
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                value["config"]["seed"] = int(rng.randint(1, 2**31 - 1))
        return layer.__class__.from_config(config)

    with scoped_seed(derive_seed(rng)):  # initializers given as objects without a config seed
        return keras.models.clone_model(model, clone_function=reseeded, recursive=True)
