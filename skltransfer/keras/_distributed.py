"""Feature extraction of Dask collections, the fitted extractor shipped once to each worker.

:func:`transform_dask` is what :meth:`PretrainedFeatureExtractor.transform
<skltransfer.keras.extractor.PretrainedFeatureExtractor.transform>` returns for a Dask
array of images (2-D rows with ``image_shape``, 3-D or 4-D) or a Dask array or bag of image
file paths: a lazy Dask array of features, one block of rows per input block.

The fitted extractor is pickled once, on the caller's side, into a single key of the graph
(:class:`_Shipped`, which holds only the pickle bytes, so the scheduler never loads the
network). Every block task depends on that key, so Dask moves the bytes to each worker once
and hands every task of a worker the same object, which unpickles the extractor on its first
use, inside a task, and keeps it, with its compiled inference function, for the later
blocks. The engine is chosen on the caller's side for the whole job (:func:`_decide_engine`):
where LiteRT runs it, the network is converted there, once, and the conversion travels in
the pickle, so the workers neither convert again nor fall back to Keras for their blocks,
each smaller than the job. Dask is imported only here, and only for Dask input.
"""

from __future__ import annotations

import copy
import pickle
import threading

import numpy as np

from ._runtime import configure_threads
from .images import check_channels

__all__ = ["first_image", "transform_dask"]

_INSTALL = 'pip install "skltransfer[dask]"'


def first_image(X, n: int = 1):
    """The first image of a Dask array or bag, computed: enough for ``fit``, which learns only the form.

    Parameters
    ----------
    X : dask.array.Array or dask.bag.Bag
    n : int, default=1
        Images to compute: more than one where ``fit`` keeps a sample of them (the
        representative set of ``engine="litert-int8"``).

    Returns
    -------
    sample : ndarray
        ``X[:n]`` for an array (same number of dimensions), an array of the first ``n``
        paths for a bag (fewer where it holds fewer).
    """
    _, da = _require_dask()
    if isinstance(X, da.Array):
        if X.ndim == 0 or X.shape[0] == 0:
            raise ValueError(f"Cannot fit on an empty Dask array of shape {X.shape}.")
        return X[:n].compute()
    if not hasattr(X, "take"):
        raise TypeError(f"Expected a Dask array or bag of images; got {type(X).__name__}.")
    first = X.take(n, npartitions=-1, warn=False)
    if not first:
        raise ValueError("Cannot fit on an empty Dask bag of image paths.")
    return np.asarray(first, dtype=object)


def _require_dask():
    try:
        import dask
        import dask.array as da
    except ImportError as e:
        raise ImportError(
            f"Extracting features of a Dask collection needs Dask, which could not be imported ({e}). "
            f"Install it with: {_INSTALL}"
        ) from e
    return dask, da


class _Shipped:
    """A fitted extractor as pickle bytes, unpickled once where its blocks run.

    Pickling sends the bytes only. The first :meth:`transform` on a worker unpickles the
    extractor, which builds the network there (TensorFlow's threads then follow the
    worker's thread count, see :func:`skltransfer.keras._runtime.configure_threads`); later calls
    reuse it and its compiled function. Blocks of one worker go through the network one at a
    time, each with all the threads TensorFlow was given.
    """

    def __init__(self, blob: bytes):
        self.blob = blob
        self._lock = threading.Lock()
        self._extractor = None

    def __reduce__(self):
        return (_Shipped, (self.blob,))

    def transform(self, block, n_features: int) -> np.ndarray:
        if len(block) == 0:
            return np.empty((0, n_features), dtype=np.float32)
        with self._lock:
            if self._extractor is None:
                configure_threads()  # before a model is unpickled
                self._extractor = pickle.loads(self.blob)
            return self._extractor.transform(block)


def _transform_block(shipped: _Shipped, block, n_features: int) -> np.ndarray:
    return shipped.transform(block, n_features)


def _transform_partition(paths, shipped: _Shipped, n_features: int) -> np.ndarray:
    return shipped.transform(list(paths), n_features)


def _check_array(extractor, X) -> None:
    """The checks ``transform`` makes of an in-memory array that need no values."""
    if X.ndim == 1:
        if X.dtype.kind not in "USO":
            raise ValueError(
                "A 1-D Dask array must hold image file paths (strings); got dtype "
                f"{X.dtype}. Pass images as a 2-D Dask array with image_shape, or as a 3-D/4-D one."
            )
    elif X.ndim == 2:
        if extractor.image_shape is None:
            raise ValueError(
                "X is a 2-D Dask array: pass image_shape=(height, width[, channels]) to say how each "
                "row is an image, or pass a 3-D/4-D Dask array or file paths."
            )
        expected = getattr(extractor, "n_features_in_", None)  # fitted on 2-D rows
        if expected is not None and X.shape[1] != expected:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(extractor).__name__} is expecting "
                f"{expected} features as input."
            )
    elif X.ndim in (3, 4):
        check_channels(X.shape[3] if X.ndim == 4 else 1, extractor.input_shape_[-1])
    else:
        raise ValueError(f"Images must be a 2-D, 3-D or 4-D Dask array or paths; got {X.ndim}-D input.")


