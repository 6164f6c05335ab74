"""Image input of the Keras-backed estimators.

:func:`as_images` accepts every form the estimators take and returns :class:`Images`, which
yields batches of at most ``batch_size`` images:

- a 4-D array ``(n, height, width, channels)``;
- a 3-D array ``(n, height, width)`` of grayscale images;
- a 2-D array of flattened images with ``image_shape`` (``(height, width)`` or
  ``(height, width, channels)``, row-major like ``numpy.reshape``; one entry may be ``-1``);
- a 1-D array or list of image file paths (any format Pillow reads), decoded batch by batch
  so memory is bounded by the batch, not by the data set.

Arrays may be ``uint8`` or floating point, with raw pixel values (the network's own
``preprocess_input`` is applied later). NaN or infinite values, a wrong channel count and
unreadable files are errors that name the fault. :func:`adapt_batch` is the in-graph step
that repeats grayscale to three channels and resizes to the network's input size.
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

__all__ = ["Images", "adapt_batch", "as_images", "check_channels", "load_image"]


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


def _resolve_image_shape(image_shape, n_features: int) -> tuple[int, int, int]:
    shape = tuple(image_shape)
    if len(shape) not in (2, 3) or not all(isinstance(d, Integral) and (d > 0 or d == -1) for d in shape):
        raise ValueError(
            f"image_shape must be (height, width) or (height, width, channels) of positive ints "
            f"(one may be -1); got {image_shape!r}."
        )
    if shape.count(-1) > 1:
        raise ValueError(f"image_shape may contain at most one -1; got {image_shape!r}.")
    known = int(np.prod([d for d in shape if d != -1]))
    if -1 in shape and n_features % known == 0:
        shape = tuple(n_features // known if d == -1 else d for d in shape)
    if int(np.prod(shape)) != n_features:
        raise ValueError(
            f"X has {n_features} features per row, which cannot be reshaped to image_shape={image_shape!r}."
        )
    return shape if len(shape) == 3 else (*shape, 1)


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
    """Images to feed a network, held as an array or as a list of file paths.

    The validated form of every accepted image input, as :func:`as_images` returns it.
    Exactly one of ``array`` and ``paths`` is set. ``len`` gives the number of images and
    :meth:`batches` yields them in batches, files being decoded only batch by batch.

    Parameters
    ----------
    array : ndarray of shape (n, height, width, channels) or None, default=None
        The images, in their original dtype.
    paths : list of path or None, default=None
        The image files, read batch by batch.
    from_rows : bool, default=False
        Whether the images came as a 2-D array of flattened images.

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
    def shape(self) -> tuple[int, int, int] | None:
        """``(height, width, channels)`` of the array images; None for files."""
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


def as_images(X, *, image_shape=None, estimator=None, reset: bool = True) -> Images:
    """Validate any accepted image input and wrap it as :class:`Images`.

    File paths are checked to exist but not read. Arrays are checked to be numeric and
    finite; a 3-D array of grayscale images gains a channel axis and a 2-D array of
    flattened images is reshaped to ``image_shape``. The module docstring lists the
    accepted forms.

    Parameters
    ----------
    X : array-like or list of paths
        See the module docstring for the accepted forms.
    image_shape : tuple of int, default=None
        Shape of one image when ``X`` is 2-D (required then).
    estimator : estimator, default=None
        For 2-D input, validated through ``validate_data(estimator, X, reset=reset)``, which
        records or checks ``n_features_in_`` and ``feature_names_in_``.
    reset : bool, default=True
        Passed to ``validate_data`` with ``estimator``: True records ``n_features_in_``
        and ``feature_names_in_`` (as ``fit`` does), False checks them.

    Returns
    -------
    images : Images

    See Also
    --------
    Images : The validated images and their batches.
    check_channels : Check the channel count against the network's.

    Examples
    --------
    >>> import numpy as np
    >>> from skltransfer.keras.images import as_images
    >>> images = as_images(np.zeros((5, 64)), image_shape=(8, 8))
    >>> len(images), images.shape, images.from_rows
    (5, (8, 8, 1), True)
    >>> as_images(np.zeros((5, 8, 8))).shape
    (8, 8, 1)
    """
    paths = _as_path_list(X)
    if paths is not None:
        missing = [p for p in paths if not os.path.isfile(p)]
        if missing:
            raise ValueError(f"{len(missing)} image file(s) not found, e.g. {os.fspath(missing[0])!r}.")
        return Images(paths=paths)
    ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
    if ndim == 2:
        if image_shape is None:
            raise ValueError(
                "X is 2-D: pass image_shape=(height, width[, channels]) to say how each row is an "
                "image, or pass images as a 3-D/4-D array or a list of file paths."
            )
        if estimator is not None:
            X = validate_data(estimator, X, reset=reset, dtype="numeric")
        else:
            X = check_array(X, dtype="numeric")
        shape = _resolve_image_shape(image_shape, X.shape[1])
        return Images(array=X.reshape(X.shape[0], *shape), from_rows=True)
    if ndim == 1:
        raise ValueError(
            "1-D input must be a list of image file paths; got numeric values. Reshape your data: "
            "pass images as a 2-D array with image_shape, or as a 3-D/4-D array."
        )
    if ndim not in (3, 4):
        raise ValueError(f"Images must be a 2-D, 3-D or 4-D array or a list of paths; got {ndim}-D input.")
    X = check_array(X, dtype="numeric", allow_nd=True, input_name="X")
    return Images(array=X[..., np.newaxis] if X.ndim == 3 else X)


def check_channels(n_channels: int, network_channels: int) -> None:
    """Raise if images with ``n_channels`` cannot feed a network with ``network_channels``.

    Equal counts pass; single-channel (grayscale) images pass for any network (they are
    repeated); anything else is a ``ValueError``.

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
    >>> check_channels(4, 3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: The images have 4 channels but the network takes 3; ...
    """
    if n_channels != network_channels and n_channels != 1:
        raise ValueError(
            f"The images have {n_channels} channels but the network takes {network_channels}; "
            f"pass {network_channels}-channel or single-channel (grayscale) images."
        )


def adapt_batch(x, *, size: tuple[int, int], channels: int):
    """Repeat grayscale to ``channels`` and resize (bilinear) to ``size``, in TensorFlow.

    This is the first step of the network, run in the graph on each batch: images of
    another size than the network's input, and grayscale images fed to an RGB network, need
    no conversion beforehand. A batch already in shape passes unchanged.

    Parameters
    ----------
    x : tf.Tensor of shape (batch, height, width, c)
        ``c`` is ``channels`` or 1.
    size : (height, width)
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

    if x.shape[-1] != channels:
        x = tf.repeat(x, channels, axis=-1)
    if tuple(x.shape[1:3]) != tuple(size):
        x = tf.image.resize(x, size, method="bilinear")
    return x
