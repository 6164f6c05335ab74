"""Grid search of a domain-adaptation pipeline on a Dask cluster through joblib's Dask backend."""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import Normalizer

from skltransfer import MMDAligner, make_da_pipeline, stack_domains
from skltransfer.datasets import make_digits_shift

distributed = pytest.importorskip("dask.distributed")


@pytest.mark.slow
def test_grid_search_on_local_cluster_matches_one_process(two_workers):
    Xs, ys, Xt, _ = make_digits_shift(random_state=0)
    X, y = stack_domains(Xs[::2], ys[::2], Xt[::2])  # 899 rows: 8 fits of about 0.1 s
    pipe = make_da_pipeline(
        Normalizer(), MMDAligner(10, kernel="rbf", gamma=1.0, random_state=0), KNeighborsClassifier(1)
    )
    grid = {"mmdaligner__n_components": [3, 6, 12, 24]}
    search = GridSearchCV(pipe, grid, cv=KFold(2, shuffle=True, random_state=0))
    local = clone(search).fit(X, y)
    with distributed.get_task_stream() as tasks, joblib.parallel_backend("dask"):
        remote = clone(search).set_params(n_jobs=-1).fit(X, y)
    assert len({task["worker"] for task in tasks.data}) >= 1  # the fits ran on the cluster's workers
    assert len(tasks.data) >= 8
    assert remote.best_params_ == local.best_params_
    for key in ("split0_test_score", "split1_test_score", "mean_test_score", "rank_test_score"):
        np.testing.assert_allclose(remote.cv_results_[key], local.cv_results_[key], rtol=1e-12)
    assert len(set(local.cv_results_["mean_test_score"])) == 4  # the grid points are told apart


# Feature extraction of Dask collections and TensorFlow's threads on Dask workers.


def _tiny_network():
    keras = pytest.importorskip("keras")
    init = keras.initializers.GlorotUniform
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", kernel_initializer=init(0))(inputs)
    x = keras.layers.Conv2D(5, 3, kernel_initializer=init(1), name="conv")(x)
    return keras.Model(inputs, x)


