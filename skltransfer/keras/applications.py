"""Registry of the ``keras.applications`` backbones.

Every constructor that ``keras.applications`` exports (``MobileNetV2``, ``ResNet50``,
``EfficientNetB0``, ...) is found by walking that namespace, so a Keras release that adds a
network adds it here. Each entry knows its constructor, its own ``preprocess_input`` (from the
module that defines the constructor) and its native input size. Names are matched
case-insensitively, ignoring ``_``, ``-``, ``.`` and spaces: ``"mobilenet_v2"``,
``"MobileNetV2"`` and ``"mobilenetv2"`` are one network. An unknown name raises a
``ValueError`` listing the closest known names.

Pretrained ImageNet weights are downloaded by Keras on first use and cached under
``~/.keras/models`` (``$KERAS_HOME/models``). Offline, :func:`build_application` raises an
``OSError`` naming the weights file and where to put it.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import os
import re
from collections.abc import Callable

import keras

__all__ = ["Application", "build_application", "get_application", "list_applications"]

# Native input sizes that differ from 224 (from each constructor's default_size).
_NATIVE_SIZE = {
    "InceptionV3": 299,
    "InceptionResNetV2": 299,
    "Xception": 299,
    "NASNetLarge": 331,
    "EfficientNetB1": 240,
    "EfficientNetB2": 260,
    "EfficientNetB3": 300,
    "EfficientNetB4": 380,
    "EfficientNetB5": 456,
    "EfficientNetB6": 528,
    "EfficientNetB7": 600,
    "EfficientNetV2B1": 240,
    "EfficientNetV2B2": 260,
    "EfficientNetV2B3": 300,
    "EfficientNetV2S": 384,
    "EfficientNetV2M": 480,
    "EfficientNetV2L": 480,
}
_DEFAULT_SIZE = 224


@dataclasses.dataclass(frozen=True)
class Application:
    """One ``keras.applications`` backbone.

    An entry of the registry that :func:`get_application` reads: the network's constructor
    together with the pixel preprocessing and the input size that its ImageNet weights
    expect. Entries are built from the ``keras.applications`` namespace, not by hand, and
    are immutable.

    Parameters
    ----------
    name : str
        The constructor's name in ``keras.applications`` (e.g. ``"MobileNetV2"``).
    constructor : callable
        ``keras.applications.<name>``.
    preprocess_input : callable
        The ``preprocess_input`` of the module that defines the constructor.
    native_size : int
        Height and width of the images the network was trained on.

    See Also
    --------
    get_application : The entry of a backbone, by any common spelling of its name.
    build_application : Build the entry's network without its classification top.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> from skltransfer.keras.applications import get_application
    >>> app = get_application("mobilenet_v2")
    >>> app.name, app.native_size
    ('MobileNetV2', 224)
    >>> app.constructor is keras.applications.MobileNetV2
    True
    >>> app.preprocess_input(np.array([0.0, 127.5, 255.0]))
    array([-1.,  0.,  1.])
    """

    name: str
    constructor: Callable
    preprocess_input: Callable
    native_size: int


def normalize_name(name: str) -> str:
    """Lower-case ``name`` and drop ``_``, ``-``, ``.`` and spaces: the lookup key."""
    return re.sub(r"[\s_\-.]", "", name).lower()


@functools.cache
def _registry() -> dict[str, Application]:
    apps = keras.applications
    # Public submodules (mobilenet_v2, resnet, ...) keyed by their last name component.
    modules = {
        name: mod
        for name, mod in vars(apps).items()
        if inspect.ismodule(mod) and hasattr(mod, "preprocess_input")
    }
    registry = {}
    for name, obj in vars(apps).items():
        if not (inspect.isfunction(obj) and name[:1].isupper()):
            continue
        module = modules.get(obj.__module__.rsplit(".", 1)[-1], apps.imagenet_utils)
        registry[normalize_name(name)] = Application(
            name=name,
            constructor=obj,
            preprocess_input=module.preprocess_input,
            native_size=_NATIVE_SIZE.get(name, _DEFAULT_SIZE),
        )
    return registry


def list_applications() -> list[str]:
    """The names of every ``keras.applications`` constructor, sorted.

    The list is read from the installed Keras, so it grows with Keras releases. Each name
    is accepted, in any common spelling, by :func:`get_application` and as the
    ``base_model`` of the Keras-backed estimators.

    Returns
    -------
    names : list of str

    See Also
    --------
    get_application : The registry entry of one of these backbones.

    Examples
    --------
    >>> from skltransfer.keras.applications import list_applications
    >>> "MobileNetV2" in list_applications()
    True
    """
    return sorted(app.name for app in _registry().values())


def get_application(name: str) -> Application:
    """The registry entry of a ``keras.applications`` backbone, by any common spelling.

    Names are matched case-insensitively, ignoring ``_``, ``-``, ``.`` and spaces, so
    ``"mobilenet_v2"``, ``"MobileNetV2"`` and ``"mobilenetv2"`` give the same entry. This
    is how the ``base_model`` name of the Keras-backed estimators is resolved.

    Parameters
    ----------
    name : str
        Case-insensitive; ``_``, ``-``, ``.`` and spaces are ignored
        (``"mobilenet_v2"``, ``"ResNet50"``, ``"efficientnet_b0"``).

    Returns
    -------
    app : Application

    Raises
    ------
    ValueError
        If no backbone has that name; the message lists the closest names.

    See Also
    --------
    list_applications : The names of every known backbone.
    build_application : Build the entry's network without its classification top.

    Examples
    --------
    >>> from skltransfer.keras.applications import get_application
    >>> app = get_application("mobilenet_v2")
    >>> app.name, app.native_size
    ('MobileNetV2', 224)
    >>> get_application("inception-v3").native_size
    299
    """
    registry = _registry()
    key = normalize_name(name)
    if key in registry:
        return registry[key]
    close = difflib.get_close_matches(key, list(registry), n=5, cutoff=0.5)
    hint = (
        "Did you mean " + ", ".join(repr(registry[k].name) for k in close) + "?"
        if close
        else "Known names: " + ", ".join(list_applications()) + "."
    )
    raise ValueError(f"Unknown keras.applications model {name!r} (base_model). {hint}")


def _weights_cache_dir() -> str:
    """Where ``keras.utils.get_file`` caches application weights (mirrors its rule)."""
    try:
        from keras.src.backend.config import keras_home as _keras_home

        keras_home = os.path.expanduser(_keras_home())
    except ImportError:  # pragma: no cover - Keras moved its private config accessor
        keras_home = os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))
    if not os.access(keras_home, os.W_OK):
        keras_home = os.path.join("/tmp", ".keras")
    return os.path.join(keras_home, "models")


def build_application(app: Application, *, input_shape: tuple[int, int, int], weights):
    """Build the backbone without its classification top.

    The network is the convolutional base of ``app.constructor``
    (``include_top=False``): its output is the last 4-D feature map, to which the
    estimators add their pooling and head. ImageNet weights are downloaded by Keras on first
    use and cached; ``weights=None`` builds a randomly initialised network without any
    download.

    Parameters
    ----------
    app : Application
    input_shape : tuple of int
        ``(height, width, 3)``.
    weights : {"imagenet", None} or path
        Passed to the constructor. When the ImageNet download fails, an ``OSError`` names
        the weights file and the folder in which placing it avoids the download.

    Returns
    -------
    model : keras.Model

    See Also
    --------
    get_application : The registry entry to pass as ``app``.
    skltransfer.keras.PretrainedFeatureExtractor : The backbone's features as a transformer.

    Examples
    --------
    >>> from skltransfer.keras.applications import build_application, get_application
    >>> app = get_application("mobilenet")
    >>> model = build_application(app, input_shape=(32, 32, 3), weights=None)
    >>> model.output_shape
    (None, 1, 1, 1024)
    """
    try:
        return app.constructor(include_top=False, weights=weights, input_shape=input_shape)
    except Exception as e:
        match = re.search(r"URL fetch failure on (\S+): ", str(e))
        if weights != "imagenet" or match is None:
            raise
        url = match.group(1)
        target = os.path.join(_weights_cache_dir(), url.rsplit("/", 1)[-1])
        raise OSError(
            f"Cannot download the ImageNet weights of {app.name} ({e}). Without internet access, "
            f"download {url} elsewhere and place it at {target} (Keras' cache), or pass "
            f"weights=<path to the weights file>, or weights=None for random initialisation."
        ) from e
