"""Transferability scores against fine-tuning: do LogME, H-score, LEEP and NCE rank backbones and layers?

Candidates are backbones x layers. Three backbones of one architecture (``build_backbone`` of
``office31.py``: three blocks of 2 x [3x3 conv, BatchNorm, ReLU], a pooled 128-unit embedding),
each trained by a benchmark script and cached as ``.keras``:

- ``cifar10``: pretrained on CIFAR-10 by ``office31.py`` (its cached backbone);
- ``amazon``: trained here on the amazon domain of Office-31 (31 classes; seeded), its
  softmax head saved beside it;
- ``random``: a random initialisation (``build_backbone(size, seed=1)``), saved.

Each is cut at three layers (``relu1``, ``relu3``, ``embedding``: 32, 64 and 128 features after
global average pooling), giving nine candidates. Targets: the dslr and webcam domains (31
classes), each split stratified 50/50 into a labeled train half and a test half (seed 0).

For each target and candidate, on the train half:

- LogME and H-score of the features ``PretrainedFeatureExtractor(path, layer=...)`` (the
  extraction is timed apart from the score);
- LEEP and NCE of a source classifier's outputs. The candidate's source classifier is a
  ``StandardScaler`` + ``LogisticRegression(max_iter=1000)`` head fitted on the source set's
  features at the candidate's layer (amazon: all its images; CIFAR-10: 5000 of the images the
  backbone was trained on), so that LEEP and NCE, like the feature scores, depend on the
  layer. The random initialisation has no source set: no LEEP or NCE. For ``amazon`` /
  ``embedding`` LEEP and NCE of the head trained with the backbone are also reported.

and the target test accuracy of ``FineTunedCNNClassifier(path, layer=..., random_state=0)``
with its defaults, fitted on the train half. Per target: Kendall's tau and weighted tau
(``scipy.stats.kendalltau``, ``scipy.stats.weightedtau``, as LogME's paper reports) between each
score and the fine-tuned accuracy, over the nine candidates and over the six with a source
set, and the time of scoring every candidate against fine-tuning every candidate.

Per-candidate results are cached in a JSON file under ``--cache`` (default
``~/.cache/skltransfer-benchmarks``), so an interrupted run resumes; so are the trained
backbones. Nothing is downloaded: the images come from ``--data`` (Office-31, as for
``office31.py``) and the CIFAR-10 backbone and decoded CIFAR-10 images from the cache that
``office31.py`` fills.

Usage::

    python benchmarks/transferability.py --data DIR --quick    # smoke run: dslr, 3 candidates
    python benchmarks/transferability.py --data DIR            # see results/transferability.md
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from office31 import build_backbone, load_office31, pretrained_backbone

TARGETS = {"D": "dslr", "W": "webcam"}
LAYERS = ("relu1", "relu3", "embedding")
BACKBONES = ("cifar10", "amazon", "random")
QUICK_CANDIDATES = (("cifar10", "embedding"), ("amazon", "embedding"), ("random", "embedding"))
SCORES = ("logme", "hscore", "leep", "nce")
SCORE_NAMES = {"logme": "LogME", "hscore": "H-score", "leep": "LEEP", "nce": "NCE"}
CIFAR_HEAD_IMAGES = 5000


# ----------------------------------------------------------------------- backbones


def amazon_backbone(domains, size: int, epochs: int, cache: Path) -> tuple[Path, Path]:
    """Train ``build_backbone`` + a 31-way softmax on amazon (seeded); cache backbone and classifier."""
    path = cache / f"backbone_office31amazon_{size}px_{epochs}ep.keras"
    head_path = cache / f"classifier_office31amazon_{size}px_{epochs}ep.keras"
    if path.exists() and head_path.exists():
        print(f"amazon backbone: {path} (cached)", flush=True)
        return path, head_path
    import keras

    X, y = domains["A"]
    order = np.random.RandomState(0).permutation(len(y))
    X, y = X[order], y[order]
    holdout = len(y) // 10
    keras.utils.set_random_seed(0)
    backbone = build_backbone(size, seed=0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.RandomFlip("horizontal", seed=0)(inputs)
    x = keras.layers.RandomTranslation(0.125, 0.125, fill_mode="reflect", seed=1)(x)
    x = backbone(x)
    head = keras.layers.Dense(int(y.max()) + 1, activation="softmax", name="amazon_head")
    model = keras.Model(inputs, head(keras.layers.Dropout(0.2, seed=2)(x)))
    steps = epochs * int(np.ceil((len(y) - holdout) / 64))
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, steps)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(
        X[holdout:],
        y[holdout:],
        batch_size=64,
        epochs=epochs,
        verbose=2,
        validation_data=(X[:holdout], y[:holdout]),
    )
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(X[:holdout], y[:holdout], verbose=0)[1]
    classifier = keras.Model(backbone.input, head(backbone.output), name="office31_amazon_classifier")
    cache.mkdir(parents=True, exist_ok=True)
    backbone.save(path)
    classifier.save(head_path)
    info = {
        "images": int(len(y) - holdout),
        "epochs": epochs,
        "seconds": round(seconds, 1),
        "holdout_accuracy": round(float(accuracy), 4),
    }
    path.with_suffix(".json").write_text(json.dumps(info))
    print(f"amazon backbone: {seconds:.0f} s, hold-out accuracy {accuracy:.3f} -> {path}", flush=True)
    return path, head_path


def random_backbone(size: int, cache: Path) -> Path:
    path = cache / f"backbone_random_seed1_{size}px.keras"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        build_backbone(size, seed=1).save(path)
    return path


def cifar_images(cache: Path, size: int, n_backbone_images: int):
    """``CIFAR_HEAD_IMAGES`` of the CIFAR-10 images the backbone was trained on (decoded by office31.py)."""
    found = sorted(cache.glob(f"cifar10_train_{size}px_*.npz"))
    if not found:
        return None
    data = np.load(found[0])
    order = np.random.RandomState(0).permutation(len(data["y"]))[:n_backbone_images]
    holdout = max(len(order) // 10, 1)  # as in office31.pretrained_backbone
    keep = order[holdout : holdout + CIFAR_HEAD_IMAGES]
    return data["X"][keep], data["y"][keep]


# -------------------------------------------------------------------------- scores


def extract(path: Path, layer: str, X):
    import skltransfer as skt

    start = time.perf_counter()
    features = skt.PretrainedFeatureExtractor(str(path), layer=layer).fit_transform(X)
    return np.asarray(features, dtype=np.float64), time.perf_counter() - start


_SOURCE_HEADS: dict = {}  # (backbone, layer) -> (fitted head, seconds)


def source_head(backbone: str, layer: str, path: Path, source):
    """A logistic-regression source classifier on the source set's features at ``layer``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    key = (backbone, layer)
    if key not in _SOURCE_HEADS:
        Xs, ys = source
        features, extract_seconds = extract(path, layer, Xs)
        start = time.perf_counter()
        head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, ys)
        _SOURCE_HEADS[key] = (head, extract_seconds + time.perf_counter() - start)
    return _SOURCE_HEADS[key]


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return float(value), time.perf_counter() - start


