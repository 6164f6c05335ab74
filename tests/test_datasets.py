import hashlib

import numpy as np
import pytest
from scipy import ndimage
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from skltransfer.datasets import _OC10_SHA256 as SHA256
from skltransfer.datasets import OFFICE_CALTECH10_DOMAINS, fetch_office_caltech10, make_digits_shift
from tests._oc10 import OC10_HOME, needs_oc10


def test_digits_shift_split_and_ranges():
    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    assert Xs.shape == (899, 64) and Xt.shape == (898, 64)
    assert set(ys) == set(yt) == set(range(10))
    assert Xs.min() >= 0 and Xs.max() <= 1 and Xt.min() >= 0 and Xt.max() <= 1
    # the source rows are untouched digits, the target rows are the other digits shifted
    digits = load_digits()
    flat = digits.data / 16.0
    matches = (np.abs(flat[:, None, :] - Xs[None, :50, :]).sum(-1) == 0).any(0)
    assert matches.all()


def test_digits_shift_matches_its_definition():
    """No shift at all gives the digits back; each step is the documented operation."""
    _Xs, _ys, Xt, yt = make_digits_shift(rotation=0, contrast=1, illumination=0, noise=0, return_images=True)
    digits = load_digits()
    images = {i.tobytes(): t for i, t in zip(digits.images / 16.0, digits.target, strict=True)}
    for image, label in zip(Xt[:20], yt[:20], strict=True):
        assert images[image.tobytes()] == label
    _, _, Xt_rot, _ = make_digits_shift(rotation=30, contrast=1, illumination=0, noise=0, return_images=True)
    expected = ndimage.rotate(Xt, 30, axes=(2, 1), reshape=False, order=1, mode="constant")
    np.testing.assert_allclose(Xt_rot, np.clip(expected, 0, 1))
    _, _, Xt_lit, _ = make_digits_shift(
        rotation=0, contrast=0.5, illumination=0.4, noise=0, return_images=True
    )
    np.testing.assert_allclose(Xt_lit[:, 0, 0], 0.5 * Xt[:, 0, 0])  # no light added at the top left
    np.testing.assert_allclose(Xt_lit[:, 7, 7], np.clip(0.5 * Xt[:, 7, 7] + 0.4, 0, 1))


def test_digits_shift_is_a_real_shift():
    Xs, ys, Xt, yt = make_digits_shift(random_state=0)
    clf = LogisticRegression(max_iter=2000)
    in_domain = cross_val_score(clf, Xs, ys, cv=3).mean()
    across = clf.fit(Xs, ys).score(Xt, yt)
    assert in_domain > 0.9 and across < in_domain - 0.25


def test_digits_shift_reproducible_and_validated():
    a, b = make_digits_shift(random_state=3), make_digits_shift(random_state=3)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    with pytest.raises(ValueError, match="target_fraction"):
        make_digits_shift(target_fraction=1.5)


@needs_oc10
@pytest.mark.parametrize("domain", sorted(OFFICE_CALTECH10_DOMAINS))
def test_fetch_office_caltech10_from_data_home(domain):
    X, y = fetch_office_caltech10(domain, data_home=OC10_HOME)
    assert X.shape == (OFFICE_CALTECH10_DOMAINS[domain], 800)
    assert sorted(set(y)) == list(range(1, 11))
    assert hashlib.sha256((OC10_HOME / f"{domain}.mat").read_bytes()).hexdigest() == SHA256[domain]


@needs_oc10
def test_fetch_office_caltech10_initials():
    X, _ = fetch_office_caltech10("D", data_home=OC10_HOME)
    assert X.shape[0] == 157


def test_fetch_office_caltech10_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="Unknown Office-Caltech10 domain 'imagenet'"):
        fetch_office_caltech10("imagenet", data_home=tmp_path)
    with pytest.raises(OSError, match=r"webcam\.mat does not exist; download https://"):
        fetch_office_caltech10("webcam", data_home=tmp_path, download_if_missing=False)

    def offline(url, timeout):
        raise OSError("network unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(OSError, match=r"Could not download https://.*dslr\.mat.*place it at .*dslr\.mat"):
        fetch_office_caltech10("dslr", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_fetch_office_caltech10_checks_sha256(tmp_path, monkeypatch):
    import io

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: io.BytesIO(b"not the file"))
    with pytest.raises(OSError, match="expected sha256"):
        fetch_office_caltech10("dslr", data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []
