"""Image input handling and the image folder loader."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from PIL import Image

from skltransfer.datasets import load_image_folder
from skltransfer.keras.images import adapt_batch, as_images, check_channels, load_image


def test_array_forms():
    rng = np.random.RandomState(0)
    rgb = rng.randint(0, 256, size=(5, 6, 4, 3)).astype(np.uint8)
    assert as_images(rgb).array is rgb  # no copy, dtype kept
    gray = rgb[..., 0]
    assert_array_equal(as_images(gray).array, gray[..., np.newaxis])
    assert_array_equal(as_images(gray.reshape(5, -1), image_shape=(6, 4)).array, gray[..., np.newaxis])
    assert_array_equal(as_images(rgb.reshape(5, -1), image_shape=(6, 4, 3)).array, rgb)
    assert_array_equal(as_images(rgb.reshape(5, -1), image_shape=(6, -1, 3)).array, rgb)
    assert as_images(gray.reshape(5, -1), image_shape=(6, 4)).from_rows
    assert not as_images(gray).from_rows


@pytest.mark.parametrize(
    "X, image_shape, match",
    [
        (np.zeros((2, 6)), None, "X is 2-D: pass image_shape"),
        (np.zeros((2, 6)), (4, 2), r"6 features per row, which cannot be reshaped to image_shape=\(4, 2\)"),
        (np.zeros((2, 6)), (4, -1), r"cannot be reshaped to image_shape=\(4, -1\)"),
        (np.zeros((2, 6)), (-1, -1), "at most one -1"),
        (np.zeros((2, 6)), (6,), r"image_shape must be \(height, width\)"),
        (np.zeros((2, 6)), (2, 0), r"image_shape must be \(height, width\)"),
        (np.zeros(6), None, "1-D input must be a list of image file paths"),
        (np.zeros((1, 2, 2, 3, 1)), None, "got 5-D input"),
        (np.full((2, 3, 3), np.nan), None, "Input X contains NaN"),
        (np.full((2, 3, 3, 1), np.inf), None, "Input X contains infinity"),
        (np.zeros((0, 3, 3)), None, "0 sample"),
        ([], None, r"X is empty \(0 samples\)"),
        (np.zeros((0, 4)), (2, 2), r"X is empty \(0 samples\)"),
        ("one.jpg", None, "X is a single path"),
    ],
)
def test_bad_arrays(X, image_shape, match):
    with pytest.raises(ValueError, match=match):
        as_images(X, image_shape=image_shape)


def test_paths_and_batches(tmp_path):
    rng = np.random.RandomState(0)
    paths = []
    for i in range(7):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.randint(0, 256, size=(10 + i, 12, 3)).astype(np.uint8)).save(path)
        paths.append(str(path))
    for X in (paths, np.asarray(paths), np.asarray(paths, dtype=object), tuple(paths)):
        images = as_images(X)
        assert images.paths == paths and len(images) == 7 and images.shape is None
    batches = list(as_images(paths).batches(3, size=(8, 9), channels=3))
    assert [b.shape for b in batches] == [(3, 8, 9, 3), (3, 8, 9, 3), (1, 8, 9, 3)]
    assert batches[0].dtype == np.uint8
    for i, batch in enumerate(np.concatenate(batches)):
        assert_array_equal(batch, load_image(paths[i], (8, 9), 3))
    with pytest.raises(ValueError, match=r"1 image file\(s\) not found, e\.g\. 'missing\.png'"):
        as_images([*paths, "missing.png"])


def test_array_batches_are_views():
    X = np.arange(5 * 4).reshape(5, 2, 2, 1)
    batches = list(as_images(X).batches(2, size=(2, 2), channels=1))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert all(np.shares_memory(b, X) for b in batches)


def test_load_image(tmp_path, sample_images):
    crop = sample_images[0][0]
    png, jpg = tmp_path / "a.png", tmp_path / "a.jpg"
    Image.fromarray(crop).save(png)
    Image.fromarray(crop).save(jpg, quality=95)
    assert_array_equal(load_image(png, None, 3), crop)  # lossless
    assert np.abs(load_image(jpg, None, 3).astype(int) - crop).mean() < 5
    gray = load_image(png, None, 1)
    assert gray.shape == (*crop.shape[:2], 1)
    assert_array_equal(gray[..., 0], np.asarray(Image.fromarray(crop).convert("L")))
    resized = load_image(png, (20, 24), 3)
    expected = np.asarray(Image.fromarray(crop).resize((24, 20), Image.Resampling.BILINEAR))
    assert_array_equal(resized, expected)
    (tmp_path / "bad.jpg").write_text("not an image")
    with pytest.raises(ValueError, match=r"Cannot read image file '.*bad\.jpg'"):
        load_image(tmp_path / "bad.jpg", None, 3)
    with pytest.raises(ValueError, match=r"Image file not found: 'nowhere\.png'"):
        load_image("nowhere.png", None, 3)
    with pytest.raises(ValueError, match=r"Image file not found: 'gone\.png'\."):
        load_image(np.array(["gone.png"])[0], None, 3)  # as load_image_folder returns paths


def test_check_channels():
    check_channels(3, 3)
    check_channels(1, 3)
    check_channels(1, 1)
    with pytest.raises(ValueError, match="The images have 3 channels but the network takes 1"):
        check_channels(3, 1)


def test_adapt_batch_matches_tensorflow():
    import tensorflow as tf

    x = tf.constant(np.random.RandomState(0).rand(2, 5, 7, 1), dtype=tf.float32)
    out = adapt_batch(x, size=(10, 3), channels=3)
    expected = tf.image.resize(tf.repeat(x, 3, axis=-1), (10, 3)).numpy()
    assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert adapt_batch(x, size=(5, 7), channels=1) is x  # nothing to do


def test_load_image_folder(image_folder):
    paths, labels = load_image_folder(image_folder)
    assert labels.tolist() == ["china"] * 3 + ["flower"] * 3
    assert [p.rsplit("/", 2)[-2] for p in paths] == labels.tolist()
    assert {p.rsplit(".", 1)[-1] for p in paths} == {"jpg", "png"}
    png_only, _ = load_image_folder(image_folder, extensions=(".PNG",))
    assert len(png_only) == 3


def test_load_image_folder_nested_and_errors(tmp_path):
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    (tmp_path / ".hidden").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "b" / "deep" / "x.JPG")
    Image.new("RGB", (4, 4)).save(tmp_path / ".hidden" / "x.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    paths, labels = load_image_folder(tmp_path)
    assert labels.tolist() == ["b"] and paths[0].endswith("x.JPG")
    with pytest.raises(ValueError, match="Not a folder"):
        load_image_folder(tmp_path / "b" / "deep" / "x.JPG")
    with pytest.raises(ValueError, match="No images in"):
        load_image_folder(tmp_path / "a")


def test_signal_and_row_forms():
    rng = np.random.RandomState(0)
    signals = rng.rand(4, 10, 2)
    assert as_images(signals, sample_ndim=2).array is signals  # no channel axis added
    one_channel = as_images(signals[..., 0], sample_ndim=2)
    assert one_channel.shape == (10, 1) and one_channel.from_rows
    assert_array_equal(as_images(signals.reshape(4, -1), image_shape=(10, 2), sample_ndim=2).array, signals)
    rows = rng.rand(4, 7)
    assert as_images(rows, sample_ndim=1).shape == (7,)
    assert as_images(rows, sample_ndim=None).shape == (7,)  # a model without a defined input
    assert as_images(signals, sample_ndim=None).shape == (10, 2)


@pytest.mark.parametrize(
    "X, image_shape, sample_ndim, match",
    [
        (["a.png"], None, 2, r"takes 1-D signals \(steps, channels\), but X is a list of image files"),
        (np.zeros((2, 4, 4, 1)), None, 2, r"but X is a 4-D array: pass a 3-D array \(n, steps, channels\)"),
        (np.zeros((2, 4, 4)), None, 1, r"takes rows \(features\), but X is a 3-D array: pass a 2-D array"),
        (np.zeros((2, 6)), (6, 1), 1, "leave image_shape=None"),
        (np.zeros((2, 6)), (2, 2, 2), 2, r"image_shape must be \(steps, channels\)"),
    ],
)
def test_forms_a_network_does_not_take(X, image_shape, sample_ndim, match):
    with pytest.raises(ValueError, match=match):
        as_images(X, image_shape=image_shape, sample_ndim=sample_ndim)
