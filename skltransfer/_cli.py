"""The image-folder commands of ``python -m skltransfer``: extract, finetune, predict, evaluate.

Every command returns the exit code. Errors a shell user can fix (a missing folder, an
unreadable image, a file that is not a skltransfer model) raise :class:`CommandError`, which
``main`` prints as one ``error: ...`` line on stderr with exit code 1. TensorFlow is imported
only by the commands that run a network.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import os
import shutil
import tempfile

import numpy as np

from .datasets._image_folder import IMAGE_EXTENSIONS, load_image_folder

__all__ = ["CommandError", "evaluate", "extract", "finetune", "predict"]


class CommandError(Exception):
    """An error of the user's input, printed without a traceback."""


def _user_errors(command):
    """Turn the library's ``ValueError`` and the system's ``OSError`` into :class:`CommandError`."""

    @functools.wraps(command)
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except OSError as e:
            where = f": {e.filename!r}" if e.filename else ""
            raise CommandError(f"{e.strerror or e}{where}") from e
        except ValueError as e:
            raise CommandError(" ".join(str(e).split())) from e

    return run


# --------------------------------------------------------------------------- input


def _list_images(folder: str, *, labeled: bool) -> tuple[list[str], np.ndarray | None]:
    """Image paths of ``folder`` and their class names (None when it has no class subfolders).

    A folder holds either loose images or one subfolder per class (searched recursively).
    ``labeled=True`` requires the class subfolders.
    """
    if not os.path.isdir(folder):
        raise CommandError(f"not a folder: {folder!r}")
    loose = sorted(
        e.path for e in os.scandir(folder) if e.is_file() and e.name.lower().endswith(IMAGE_EXTENSIONS)
    )
    try:
        paths, labels = load_image_folder(folder)
    except ValueError:  # no class subfolder holds images
        paths, labels = None, None
    if labeled and (paths is None or loose):
        raise CommandError(
            f"{folder!r} must hold one subfolder of images per class"
            + (f" and no loose images (found {loose[0]!r})" if loose else "")
        )
    if paths is not None and loose:
        raise CommandError(
            f"{folder!r} mixes loose images ({loose[0]!r}) and class subfolders; keep only one layout"
        )
    if paths is None and not loose:
        raise CommandError(
            f"no images in {folder!r} (looked for files ending in {', '.join(IMAGE_EXTENSIONS)})"
        )
    return (paths.tolist(), labels) if paths is not None else (loose, None)


def _weights(value: str):
    return None if value.lower() == "none" else value


def _layer(value: str | None):
    return int(value) if value is not None and value.lstrip("-").isdigit() else value


def _pooling(value: str):
    return None if value == "none" else value


def _backbone_options(args: argparse.Namespace) -> dict:
    """Constructor parameters shared by the extractor and the classifier."""
    return {
        "base_model": args.model,
        "weights": _weights(args.weights),
        "layer": _layer(args.layer),
        "pooling": _pooling(args.pooling),
        "input_size": args.input_size,
        "batch_size": args.batch_size,
        "random_state": args.random_state,
    }


def _check_output(path: str) -> None:
    """Fail before any work when the output cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"the folder of the output does not exist: {folder!r}")
    if os.path.isdir(path):
        raise CommandError(f"the output is a folder: {path!r}")


@contextlib.contextmanager
def _atomic_output(path: str, mode: str = "wb"):
    """A file opened next to ``path`` that replaces ``path`` only once fully written."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".skltransfer-", suffix=".tmp")
    try:
        with open(fd, mode, **({} if "b" in mode else {"newline": "", "encoding": "utf-8"})) as f:
            yield f
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _load_model(path: str):
    """The fitted skltransfer image model saved with joblib at ``path``."""
    import joblib
    from sklearn.pipeline import Pipeline

    if not os.path.isfile(path):
        raise CommandError(f"no model file at {path!r}")
    try:
        model = joblib.load(path)
    except Exception as e:  # a pickle of anything may fail in any way
        raise CommandError(f"cannot load {path!r} as a joblib model file: {e}") from e
    images_step = model.steps[0][1] if isinstance(model, Pipeline) else model
    if not (type(images_step).__module__.startswith("skltransfer.keras") and hasattr(model, "predict")):
        raise CommandError(
            f"{path!r} is not a skltransfer image model: expected a FineTunedCNNClassifier, or a "
            f"pipeline whose first step is a PretrainedFeatureExtractor, saved with joblib "
            f"(found {type(model).__name__})"
        )
    return model


# ------------------------------------------------------------------------- extract


def _partial_batches(partial: str, manifest: dict) -> None:
    """Create the folder of finished batches, or check that it belongs to this extraction."""
    manifest_path = os.path.join(partial, "manifest.json")
    if os.path.isdir(partial):
        try:
            with open(manifest_path, encoding="utf-8") as f:
                same = json.load(f) == manifest
        except (OSError, ValueError):
            same = False
        if not same:
            raise CommandError(
                f"{partial!r} holds batches of another extraction (other images or options); "
                "delete it to start over"
            )
        return
    os.makedirs(partial)
    with open(manifest_path, "w", encoding="utf-8") as f:
        json.dump(manifest, f)