def run_candidate(backbone, layer, path, source, trained_head, Xtr, ytr, Xte, yte):
    import skltransfer as skt
    from skltransfer.metrics import h_score, leep_score, logme_score, nce_score

    record: dict = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        features, record["extract_seconds"] = extract(path, layer, Xtr)
        record["n_features"] = int(features.shape[1])
        record["logme"], record["logme_seconds"] = timed(logme_score, features, ytr)
        record["hscore"], record["hscore_seconds"] = timed(h_score, features, ytr)
        if source is not None:
            head, record["source_head_seconds"] = source_head(backbone, layer, path, source)
            start = time.perf_counter()
            proba = head.predict_proba(features)
            record["leep"] = float(leep_score(proba, ytr))
            record["nce"] = float(nce_score(head.classes_[np.argmax(proba, axis=1)], ytr))
            record["leep_nce_seconds"] = time.perf_counter() - start
        if trained_head is not None:
            import keras

            model = keras.models.load_model(trained_head)
            proba = np.asarray(model.predict(Xtr.astype("float32"), verbose=0), dtype=np.float64)
            proba /= proba.sum(axis=1, keepdims=True)
            record["leep_trained_head"] = float(leep_score(proba, ytr))
            record["nce_trained_head"] = float(nce_score(np.argmax(proba, axis=1), ytr))
        start = time.perf_counter()
        classifier = skt.FineTunedCNNClassifier(str(path), layer=layer, random_state=0).fit(Xtr, ytr)
        record["finetune_seconds"] = time.perf_counter() - start
        record["accuracy"] = float(np.mean(classifier.predict(Xte) == yte))
    record["warnings"] = sorted(
        {
            f"{w.category.__name__}: {str(w.message)[:100]}"
            for w in caught
            if not issubclass(w.category, DeprecationWarning)
        }
    )
    return record


# -------------------------------------------------------------------------- report


