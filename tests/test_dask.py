"""Scaling out: hyperparameter search on a Dask cluster, scoring Dask arrays, lean pickles."""

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skae import AEOutlierDetector, AutoEncoderTransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SMALL = dict(max_epochs=5, hidden_layer_sizes=(8,), device="cpu", random_state=0)


def search():
    return GridSearchCV(AutoEncoderTransformer(**SMALL), {"n_components": [1, 2, 3]}, cv=2)


def test_grid_search_on_a_dask_cluster_equals_the_local_one():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import joblib

    X = np.random.RandomState(0).normal(size=(300, 6)).astype(np.float32)
    local = search().fit(X)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_backend("dask"),
    ):
        remote = search().fit(X)
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"], rtol=1e-5
    )
    assert remote.best_params_ == local.best_params_


def test_a_dask_array_is_scored_block_by_block():
    da = pytest.importorskip("dask.array")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 6)).astype(np.float32)
    detector = AEOutlierDetector(AutoEncoderTransformer(n_components=2, **SMALL)).fit(X)
    X_new = da.from_array(rng.normal(size=(5000, 6)).astype(np.float32), chunks=1000)
    scores = X_new.map_blocks(detector.score_samples, drop_axis=1, dtype=np.float64).compute()
    # float32 networks: chunks round alike within ~1e-6 of the score's scale
    # (interquartile ranges of the training scores, so near 0 as often as not).
    np.testing.assert_allclose(
        scores, detector.score_samples(np.asarray(X_new)), rtol=1e-6, atol=1e-5
    )


def test_pickles_stay_lean_whatever_the_training_size():
    # No training rows are kept; the codes kept for sample() are capped.
    rng = np.random.RandomState(0)
    sizes = []
    for n in (2_000, 50_000):
        X = rng.normal(size=(n, 16)).astype(np.float32)
        ae = AutoEncoderTransformer(
            n_components=4, max_epochs=1, batch_size=1024, device="cpu"
        ).fit(X)
        sizes.append(len(pickle.dumps(ae)))
    # 50,000 rows are 3.2 MB of data; the pickle grows by the capped codes only.
    assert sizes[1] < sizes[0] + 10_000 * 4 * 4 + 50_000, sizes