def _photos(n, size=12, seed=0):
    """``n`` crops of scikit-learn's sample photos, ``size`` x ``size`` RGB uint8."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.RandomState(seed)
    crops = []
    for i in range(n):
        photo = photos[i % 2]
        top, left = rng.randint(0, photo.shape[0] - size), rng.randint(0, photo.shape[1] - size)
        crops.append(photo[top : top + size, left : left + size])
    return np.stack(crops)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory):
    pytest.importorskip("tensorflow")  # the tests that read photos extract features with Keras
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    paths = []
    for i, crop in enumerate(_photos(11)):
        paths.append(str(folder / f"{i}.{'png' if i % 2 else 'jpg'}"))
        Image.fromarray(crop).save(paths[-1])
    return paths


def test_extraction_of_dask_arrays_is_lazy_and_matches_in_memory(photo_files):
    da = pytest.importorskip("dask.array")
    from skltransfer import PretrainedFeatureExtractor

    images = _photos(11)
    extractor = PretrainedFeatureExtractor(_tiny_network(), batch_size=4).fit(images)
    expected = extractor.transform(images)
    features = extractor.transform(da.from_array(images, chunks=(4, 6, 12, 3)))
    assert isinstance(features, da.Array) and features.dtype == np.float32
    assert features.chunks == ((4, 4, 3), (5,))  # one block per block of rows, the width known
    np.testing.assert_allclose(features.compute(), expected, rtol=1e-6, atol=1e-6)

    rows = PretrainedFeatureExtractor(_tiny_network(), image_shape=(12, 12, 3)).fit(images.reshape(11, -1))
    flat = da.from_array(images.reshape(11, -1), chunks=(5, 100))
    np.testing.assert_allclose(rows.transform(flat).compute(), expected, rtol=1e-6, atol=1e-6)

    gray = images.mean(axis=-1)
    np.testing.assert_allclose(
        extractor.transform(da.from_array(gray, chunks=3)).compute(),
        extractor.transform(gray),
        rtol=1e-6,
        atol=1e-6,  # float32 rounding of batches of 3 against batches of 32
    )

    from_files = extractor.transform(photo_files)
    paths = extractor.transform(da.from_array(np.asarray(photo_files, dtype=object), chunks=5))
    assert paths.chunks == ((5, 5, 1), (5,))
    np.testing.assert_allclose(paths.compute(), from_files, rtol=1e-6, atol=1e-6)  # batches of 5 vs 4


def test_extraction_of_a_dask_bag_of_paths(photo_files):
    da = pytest.importorskip("dask.array")
    db = pytest.importorskip("dask.bag")
    from sklearn.pipeline import make_pipeline

    from skltransfer import PretrainedFeatureExtractor

    extractor = PretrainedFeatureExtractor(_tiny_network()).fit(photo_files)
    features = extractor.transform(db.from_sequence(photo_files, npartitions=3))
    assert features.shape[1] == 5 and np.isnan(features.shape[0])  # partition sizes unknown until read
    np.testing.assert_array_equal(features.compute(), extractor.transform(photo_files))
    # In a pipeline: the extractor's lazy output feeds the next step, lazy too.
    y = np.array([0, 1] * 3 + [-1] * 5)
    pipe = make_pipeline(extractor, MMDAligner(2, kernel="linear")).fit(photo_files, y)
    aligned = pipe.transform(db.from_sequence(photo_files, npartitions=2))
    assert isinstance(aligned, da.Array)
    np.testing.assert_allclose(aligned.compute(), pipe.transform(photo_files), rtol=1e-5, atol=1e-6)


def test_extraction_of_dask_input_errors(photo_files, monkeypatch):
    import dask
    import dask.array as da

    from skltransfer import PretrainedFeatureExtractor

    images = _photos(4)
    extractor = PretrainedFeatureExtractor(_tiny_network()).fit(images)
    with pytest.raises(ValueError, match="1-D Dask array must hold image file paths"):
        extractor.transform(da.zeros(4))
    with pytest.raises(ValueError, match="pass image_shape"):
        extractor.transform(da.zeros((4, 432)))
    with pytest.raises(ValueError, match="have 2 channels but the network takes 3"):
        extractor.transform(da.zeros((4, 12, 12, 2)))
    with pytest.raises(ValueError, match="5-D"):
        extractor.transform(da.zeros((4, 12, 12, 3, 1)))
    with pytest.raises(TypeError, match="pass a Dask array of images or of file paths"):
        extractor.transform(dask.delayed(images))
    rows = PretrainedFeatureExtractor(_tiny_network(), image_shape=(12, 12, 3)).fit(images.reshape(4, -1))
    with pytest.raises(ValueError, match="X has 431 features, but PretrainedFeatureExtractor is expecting"):
        rows.transform(da.zeros((4, 431)))
    with pytest.raises(ValueError, match="not found"):  # raised by the block that reads the file
        extractor.transform(da.from_array(np.array([photo_files[0], "missing.png"]), chunks=1)).compute()
    monkeypatch.setitem(__import__("sys").modules, "dask.array", None)
    with pytest.raises(ImportError, match=r'pip install "skltransfer\[dask\]"'):
        extractor.transform(da.zeros((4, 12, 12, 3)))


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker, 1-thread-each cluster whose workers see OMP_NUM_THREADS=2.

    TensorFlow would follow that variable; on a Dask worker it must follow the worker's own
    thread count (1) instead. The tests of this module share it: its workers start, and import
    TensorFlow, once.
    """
    with pytest.MonkeyPatch.context() as env:  # the nanny copies it into this process too
        env.setenv("OMP_NUM_THREADS", "2")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    with cluster:
        yield cluster


@pytest.fixture
def two_workers(cluster):
    """A client of the shared cluster, Dask's default scheduler for one test only."""
    with distributed.Client(cluster) as client:
        yield client


def _tensorflow_threads():
    import os

    import tensorflow as tf

    threading = tf.config.threading
    intra, inter = threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads()
    return os.environ["OMP_NUM_THREADS"], intra, inter


def _call_counters(targets):
    """Functions for ``client.run``: wrap methods to count their calls in a process, read the counts.

    ``targets``: ``(module of skltransfer.keras, class, method, key)``; a ``None`` class
    wraps a function of the module.
    """

    def count_calls(patch=setattr):  # in the test process: monkeypatch.setattr, undone after the test
        import importlib

        from skltransfer.keras import _distributed

        counts = {key: 0 for *_, key in targets}

        def counting(method, key):
            def counted(*args, **kwargs):
                counts[key] += 1
                return method(*args, **kwargs)

            return counted

        for module, cls, name, key in targets:
            owner = importlib.import_module(f"skltransfer.keras.{module}")
            owner = owner if cls is None else getattr(owner, cls)
            patch(owner, name, counting(getattr(owner, name), key))
        _distributed.counts = counts

    def read_counts():
        from skltransfer.keras import _distributed

        return _distributed.counts

    return count_calls, read_counts


