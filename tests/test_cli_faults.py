"""Faults and trust on the command line: interruptions, full disks, and model files from others."""

import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skltransfer import _cli
from skltransfer.__main__ import main

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two classes of six 8x8 PNG images."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir()
        for i in range(6):
            pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    path = tmp_path_factory.mktemp("backbone") / "tiny.keras"
    keras.Model(inputs, x).save(path)
    return path


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".skltransfer-"))


# --------------------------------------------------------------- interrupted extract

# The child writes each batch slowly (a pause before np.save), so that it is surely killed
# while a batch is being written, after the first one is finished.
_SLOW_CHILD = """
import sys, time
import numpy as np
save = np.save
def slow_save(*args, **kwargs):
    time.sleep(0.4)
    return save(*args, **kwargs)
np.save = slow_save
from skltransfer.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_killed_extract_resumes_to_the_uninterrupted_output(images, backbone, tmp_path):
    argv = ["extract", str(images), "--model", str(backbone), "--batch-size", "2", "-q"]
    reference = tmp_path / "reference.npz"
    assert main([*argv, "-o", str(reference)]) == 0

    out = tmp_path / "features.npz"
    partial = tmp_path / "features.npz.partial"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_CHILD, *argv, "-o", str(out)], env=env, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while not (partial / "batch-000000.npy").exists():
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "no batch written in 120 s"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()
    done = sorted(p.name for p in partial.glob("batch-*.npy"))
    assert 1 <= len(done) < 6  # killed mid-way: some batches kept, not all

    assert main([*argv, "-o", str(out)]) == 0
    resumed, expected = np.load(out), np.load(reference)
    assert sorted(resumed.files) == sorted(expected.files) == ["features", "labels", "paths"]
    for key in expected.files:
        assert_array_equal(resumed[key], expected[key])
    assert not partial.exists()
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------------ interrupted finetune


def _finetune_argv(images, backbone, output):
    return [
        "finetune",
        str(images),
        "--model",
        str(backbone),
        "--weights",
        "none",
        "--epochs",
        "1",
        "--fine-tune-epochs",
        "0",
        "--batch-size",
        "4",
        "-q",
        "-o",
        str(output),
    ]


@pytest.mark.parametrize("name", ["model.joblib", "model.keras"])
def test_interrupted_finetune_leaves_nothing_at_the_output(
    images, backbone, tmp_path, monkeypatch, capsys, name
):
    def interrupted_write(obj, target):
        with open(target if isinstance(target, str) else target.name, "ab") as f:
            f.write(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", interrupted_write)
    monkeypatch.setattr(_cli, "_export_keras", interrupted_write)
    output = tmp_path / name
    assert main(_finetune_argv(images, backbone, output)) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert not output.exists()
    assert _leftovers(tmp_path) == []


def test_interrupted_finetune_keeps_the_previous_model(images, backbone, tmp_path, monkeypatch):
    output = tmp_path / "model.joblib"
    output.write_bytes(b"the previous model")

    def interrupted_write(obj, f):
        f.write(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(joblib, "dump", interrupted_write)
    assert main(_finetune_argv(images, backbone, output)) == 130
    assert output.read_bytes() == b"the previous model"
    assert _leftovers(tmp_path) == []


# -------------------------------------------------------- full disk, unwritable folder


def test_full_disk_gives_a_clear_error_and_no_partial_file(images, backbone, tmp_path, monkeypatch, capsys):
    def full(f, **arrays):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", full)
    out = tmp_path / "features.npz"
    code = main(["extract", str(images), "--model", str(backbone), "-q", "-o", str(out)])
    assert code == 1
    assert capsys.readouterr().err == f"error: cannot write {str(out)!r}: No space left on device\n"
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_unwritable_output_folder_gives_a_clear_error(images, backbone, tmp_path, monkeypatch, capsys):
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path / ".skltransfer-x"))

    monkeypatch.setattr(_cli.tempfile, "mkstemp", refused)
    out = tmp_path / "model.joblib"
    assert main(_finetune_argv(images, backbone, out)) == 1
    assert capsys.readouterr().err == f"error: cannot write {str(out)!r}: Permission denied\n"
    assert not out.exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="file modes do not bind root")
def test_read_only_output_folder_gives_a_clear_error(images, backbone, tmp_path, capsys):
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        out = folder / "features.npz"
        assert main(["extract", str(images), "--model", str(backbone), "-q", "-o", str(out)]) == 1
        assert f"cannot write {str(out)!r}: Permission denied" in capsys.readouterr().err
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


# ------------------------------------------------------------------- .keras model files


@pytest.fixture(scope="module")
def models(images, backbone, tmp_path_factory):
    """The same fine-tuning saved as .joblib and as .keras."""
    folder = tmp_path_factory.mktemp("models")
    for name in ("model.joblib", "model.keras"):
        assert main(_finetune_argv(images, backbone, folder / name)) == 0
    return folder


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_predict_reads_a_keras_model_as_the_joblib_one(models, images, tmp_path):
    for name in ("model.joblib", "model.keras"):
        assert main(["predict", str(models / name), str(images), "-o", str(tmp_path / f"{name}.csv")]) == 0
    from_joblib, from_keras = (
        _read_csv(tmp_path / "model.joblib.csv"),
        _read_csv(tmp_path / "model.keras.csv"),
    )
    assert from_keras[0] == from_joblib[0] == ["path", "predicted", "proba_a", "proba_b"]
    assert [row[:2] for row in from_keras] == [row[:2] for row in from_joblib]
    assert_allclose(
        np.array([row[2:] for row in from_keras[1:]], dtype=float),
        np.array([row[2:] for row in from_joblib[1:]], dtype=float),
        rtol=1e-4,
        atol=1e-5,
    )


def test_evaluate_reads_a_keras_model_as_the_joblib_one(models, images, capsys):
    reports = []
    for name in ("model.joblib", "model.keras"):
        assert main(["evaluate", str(models / name), str(images), "--source-dir", str(images)]) == 0
        # ROC-AUC ranks probabilities that this random network saturates at 1.0 (float32
        # ties), so it is left out; every other figure must agree
        reports.append([line for line in capsys.readouterr().out.splitlines() if "ROC-AUC" not in line])
    assert reports[0] == reports[1]
    assert reports[0][0] == "Target rows scored: 12 (source rows: 12, target rows: 12)"


def test_keras_archive_holds_the_class_names(models):
    with zipfile.ZipFile(models / "model.keras") as archive:
        meta = json.loads(archive.read("skltransfer.json"))
    assert meta == {"classes": ["a", "b"], "image_shape": [8, 8, 3]}


def test_keras_model_is_loaded_in_safe_mode(tmp_path, images, capsys):
    """A .keras file whose Lambda layer would run code is refused."""
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(keras.layers.Flatten()(inputs))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x)).save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("skltransfer.json", json.dumps({"classes": ["a", "b"], "image_shape": [8, 8, 3]}))
    assert main(["predict", str(path), str(images), "-o", str(tmp_path / "p.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot load {str(path)!r} as a Keras model: ")
    assert "Lambda" in err and "safe_mode" in err
    assert not (tmp_path / "p.csv").exists()


def test_help_says_which_model_files_are_safe_to_load(capsys):
    for command in ("predict", "evaluate"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "loaded with Keras' safe mode (no code runs: safe to load from others)" in text
        assert "Loading a joblib (pickle) file runs code stored in it" in text
