"""Classify an image folder with MobileNetV2 features and a logistic regression.

The classic transfer-learning recipe as one scikit-learn pipeline: ImageNet-pretrained
MobileNetV2 without its top, global average pooling, then a linear classifier, evaluated
by cross-validation on a folder with one subfolder per class::

    flowers/
        daisy/  img001.jpg img002.jpg ...
        tulip/  img101.png ...

Usage::

    python examples/mobilenet_image_folder.py path/to/flowers

ImageNet weights: Keras downloads them on first use (about 9 MB) into
``~/.keras/models/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5``. Without
internet access, download that file from
https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/ elsewhere and place
it there (the error message names the exact file and folder), or pass ``--weights PATH``.
``--weights none`` runs the same pipeline with random weights (a smoke test: the accuracy is
then meaningless).

The extractor reads the files batch by batch, so memory stays bounded by ``--batch-size``,
and ``Pipeline(memory=...)`` caches the features: the grid search over ``C`` extracts them
once per cross-validation split, not once per candidate.
"""

import argparse
import tempfile

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skltransfer import PretrainedFeatureExtractor
from skltransfer.datasets import load_image_folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="root folder, one subfolder per class")
    parser.add_argument("--weights", default="imagenet", help="'imagenet', 'none' or a weights file")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args(argv)

    paths, labels = load_image_folder(args.folder)
    print(f"{len(paths)} images, {len(set(labels))} classes")
    weights = None if args.weights.lower() == "none" else args.weights
    with tempfile.TemporaryDirectory() as cache:
        pipe = Pipeline(
            [
                (
                    "features",
                    PretrainedFeatureExtractor(
                        "mobilenet_v2", weights=weights, batch_size=args.batch_size, verbose=1, random_state=0
                    ),
                ),
                ("classifier", LogisticRegression(max_iter=2000)),
            ],
            memory=cache,
        )
        cv = StratifiedKFold(args.folds, shuffle=True, random_state=0)
        search = GridSearchCV(pipe, {"classifier__C": [0.1, 1.0, 10.0]}, cv=cv)
        search.fit(paths, labels)
    best_c = search.best_params_["classifier__C"]
    print(f"best C = {best_c}, cross-validated accuracy = {search.best_score_:.3f}")


if __name__ == "__main__":
    main()
