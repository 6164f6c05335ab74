"""The image commands of the command line, end to end on folders of real JPEG and PNG files."""

import csv
import os
import pathlib
import shutil
import subprocess
import sys

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skltransfer.__main__ import main
from skltransfer.datasets import load_image_folder

pytest.importorskip("tensorflow")

CLASSES = ("china", "flower", "sky")


def _crops():
    """Four 24x24 crops per class from scikit-learn's two sample photos."""
    from PIL import Image
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    regions = {
        "china": (china, [(200, 100), (250, 300), (300, 500), (350, 200)]),
        "flower": (flower, [(150, 200), (200, 300), (250, 250), (180, 350)]),
        "sky": (china, [(0, 0), (0, 150), (20, 300), (10, 450)]),
    }
    for label, (photo, corners) in regions.items():
        for i, (top, left) in enumerate(corners):
            crop = Image.fromarray(photo[top : top + 96, left : left + 96]).resize((24, 24))
            yield label, i, crop


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Three classes of four images each, JPEG and PNG alternating."""
    root = tmp_path_factory.mktemp("data")
    for label, i, crop in _crops():
        (root / label).mkdir(exist_ok=True)
        crop.save(root / label / f"{label}{i}.{'jpg' if i % 2 else 'png'}")
    return root


@pytest.fixture(scope="module")
def target_dir(tmp_path_factory):
    """The same images, darkened, as loose unlabeled files (a shifted target domain)."""
    from PIL import ImageEnhance

    root = tmp_path_factory.mktemp("target")
    for label, i, crop in _crops():
        ImageEnhance.Brightness(crop).enhance(0.6).save(root / f"{label}{i}.jpg")
    return root


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A saved .keras CNN taking 16x16 RGB images."""
    import keras

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    keras.Model(inputs, x).save(path)
    return str(path)


