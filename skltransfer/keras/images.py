"""Input of the Keras-backed estimators: images, and the samples of signal and tabular networks.

:func:`as_images` accepts every form the estimators take and returns :class:`Images`, which
yields batches of at most ``batch_size`` samples. For a network taking images (the default):

- a 4-D array ``(n, height, width, channels)``;
- a 3-D array ``(n, height, width)`` of grayscale images;
- a 2-D array of flattened images with ``image_shape`` (``(height, width)`` or
  ``(height, width, channels)``, row-major like ``numpy.reshape``; one entry may be ``-1``);
- a 1-D array or list of image file paths (any format Pillow reads), decoded batch by batch
  so memory is bounded by the batch, not by the data set.

For a network taking 1-D signals ``(steps, channels)``: a 3-D array ``(n, steps, channels)``,
a 2-D array ``(n, steps)`` of one-channel signals, or a 2-D array of flattened signals with
``image_shape=(steps, channels)``. For a tabular network: a 2-D array ``(n, n_features)``.

Arrays may be ``uint8`` or floating point, with raw values (the network's own
``preprocess_input`` is applied later). NaN or infinite values, a wrong channel count, a
form the network does not take and unreadable files are errors that name the fault.
:func:`adapt_batch` is the in-graph step that repeats grayscale to three channels and
resizes to the network's input size.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
from collections.abc import Iterator, Sequence
from numbers import Integral

import numpy as np
from sklearn.utils import check_array

from ..utils._sklearn_compat import validate_data

__all__ = [
    "Images",
    "adapt_batch",
    "as_images",
    "check_channels",
    "check_fitted_shape",
    "check_sample_shape",
    "load_image",
]

#: What one sample is, by its number of axes (the network's input rank less the batch axis).
SAMPLE_KINDS = {
    3: ("images", ("height", "width", "channels")),
    2: ("1-D signals", ("steps", "channels")),
    1: ("rows", ("features",)),
}

#: How each kind of sample is passed, for the messages that say what to pass.
_HOW_TO_PASS = {
    3: "a 4-D array (n, height, width, channels), a 3-D array of grayscale images, a 2-D array "
    "with image_shape, or a list of image file paths",
    2: "a 3-D array (n, steps, channels), or a 2-D array (n, steps) of one-channel signals",
    1: "a 2-D array (n_samples, n_features)",
}


def _is_path(x) -> bool:
    return isinstance(x, (str, os.PathLike))


def _as_path_list(X) -> list | None:
    """The list of paths if ``X`` is a 1-D sequence of paths, else None."""
    if isinstance(X, (str, os.PathLike)):
        raise ValueError(
            "X is a single path; pass a list of image file paths (use "
            "skltransfer.datasets.load_image_folder for a folder)."
        )
    if isinstance(X, (list, tuple)):
        if len(X) > 0 and all(_is_path(x) for x in X):
            return list(X)
        return None
    if getattr(X, "ndim", None) == 1 and getattr(X, "dtype", None) is not None:
        values = np.asarray(X)
        if values.dtype.kind in "US" or (values.dtype == object and all(_is_path(x) for x in values)):
            return list(values)
    return None


def _resolve_image_shape(image_shape, n_features: int, sample_ndim: int = 3) -> tuple[int, ...]:
    """One sample's shape from ``image_shape`` (a channel axis added when it is left out)."""
    shape = tuple(image_shape)
    lengths, form = {
        3: ((2, 3), "(height, width) or (height, width, channels)"),
        2: ((1, 2), "(steps, channels)"),
    }[sample_ndim]
    if len(shape) not in lengths or not all(isinstance(d, Integral) and (d > 0 or d == -1) for d in shape):
        raise ValueError(f"image_shape must be {form} of positive ints (one may be -1); got {image_shape!r}.")
    if shape.count(-1) > 1:
        raise ValueError(f"image_shape may contain at most one -1; got {image_shape!r}.")
    known = int(np.prod([d for d in shape if d != -1]))
    if -1 in shape and n_features % known == 0:
        shape = tuple(n_features // known if d == -1 else d for d in shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which cannot be reshaped to image_shape={image_shape!r}."
        )
    return shape if len(shape) == sample_ndim else (*shape, 1)