@pytest.mark.slow
def test_extraction_on_a_cluster_unpickles_the_extractor_once_per_worker(two_workers, photo_files):
    import dask.array as da
    from dask.core import flatten, get_dependencies

    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.keras._runtime import dask_worker_threads

    count_calls, read_counts = _call_counters(
        [
            ("extractor", "PretrainedFeatureExtractor", "__setstate__", "unpickled"),
            ("_inference", "CompiledPredictor", "__init__", "compiled"),
            ("_distributed", "_Shipped", "transform", "blocks"),
        ]
    )
    client = two_workers
    extractor = PretrainedFeatureExtractor(_tiny_network(), batch_size=3).fit(photo_files)
    features = extractor.transform(da.from_array(np.asarray(photo_files * 4, dtype=object), chunks=4))
    graph = dict(features.__dask_graph__())
    shipped = [key for key in graph if str(key).startswith("pretrainedfeatureextractor-")]
    assert len(shipped) == 1  # the extractor is one key of the graph, which every block reads
    assert all(shipped[0] in get_dependencies(graph, key) for key in flatten(features.__dask_keys__()))

    client.run(count_calls)
    with distributed.get_task_stream() as tasks:
        result = features.compute()
    np.testing.assert_array_equal(result, np.tile(extractor.transform(photo_files), (4, 1)))
    counts = client.run(read_counts)
    assert sum(c["blocks"] for c in counts.values()) == 11
    assert len({task["worker"] for task in tasks.data if "transform_block" in str(task["key"])}) == 2
    for c in counts.values():  # once per worker, one compiled function for all its blocks
        assert c == {"unpickled": 1, "compiled": 1, "blocks": c["blocks"]}
    assert set(client.run(_tensorflow_threads).values()) == {("2", 1, 1)}
    # The worker's own thread count, in a task and outside one (its event loop); none here.
    assert client.submit(dask_worker_threads).result() == 1
    assert set(client.run(dask_worker_threads).values()) == {1}
    assert dask_worker_threads() is None


_ENGINE_CALLS = [
    ("_litert", None, "convert_to_litert", "converted"),
    ("_litert", "LiteRTRunner", "__call__", "litert"),
    ("_inference", "CompiledPredictor", "__call__", "keras"),
    ("_distributed", "_Shipped", "transform", "blocks"),
]


def _needs_litert():
    pytest.importorskip("tensorflow")
    from skltransfer.keras._litert import litert_available

    if not litert_available():
        pytest.skip("no LiteRT interpreter installed")


def _assert_close_to_scale(actual, expected):
    scale = np.abs(expected).max()
    assert scale > 1e-3 and actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1e-4 * scale


def test_dask_extraction_picks_the_engine_for_the_whole_job(photo_files, monkeypatch):
    """ "auto" weighs the job, not its blocks: converted once on the caller's side, run by every block."""
    _needs_litert()
    da = pytest.importorskip("dask.array")
    db = pytest.importorskip("dask.bag")
    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.keras import _litert

    images = _photos(11)
    on_keras = PretrainedFeatureExtractor(_tiny_network(), engine="keras").fit(images)
    expected, from_files = on_keras.transform(images), on_keras.transform(photo_files)
    count_calls, read_counts = _call_counters(_ENGINE_CALLS)
    count_calls(monkeypatch.setattr)
    values = 12 * 12 * 3  # input values of one image
    monkeypatch.setattr(_litert, "AUTO_MIN_VALUES", 8 * values)  # 11 images in blocks of 4: large
    extractor = PretrainedFeatureExtractor(_tiny_network()).fit(images)
    features = extractor.transform(da.from_array(images, chunks=(4, 12, 12, 3)))
    assert read_counts()["converted"] == 1  # on this side, before anything is computed
    before = dict(read_counts())
    _assert_close_to_scale(features.compute(scheduler="synchronous"), expected)
    counts = {key: read_counts()[key] - before[key] for key in before}
    assert counts == {"converted": 0, "litert": 3, "keras": 0, "blocks": 3}
    # The conversion stays with the extractor: its next jobs and calls do not convert again.
    extractor.transform(da.from_array(images, chunks=4)).compute(scheduler="synchronous")
    bag = db.from_sequence(photo_files, npartitions=3)  # paths decode to the same uint8 form
    _assert_close_to_scale(extractor.transform(bag).compute(scheduler="synchronous"), from_files)
    assert read_counts()["converted"] == 1 and read_counts()["keras"] == 0

    # A bag's paths are counted: 11 < 16 stays on Keras, nothing converted.
    monkeypatch.setattr(_litert, "AUTO_MIN_VALUES", 16 * values)
    fresh = PretrainedFeatureExtractor(_tiny_network()).fit(images)
    np.testing.assert_array_equal(
        fresh.transform(db.from_sequence(photo_files, npartitions=3)).compute(scheduler="synchronous"),
        from_files,
    )
    assert read_counts()["converted"] == 1 and read_counts()["keras"] == 3
    assert not fresh.__dict__["_litert"]
    # engine="litert" converts on this side whatever the size; "keras" never does.
    for engine, conversions in (("keras", 1), ("litert", 2)):
        small = PretrainedFeatureExtractor(_tiny_network(), engine=engine).fit(images)
        small.transform(da.from_array(images[:2], chunks=1))
        assert read_counts()["converted"] == conversions


