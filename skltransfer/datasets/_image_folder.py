"""File paths and labels of a class-per-subfolder image tree (no TensorFlow)."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")


def load_image_folder(
    path: str | os.PathLike, *, extensions: tuple[str, ...] = IMAGE_EXTENSIONS
) -> tuple[np.ndarray, np.ndarray]:
    """List the images of a folder with one subfolder per class.

    The layout of ``keras.utils.image_dataset_from_directory`` and Keras'
    ``flow_from_directory``: ``path/<class name>/**/<image file>``. The paths feed the
    Keras-backed estimators directly (they read files batch by batch), so
    ``cross_val_score(make_pipeline(PretrainedFeatureExtractor(), LogisticRegression()),
    paths, labels)`` works on a folder of JPEG or PNG files.

    Parameters
    ----------
    path : str or path-like
        The root folder.
    extensions : tuple of str, default=IMAGE_EXTENSIONS
        File name endings (case-insensitive) counted as images; other files are ignored.

    Returns
    -------
    paths : ndarray of str of shape (n_images,)
        Image file paths, sorted by class then by path.
    labels : ndarray of str of shape (n_images,)
        The name of each image's class subfolder.

    Raises
    ------
    ValueError
        If ``path`` is not a folder, or it holds no class subfolder with images.

    See Also
    --------
    skltransfer.PretrainedFeatureExtractor : CNN features of the listed image files.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from PIL import Image
    >>> from skltransfer.datasets import load_image_folder
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for label in ("cat", "dog"):
    ...     (root / label).mkdir()
    ...     Image.new("RGB", (8, 8)).save(root / label / "a.png")
    >>> paths, labels = load_image_folder(root)
    >>> labels.tolist()
    ['cat', 'dog']
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ValueError(f"Not a folder: {root!r}.")
    endings = tuple(e.lower() for e in extensions)
    paths, labels = [], []
    for label in sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith(".")):
        found = []
        for folder, dirs, files in os.walk(os.path.join(root, label)):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [os.path.join(folder, f) for f in files if f.lower().endswith(endings)]
        paths += sorted(found)
        labels += [label] * len(found)
    if not paths:
        raise ValueError(
            f"No images in {root!r}: expected one subfolder per class holding files ending in {endings}."
        )
    return np.asarray(paths), np.asarray(labels)