def load_image(path, size: tuple[int, int] | None, channels: int) -> np.ndarray:
    """Decode one image file as a ``uint8`` array ``(height, width, channels)``.

    Any format that Pillow reads is accepted. The image is converted to grayscale or RGB
    and, when ``size`` is given, resized as Keras' own image loading does, so that file
    input and array input reach the network alike.

    Parameters
    ----------
    path : str or path-like
    size : (height, width) or None
        Resize to this size (bilinear, as ``keras.utils.load_img``); None keeps the size.
    channels : {1, 3}
        1 converts to grayscale, 3 to RGB.

    Returns
    -------
    image : ndarray of uint8

    Raises
    ------
    ValueError
        If the file is missing or not a readable image; the message names the path.

    See Also
    --------
    as_images : Validate any accepted image input, file paths included.
    Images.batches : Decode image files batch by batch.

    Examples
    --------
    >>> import os
    >>> import tempfile
    >>> from PIL import Image
    >>> from skltransfer.keras.images import load_image
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = os.path.join(folder, "red.png")
    ...     Image.new("RGB", (4, 2), "red").save(path)
    ...     rgb = load_image(path, size=None, channels=3)
    ...     gray = load_image(path, size=(8, 8), channels=1)
    >>> rgb.shape, rgb[0, 0].tolist()
    ((2, 4, 3), [255, 0, 0])
    >>> gray.shape
    (8, 8, 1)
    """
    from PIL import Image, UnidentifiedImageError

    path = str(os.fspath(path))  # numpy string paths would print as np.str_('...')
    try:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            if size is not None and img.size != (size[1], size[0]):
                img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(img, dtype=np.uint8)
    except FileNotFoundError as e:
        raise ValueError(f"Image file not found: {path!r}.") from e
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise ValueError(f"Cannot read image file {path!r}: {e}") from e
    return array.reshape(array.shape[0], array.shape[1], channels)


