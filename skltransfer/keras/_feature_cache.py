"""A disk cache of frozen-backbone features, one entry per image, shared across fits and processes.

A grid search over the head of :class:`FineTunedCNNClassifier` (``l2``, ``dropout``,
``hidden_units``, ``class_weight``, ...) refits the same frozen backbone on overlapping sets
of the same images, fold after fold and candidate after candidate. With ``memory`` set, the
features of each image are stored under a key made of what they are:

- the image itself: a hash of its pixels as the network receives them (dtype and shape
  included), so a file read twice or an array row passed twice is the same entry;
- the backbone's identity: its architecture and weights (a hash of the saved model file, of
  the in-memory model's ``.keras`` archive, or the application name with its weights), the
  feature layer, the pooling, the preprocessing and the input size.

Entries are ``.npy`` files written atomically (a temporary file renamed into place), so
parallel workers (``GridSearchCV(n_jobs=k)``) share the cache safely; a concurrent writer of
the same entry writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np

__all__ = ["FeatureCache", "feature_cache", "file_digest", "image_digests"]


def file_digest(path) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def image_digests(batch: np.ndarray) -> list[str]:
    """One key per image of ``batch``: a hash of its pixels, dtype and shape."""
    batch = np.ascontiguousarray(batch)
    header = f"{batch.dtype.str}{batch.shape[1:]}".encode()
    return [hashlib.sha256(header + image.tobytes()).hexdigest() for image in batch]


class FeatureCache:
    """Features of images through one backbone, stored one ``.npy`` file per image.

    Parameters
    ----------
    folder : str
        The backbone's folder (its identity is the folder's name).
    """

    def __init__(self, folder: str):
        self.folder = folder
        self.hits = 0
        self.misses = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, key[:2], key + ".npy")

    def get(self, keys: list[str]) -> list[np.ndarray | None]:
        """The stored features of each key, None where absent."""
        out = []
        for key in keys:
            path = self._path(key)
            try:
                out.append(np.load(path, allow_pickle=False))
            except FileNotFoundError:
                out.append(None)
        found = sum(value is not None for value in out)
        self.hits += found
        self.misses += len(keys) - found
        return out

    def lookup(self, images: np.ndarray, compute) -> np.ndarray:
        """Features of ``images``: stored ones read, the others ``compute(rows)`` and stored."""
        keys = image_digests(images)
        found = self.get(keys)
        missing = [i for i, row in enumerate(found) if row is None]
        if missing:
            computed = compute(images[missing])
            self.put([keys[i] for i in missing], computed)
            for i, row in zip(missing, computed, strict=True):
                found[i] = row
        return np.stack(found).astype(np.float32)

    def put(self, keys: list[str], features: np.ndarray) -> None:
        """Store the features of each key (atomically: readers see whole files only)."""
        for key, row in zip(keys, features, strict=True):
            path = self._path(key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as f:
                    np.save(f, row, allow_pickle=False)
                os.replace(temporary, path)
            except BaseException:
                if os.path.exists(temporary):
                    os.remove(temporary)
                raise


def _location(memory) -> str | None:
    """The folder of ``memory``: None, a path or a ``joblib.Memory`` (as ``Pipeline``'s)."""
    if memory is None:
        return None
    if isinstance(memory, (str, os.PathLike)):
        return os.fspath(memory)
    location = getattr(memory, "location", None)
    if location is None and hasattr(memory, "cachedir"):
        location = memory.cachedir
    if location is None:  # joblib.Memory(None): caching disabled
        return None
    return os.fspath(location)


def feature_cache(memory, identity: dict) -> FeatureCache | None:
    """The cache of the backbone described by ``identity`` inside ``memory``, or None.

    Parameters
    ----------
    memory : None, str, path-like or joblib.Memory
    identity : dict
        JSON-serialisable description of the backbone (see the module docstring).

    Returns
    -------
    cache : FeatureCache or None
        None when ``memory`` is None (or a ``joblib.Memory`` without a location).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from skltransfer.keras._feature_cache import feature_cache, image_digests
    >>> cache = feature_cache(tempfile.mkdtemp(), {"backbone": "example"})
    >>> images = np.zeros((2, 4, 4, 1), dtype=np.float32)
    >>> keys = image_digests(images)
    >>> cache.put(keys, np.ones((2, 3)))
    >>> [row.tolist() for row in cache.get(keys)]
    [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    location = _location(memory)
    if location is None:
        return None
    name = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return FeatureCache(os.path.join(location, "skltransfer_features", name))
