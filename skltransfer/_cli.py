"""The image-folder commands of ``python -m skltransfer``: extract, finetune, predict, evaluate.

Every command returns the exit code. Errors a shell user can fix (a missing folder, an
unreadable image, a file that is not a skltransfer model) raise :class:`CommandError`, which
``main`` prints as one ``error: ...`` line on stderr with exit code 1. TensorFlow is imported
only by the commands that run a network, through :func:`import_keras`, once their arguments
are checked: a mistyped folder is reported at once, without TensorFlow's start-up time.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import importlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .datasets._image_folder import IMAGE_EXTENSIONS, load_image_folder

__all__ = ["CommandError", "evaluate", "extract", "finetune", "import_keras", "predict", "quiet_tensorflow"]


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
        except ImportError as e:  # TensorFlow missing: the message names the extra to install
            raise CommandError(str(e)) from e

    return run


# ---------------------------------------------------------------------- TensorFlow

#: Whether a command runs under :func:`quiet_tensorflow` (read by :func:`import_keras`).
_quiet = False


@contextlib.contextmanager
def quiet_tensorflow() -> Iterator[None]:
    """Run a command without TensorFlow's start-up notes and retracing warnings.

    ``main`` runs every command in this context unless the user has set
    ``TF_CPP_MIN_LOG_LEVEL`` (their setting is then kept, and shows what it shows). Within
    it, ``TF_CPP_MIN_LOG_LEVEL`` is 2 (TensorFlow's C++ errors only), TensorFlow's Python
    logger shows errors only, and :func:`import_keras` imports TensorFlow without the notes
    its libraries write while they load and look for a GPU (which ignore that variable).
    Everything is restored on exit, so that ``main()`` called from Python leaves the
    process as it was.

    Examples
    --------
    >>> import os
    >>> from skltransfer._cli import quiet_tensorflow
    >>> with quiet_tensorflow():
    ...     os.environ["TF_CPP_MIN_LOG_LEVEL"]
    '2'
    """
    global _quiet
    logger = logging.getLogger("tensorflow")
    level, variable = logger.level, os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    logger.setLevel(logging.ERROR)
    _quiet = True
    try:
        yield
    finally:
        _quiet = False
        logger.setLevel(level)
        if variable is None:
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]
        else:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = variable


@contextlib.contextmanager
def _stderr_discarded() -> Iterator[None]:
    """Point the process's stderr file descriptor at the null device (C++ libraries write there)."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras():
    """:mod:`skltransfer.keras` (imported with TensorFlow on first use), for a command that runs a network.

    Under :func:`quiet_tensorflow`, the first import also looks for the GPUs, with the
    process's stderr discarded meanwhile: TensorFlow writes its loading notes and the
    result of that search there, whatever ``TF_CPP_MIN_LOG_LEVEL`` says. Python errors
    are raised as usual.

    Returns
    -------
    module : module
        :mod:`skltransfer.keras`.

    Raises
    ------
    ImportError
        When TensorFlow or Keras is not installed; the message names the ``keras`` extra.

    Examples
    --------
    >>> from skltransfer._cli import import_keras
    >>> import_keras().FineTunedCNNClassifier  # doctest: +SKIP
    <class 'skltransfer.keras.classifier.FineTunedCNNClassifier'>
    """
    if not _quiet or "tensorflow" in sys.modules:
        return importlib.import_module("skltransfer.keras")
    with _stderr_discarded():
        module = importlib.import_module("skltransfer.keras")
        import tensorflow as tf

        tf.config.list_physical_devices()
    return module


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
def _atomic_path(path: str):
    """A temporary path next to ``path`` (same suffix) that replaces ``path`` once written.

    An interruption or a full disk leaves ``path`` as it was, never half-written; the
    temporary file is removed.
    """
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=".skltransfer-", suffix=os.path.splitext(path)[1] or ".tmp"
        )
    except OSError as e:
        raise CommandError(f"cannot write {path!r}: {e.strerror or e}") from e
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:  # a full disk, a quota, a folder made read-only meanwhile
        raise CommandError(f"cannot write {path!r}: {e.strerror or e}") from e
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def _atomic_output(path: str, mode: str = "wb"):
    """A file opened next to ``path`` that replaces ``path`` only once fully written."""
    with (
        _atomic_path(path) as tmp,
        open(tmp, mode, **({} if "b" in mode else {"newline": "", "encoding": "utf-8"})) as f,
    ):
        yield f


#: The entry of a ``.keras`` archive written by ``finetune`` that holds the class names.
_CLASSES_ENTRY = "skltransfer.json"