@_user_errors
def extract(args: argparse.Namespace) -> int:
    """``extract IMAGE_DIR -o features.npz``: features of every image, resumable batch by batch."""
    from .keras import PretrainedFeatureExtractor

    _check_output(args.output)
    paths, labels = _list_images(args.image_dir, labeled=False)
    options = _backbone_options(args)
    partial = args.output + ".partial"
    extractor = PretrainedFeatureExtractor(**options).fit(paths[:1])  # fails early on a bad model
    _partial_batches(partial, {**options, "paths": paths})
    starts = range(0, len(paths), args.batch_size)
    files = [os.path.join(partial, f"batch-{i:06d}.npy") for i in range(len(starts))]
    done = sum(
        len(paths[s : s + args.batch_size]) for s, f in zip(starts, files, strict=True) if os.path.isfile(f)
    )
    progress = None
    if not args.quiet:
        import keras

        progress = keras.utils.Progbar(len(paths), unit_name="image")
        progress.update(done)
    for start, file in zip(starts, files, strict=True):
        if os.path.isfile(file):
            continue
        batch = paths[start : start + args.batch_size]
        with _atomic_output(file) as f:
            np.save(f, extractor.transform(batch))
        done += len(batch)
        if progress is not None:
            progress.update(done)
    arrays = {"features": np.concatenate([np.load(f) for f in files]), "paths": paths}
    if labels is not None:
        arrays["labels"] = labels
    with _atomic_output(args.output) as f:
        np.savez(f, **arrays)
    shutil.rmtree(partial)
    return 0


# ------------------------------------------------------------------------ finetune


@_user_errors
def finetune(args: argparse.Namespace) -> int:
    """``finetune DATA_DIR -o model.joblib``: fit a FineTunedCNNClassifier on a class-per-subfolder tree."""
    import joblib

    from .keras import FineTunedCNNClassifier

    _check_output(args.output)
    paths, labels = _list_images(args.data_dir, labeled=True)
    y, adaptation = labels, {}
    if args.target_dir is None:
        for flag, value in [
            ("--domain-loss", args.domain_loss),
            ("--domain-loss-weight", args.domain_loss_weight),
        ]:
            if value is not None:
                raise CommandError(f"{flag} needs --target-dir (the unlabeled target images)")
    else:
        target, _ = _list_images(args.target_dir, labeled=False)
        paths = paths + target
        # the domain convention: unlabeled target rows carry -1
        y = np.concatenate([labels.astype(object), np.full(len(target), -1, dtype=object)])
        adaptation = {"domain_loss": args.domain_loss or "mmd"}
        if args.domain_loss_weight is not None:  # a negative weight: the estimator's own error
            adaptation["domain_loss_weight"] = args.domain_loss_weight
    clf = FineTunedCNNClassifier(
        **_backbone_options(args),
        **adaptation,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        fine_tune_epochs=args.fine_tune_epochs,
        verbose=0 if args.quiet else 2,
    ).fit(paths, y)
    with _atomic_output(args.output) as f:
        joblib.dump(clf, f)
    return 0


# ------------------------------------------------------------------------- predict


@_user_errors
def predict(args: argparse.Namespace) -> int:
    """``predict MODEL IMAGE_DIR -o predictions.csv``: predicted class and probabilities per image."""
    _check_output(args.output)
    model = _load_model(args.model)
    paths, _ = _list_images(args.image_dir, labeled=False)
    classes = [str(c) for c in model.classes_]
    with _atomic_output(args.output, "w") as f:
        writer = csv.writer(f)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(paths)
            writer.writerow(["path", "predicted", *(f"proba_{c}" for c in classes)])
            predicted = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
            writer.writerows(
                [p, c, *(f"{v:.6g}" for v in row)] for p, c, row in zip(paths, predicted, proba, strict=True)
            )
        else:
            writer.writerow(["path", "predicted"])
            writer.writerows(zip(paths, model.predict(paths), strict=True))
    return 0


# ------------------------------------------------------------------------ evaluate


def _pixel_rows(model, paths) -> np.ndarray:
    """The images as flattened pixel rows the model reads (its ``image_shape`` is set to match).

    ``transfer_report`` measures the domain gap on ``X`` itself, which must be numeric.
    """
    from sklearn.pipeline import Pipeline

    from .keras.images import load_image

    prefix = f"{model.steps[0][0]}__" if isinstance(model, Pipeline) else ""
    step = model.steps[0][1] if prefix else model
    shape = getattr(step, "image_shape_", None) or step.input_shape_
    model.set_params(**{prefix + "image_shape": tuple(shape)})
    return np.stack([load_image(p, shape[:2], shape[-1]).ravel() for p in paths]).astype(np.float32)


@_user_errors
def evaluate(args: argparse.Namespace) -> int:
    """``evaluate MODEL DATA_DIR``: scores on labeled target images and the domain gap."""
    from sklearn.metrics import classification_report

    from .metrics import transfer_report

    model = _load_model(args.model)
    paths, labels = _list_images(args.data_dir, labeled=True)
    if args.source_dir is None:
        print(f"Target images scored: {len(paths)}\n")
        print(classification_report(labels, model.predict(paths), digits=3, zero_division=0))
        print("Domain gap: pass --source-dir (the training images) to measure it.")
        return 0
    source, source_labels = _list_images(args.source_dir, labeled=False)
    if source_labels is None:
        source_labels = np.full(len(source), -1, dtype=object)
    all_paths = source + paths
    y = np.concatenate([source_labels.astype(object), labels.astype(object)])
    sample_domain = np.repeat([0, -1], [len(source), len(paths)])
    print(transfer_report(model, _pixel_rows(model, all_paths), y, sample_domain=sample_domain), end="")
    return 0
