"""Data sets for transfer learning: an embedded digits shift and Office-Caltech10 SURF."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from numbers import Real
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.datasets import get_data_home, load_digits
from sklearn.utils import check_random_state

from ..utils._sklearn_compat import Interval, validate_params
from ._image_folder import load_image_folder

__all__ = [
    "OFFICE_CALTECH10_DOMAINS",
    "fetch_office_caltech10",
    "load_image_folder",
    "make_digits_shift",
]

#: The four Office-Caltech10 domains and their number of images.
OFFICE_CALTECH10_DOMAINS = {"amazon": 958, "caltech": 1123, "dslr": 157, "webcam": 295}

_OC10_URL = (
    "https://github.com/jindongwang/transferlearning/raw/"
    "dd79a248af95060150254b0d0d339169e59ade35/code/traditional/data/{domain}.mat"
)
_OC10_SHA256 = {
    "amazon": "35fe76339377a634b3d558eae01f88a9c3558eb030ccc77db4993c04e7bb9e72",
    "caltech": "9f2aba8882ceb1c02f4a79b270b415877464a751c974a1591ccffeb0aeeb5c85",
    "dslr": "a1c27fe482db88632a99fd0a76e0a80826663615cfe72d7decdb6514e68e8050",
    "webcam": "30ec6bfa578801abb90be271b76e7c499d9a4b295b67b0135ac13333a40c372c",
}
_OC10_ALIASES = {"a": "amazon", "c": "caltech", "d": "dslr", "w": "webcam"}


@validate_params(
    {
        "rotation": [Interval(Real, -180, 180, closed="both")],
        "contrast": [Interval(Real, 0, None, closed="neither")],
        "illumination": [Interval(Real, 0, None, closed="left")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "target_fraction": [Interval(Real, 0, 1, closed="neither")],
        "return_images": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_digits_shift(
    *,
    rotation: float = 10.0,
    contrast: float = 0.6,
    illumination: float = 0.6,
    noise: float = 0.1,
    target_fraction: float = 0.5,
    return_images: bool = False,
    random_state=0,
):
    """Handwritten digits from two scanners: the originals and a rotated, badly lit copy.

    Built from scikit-learn's bundled 8x8 digits (no download). The 1797 images are split at
    random into a source part, kept as scanned, and a target part seen through a different
    device: images rotated by a few degrees, their contrast reduced, an illumination
    gradient added (brighter towards the bottom-right corner) and Gaussian sensor noise
    overlaid. The ten classes are the same; a classifier trained on the source loses much of
    its accuracy on the target (logistic regression with the defaults: about 0.92 within
    the source, between 0.4 and 0.6 on the target depending on the seed).

    Parameters
    ----------
    rotation : float, default=10.0
        Rotation of the target images, in degrees (counter-clockwise).
    contrast : float, default=0.6
        Factor applied to the target intensities.
    illumination : float, default=0.6
        Strength of the illumination gradient added to the target images: from 0 at the
        top-left pixel to ``illumination`` at the bottom-right one (pixels in [0, 1]).
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the target pixels.
    target_fraction : float, default=0.5
        Fraction of the images that form the target domain.
    return_images : bool, default=False
        Return images of shape (n, 8, 8) instead of flat rows of 64 pixels.
    random_state : int, RandomState instance or None, default=0
        Seed of the split and of the noise.

    Returns
    -------
    X_source : ndarray of shape (n_source, 64) or (n_source, 8, 8)
        Source pixels in [0, 1].
    y_source : ndarray of shape (n_source,)
    X_target : ndarray of shape (n_target, 64) or (n_target, 8, 8)
        Shifted target pixels, clipped to [0, 1].
    y_target : ndarray of shape (n_target,)

    See Also
    --------
    fetch_office_caltech10 : A real domain shift between four image sources (downloaded).

    Examples
    --------
    >>> from skltransfer.datasets import make_digits_shift
    >>> Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    >>> Xs.shape, Xt.shape
    ((899, 64), (898, 64))
    """
    rng = check_random_state(random_state)
    digits = load_digits()
    images = digits.images / 16.0
    labels = digits.target
    order = rng.permutation(images.shape[0])
    n_target = round(target_fraction * images.shape[0])
    source_idx, target_idx = np.sort(order[n_target:]), np.sort(order[:n_target])
    target = ndimage.rotate(
        images[target_idx], rotation, axes=(2, 1), reshape=False, order=1, mode="constant"
    )
    rows, cols = np.mgrid[0:8, 0:8] / 7.0
    gradient = illumination * (rows + cols) / 2.0
    target = contrast * target + gradient + noise * rng.standard_normal(target.shape)
    target = np.clip(target, 0.0, 1.0)
    source = images[source_idx]
    if not return_images:
        source, target = source.reshape(len(source), -1), target.reshape(len(target), -1)
    return source, labels[source_idx], target, labels[target_idx]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(url: str, path: Path, sha256: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except (urllib.error.URLError, OSError) as exc:
            tmp.close()
            tmp_path.unlink(missing_ok=True)
            raise OSError(
                f"Could not download {url} ({exc}). Without network access, download the file "
                f"elsewhere and place it at {path}."
            ) from exc
    if _sha256(tmp_path) != sha256:
        tmp_path.unlink(missing_ok=True)
        raise OSError(f"The file downloaded from {url} does not have the expected sha256 {sha256}.")
    os.replace(tmp_path, path)


@validate_params(
    {"data_home": [str, os.PathLike, None], "download_if_missing": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def fetch_office_caltech10(domain: str, data_home=None, *, download_if_missing: bool = True):
    """Load one domain of Office-Caltech10 with SURF features (Gong et al. 2012).

    Ten object classes shared by four image domains (amazon, caltech, dslr, webcam), each
    image described by an 800-bin bag of SURF words, z-scored within its domain. The
    ``.mat`` file is read from ``data_home`` when it is there, downloaded and checked
    against its sha256 otherwise.

    Parameters
    ----------
    domain : {"amazon", "caltech", "dslr", "webcam"} or {"A", "C", "D", "W"}
        The domain to load (case-insensitive).
    data_home : str or path-like, default=None
        Folder holding ``<domain>.mat``; default ``<scikit-learn data home>/office_caltech10_surf``.
    download_if_missing : bool, default=True
        Download the file when it is not in ``data_home``; otherwise raise ``OSError``.

    Returns
    -------
    X : ndarray of shape (n_images, 800)
        SURF bag-of-words features, as stored.
    y : ndarray of shape (n_images,)
        Class labels 1..10.

    Raises
    ------
    ValueError
        For an unknown domain.
    OSError
        When the file is missing and cannot be downloaded: the message names the URL and
        the path to place the file at.

    See Also
    --------
    make_digits_shift : A smaller domain shift, built without download.
    OFFICE_CALTECH10_DOMAINS : The four domains and their number of images.

    References
    ----------
    B. Gong, Y. Shi, F. Sha, K. Grauman. "Geodesic Flow Kernel for Unsupervised Domain
    Adaptation". CVPR 2012.

    Examples
    --------
    >>> from skltransfer.datasets import fetch_office_caltech10
    >>> X, y = fetch_office_caltech10("dslr")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (157, 800)
    """
    from scipy.io import loadmat

    name = _OC10_ALIASES.get(str(domain).lower(), str(domain).lower())
    if name not in OFFICE_CALTECH10_DOMAINS:
        raise ValueError(
            f"Unknown Office-Caltech10 domain {domain!r}; expected one of "
            f"{sorted(OFFICE_CALTECH10_DOMAINS)} (or their initials)."
        )
    folder = Path(data_home) if data_home is not None else Path(get_data_home()) / "office_caltech10_surf"
    path = folder / f"{name}.mat"
    url = _OC10_URL.format(domain=name)
    if not path.exists():
        if not download_if_missing:
            raise OSError(f"{path} does not exist; download {url} and place it there.")
        _download(url, path, _OC10_SHA256[name])
    data = loadmat(path)
    return np.asarray(data["feas"], dtype=np.float64), np.asarray(data["label"]).ravel().astype(np.int64)