def _run(capsys, *argv):
    """Exit code, stdout and stderr of ``main(argv)``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ----------------------------------------------------------------------- extract


def test_extract_matches_the_estimator(data_dir, tiny_model, tmp_path, capsys):
    from skltransfer import PretrainedFeatureExtractor

    out = tmp_path / "features.npz"
    argv = ["extract", data_dir, "--model", tiny_model, "--layer", "conv1", "--pooling", "max"]
    code, stdout, _ = _run(capsys, *argv, "--batch-size", 5, "-o", out)
    assert code == 0
    assert "12/12" in stdout  # the progress bar reached the end
    paths, labels = load_image_folder(data_dir)
    saved = np.load(out)
    assert sorted(saved.files) == ["features", "labels", "paths"]
    assert_array_equal(saved["paths"], paths)
    assert_array_equal(saved["labels"], labels)
    extractor = PretrainedFeatureExtractor(tiny_model, layer="conv1", pooling="max")
    assert_allclose(saved["features"], extractor.fit_transform(paths), rtol=1e-5, atol=1e-6)
    assert not os.path.exists(f"{out}.partial")


def test_extract_with_an_application_name(data_dir, tmp_path, capsys):
    out = tmp_path / "features.npz"
    argv = ["extract", data_dir, "--model", "MobileNetV2", "--weights", "none", "--input-size", 32, "-q"]
    assert _run(capsys, *argv, "-o", out)[0] == 0
    features = np.load(out)["features"]
    assert features.shape == (12, 1280) and np.isfinite(features).all()


def test_extract_resumes_after_a_corrupt_image(data_dir, tiny_model, tmp_path, capsys, monkeypatch):
    from skltransfer import PretrainedFeatureExtractor

    images = tmp_path / "images"
    shutil.copytree(data_dir, images)
    broken = images / "sky" / "zz.png"
    broken.write_bytes(b"not a png")
    out = tmp_path / "features.npz"
    argv = ["extract", images, "--model", tiny_model, "--batch-size", 4, "-q", "-o", out]

    code, stdout, err = _run(capsys, *argv)
    assert code == 1
    assert err.startswith("error: ") and str(broken) in err and err.count("\n") == 1
    assert stdout == ""  # -q: no progress bar
    assert sorted(os.listdir(f"{out}.partial")) == [
        "batch-000000.npy",
        "batch-000001.npy",
        "batch-000002.npy",
        "manifest.json",
    ]
    assert not out.exists()

    shutil.copy(data_dir / "sky" / "sky0.png", broken)
    transformed = []
    transform = PretrainedFeatureExtractor.transform
    monkeypatch.setattr(
        PretrainedFeatureExtractor,
        "transform",
        lambda self, X: transformed.append(len(X)) or transform(self, X),
    )
    assert _run(capsys, *argv)[0] == 0
    assert transformed == [1]  # only the unfinished last batch ran
    paths, _ = load_image_folder(images)
    reference = PretrainedFeatureExtractor(tiny_model).fit_transform(paths)
    assert_allclose(np.load(out)["features"], reference, rtol=1e-5, atol=1e-6)
    assert not os.path.exists(f"{out}.partial")


def test_extract_interrupted_keeps_finished_batches(data_dir, tiny_model, tmp_path, capsys, monkeypatch):
    from skltransfer import PretrainedFeatureExtractor

    transform = PretrainedFeatureExtractor.transform
    calls = []

    def interrupted_second_call(self, X):
        calls.append(len(X))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return transform(self, X)

    monkeypatch.setattr(PretrainedFeatureExtractor, "transform", interrupted_second_call)
    out = tmp_path / "features.npz"
    code, _, err = _run(
        capsys, "extract", data_dir, "--model", tiny_model, "--batch-size", 8, "-q", "-o", out
    )
    assert (code, err) == (130, "interrupted\n")
    assert sorted(os.listdir(f"{out}.partial")) == ["batch-000000.npy", "manifest.json"]


def test_extract_refuses_batches_of_another_extraction(data_dir, tiny_model, tmp_path, capsys):
    out = tmp_path / "features.npz"
    (tmp_path / "features.npz.partial").mkdir()
    (tmp_path / "features.npz.partial" / "manifest.json").write_text('{"pooling": "max"}')
    code, _, err = _run(capsys, "extract", data_dir, "--model", tiny_model, "-q", "-o", out)
    assert code == 1
    assert "holds batches of another extraction" in err and "delete it" in err


def test_extract_loose_images_have_no_labels(target_dir, tiny_model, tmp_path, capsys):
    out = tmp_path / "features.npz"
    code, _, _ = _run(
        capsys, "extract", target_dir, "--model", tiny_model, "--pooling", "max", "-q", "-o", out
    )
    assert code == 0
    saved = np.load(out)
    assert sorted(saved.files) == ["features", "paths"]
    assert saved["features"].shape == (12, 6)


# ------------------------------------------------------- finetune, predict, evaluate


@pytest.fixture(scope="module")
def finetuned(data_dir, tiny_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("finetuned") / "model.joblib"
    argv = [
        "finetune",
        data_dir,
        "--model",
        tiny_model,
        "--epochs",
        3,
        "--fine-tune-epochs",
        1,
        "-q",
        "--learning-rate",
        0.01,
    ]
    assert main([str(a) for a in [*argv, "-o", path]]) == 0
    return path


def test_finetune_saves_a_classifier_of_the_folder_classes(finetuned, data_dir):
    from skltransfer import FineTunedCNNClassifier

    clf = joblib.load(finetuned)
    assert isinstance(clf, FineTunedCNNClassifier)
    assert clf.classes_.tolist() == list(CLASSES)
    assert (clf.epochs, clf.fine_tune_epochs, clf.learning_rate) == (3, 1, 0.01)
    assert set(clf.history_) == {"head", "fine_tune"} and len(clf.history_["fine_tune"]["loss"]) == 1


def test_finetune_passes_target_images_unlabeled(data_dir, target_dir, tiny_model, tmp_path, capsys):
    out = tmp_path / "model.joblib"
    argv = ["finetune", data_dir, "--target-dir", target_dir, "--model", tiny_model, "--epochs", 1]
    code, _, err = _run(capsys, *argv, "--fine-tune-epochs", 1, "--domain-loss", "coral", "-q", "-o", out)
    assert code == 0, err
    clf = joblib.load(out)
    assert clf.classes_.tolist() == list(CLASSES)  # the target images are no class
    assert clf.domain_loss == "coral" and clf.domain_loss_weight == "auto"


def test_finetune_domain_loss_weight_needs_target_images(data_dir, tiny_model, tmp_path, capsys):
    argv = ["finetune", data_dir, "--model", tiny_model, "--domain-loss-weight", 0.5]
    code, _, err = _run(capsys, *argv, "-q", "-o", tmp_path / "model.joblib")
    assert code == 1
    assert "--domain-loss-weight needs --target-dir" in err


def test_finetune_trains_with_the_estimators_defaults(data_dir, tiny_model, tmp_path, capsys):
    from skltransfer import FineTunedCNNClassifier

    out = tmp_path / "model.joblib"
    code, _, err = _run(
        capsys, "finetune", data_dir, "--model", tiny_model, "--fine-tune-epochs", 0, "-q", "-o", out
    )
    assert code == 0, err
    clf, defaults = joblib.load(out), FineTunedCNNClassifier().get_params()
    assert (clf.epochs, clf.learning_rate) == (defaults["epochs"], defaults["learning_rate"])
    assert clf.history_["head"]["stop_reason"] == "converged"  # epochs="auto": the exact solve


@pytest.mark.slow
def test_a_command_prints_no_tensorflow_start_up_notes(data_dir, tiny_model, tmp_path):
    env = {name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"}
    argv = ["extract", data_dir, "--model", tiny_model, "-q", "-o", tmp_path / "f.npz"]
    done = subprocess.run(
        [sys.executable, "-m", "skltransfer", *argv], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0
    assert done.stderr == ""


def test_predict_writes_probabilities_of_every_image(finetuned, target_dir, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    code, _, _ = _run(capsys, "predict", finetuned, target_dir, "-o", out)
    assert code == 0
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["path", "predicted", *(f"proba_{c}" for c in CLASSES)]
    paths = sorted(str(p) for p in target_dir.iterdir())
    assert [r[0] for r in rows[1:]] == paths
    clf = joblib.load(finetuned)
    proba = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    assert_allclose(proba, clf.predict_proba(paths), rtol=1e-5)
    assert [r[1] for r in rows[1:]] == clf.predict(paths).tolist()


def test_evaluate_prints_scores_and_the_domain_gap(finetuned, data_dir, target_dir, capsys):
    from sklearn.metrics import accuracy_score

    clf = joblib.load(finetuned)
    paths, labels = load_image_folder(data_dir)
    accuracy = accuracy_score(labels, clf.predict(paths))

    code, out, _ = _run(capsys, "evaluate", finetuned, data_dir)
    assert code == 0
    assert f"{accuracy:.3f}" in next(line for line in out.splitlines() if "accuracy" in line)
    assert "pass --source-dir" in out

    code, out, _ = _run(capsys, "evaluate", finetuned, data_dir, "--source-dir", target_dir)
    assert code == 0
    assert out.startswith("Target rows scored: 12 (source rows: 12, target rows: 12)")
    assert f"{accuracy:.3f}" in next(line for line in out.splitlines() if "accuracy" in line)
    assert "MMD^2 source vs target" in out


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_served_export_matches_the_model(finetuned, target_dir, tmp_path):
    import importlib.util

    example = pathlib.Path(__file__).parents[1] / "examples" / "serve_exported_model.py"
    spec = importlib.util.spec_from_file_location("serve_exported_model", example)
    serving = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serving)
    serving.export(str(finetuned), str(tmp_path))
    served = serving.serve(str(tmp_path), str(target_dir))
    clf = joblib.load(finetuned)
    assert served["paths"] == sorted(str(p) for p in target_dir.iterdir())
    expected = clf.predict_proba(served["paths"])
    assert_allclose(served["saved_model"], expected, rtol=1e-5, atol=1e-6)
    assert_allclose(served["tflite"], expected, atol=1e-4)
    assert served["predicted"] == clf.predict(served["paths"]).tolist()


def test_predict_and_evaluate_a_pipeline_on_image_files(data_dir, target_dir, tiny_model, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    from skltransfer import CORALAligner, PretrainedFeatureExtractor, make_da_pipeline, stack_domains

    paths, labels = load_image_folder(data_dir)
    target = np.asarray(sorted(str(p) for p in target_dir.iterdir()))
    X, y = stack_domains(paths, labels, target)
    pipe = make_da_pipeline(
        PretrainedFeatureExtractor(tiny_model), CORALAligner(), LogisticRegression(max_iter=1000)
    )
    model = tmp_path / "pipe.joblib"
    joblib.dump(pipe.fit(X, y), model)
    out = tmp_path / "predictions.csv"
    assert _run(capsys, "predict", model, target_dir, "-o", out)[0] == 0
    with open(out, newline="") as f:
        assert [r[1] for r in list(csv.reader(f))[1:]] == pipe.predict(target).tolist()

    # target_dir holds the darkened images of data_dir, in the same order
    code, out, _ = _run(capsys, "evaluate", model, data_dir, "--source-dir", target_dir)
    assert code == 0
    accuracy = accuracy_score(labels, pipe.predict(paths))
    assert f"{accuracy:.3f}" in next(line for line in out.splitlines() if "accuracy" in line)
    gap = next(line for line in out.splitlines() if line.startswith("MMD^2"))
    assert "after alignment n/a" not in gap


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "argv, message",
    [
        (["extract", "{missing}", "-o", "{tmp}/f.npz"], "error: not a folder: "),
        (["predict", "{missing}", "{data}", "-o", "{tmp}/p.csv"], "error: no model file at "),
        (["evaluate", "{text}", "{data}"], "as a joblib model file"),
        (["predict", "{plain}", "{data}", "-o", "{tmp}/p.csv"], "is not a skltransfer image model"),
        (["finetune", "{target}", "-o", "{tmp}/m.joblib"], "must hold one subfolder of images per class"),
        (["extract", "{empty}", "-o", "{tmp}/f.npz"], "error: no images in "),
        (["extract", "{mixed}", "-o", "{tmp}/f.npz"], "mixes loose images"),
        (["finetune", "{mixed}", "-o", "{tmp}/m.joblib"], "and no loose images (found "),
        (["extract", "{data}", "--model", "{tiny}", "-o", "{tmp}/blocked.npz"], "error: File exists: "),
        (["extract", "{data}", "-o", "{missing}/f.npz"], "the folder of the output does not exist"),
        (["finetune", "{data}", "-o", "{tmp}"], "the output is a folder"),
        (
            ["extract", "{data}", "--model", "no_such_net", "--weights", "none", "-o", "{tmp}/f.npz"],
            "no_such",
        ),
    ],
)
def test_errors_exit_1_with_one_line(argv, message, data_dir, target_dir, tiny_model, tmp_path, capsys):
    from sklearn.linear_model import LogisticRegression

    (tmp_path / "empty").mkdir()
    (tmp_path / "mixed" / "class").mkdir(parents=True)
    for image in ("mixed/loose.png", "mixed/class/image.png"):
        shutil.copy(data_dir / "sky" / "sky0.png", tmp_path / image)
    (tmp_path / "blocked.npz.partial").write_text("a file where the batches folder goes")
    (tmp_path / "model.txt").write_text("not a model")
    joblib.dump(LogisticRegression().fit([[0], [1]], [0, 1]), tmp_path / "plain.joblib")
    names = {
        "missing": tmp_path / "missing",
        "tmp": tmp_path,
        "data": data_dir,
        "target": target_dir,
        "empty": tmp_path / "empty",
        "text": tmp_path / "model.txt",
        "plain": tmp_path / "plain.joblib",
        "mixed": tmp_path / "mixed",
        "tiny": tiny_model,
    }
    code, _, err = _run(capsys, *(a.format(**names) for a in argv))
    assert code == 1
    assert message in err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert [p.name for p in tmp_path.glob("*.partial")] == ["blocked.npz.partial"]  # no new ones


def test_a_corrupt_image_is_named(data_dir, finetuned, tmp_path, capsys):
    images = tmp_path / "images"
    shutil.copytree(data_dir, images)
    broken = images / "flower" / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    code, _, err = _run(capsys, "predict", finetuned, images, "-o", tmp_path / "p.csv")
    assert code == 1
    assert f"Cannot read image file {str(broken)!r}" in err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["extract", "x"], "the following arguments are required: -o/--output"),
        (["extract", "x", "-o", "f.npz", "--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["finetune", "x", "-o", "m.joblib", "--epochs", "two"], "must be a number of epochs or 'auto'"),
        (["extract", "x", "-o", "f.npz", "--pooling", "sum"], "invalid choice: 'sum'"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_console_script_reports_errors_without_traceback(tmp_path):
    script = pathlib.Path(sys.executable).with_name("skltransfer")
    if not script.exists():
        pytest.skip("the skltransfer console script is not installed next to this Python")
    done = subprocess.run(
        [script, "predict", tmp_path / "model.joblib", tmp_path, "-o", tmp_path / "p.csv"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr == f"error: no model file at {str(tmp_path / 'model.joblib')!r}\n"


@pytest.mark.parametrize("command", ["extract", "finetune", "predict", "evaluate"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"usage: python -m skltransfer {command}" in capsys.readouterr().out
