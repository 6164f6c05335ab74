"""FineTunedCNNRegressor with its defaults on small image-regression data, against the obvious baseline.

Per seed, a small CNN (``skltransfer.keras._demo.train_source_cnn``) is pretrained to
classify scikit-learn's digits 0-4 and saved as ``.keras``; the regression tasks use the
digits 5-9 only, so the backbone has never seen them. Given only the data:

- ``FineTunedCNNRegressor(path, image_shape=(8, 8), random_state=seed)``: every other
  parameter at its default;
- the same with ``fine_tune_epochs=0`` (phase 1 alone: the exact ridge head);
- ``make_pipeline(PretrainedFeatureExtractor(path, image_shape=(8, 8)), StandardScaler(),
  Ridge())``: the project's extractor and scikit-learn's defaults.

Two tasks on 200 training images, scored by R^2 on the other images of 5-9:

1. **rotation**: each digit rotated by an angle drawn uniformly in [-45, 45] degrees
   (``scipy.ndimage.rotate``, bilinear); the target is the angle.
2. **contrast**: each digit's pixels multiplied by a factor drawn uniformly in [0.5, 1.5]
   and clipped to the digits' range [0, 16]; the target is the factor (the ink differs from
   digit to digit, so the pixel sum alone does not give it).

Usage::

    python benchmarks/finetune_regressor.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
from finetune_defaults import fit_and_score, seed_table
from scipy.ndimage import rotate
from sklearn.datasets import load_digits
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

N_TRAIN = 200


def _digits_5_to_9():
    X, y = load_digits(return_X_y=True)
    return (X[y < 5], y[y < 5]), X[y >= 5]


def rotation(images, rng):
    angles = rng.uniform(-45, 45, len(images))
    rotated = [
        rotate(im.reshape(8, 8), a, reshape=False, order=1) for im, a in zip(images, angles, strict=True)
    ]
    return np.clip(np.reshape(rotated, (len(images), 64)), 0, 16), angles


def contrast(images, rng):
    factors = rng.uniform(0.5, 1.5, len(images))
    return np.clip(images * factors[:, None], 0, 16), factors


def rows(task, seed):
    from skltransfer import FineTunedCNNRegressor, PretrainedFeatureExtractor
    from skltransfer.keras._demo import train_source_cnn

    source, images = _digits_5_to_9()
    rng = np.random.RandomState(seed)
    X, y = task(images, rng)
    order = rng.permutation(len(X))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    with tempfile.TemporaryDirectory() as folder:
        path = train_source_cnn(*source, (8, 8), folder, random_state=seed)
        models = {
            "defaults": FineTunedCNNRegressor(path, image_shape=(8, 8), random_state=seed),
            "phase 1 only": FineTunedCNNRegressor(
                path, image_shape=(8, 8), fine_tune_epochs=0, random_state=seed
            ),
            "extractor + scaler + ridge": make_pipeline(
                PretrainedFeatureExtractor(path, image_shape=(8, 8)), StandardScaler(), Ridge()
            ),
        }
        return fit_and_score(models, (X[train], y[train]), (X[test], y[test]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    columns = ("defaults", "phase 1 only", "extractor + scaler + ridge")
    for title, task in (("rotation angle", rotation), ("contrast factor", contrast)):
        title = f"{title}, {N_TRAIN} training images of digits 5-9 (R^2 on the others)"
        seed_table(title, columns, args.seeds, lambda seed, task=task: rows(task, seed))


if __name__ == "__main__":
    main()