def _block_form(extractor, X):
    """One image in the form of ``X``'s blocks, as ``transform`` sees it: its engine's key."""
    from .images import Images

    if (
        getattr(X, "ndim", 1) == 1
    ):  # file paths (a bag or a 1-D array), decoded to uint8 at the network's size
        return Images(paths=[])
    return extractor._images(np.zeros((1, *X.shape[1:]), dtype=X.dtype), reset=False)


def _job_size(X) -> float:
    """Images in the whole job: the array's length (nan when unknown), a bag's paths counted."""
    return X.count().compute() if not hasattr(X, "shape") else X.shape[0]


def _decide_engine(extractor, X) -> None:
    """Pick the engine for the whole job on the caller's side, converting there if LiteRT runs it.

    ``engine="auto"`` weighs the job's size, not a block's: a job whose images hold
    ``AUTO_MIN_VALUES`` input values or more (or of unknown length: an array with unknown
    chunk sizes) is converted
    here, once, and the conversion travels to the workers inside the pickled extractor, so
    that they neither convert again nor fall back to Keras for their smaller blocks. The
    conversion is kept by ``extractor`` for its later calls, as ``transform`` keeps it.
    """
    from ._litert import AUTO_MIN_VALUES, resolve_engine

    n_images = _job_size(X) if extractor.engine == "auto" else 0
    if np.isnan(n_images):  # unknown length: as many images as the rule asks
        n_images = -(-AUTO_MIN_VALUES // extractor._input_values(1))
    n_images = int(n_images)
    if resolve_engine(extractor.engine, extractor._input_values(n_images)) != "keras":
        extractor._runner(extractor._predictor(_block_form(extractor, X)), n_images)


def transform_dask(extractor, X):
    """Features of a Dask collection of images, as a lazy Dask array.

    Parameters
    ----------
    extractor : PretrainedFeatureExtractor
        A fitted extractor; its current state is what the workers receive.
    X : dask.array.Array or dask.bag.Bag
        A Dask array of images (2-D rows with the extractor's ``image_shape``, 3-D
        grayscale or 4-D, any chunks: each block of rows is taken whole), a 1-D Dask array
        of image file paths, or a Dask bag of image file paths (one block per partition).

    Returns
    -------
    features : dask.array.Array of shape (n, n_features_out) and dtype float32
        One block of rows per input block (per partition for a bag, of unknown sizes
        until computed: ``features.compute_chunk_sizes()``), all features in one block.

    Examples
    --------
    >>> import dask.array as da
    >>> import keras
    >>> import numpy as np
    >>> from skltransfer import PretrainedFeatureExtractor
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3)])
    >>> X = np.random.RandomState(0).rand(10, 8, 8)
    >>> extractor = PretrainedFeatureExtractor(model).fit(X[:2])
    >>> features = extractor.transform(da.from_array(X, chunks=4))
    >>> features.chunks, features.compute().shape
    (((4, 4, 2), (4,)), (10, 4))
    """
    dask, da = _require_dask()
    n_features = int(extractor._n_features_out)
    import dask.bag as db

    if isinstance(X, da.Array):
        _check_array(extractor, X)
    elif not isinstance(X, db.Bag):
        raise TypeError(
            f"X is a {type(X).__name__}; pass a Dask array of images or of file paths, or a Dask bag "
            "of file paths (for a Dask DataFrame, its column of paths: df['path'].to_dask_array())."
        )
    _decide_engine(extractor, X)
    quiet = copy.copy(extractor)
    quiet.verbose = 0  # progress of a Dask computation: Dask's diagnostics
    blob = pickle.dumps(quiet, protocol=pickle.HIGHEST_PROTOCOL)
    name = f"{type(extractor).__name__.lower()}-{dask.base.tokenize(blob)}"
    shipped = dask.delayed(_Shipped(blob), name=name, pure=True)
    meta = np.empty((0, 0), dtype=np.float32)
    if isinstance(X, da.Array):
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
        return da.map_blocks(
            _transform_block,
            shipped,
            X,
            n_features,
            dtype=np.float32,
            chunks=(X.chunks[0], (n_features,)),
            meta=meta,
            **({"new_axis": 1} if X.ndim == 1 else {"drop_axis": list(range(2, X.ndim))}),
        )
    blocks = X.map_partitions(_transform_partition, shipped, n_features).to_delayed()
    return da.concatenate(
        [da.from_delayed(b, shape=(np.nan, n_features), dtype=np.float32, meta=meta) for b in blocks]
    )
