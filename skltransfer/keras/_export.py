"""Export of a fitted network for serving: Keras archive, TensorFlow SavedModel, LiteRT or ONNX file."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import tempfile

import keras

__all__ = ["EXPORT_FORMATS", "export_extractor", "export_model", "feature_network"]

#: The formats :func:`export_model` writes.
EXPORT_FORMATS = ("keras", "saved_model", "tflite", "onnx")

#: The packages Keras's ONNX exporter imports (``pip install tf2onnx onnx``).
ONNX_PACKAGES = ("tf2onnx", "onnx")


def _check_onnx_packages() -> None:
    missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"format='onnx' needs the package(s) {', '.join(missing)}, which Keras's ONNX exporter "
            "converts with: pip install tf2onnx onnx (or pip install 'skltransfer[onnx]'); "
            "onnxruntime runs the exported file."
        )


def _export_onnx(model, path: str) -> None:
    """Write ``model`` (one input, one output) as ONNX through tf2onnx, its constants frozen in the graph.

    ``model.export(path, format="onnx")`` hands tf2onnx the traced function, and tf2onnx
    makes every tensor the function captures a graph input: the mean and variance of a
    ``keras.layers.Normalization`` (the heads' ``"standardize"``) would become inputs that
    the caller must feed. Freezing the function first (variables and captured tensors to
    constants, as for LiteRT) and converting the frozen graph with its one real input
    avoids that. Keras's own compatibility fixes of tf2onnx for NumPy 2 are applied first.
    """
    _check_onnx_packages()
    import tensorflow as tf
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"format='onnx' exports networks with one input and one output; {model.name!r} has "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    patch_tf2onnx()
    name = model.inputs[0].name
    spec = tf.TensorSpec(model.inputs[0].shape, tf.float32, name=name)
    frozen = convert_variables_to_constants_v2(
        tf.function(lambda x: model(x, training=False), autograph=False).get_concrete_function(spec)
    )
    inputs, outputs = [frozen.inputs[0].name], [frozen.outputs[0].name]
    tf2onnx.convert.from_graph_def(
        frozen.graph.as_graph_def(),
        input_names=inputs,
        output_names=outputs,
        tensors_to_rename={inputs[0]: name, outputs[0]: "output"},
        output_path=path,
    )


def export_model(model, path, format: str = "keras") -> str:
    """Save ``model`` at ``path`` in ``format``.

    Parameters
    ----------
    model : keras.Model
    path : str or path-like
        A ``.keras`` file, a SavedModel folder, a ``.tflite`` file or a ``.onnx`` file.
    format : {"keras", "saved_model", "tflite", "onnx"}, default="keras"
        ``"onnx"``: converted by tf2onnx, as Keras's ``model.export(path, format="onnx")``
        does, from the network frozen first (see :func:`_export_onnx`): one float32 input
        named after the network's input (``"images"`` for the estimators' networks) with
        a dynamic batch size, one output named ``"output"``.

    Returns
    -------
    path : str

    Raises
    ------
    ValueError
        For another format.
    ImportError
        For ``"onnx"`` without the packages tf2onnx and onnx.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"format must be 'keras', 'saved_model', 'tflite' or 'onnx'; got {format!r}.")
    path = os.fspath(path)
    if format == "keras":
        model.save(path)
    elif format == "saved_model":
        model.export(path, format="tf_saved_model", verbose=False)
    elif format == "onnx":
        _export_onnx(model, path)
    else:
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as folder:
            model.export(folder, format="tf_saved_model", verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(folder)
            pathlib.Path(path).write_bytes(converter.convert())
    return path


def feature_network(extractor) -> keras.Model:
    """The network of a fitted feature extractor: raw images in, the features of ``transform`` out.

    Preprocessing, the cut backbone (in inference mode) and the pooling, in one
    ``keras.Model`` taking float32 images of the extractor's ``input_shape_``.

    Parameters
    ----------
    extractor : fitted PretrainedFeatureExtractor

    Returns
    -------
    model : keras.Model
    """
    inputs = keras.Input(extractor.input_shape_, dtype="float32", name="images")
    return keras.Model(inputs, extractor._frozen()(inputs), name="features")


def export_extractor(extractor, path, format: str = "keras") -> str:
    """Save the network of a fitted feature extractor (see :func:`feature_network`) in ``format``.

    Parameters
    ----------
    extractor : fitted PretrainedFeatureExtractor
    path : str or path-like
    format : {"keras", "saved_model", "tflite", "onnx"}, default="keras"

    Returns
    -------
    path : str
    """
    return export_model(feature_network(extractor), path, format)
