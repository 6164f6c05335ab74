"""Serve a fine-tuned classifier with TensorFlow alone, as a SavedModel and as TensorFlow Lite.

A model trained with ``python -m skltransfer finetune`` (a ``FineTunedCNNClassifier`` saved
with joblib) is exported once, with scikit-learn at hand::

    python -m skltransfer finetune flowers/ --model mobilenet_v2 -o model.joblib
    python examples/serve_exported_model.py model.joblib flowers/

The export folder holds ``saved_model/`` (a TensorFlow SavedModel with a ``serve``
endpoint), ``model.tflite`` and ``labels.json`` (the class names, in the order of the
probability columns, and the image shape the network takes). Serving then needs only
TensorFlow, NumPy and Pillow, neither skltransfer nor a pickle: :func:`serve` below is the
whole server-side code. This script runs it in a fresh Python process, checks that skltransfer
was never imported there, and compares its probabilities with those of the joblib model.

Without arguments the script makes its own model first: it writes 300 of scikit-learn's
digit images as PNG files, one folder per digit, and runs ``skltransfer finetune`` on them
with a small randomly initialised CNN saved as a ``.keras`` file and its flattened feature
map (no download; about a minute on two cores).

Images are read as the classifier reads files: converted to RGB (or grayscale for a
one-channel network) and resized with Pillow's bilinear filter to the network's input size.
The network itself applies the backbone's preprocessing; it takes raw 0-255 pixels.
On a device, LiteRT's ``ai_edge_litert.interpreter.Interpreter`` runs ``model.tflite`` the
same way as ``tf.lite.Interpreter`` here, without the rest of TensorFlow.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def serve(folder: str, image_dir: str) -> dict:
    """Class probabilities of the image files under ``image_dir`` from the exported models.

    Uses TensorFlow, NumPy and Pillow only.
    """
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    with open(os.path.join(folder, "labels.json"), encoding="utf-8") as f:
        meta = json.load(f)
    height, width, channels = meta["image_shape"]
    paths = sorted(
        os.path.join(root, name)
        for root, _, files in os.walk(image_dir)
        for name in files
        if name.lower().endswith((".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"))
    )
    images = []
    for path in paths:
        with Image.open(path) as img:
            img = img.convert("L" if channels == 1 else "RGB")
            img = img.resize((width, height), Image.Resampling.BILINEAR)
            images.append(np.asarray(img, dtype=np.float32).reshape(height, width, channels))
    batch = np.stack(images)

    saved_model = tf.saved_model.load(os.path.join(folder, "saved_model"))
    saved_model_proba = saved_model.serve(tf.constant(batch)).numpy()

    interpreter = tf.lite.Interpreter(model_path=os.path.join(folder, "model.tflite"))
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inp["index"], batch.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inp["index"], batch)
    interpreter.invoke()
    tflite_proba = interpreter.get_tensor(out["index"])

    classes = meta["classes"]
    return {
        "paths": paths,
        "predicted": [classes[i] for i in saved_model_proba.argmax(axis=1)],
        "saved_model": saved_model_proba.tolist(),
        "tflite": tflite_proba.tolist(),
    }


def export(model_path: str, folder: str) -> None:
    """Export the joblib model at ``model_path`` into ``folder`` (needs skltransfer)."""
    import joblib

    clf = joblib.load(model_path)
    clf.export(os.path.join(folder, "saved_model"), format="saved_model")
    clf.export(os.path.join(folder, "model.tflite"), format="tflite")
    meta = {"classes": [str(c) for c in clf.classes_], "image_shape": [int(d) for d in clf.image_shape_]}
    with open(os.path.join(folder, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f)


def _digit_model(workdir: str) -> tuple[str, str]:
    """Write digit images as PNG files and fine-tune a small CNN on them with the command line."""
    import keras
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    from skltransfer.__main__ import main

    digits = load_digits()
    images = os.path.join(workdir, "digits")
    for i in range(300):
        os.makedirs(os.path.join(images, str(digits.target[i])), exist_ok=True)
        pixels = (digits.images[i] * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).resize((32, 32)).save(os.path.join(images, str(digits.target[i]), f"{i}.png"))
    # a small randomly initialised backbone, saved as a .keras file like any pretrained model
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(16, 3, activation="relu")(keras.layers.Rescaling(1 / 255)(inputs))
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(x)
    backbone = os.path.join(workdir, "backbone.keras")
    keras.Model(inputs, x).save(backbone)
    model = os.path.join(workdir, "model.joblib")
    argv = ["finetune", images, "--model", backbone, "--pooling", "none", "--epochs", "20"]
    if main([*argv, "--fine-tune-epochs", "0", "-q", "-o", model]) != 0:
        sys.exit("fine-tuning failed")
    return model, images


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", help="a model file written by 'skltransfer finetune'")
    parser.add_argument("image_dir", nargs="?", help="images to classify (searched recursively)")
    parser.add_argument("--export-dir", help="where to export (default: a temporary folder)")
    args = parser.parse_args(argv)
    if (args.model is None) != (args.image_dir is None):
        parser.error("give both MODEL and IMAGE_DIR, or neither")

    import joblib
    import numpy as np

    with tempfile.TemporaryDirectory() as workdir:
        model, image_dir = (args.model, args.image_dir) if args.model else _digit_model(workdir)
        folder = args.export_dir or os.path.join(workdir, "export")
        os.makedirs(folder, exist_ok=True)
        export(model, folder)
        # the server: a fresh process that imports TensorFlow, NumPy and Pillow only
        server = [sys.executable, __file__, "--serve", folder, image_dir]
        served = json.loads(subprocess.run(server, stdout=subprocess.PIPE, text=True, check=True).stdout)
        paths = served["paths"]
        clf = joblib.load(model)
        expected = clf.predict_proba(paths)
        for name in ("saved_model", "tflite"):
            diff = np.abs(np.asarray(served[name]) - expected).max()
            print(f"{name}: largest difference from the joblib model's probabilities {diff:.2e}")
        agree = np.mean(np.asarray(served["predicted"]) == clf.predict(paths).astype(str))
        print(f"{len(paths)} images served; predicted classes agree with the joblib model on {agree:.0%}")
        if args.model is None:  # the digit images lie in one folder per class
            labels = [os.path.basename(os.path.dirname(p)) for p in paths]
            accuracy = np.mean(np.asarray(served["predicted"]) == labels)
            print(f"training accuracy of the served model: {accuracy:.0%}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        result = serve(sys.argv[2], sys.argv[3])
        if "skltransfer" in sys.modules:
            sys.exit("the server imported skltransfer")
        print(json.dumps(result))
    else:
        main()