class _ExportedClassifier(ClassifierMixin, BaseEstimator):
    """A ``.keras`` export of a FineTunedCNNClassifier with its class names, as a fitted classifier.

    Reads image paths or flattened pixel rows of ``image_shape``.
    """

    def __init__(self, network, classes, image_shape):
        self.network = network
        self.classes = classes
        self.image_shape = image_shape

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classes)

    def fit(self, X=None, y=None):
        """The network is trained already: nothing to do (scikit-learn's checks need ``fit``)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def predict_proba(self, X) -> np.ndarray:
        from .keras.images import load_image

        X, shape = np.asarray(X), tuple(self.image_shape)
        if X.dtype.kind in "USO":  # image paths
            images = np.stack([load_image(p, shape[:2], shape[-1]) for p in X]).astype(np.float32)
        else:
            images = X.astype(np.float32).reshape(-1, *shape)
        return np.asarray(self.network.predict(images, batch_size=32, verbose=0))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _export_keras(clf, path: str) -> None:
    """``clf.export(path)`` with the class names and image shape added to the archive."""
    import zipfile

    clf.export(path)
    meta = {"classes": [str(c) for c in clf.classes_], "image_shape": [int(d) for d in clf.image_shape_]}
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(_CLASSES_ENTRY, json.dumps(meta))


def _load_keras(path: str) -> _ExportedClassifier:
    """The ``.keras`` archive at ``path``, loaded with Keras' safe mode (no code runs)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read(_CLASSES_ENTRY)) if _CLASSES_ENTRY in archive.namelist() else None
    except (zipfile.BadZipFile, ValueError) as e:
        raise CommandError(f"cannot read {path!r} as a .keras archive: {e}") from e
    if meta is None:
        raise CommandError(
            f"{path!r} holds no class names ({_CLASSES_ENTRY}): write the model with "
            "'skltransfer finetune ... -o MODEL.keras', which adds them to the Keras archive"
        )
    import_keras()  # registers the layers the archive refers to; without TensorFlow, names the extra
    try:
        import keras

        network = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as e:  # Keras reports a bad archive in many ways
        raise CommandError(f"cannot load {path!r} as a Keras model: {e}") from e
    return _ExportedClassifier(network, meta["classes"], meta["image_shape"])


def _check_model_file(path: str) -> None:
    """Fail before any work when there is no model file at ``path``."""
    if not os.path.isfile(path):
        raise CommandError(f"no model file at {path!r}")


def _load_model(path: str):
    """The fitted skltransfer image model at ``path`` (see :func:`_check_model_file`): a ``.keras``
    export or a joblib file."""
    import joblib
    from sklearn.pipeline import Pipeline

    if path.lower().endswith(".keras"):
        return _load_keras(path)
    if importlib.util.find_spec("tensorflow") is not None:
        import_keras()  # quietly, before unpickling the Keras networks of a fitted image model
    try:
        model = joblib.load(path)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] in ("tensorflow", "keras"):
            import_keras()  # an image model pickled with TensorFlow: names the extra to install
        raise CommandError(f"cannot load {path!r} as a joblib model file: {e}") from e
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
    _check_output(args.output)
    paths, labels = _list_images(args.image_dir, labeled=False)
    options = _backbone_options(args)
    partial = args.output + ".partial"
    extractor = (
        import_keras().PretrainedFeatureExtractor(**options).fit(paths[:1])
    )  # fails early on a bad model
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
        features = extractor.transform(batch)
        with _atomic_output(file) as f:
            np.save(f, features)
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
    """``finetune DATA_DIR -o model.joblib|model.keras``: fit a FineTunedCNNClassifier on a class tree."""
    import joblib

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
    # the training budget: what was given, the estimator's own defaults for the rest
    given = {
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "fine_tune_epochs": args.fine_tune_epochs,
    }
    budget = {name: value for name, value in given.items() if value is not None}
    clf = (
        import_keras()
        .FineTunedCNNClassifier(
            **_backbone_options(args), **adaptation, **budget, verbose=0 if args.quiet else 2
        )
        .fit(paths, y)
    )
    if args.output.lower().endswith(".keras"):
        with _atomic_path(args.output) as tmp:
            _export_keras(clf, tmp)
    else:
        with _atomic_output(args.output) as f:
            joblib.dump(clf, f)
    return 0


# ------------------------------------------------------------------------- predict


@_user_errors
def predict(args: argparse.Namespace) -> int:
    """``predict MODEL IMAGE_DIR -o predictions.csv``: predicted class and probabilities per image."""
    _check_output(args.output)
    _check_model_file(args.model)
    paths, _ = _list_images(args.image_dir, labeled=False)
    model = _load_model(args.model)
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

    if isinstance(model, _ExportedClassifier):
        shape = tuple(model.image_shape)
    else:
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

    _check_model_file(args.model)
    paths, labels = _list_images(args.data_dir, labeled=True)
    if args.source_dir is not None:
        source, source_labels = _list_images(args.source_dir, labeled=False)
    model = _load_model(args.model)
    if args.source_dir is None:
        print(f"Target images scored: {len(paths)}\n")
        print(classification_report(labels, model.predict(paths), digits=3, zero_division=0))
        print("Domain gap: pass --source-dir (the training images) to measure it.")
        return 0
    if source_labels is None:
        source_labels = np.full(len(source), -1, dtype=object)
    all_paths = source + paths
    y = np.concatenate([source_labels.astype(object), labels.astype(object)])
    sample_domain = np.repeat([0, -1], [len(source), len(paths)])
    print(transfer_report(model, _pixel_rows(model, all_paths), y, sample_domain=sample_domain), end="")
    return 0
