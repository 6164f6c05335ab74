"""Export of a fitted network for serving: a Keras archive, a TensorFlow SavedModel or a LiteRT file."""

from __future__ import annotations

import os
import pathlib
import tempfile

__all__ = ["EXPORT_FORMATS", "export_model"]

#: The formats :func:`export_model` writes.
EXPORT_FORMATS = ("keras", "saved_model", "tflite")


def export_model(model, path, format: str = "keras") -> str:
    """Save ``model`` at ``path`` in ``format``.

    Parameters
    ----------
    model : keras.Model
    path : str or path-like
        A ``.keras`` file, a SavedModel folder or a ``.tflite`` file.
    format : {"keras", "saved_model", "tflite"}, default="keras"

    Returns
    -------
    path : str

    Raises
    ------
    ValueError
        For another format.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be 'keras', 'saved_model' or 'tflite'; got {format!r}.")
    path = os.fspath(path)
    if format == "keras":
        model.save(path)
    elif format == "saved_model":
        model.export(path, format="tf_saved_model", verbose=False)
    else:
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as folder:
            model.export(folder, format="tf_saved_model", verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            pathlib.Path(path).write_bytes(converter.convert())
    return path