@pytest.mark.slow
def test_extraction_on_a_cluster_runs_litert_in_every_worker(two_workers, monkeypatch):
    """A job at the auto rule in smaller blocks: every worker runs LiteRT, none converts."""
    _needs_litert()
    import dask.array as da

    from skltransfer import PretrainedFeatureExtractor
    from skltransfer.keras import _litert

    n_images = 2048
    monkeypatch.setattr(_litert, "AUTO_MIN_VALUES", n_images * 12 * 12 * 3)  # decided on this side
    client = two_workers
    images = np.concatenate([_photos(n_images // 4, seed=seed) for seed in range(4)])
    count_calls, read_counts = _call_counters(_ENGINE_CALLS)
    client.run(count_calls)
    block = n_images // 8  # blocks below the rule, one call of the network each
    X = da.from_array(images, chunks=(block, 12, 12, 3))
    features = PretrainedFeatureExtractor(_tiny_network(), batch_size=block).fit(images[:1]).transform(X)
    with distributed.get_task_stream() as tasks:
        result = features.compute()
    counts = client.run(read_counts)
    workers = {task["worker"] for task in tasks.data if "transform_block" in str(task["key"])}
    assert len(workers) == 2
    for c in counts.values():  # LiteRT for every block, not one conversion, not one Keras batch
        assert c["converted"] == 0 and c["keras"] == 0 and c["litert"] == c["blocks"]
    assert sum(c["blocks"] for c in counts.values()) == 8
    keras_features = PretrainedFeatureExtractor(_tiny_network(), engine="keras").fit(images[:1])
    _assert_close_to_scale(result, keras_features.transform(images))


@pytest.mark.slow
def test_grid_search_of_a_cnn_classifier_on_a_cluster_matches_one_process(two_workers):
    keras = pytest.importorskip("keras")
    from skltransfer import FineTunedCNNClassifier

    rng = np.random.RandomState(0)
    X, y = rng.rand(32, 8, 8, 1), np.repeat([0, 1], 16)
    X[y == 1, :4] += 1.0  # the bright upper half is class 1
    inputs = keras.Input((8, 8, 1))
    base = keras.Model(
        inputs, keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(0))(inputs)
    )
    clf = FineTunedCNNClassifier(
        base, weights=None, pooling="avg", epochs=1, fine_tune_epochs=0, batch_size=8, random_state=0
    )
    search = GridSearchCV(
        clf,
        {"epochs": ["auto"], "class_weight": [None, {0: 1.0, 1: 0.0}], "dropout": [0.0, 0.5]},
        cv=KFold(2, shuffle=True, random_state=0),
    )
    local = clone(search).fit(X, y)
    with distributed.get_task_stream() as tasks, joblib.parallel_backend("dask"):
        remote = clone(search).set_params(n_jobs=-1).fit(X, y)
    assert len({task["worker"] for task in tasks.data}) == 2
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"])
    assert len(set(local.cv_results_["mean_test_score"])) > 1  # the grid points are told apart
    # The workers unpickled the classifier on their event loop: 1 thread each, as they have.
    assert set(two_workers.run(_tensorflow_threads).values()) == {("2", 1, 1)}


def test_fit_on_dask_input_reads_only_the_first_image(photo_files):
    da = pytest.importorskip("dask.array")
    db = pytest.importorskip("dask.bag")
    from skltransfer import PretrainedFeatureExtractor

    images = _photos(11)
    reads = []

    def counted(block):
        if len(block):  # Dask also calls it on an empty block to infer the output type
            reads.append(len(block))
        return block

    lazy = da.from_array(images, chunks=(4, 12, 12, 3)).map_blocks(counted, dtype=images.dtype)
    extractor = PretrainedFeatureExtractor(_tiny_network()).fit(lazy)
    assert reads == [4]  # the first block only, for its first image
    np.testing.assert_allclose(
        extractor.transform(images),
        PretrainedFeatureExtractor(_tiny_network()).fit(images).transform(images),
        rtol=1e-6,
    )
    flat = PretrainedFeatureExtractor(_tiny_network(), image_shape=(12, 12, 3)).fit(
        da.from_array(images.reshape(11, -1))
    )
    assert flat.n_features_in_ == 12 * 12 * 3
    from_bag = PretrainedFeatureExtractor(_tiny_network()).fit(db.from_sequence(photo_files, npartitions=3))
    np.testing.assert_array_equal(
        from_bag.transform(photo_files[:3]),
        PretrainedFeatureExtractor(_tiny_network()).fit(photo_files).transform(photo_files[:3]),
    )
    with pytest.raises(ValueError, match="empty Dask bag"):
        PretrainedFeatureExtractor(_tiny_network()).fit(db.from_sequence([], npartitions=1))
