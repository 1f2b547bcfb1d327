"""Hyperparameter search on Ray through joblib's backend (skipped without Ray).

CI does not install Ray (a large install for one backend); the result of a
run is recorded in docs/user_guide/scale.md.
"""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skae import AutoEncoderTransformer

ray = pytest.importorskip("ray")
joblib = pytest.importorskip("joblib")


def test_grid_search_on_ray_gives_the_local_scores():
    from ray.util.joblib import register_ray

    X = np.random.RandomState(0).normal(size=(200, 6)).astype(np.float32)
    search = GridSearchCV(
        AutoEncoderTransformer(max_epochs=5, hidden_layer_sizes=(8,), device="cpu", random_state=0),
        {"n_components": [2, 4]},
        cv=2,
        n_jobs=2,
    )
    local = search.fit(X).cv_results_["mean_test_score"]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        with joblib.parallel_backend("ray"):
            remote = search.fit(X).cv_results_["mean_test_score"]
    finally:
        ray.shutdown()
    np.testing.assert_allclose(remote, local, rtol=1e-6)
