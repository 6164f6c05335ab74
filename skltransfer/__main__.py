"""Command line: ``python -m skltransfer <command>``; ``--help`` lists the commands."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from . import _cli


def _demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    if not args.no_keras:
        try:
            _cli.import_keras()
        except ImportError as e:
            raise _cli.CommandError(
                f"{e}; or leave out the rows that train a CNN: python -m skltransfer demo --no-keras"
            ) from e
    run_demo(args.random_state, deep=not args.no_keras)
    return 0


def _count(minimum: int):
    """An argparse type: an int of at least ``minimum`` (a smaller one is a usage error)."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"  # argparse names the type in its message
    return parse


def _budget(text: str) -> int | str:
    """An argparse type: a number of epochs (at least 0) or ``auto``, as the estimator takes."""
    if text == "auto":
        return text
    try:
        return _count(0)(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of epochs or 'auto', got {text!r}") from None


def _add_backbone_options(parser: argparse.ArgumentParser, *, pooling: str = "avg") -> None:
    """The options of the backbone; ``pooling`` is the default of the command's estimator."""
    parser.add_argument(
        "--model",
        default="mobilenet_v2",
        metavar="NAME_OR_PATH",
        help="a keras.applications network by name (e.g. mobilenet_v2, resnet50) or the path of a "
        "saved .keras model (default mobilenet_v2)",
    )
    parser.add_argument(
        "--weights",
        default="imagenet",
        metavar="imagenet|none|PATH",
        help="ImageNet weights (downloaded by Keras once), none (random, seeded by --random-state) or "
        "a weights file; for a saved model, imagenet keeps its own weights (default imagenet)",
    )
    parser.add_argument(
        "--layer", help="name or index of the layer whose output is the feature (default: last conv block)"
    )
    choices = ["auto", "avg", "max", "none"] if pooling == "auto" else ["avg", "max", "none"]
    parser.add_argument(
        "--pooling",
        choices=choices,
        default=pooling,
        help=f"global pooling, none to flatten (default {pooling}"
        + ("; auto: as the network's own head reads the feature layer)" if pooling == "auto" else ")"),
    )
    parser.add_argument(
        "--input-size",
        type=_count(1),
        metavar="PIXELS",
        help="network input size (default: the network's own)",
    )
    parser.add_argument("--batch-size", type=_count(1), default=32, help="images per batch (default 32)")
    parser.add_argument(
        "--random-state", type=int, default=0, help="random seed: random weights, training (default 0)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")


#: What the help of predict and evaluate says about loading model files.
_MODEL_FORMATS = (
    "MODEL is a .keras file written by 'finetune -o MODEL.keras', loaded with Keras' safe mode "
    "(no code runs: safe to load from others), or a joblib file written by finetune or holding a "
    "fitted skltransfer image pipeline. Loading a joblib (pickle) file runs code stored in it: "
    "load only joblib files you made or trust."
)


def _add_image_commands(commands) -> None:
    extract = commands.add_parser(
        "extract",
        help="features of a folder of images from a pretrained CNN, saved as .npz",
        description="Compute CNN features of every image of IMAGE_DIR (loose images, or one subfolder "
        "per class whose names become the labels) and save them as an .npz file holding 'features', "
        "'paths' and, with class subfolders, 'labels'. Each finished batch is kept in OUTPUT.partial/; "
        "rerunning the same command after an interruption skips them, and the folder is removed once "
        "OUTPUT is written.",
    )
    extract.add_argument("image_dir", metavar="IMAGE_DIR", help="folder of images")
    _add_backbone_options(extract)
    extract.add_argument("-o", "--output", required=True, help="the .npz file to write")
    extract.set_defaults(run=_cli.extract)

    finetune = commands.add_parser(
        "finetune",
        help="fine-tune a pretrained CNN on a class-per-subfolder tree, saved as .keras or joblib",
        description="Train a FineTunedCNNClassifier on DATA_DIR (one subfolder of images per class). "
        "An OUTPUT ending in .keras gets the Keras network with its class names (safe to share: "
        "predict and evaluate load it with Keras' safe mode); any other name gets the whole "
        "estimator saved with joblib (a pickle: only for yourself or people who trust you). Images "
        "of --target-dir are passed unlabeled (y = -1), the domain adaptation convention, and a "
        "domain loss (--domain-loss) pulls their features towards those of the labeled images. "
        "The output is written under a temporary name and renamed once complete.",
    )
    finetune.add_argument("data_dir", metavar="DATA_DIR", help="one subfolder of images per class")
    _add_backbone_options(finetune, pooling="auto")
    finetune.add_argument("--target-dir", help="folder of unlabeled images of the target domain")
    finetune.add_argument(
        "--domain-loss",
        choices=["mmd", "coral", "adversarial"],
        help="domain loss with --target-dir (default mmd)",
    )
    finetune.add_argument(
        "--domain-loss-weight",
        type=float,
        default=None,
        help="weight of the domain loss (default: 1 for mmd and coral, 0.1 for adversarial)",
    )
    # None: FineTunedCNNClassifier's own default, the one source of the training budget
    finetune.add_argument(
        "--epochs",
        type=_budget,
        metavar="N|auto",
        help="epochs of the new head, or auto (default: FineTunedCNNClassifier's, see its epochs)",
    )
    finetune.add_argument(
        "--learning-rate",
        type=float,
        help="learning rate of the new head (default: FineTunedCNNClassifier's learning_rate)",
    )
    finetune.add_argument(
        "--fine-tune-epochs",
        type=_budget,
        metavar="N|auto",
        help="epochs of fine-tuning the top layers, or auto (default: FineTunedCNNClassifier's, see its "
        "fine_tune_epochs)",
    )
    finetune.add_argument(
        "-o", "--output", required=True, help="the model file to write (.keras, or .joblib for the estimator)"
    )
    finetune.set_defaults(run=_cli.finetune)

    predict = commands.add_parser(
        "predict",
        help="predict the class of every image of a folder, saved as .csv",
        description="Write one CSV row per image of IMAGE_DIR: its path, the predicted class and the "
        "probability of each class. " + _MODEL_FORMATS,
    )
    predict.add_argument("model", metavar="MODEL", help="model file (.keras or .joblib)")
    predict.add_argument("image_dir", metavar="IMAGE_DIR", help="folder of images (searched recursively)")
    predict.add_argument("-o", "--output", required=True, help="the .csv file to write")
    predict.set_defaults(run=_cli.predict)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model on labeled images and report the domain gap",
        description="Print the scores of MODEL on DATA_DIR (one subfolder of images per class: the "
        "labeled target images). With --source-dir, print skltransfer.metrics.transfer_report: "
        "target scores, ROC-AUC and the MMD between source and target images, on their pixels and, "
        "for a pipeline, after its alignment step (images are held in memory). " + _MODEL_FORMATS,
    )
    evaluate.add_argument("model", metavar="MODEL", help="model file (.keras or .joblib)")
    evaluate.add_argument("data_dir", metavar="DATA_DIR", help="one subfolder of images per class")
    evaluate.add_argument("--source-dir", help="the source (training) images, for the domain gap")
    evaluate.set_defaults(run=_cli.evaluate)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m skltransfer``."""
    parser = argparse.ArgumentParser(
        prog="python -m skltransfer", description="Transfer learning with scikit-learn estimators."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="show transfer working on embedded digits (no download)",
        description="Target accuracy with and without transfer on make_digits_shift (embedded data).",
    )
    demo.add_argument("--random-state", type=int, default=0, help="seed of the data and models (default 0)")
    demo.add_argument("--no-keras", action="store_true", help="skip the rows that train a CNN")
    demo.set_defaults(run=_demo)
    _add_image_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (2 for usage errors, 1 for other errors)."""
    args = build_parser().parse_args(argv)
    # TensorFlow's start-up notes are noise on a command line, unless the user asked for them
    quiet = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
    try:
        with _cli.quiet_tensorflow() if quiet else contextlib.nullcontext():
            return args.run(args)
    except _cli.CommandError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