def correlations(records, candidates, score):
    """Kendall's tau and weighted tau of ``score`` against accuracy over the candidates that have it."""
    from scipy.stats import kendalltau, weightedtau

    pairs = [(records[c][score], records[c]["accuracy"]) for c in candidates if score in records.get(c, {})]
    if len(pairs) < 3:
        return None
    x, y = np.array(pairs).T
    return kendalltau(x, y).statistic, weightedtau(x, y).statistic, len(pairs)


def fmt(value, digits=3):
    return "" if value is None else f"{value:.{digits}f}"


def report(results, targets, candidates, info, command, seconds):
    names = [f"{b} / {layer}" for b, layer in candidates]
    lines = [
        "# Transferability scores against fine-tuning (Office-31 targets, 9 backbone x layer candidates)",
        "",
        f"Command: `{command}` ({seconds:.0f} s for this invocation; per-candidate results of earlier "
        "invocations are read from the cache; `--report` rewrites this file from the cache alone).",
        "",
        "Candidates: three backbones of one architecture (`build_backbone` of `office31.py`, 32 x 32 px "
        "inputs), each cut at `relu1`, `relu3` and `embedding` (32, 64, 128 features after global "
        "average pooling). `cifar10`: pretrained on CIFAR-10 by `office31.py` "
        f"({info.get('cifar10', {}).get('images', '?')} images, {info.get('cifar10', {}).get('epochs', '?')} "
        f"epochs, hold-out accuracy {info.get('cifar10', {}).get('holdout_accuracy', '?')}). `amazon`: "
        f"trained by this script on the amazon domain ({info.get('amazon', {}).get('images', '?')} images, "
        f"{info.get('amazon', {}).get('epochs', '?')} epochs, hold-out accuracy "
        f"{info.get('amazon', {}).get('holdout_accuracy', '?')}). `random`: a random initialisation "
        "(seed 1).",
        "",
        "Targets: dslr (498 images) and webcam (795), 31 classes, each split stratified 50/50 (seed 0). "
        "Scores are computed on the train half; accuracy is that of "
        "`FineTunedCNNClassifier(path, layer=..., random_state=0)` with its defaults, fitted on the "
        "train half and measured on the test half (one seed). LEEP and NCE use, per candidate, a "
        "source classifier fitted on the source set's features at that layer (`StandardScaler` + "
        "`LogisticRegression(max_iter=1000)`; amazon: all 2817 images; CIFAR-10: "
        f"{CIFAR_HEAD_IMAGES} of the backbone's training images); the random initialisation has no "
        "source set, so no LEEP or NCE. Times are seconds on a shared, heavily loaded 2-core CPU.",
    ]
    for letter in targets:
        target = TARGETS[letter]
        records = {n: results[f"{target}|{n}"] for n in names if f"{target}|{n}" in results}
        if not records:
            lines += ["", f"## {target}", "", "No candidate finished."]
            continue
        lines += [
            "",
            f"## {target}",
            "",
            "| candidate | features | fine-tuned accuracy (%) | LogME | H-score | LEEP | NCE | "
            "extract s | LogME s | fine-tune s |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name in names:
            r = records.get(name)
            if r is None:
                lines.append(f"| {name} | | (not run) | | | | | | | |")
                continue
            lines.append(
                f"| {name} | {r['n_features']} | {r['accuracy'] * 100:.1f} | {fmt(r['logme'])} | "
                f"{fmt(r['hscore'], 2)} | {fmt(r.get('leep'))} | {fmt(r.get('nce'))} | "
                f"{r['extract_seconds']:.1f} | {r['logme_seconds']:.3f} | {r['finetune_seconds']:.0f} |"
            )
        trained = records.get("amazon / embedding", {})
        if "leep_trained_head" in trained:
            lines += [
                "",
                "With the softmax head trained with the amazon backbone instead of a refitted one, "
                f"amazon / embedding has LEEP {trained['leep_trained_head']:.3f} and NCE "
                f"{trained['nce_trained_head']:.3f}.",
            ]
        with_source = [n for n in names if not n.startswith("random")]
        lines += [
            "",
            "| score | Kendall's tau (all) | weighted tau (all) | Kendall's tau (with a source set) | "
            "weighted tau (with a source set) | top-scored candidate (its accuracy %) |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for score in SCORES:
            cells = []
            for subset in (names, with_source):
                corr = correlations(records, subset, score)
                cells += ["", ""] if corr is None else [f"{corr[0]:.2f} (n={corr[2]})", f"{corr[1]:.2f}"]
            scored = [n for n in names if score in records.get(n, {})]
            top = max(scored, key=lambda n: records[n][score])
            cells.append(f"{top} ({records[top]['accuracy'] * 100:.1f})")
            lines.append(f"| {SCORE_NAMES[score]} | " + " | ".join(cells) + " |")
        best = max(records, key=lambda n: records[n]["accuracy"])
        lines += [
            "",
            f"The best fine-tuned candidate is {best} ({records[best]['accuracy'] * 100:.1f} %).",
        ]
        done = list(records.values())
        extract_s = sum(r["extract_seconds"] for r in done)
        logme_s = sum(r["logme_seconds"] for r in done)
        hscore_s = sum(r["hscore_seconds"] for r in done)
        finetune_s = sum(r["finetune_seconds"] for r in done)
        lines += [
            "",
            f"Time over the {len(done)} candidates run: feature extraction {extract_s:.0f} s, LogME "
            f"{logme_s:.2f} s, H-score {hscore_s:.2f} s; fine-tuning {finetune_s:.0f} s: scoring "
            f"(extraction + LogME) is **{finetune_s / (extract_s + logme_s):.0f} times** faster than "
            "fine-tuning every candidate. LEEP and NCE also need each candidate's source classifier "
            "(source features and a logistic regression: "
            f"{sum(r.get('source_head_seconds', 0.0) for r in done):.0f} s for these candidates, paid "
            "once for every target).",
        ]
        notes: dict = {}  # message -> candidates that raised it
        for name, r in records.items():
            for w in r["warnings"]:
                notes.setdefault(w.rsplit(" ", 1)[0] + " ...", []).append(name)
        for note, raised in sorted(notes.items()):
            lines += ["", f"Warning ({', '.join(raised)}): {note}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with amazon/, dslr/, webcam/")
    parser.add_argument("--cache", type=Path, default=Path("~/.cache/skltransfer-benchmarks").expanduser())
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--pretrain-images", type=int, default=20000, help="the CIFAR-10 backbone's images")
    parser.add_argument("--pretrain-epochs", type=int, default=3, help="the CIFAR-10 backbone's epochs")
    parser.add_argument("--amazon-epochs", type=int, default=10)
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--quick", action="store_true", help="smoke run: dslr, 3 candidates, 2 amazon epochs")
    parser.add_argument("--report", action="store_true", help="only write the report of the cached results")
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "transferability.md"
    )
    args = parser.parse_args()
    args.cache = args.cache.expanduser()
    candidates = [(b, layer) for b in BACKBONES for layer in LAYERS]
    if args.quick:
        args.targets, args.amazon_epochs, candidates = ["D"], 2, list(QUICK_CANDIDATES)
        args.output = args.cache / "transferability_quick.md"
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv if a != "--report")
    total = time.perf_counter()

    domains = load_office31(args.data, args.size, args.cache)
    cifar_path = pretrained_backbone(None, args.size, args.pretrain_images, args.pretrain_epochs, args.cache)
    amazon_path, amazon_classifier = amazon_backbone(domains, args.size, args.amazon_epochs, args.cache)
    paths = {"cifar10": cifar_path, "amazon": amazon_path, "random": random_backbone(args.size, args.cache)}
    info = {
        name: json.loads(p.with_suffix(".json").read_text())
        for name, p in paths.items()
        if p.with_suffix(".json").exists()
    }
    cifar = cifar_images(args.cache, args.size, args.pretrain_images)
    if cifar is None:
        print("no decoded CIFAR-10 images in the cache: no LEEP / NCE for the cifar10 candidates", flush=True)
    sources = {"cifar10": cifar, "amazon": domains["A"], "random": None}

    from sklearn.model_selection import train_test_split

    store = args.cache / f"transferability_results_{args.size}px_amazon{args.amazon_epochs}ep.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    for letter in args.targets:
        X, y = domains[letter]
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
        for backbone, layer in candidates:
            key = f"{TARGETS[letter]}|{backbone} / {layer}"
            if key in results or args.report:
                continue
            trained_head = amazon_classifier if (backbone, layer) == ("amazon", "embedding") else None
            record = run_candidate(
                backbone, layer, paths[backbone], sources[backbone], trained_head, Xtr, ytr, Xte, yte
            )
            results[key] = record
            store.write_text(json.dumps(results, indent=1))
            print(
                f"{key}: accuracy {record['accuracy']:.3f}, LogME {record['logme']:.3f}, "
                f"H {record['hscore']:.2f}, LEEP {fmt(record.get('leep'))}, NCE {fmt(record.get('nce'))} "
                f"(extract {record['extract_seconds']:.1f} s, fine-tune {record['finetune_seconds']:.0f} s)",
                flush=True,
            )
    text = report(results, args.targets, candidates, info, command, time.perf_counter() - total)
    print("\n" + text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(f"written to {args.output}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