@dataclasses.dataclass
class Images:
    """Images (or other samples) to feed a network, held as an array or as a list of file paths.

    The validated form of every accepted input, as :func:`as_images` returns it. Exactly
    one of ``array`` and ``paths`` is set. ``len`` gives the number of samples and
    :meth:`batches` yields them in batches, files being decoded only batch by batch.

    Parameters
    ----------
    array : ndarray of shape (n, height, width, channels), (n, steps, channels), (n, n_features) or None, \
default=None
        The images, signals or rows, in their original dtype.
    paths : list of path or None, default=None
        The image files, read batch by batch.
    from_rows : bool, default=False
        Whether the samples came as a 2-D array (which records ``n_features_in_``).

    See Also
    --------
    as_images : Validate any accepted image input and wrap it as ``Images``.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.images import Images
    >>> images = Images(array=np.zeros((5, 8, 8, 3), dtype=np.uint8))
    >>> len(images), images.shape
    (5, (8, 8, 3))
    >>> [batch.shape[0] for batch in images.batches(2, size=(8, 8), channels=3)]
    [2, 2, 1]
    """

    array: np.ndarray | None = None
    paths: Sequence | None = None
    from_rows: bool = False

    def __len__(self) -> int:
        return len(self.paths) if self.array is None else self.array.shape[0]

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The shape of one array sample (``(height, width, channels)`` for images); None for files."""
        return None if self.array is None else tuple(self.array.shape[1:])

    def batches(self, batch_size: int, *, size: tuple[int, int], channels: int) -> Iterator[np.ndarray]:
        """Yield consecutive batches of at most ``batch_size`` images.

        Array batches are views in the array's own size, channels and dtype. File batches
        are decoded to ``uint8`` at ``size`` with ``channels`` channels, the next batch
        being read in a background thread while the current one is processed.

        Parameters
        ----------
        batch_size : int
            Largest number of images in a batch; the last batch may be smaller.
        size : (height, width)
            Size to which image files are decoded; array batches keep their own size.
        channels : int
            Channels to which image files are decoded (1 or 3); array batches keep their
            own channels.

        Yields
        ------
        batch : ndarray of shape (m, height, width, channels)
            The next ``m <= batch_size`` images, in order.
        """
        n = len(self)
        starts = range(0, n, batch_size)
        if self.array is not None:
            for start in starts:
                yield self.array[start : start + batch_size]
            return

        def read(start):
            return np.stack([load_image(p, size, channels) for p in self.paths[start : start + batch_size]])

        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(read, 0)
            for start in starts:
                batch = pending.result()
                if start + batch_size < n:
                    pending = pool.submit(read, start + batch_size)
                yield batch


def as_images(
    X, *, image_shape=None, estimator=None, reset: bool = True, sample_ndim: int | None = 3
) -> Images:
    """Validate any accepted input and wrap it as :class:`Images`.

    File paths are checked to exist but not read. Arrays are checked to be numeric and
    finite; a 3-D array of grayscale images gains a channel axis and a 2-D array of
    flattened images is reshaped to ``image_shape``. The module docstring lists the
    accepted forms for each kind of network (``sample_ndim``).

    Parameters
    ----------
    X : array-like or list of paths
        See the module docstring for the accepted forms.
    image_shape : tuple of int, default=None
        Shape of one image (or ``(steps, channels)`` of one signal) when ``X`` is 2-D
        (required then for images).
    estimator : estimator, default=None
        For 2-D input, validated through ``validate_data(estimator, X, reset=reset)``, which
        records or checks ``n_features_in_`` and ``feature_names_in_``.
    reset : bool, default=True
        Passed to ``validate_data`` with ``estimator``: True records ``n_features_in_``
        and ``feature_names_in_`` (as ``fit`` does), False checks them.
    sample_ndim : {3, 2, 1} or None, default=3
        Axes of one sample the network takes: 3 for images, 2 for 1-D signals
        ``(steps, channels)``, 1 for rows of a tabular network. None (a network without a
        defined input) takes ``X`` in its own form: 4-D as images, 3-D as signals, 2-D as
        rows (as images with ``image_shape``).

    Returns
    -------
    images : Images

    Raises
    ------
    ValueError
        If ``X`` is not a form the network takes; the message says what to pass.

    See Also
    --------
    Images : The validated images and their batches.
    check_sample_shape : Check one sample's shape against the network's input.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.images import as_images
    >>> images = as_images(np.zeros((5, 64)), image_shape=(8, 8))
    >>> len(images), images.shape, images.from_rows
    (5, (8, 8, 1), True)
    >>> as_images(np.zeros((5, 8, 8))).shape
    (8, 8, 1)
    >>> as_images(np.zeros((5, 100, 2)), sample_ndim=2).shape  # signals of 100 steps, 2 channels
    (100, 2)
    >>> as_images(np.zeros((5, 7)), sample_ndim=1).shape  # rows of 7 features
    (7,)
    """
    paths = _as_path_list(X)
    if paths is not None:
        if sample_ndim not in (3, None):
            raise _form_error("a list of image files", sample_ndim)
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"{len(missing)} image file(s) not found, e.g. {os.fspath(missing[0])!r}.")
        return Images(paths=paths)
    shape = X.shape if hasattr(X, "shape") else np.asarray(X).shape
    ndim = len(shape)
    if ndim >= 1 and shape[0] == 0:
        raise ValueError("X is empty (0 samples): pass at least one image, signal or row.")
    if ndim == 2:
        flattened = image_shape is not None or sample_ndim == 3
        if flattened and sample_ndim == 1:
            raise ValueError(
                "base_model is a tabular network: X's rows are its features as they are; "
                "leave image_shape=None."
            )
        if flattened and image_shape is None:
            raise ValueError(
                "X is 2-D: pass image_shape=(height, width[, channels]) to say how each row is an "
                "image, or pass images as a 3-D/4-D array or a list of file paths."
            )
        if estimator is not None:
            X = validate_data(estimator, X, reset=reset, dtype="numeric")
        else:
            X = check_array(X, dtype="numeric")
        if flattened:
            shape = _resolve_image_shape(image_shape, X.shape[1], 2 if sample_ndim == 2 else 3)
            return Images(array=X.reshape(X.shape[0], *shape), from_rows=True)
        return Images(array=X[..., np.newaxis] if sample_ndim == 2 else X, from_rows=True)
    if ndim == 1:
        raise ValueError(
            "1-D input must be a list of image file paths; got numeric values. Reshape your data: "
            "pass images as a 2-D array with image_shape, or as a 3-D/4-D array."
        )
    if ndim not in (3, 4):
        raise ValueError(f"Images must be a 2-D, 3-D or 4-D array or a list of paths; got {ndim}-D input.")
    if sample_ndim is not None and ndim - 1 not in (sample_ndim, sample_ndim - 1):
        raise _form_error(f"a {ndim}-D array", sample_ndim)
    X = check_array(X, dtype="numeric", allow_nd=True, input_name="X")
    return Images(array=X[..., np.newaxis] if ndim == 3 and sample_ndim == 3 else X)


def _form_error(given: str, sample_ndim: int) -> ValueError:
    kind, axes = SAMPLE_KINDS[sample_ndim]
    return ValueError(
        f"base_model takes {kind} ({', '.join(axes)}), but X is {given}: pass {_HOW_TO_PASS[sample_ndim]}, "
        "or a base_model that takes this input."
    )


_CHANNEL_NAMES = {1: "grayscale", 3: "RGB"}


def _channels(n: int) -> str:
    name = _CHANNEL_NAMES.get(n)
    return f"{n} channel{'s' if n != 1 else ''}" + (f" ({name})" if name else "")


def _channel_advice(n_channels: int, wanted: int) -> str:
    if n_channels == 3 and wanted == 1:
        return "convert them to grayscale (e.g. X.mean(axis=-1, keepdims=True))"
    if n_channels == 1:
        return f"repeat the channel (np.repeat(X, {wanted}, axis=-1))"
    return f"pass {wanted}-channel or single-channel (grayscale) images"


def check_channels(n_channels: int, network_channels: int) -> None:
    """Raise if images with ``n_channels`` cannot feed a network with ``network_channels``.

    Equal counts pass; single-channel (grayscale) images pass for any network (they are
    repeated); anything else is a ``ValueError`` that says what to do.

    Parameters
    ----------
    n_channels : int
        Channels of the images.
    network_channels : int
        Channels of the network's input.

    Raises
    ------
    ValueError
        If the counts differ and the images are not single-channel.

    See Also
    --------
    adapt_batch : Repeat grayscale images to the network's channels.

    Examples
    --------
    >>> from skltransfer.keras.images import check_channels
    >>> check_channels(3, 3)
    >>> check_channels(1, 3)
    >>> check_channels(3, 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: The images have 3 channels but the network takes 1 (RGB images, a grayscale network): ...
    """
    if n_channels != network_channels and n_channels != 1:
        names = (_CHANNEL_NAMES.get(n_channels), _CHANNEL_NAMES.get(network_channels))
        kinds = f" ({names[0]} images, a {names[1]} network)" if None not in names else ""
        raise ValueError(
            f"The images have {n_channels} channels but the network takes {network_channels}{kinds}: "
            f"{_channel_advice(n_channels, network_channels)}, or pass a base_model that takes "
            f"{n_channels}-channel images."
        )


def check_sample_shape(shape: tuple, network_shape: tuple) -> None:
    """Raise if samples of ``shape`` cannot feed a network taking ``network_shape``.

    Images pass when :func:`check_channels` passes (their size is adapted in the network);
    1-D signals and rows of features must have the network's shape, where it is fixed
    (``None`` axes take any length).

    Parameters
    ----------
    shape : tuple of int
        One sample's shape: ``(height, width, channels)``, ``(steps, channels)`` or
        ``(n_features,)``.
    network_shape : tuple of int or None
        The shape of one sample the network takes.

    Raises
    ------
    ValueError
        If they differ in what the network cannot adapt; the message names the axis.

    See Also
    --------
    check_channels : The check of images.
    as_images : Validate the input in any accepted form.

    Examples
    --------
    >>> from skltransfer.keras.images import check_sample_shape
    >>> check_sample_shape((32, 32, 1), (224, 224, 3))
    >>> check_sample_shape((100, 2), (None, 2))
    >>> check_sample_shape((100, 2), (128, 2))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: X holds 1-D signals of 100 steps, but the network takes 128 steps: ...
    """
    if len(shape) != len(network_shape):
        raise _form_error(f"{SAMPLE_KINDS[len(shape)][0]} of shape {tuple(shape)}", len(network_shape))
    if len(shape) == 3:
        check_channels(shape[-1], network_shape[-1])
        return
    kind, axes = SAMPLE_KINDS[len(shape)]
    for axis, given, wanted in zip(axes, shape, network_shape, strict=True):
        if wanted is not None and given != wanted:
            advice = (
                "crop, pad or resample them, or pass a base_model that takes any length "
                "(keras.Input((None, channels)))"
                if axis == "steps"
                else f"pass {wanted} {axis} per sample, or a base_model that takes {given}"
            )
            raise ValueError(
                f"X holds {kind} of {given} {axis}, but the network takes {wanted} {axis}: {advice}."
            )


def check_fitted_shape(shape: tuple, fitted_shape: tuple, owner: str) -> None:
    """Raise if samples of ``shape`` differ from the ``fitted_shape`` that ``owner`` was fitted on.

    The message says what differs (the channels of images, their size, or the shape of
    signals and rows) and what to do.

    Parameters
    ----------
    shape : tuple of int
        One sample's shape now.
    fitted_shape : tuple of int
        One sample's shape in ``fit``.
    owner : str
        The estimator's name, for the message.

    Raises
    ------
    ValueError
        If the shapes differ.

    See Also
    --------
    check_sample_shape : Check one sample's shape against the network's input.

    Examples
    --------
    >>> from skltransfer.keras.images import check_fitted_shape
    >>> check_fitted_shape((8, 8, 3), (8, 8, 3), "FineTunedCNNClassifier")
    >>> check_fitted_shape((8, 8, 1), (8, 8, 3), "FineTunedCNNClassifier")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: X holds images with 1 channel (grayscale), but FineTunedCNNClassifier was fitted on ...
    """
    shape, fitted_shape = tuple(shape), tuple(fitted_shape)
    if shape == fitted_shape:
        return
    if len(shape) == len(fitted_shape) == 3 and shape[-1] != fitted_shape[-1]:
        raise ValueError(
            f"X holds images with {_channels(shape[-1])}, but {owner} was fitted on images with "
            f"{_channels(fitted_shape[-1])}: {_channel_advice(shape[-1], fitted_shape[-1])}."
        )
    if len(shape) == len(fitted_shape) == 3:
        raise ValueError(
            f"X holds images of shape {shape}, but {owner} was fitted on images of shape "
            f"{fitted_shape}; resize them (or pass image files, which are resized)."
        )
    kind = SAMPLE_KINDS[len(fitted_shape)][0]
    raise ValueError(
        f"X holds samples of shape {shape}, but {owner} was fitted on {kind} of shape {fitted_shape}: "
        f"pass {kind} of that shape."
    )


def adapt_batch(x, *, size: tuple[int, ...], channels: int):
    """Repeat grayscale to ``channels`` and resize (bilinear) to ``size``, in TensorFlow.

    This is the first step of the network, run in the graph on each batch: images of
    another size than the network's input, and grayscale images fed to an RGB network, need
    no conversion beforehand. A batch already in shape passes unchanged, and so does a
    batch of signals or rows (``size`` of another length than 2), whose shape is checked
    beforehand (:func:`check_sample_shape`).

    Parameters
    ----------
    x : tf.Tensor of shape (batch, height, width, c)
        ``c`` is ``channels`` or 1.
    size : (height, width)
        For signals ``(steps,)`` and for rows ``()``: ``x`` is returned as it is.
    channels : int

    Returns
    -------
    x : tf.Tensor of shape (batch, size[0], size[1], channels)

    See Also
    --------
    check_channels : Check beforehand that the channels can be adapted.

    Examples
    --------
    >>> import tensorflow as tf
    >>> from skltransfer.keras.images import adapt_batch
    >>> tuple(adapt_batch(tf.zeros((2, 8, 8, 1)), size=(16, 16), channels=3).shape)
    (2, 16, 16, 3)
    """
    import tensorflow as tf

    if len(size) != 2:
        return x
    if x.shape[-1] != channels:
        x = tf.repeat(x, channels, axis=-1)
    if tuple(x.shape[1:3]) != tuple(size):
        x = tf.image.resize(x, size, method="bilinear")
    return x
