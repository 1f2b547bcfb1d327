"""Behaviour of AEOutlierDetector beyond scikit-learn's common checks."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skae import AEOutlierDetector, AutoEncoderTransformer, DenoisingAutoEncoder

FAST = dict(n_components=3, hidden_layer_sizes=(16,), max_epochs=20, batch_size=32, device="cpu")
#: The reconstruction detector: one autoencoder on every row, plus the density.
EVERY_ROW = dict(max_samples=None)


# Short training on purpose; the warning is AutoEncoderTransformer's, tested there.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def make_data(n_normal, n_anomalies, random_state):
    """Rows near a fixed 3-dimensional subspace of R^8; anomalies off it.

    Anomalies are subspace rows with 3 random features moved by +-3. Returns
    ``X`` and ``y`` with ``y = 1`` for the anomalies, which come last.
    """
    basis = np.random.RandomState(0).normal(size=(3, 8))
    rng = np.random.RandomState(random_state)
    X = rng.normal(size=(n_normal, 3)) @ basis + 0.1 * rng.normal(size=(n_normal, 8))
    A = rng.normal(size=(n_anomalies, 3)) @ basis
    for row in A:
        row[rng.choice(8, 3, replace=False)] += rng.choice([-3.0, 3.0], size=3)
    y = np.r_[np.zeros(n_normal, dtype=int), np.ones(n_anomalies, dtype=int)]
    return np.vstack([X, A]), y


@pytest.fixture(scope="module")
def data():
    """Clean standardized training rows; test rows with 20 planted anomalies."""
    X_train, _ = make_data(400, 0, random_state=1)
    X_test, y_test = make_data(200, 20, random_state=2)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_test


@pytest.fixture(scope="module")
def fitted(data):
    X_train, _, _ = data
    return AEOutlierDetector(AutoEncoderTransformer(**FAST), random_state=0, **EVERY_ROW).fit(
        X_train
    )


def test_decision_function_is_shifted_score_samples(fitted, data):
    _, X_test, _ = data
    scores = fitted.score_samples(X_test)
    decision = fitted.decision_function(X_test)
    np.testing.assert_allclose(decision, scores - fitted.offset_)
    assert fitted.threshold_ == pytest.approx(-fitted.offset_)
    assert scores.dtype == np.float64
    # predict agrees with the sign of the decision function.
    np.testing.assert_array_equal(fitted.predict(X_test), np.where(decision < 0, -1, 1))


def test_planted_anomalies_score_higher(fitted, data):
    _, X_test, y_test = data
    auc = roc_auc_score(y_test, -fitted.score_samples(X_test))
    assert auc > 0.95, auc


@pytest.mark.parametrize("error", ["standardized", "raw"])
@pytest.mark.parametrize("estimator_class", [AutoEncoderTransformer, DenoisingAutoEncoder])
def test_other_errors_and_estimators_detect(data, error, estimator_class):
    X_train, X_test, y_test = data
    detector = AEOutlierDetector(estimator_class(**FAST), error=error, random_state=0).fit(X_train)
    auc = roc_auc_score(y_test, -detector.score_samples(X_test))
    assert auc > 0.9, auc


@pytest.mark.parametrize("contamination", [0.02, 0.1, 0.25, 0.5])
def test_contamination_flags_that_fraction_of_training_rows(data, contamination):
    X_train, _, _ = data
    detector = AEOutlierDetector(
        AutoEncoderTransformer(**FAST), contamination=contamination, random_state=0
    )
    labels = detector.fit_predict(X_train)
    assert set(np.unique(labels)) <= {-1, 1}
    n_flagged = int((labels == -1).sum())
    assert abs(n_flagged - contamination * len(X_train)) <= 1
    np.testing.assert_array_equal(labels, detector.predict(X_train))


def test_auto_contamination_flags_planted_training_outliers():
    X, y = make_data(400, 12, random_state=3)
    X = StandardScaler().fit_transform(X)
    detector = AEOutlierDetector(AutoEncoderTransformer(**FAST), random_state=0)
    labels = detector.fit_predict(X)
    flagged = labels == -1
    # Tukey's fence catches the planted rows and a tail of the clean ones
    # (the trimmed edge of the normal data scores high too).
    assert flagged[y == 1].mean() >= 0.9
    assert 0.0 < flagged[y == 0].mean() <= 0.15
    scores = -detector.score_samples(X)
    q1, q3 = np.percentile(scores, [25, 75])
    assert detector.threshold_ == pytest.approx(q3 + 1.5 * (q3 - q1))


def test_trimming_ignores_a_cluster_of_training_outliers():
    # 10% of the training rows are a cluster off the normal subspace: dense
    # enough for an autoencoder trained on every row to learn them. Random
    # states 0-5 give 0.88-0.92 untrimmed and 0.94-0.999 trimmed (5 of 6 above
    # 0.98). A tighter cluster (0.3) is one the first autoencoder may rebuild
    # well, and then trimming cannot find it (2 of 8 states passed).
    rng = np.random.RandomState(4)
    X, _ = make_data(360, 0, random_state=4)
    corner = 2.0 * np.sign(np.random.RandomState(1).normal(size=8))
    X = StandardScaler().fit_transform(np.vstack([X, corner + 0.6 * rng.normal(size=(40, 8))]))
    y = np.r_[np.zeros(360), np.ones(40)]
    wide = dict(FAST, n_components=16, hidden_layer_sizes=(32,), max_epochs=10, dropout=0.2)
    aucs = {}
    for trim_fraction in (0.0, 0.2):
        detector = AEOutlierDetector(
            AutoEncoderTransformer(**wide), trim_fraction=trim_fraction, random_state=0, **EVERY_ROW
        ).fit(X)
        aucs[trim_fraction] = roc_auc_score(y, -detector.score_samples(X))
    assert aucs[0.0] < 0.95 and aucs[0.2] > 0.98, aucs


def test_trimming_retrains_on_the_best_rebuilt_rows(data):
    X_train, _, _ = data
    detector = AEOutlierDetector(
        AutoEncoderTransformer(**FAST), trim_fraction=0.25, random_state=0, **EVERY_ROW
    ).fit(X_train)
    # The final autoencoder saw 300 of the 400 rows: 10 batches of 32 an epoch.
    assert len(detector.estimator_.net_.history[-1, "batches"]) == 10
    # feature_scale_ is the mean error over those rows, the best rebuilt, so
    # below the mean over every training row.
    all_rows = detector.reconstruction_error(X_train, per_feature=True).mean(axis=0)
    assert np.all(detector.feature_scale_ < all_rows)


def test_scores_do_not_depend_on_the_batch(fitted, data):
    # Replaces scikit-learn's check_methods_subset_invariance (expected to fail
    # in test_common.py for float32 rounding): equal within float32 precision.
    _, X_test, _ = data
    X = X_test[:30]
    for method in ("score_samples", "decision_function", "reconstruction_error"):
        batched = getattr(fitted, method)(X)
        one_by_one = np.concatenate([getattr(fitted, method)(X[i : i + 1]) for i in range(30)])
        # The scores are in interquartile ranges of the training scores, near 0
        # as often as not: an absolute tolerance at float32's precision too.
        np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-6, err_msg=method)
    decision = fitted.decision_function(X)
    clear = np.abs(decision) > 1e-4
    one_by_one = np.concatenate([fitted.predict(X[i : i + 1]) for i in range(30)])
    np.testing.assert_array_equal(fitted.predict(X)[clear], one_by_one[clear])


def test_threshold_is_the_cut_on_the_anomaly_score(fitted, data):
    X_train, X_test, _ = data

    def terms(X):
        errors = fitted.reconstruction_error(X, per_feature=True)
        nll = -fitted.density_estimator_.score_samples(X)
        return (errors / fitted.feature_scale_).mean(axis=1), nll

    # Each term on the scale of its training median and interquartile range.
    for term, location, scale in zip(terms(X_train), fitted.score_location_, fitted.score_scale_):
        assert location == pytest.approx(np.median(term))
        assert scale == pytest.approx(np.subtract(*np.percentile(term, [75, 25])))
    error, nll = terms(X_test)
    (e_loc, n_loc), (e_scale, n_scale) = fitted.score_location_, fitted.score_scale_
    # density_weight="auto" is 2 on every row
    anomaly = (error - e_loc) / e_scale + 2.0 * (nll - n_loc) / n_scale
    np.testing.assert_allclose(-fitted.score_samples(X_test), anomaly, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fitted.predict(X_test) == -1, anomaly > fitted.threshold_)


def test_density_weight_zero_is_the_reconstruction_score_alone(data):
    X_train, X_test, _ = data
    detector = AEOutlierDetector(
        AutoEncoderTransformer(**FAST), density_weight=0, random_state=0, **EVERY_ROW
    ).fit(X_train)
    assert detector.density_estimator_ is None and not hasattr(detector, "score_location_")
    errors = detector.reconstruction_error(X_test, per_feature=True)
    anomaly = (errors / detector.feature_scale_).mean(axis=1)
    np.testing.assert_allclose(-detector.score_samples(X_test), anomaly, rtol=1e-6)
    np.testing.assert_array_equal(detector.predict(X_test) == -1, anomaly > detector.threshold_)


def test_density_flags_rows_rebuilt_well_where_the_data_is_sparse():
    # Two tight clusters in 2-D: the midpoint between them is easy to rebuild
    # for a network that does not compress, but no training row lies there.
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.normal(-2, 0.3, size=(200, 2)), rng.normal(2, 0.3, size=(200, 2))])
    gap = np.array([[0.0, 0.0], [0.2, -0.1], [-0.1, 0.2]])
    ranks = {}
    for weight in (0.0, 2.0):
        detector = AEOutlierDetector(density_weight=weight, random_state=0, **EVERY_ROW).fit(X)
        # Share of training rows that score as more abnormal than the gap's rows.
        ranks[weight] = np.mean(
            -detector.score_samples(X)[:, None] > -detector.score_samples(gap)[None]
        )
    # measured: 0.63 of the training rows without the density, 0.16 with it
    assert ranks[2.0] < 0.25 and ranks[2.0] < ranks[0.0] / 3, ranks


def test_raw_error_is_the_mean_reconstruction_error(data):
    X_train, X_test, _ = data
    detector = AEOutlierDetector(
        AutoEncoderTransformer(**FAST), error="raw", density_weight=0, random_state=0, **EVERY_ROW
    )
    detector.fit(X_train)
    expected = detector.estimator_.reconstruction_error(X_test)
    np.testing.assert_allclose(-detector.score_samples(X_test), expected, rtol=1e-5)
    np.testing.assert_allclose(detector.reconstruction_error(X_test), expected, rtol=1e-5)


def test_per_feature_error_points_at_the_broken_feature(fitted, data):
    _, X_test, _ = data
    X = X_test[:50].copy()
    X[:, 5] += 6.0
    errors = fitted.reconstruction_error(X, per_feature=True)
    assert errors.shape == (50, 8)
    assert (errors.argmax(axis=1) == 5).mean() >= 0.9
    np.testing.assert_allclose(errors.mean(axis=1), fitted.reconstruction_error(X), rtol=1e-5)


def test_estimator_is_cloned_and_seeded(data):
    X_train, X_test, _ = data
    ae = AutoEncoderTransformer(**FAST)
    first = AEOutlierDetector(ae, random_state=7, **EVERY_ROW).fit(X_train)
    assert not hasattr(ae, "net_")
    assert first.estimator_ is not ae
    assert first.estimator_.random_state is not None
    second = AEOutlierDetector(ae, random_state=7, **EVERY_ROW).fit(X_train)
    np.testing.assert_array_equal(first.score_samples(X_test), second.score_samples(X_test))
    # random_state=None keeps the estimator's own seed, and seeds the density with it.
    kept = AEOutlierDetector(clone(ae).set_params(random_state=3), **EVERY_ROW).fit(X_train)
    assert kept.estimator_.random_state == 3
    assert kept.density_estimator_.random_state == 3
    again = AEOutlierDetector(clone(ae).set_params(random_state=3), **EVERY_ROW).fit(X_train)
    np.testing.assert_array_equal(kept.score_samples(X_test), again.score_samples(X_test))


def test_default_estimator_is_sized_to_the_data(data):
    X_train, X_test, _ = data
    detector = AEOutlierDetector(random_state=0).fit(X_train[:100])
    assert isinstance(detector.estimator_, AutoEncoderTransformer)
    assert detector.estimator_.n_components == 32
    assert detector.estimator_.hidden_layer_sizes == (64,)
    assert detector.estimator_.dropout == 0.3
    assert detector.n_features_in_ == 8
    assert detector.predict(X_test).shape == (len(X_test),)


def test_default_estimator_widths_stop_growing_on_wide_data():
    # Twice the features up to MAX_HIDDEN, then flat: a fit step costs time
    # linear in the width of the data.
    X = np.random.default_rng(0).normal(size=(60, 300)).astype(np.float32)
    detector = AEOutlierDetector(max_samples=40, n_estimators=1, random_state=0).fit(X)
    assert detector.estimator_.hidden_layer_sizes == (256,)
    assert detector.estimator_.n_components == 128
    assert detector.estimators_[0].n_features_in_ == 300
    assert np.isfinite(detector.score_samples(X[:5])).all()


def test_nested_parameters_tune_in_grid_search(data):
    X_train, X_test, y_test = data
    X = np.vstack([X_train[:100], X_test])
    inlier = np.r_[np.ones(100, dtype=int), np.where(y_test == 1, -1, 1)]
    search = GridSearchCV(
        AEOutlierDetector(AutoEncoderTransformer(**FAST), random_state=0),
        {"estimator__n_components": [1, 3]},
        scoring="roc_auc",
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
    ).fit(X, inlier)
    # Inliers are the positive class and decision_function is higher for them.
    assert search.best_score_ > 0.8
    assert search.best_params_["estimator__n_components"] in (1, 3)
    assert (
        search.best_estimator_.estimator_.n_components
        == search.best_params_["estimator__n_components"]
    )


def test_pipeline_with_scaler(data):
    X_train, X_test, y_test = data
    pipe = make_pipeline(
        StandardScaler(), AEOutlierDetector(AutoEncoderTransformer(**FAST), random_state=0)
    )
    pipe.fit(X_train * 10 + 5)
    auc = roc_auc_score(y_test, -pipe.score_samples(X_test * 10 + 5))
    assert auc > 0.9
    assert set(np.unique(pipe.predict(X_test * 10 + 5))) <= {-1, 1}


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(contamination=0.6), "contamination"),
        (dict(contamination=0.0), "contamination"),
        (dict(error="max"), "error"),
        (dict(trim_fraction=0.5), "trim_fraction"),
        (dict(trim_fraction=-0.1), "trim_fraction"),
        (dict(n_trim_steps=0), "n_trim_steps"),
        (dict(max_samples=0), "max_samples"),
        (dict(max_samples=1.5), "max_samples"),
        (dict(n_estimators=0), "n_estimators"),
        (dict(density_weight="high"), "density_weight"),
        (dict(estimator=PCA()), "estimator"),
    ],
)
def test_invalid_parameters_raise(data, params, match):
    X_train, _, _ = data
    with pytest.raises(InvalidParameterError, match=match):
        AEOutlierDetector(**params).fit(X_train)


def test_invalid_nested_parameter_raises(data):
    X_train, _, _ = data
    detector = AEOutlierDetector(AutoEncoderTransformer(n_components=0))
    with pytest.raises(InvalidParameterError, match="n_components"):
        detector.fit(X_train)


def test_unfitted_raises(data):
    from sklearn.exceptions import NotFittedError

    _, X_test, _ = data
    with pytest.raises(NotFittedError):
        AEOutlierDetector().score_samples(X_test)


def test_verbose_prints_one_line_per_fit(capsys):
    X = np.random.RandomState(0).normal(size=(100, 4))
    AEOutlierDetector(n_trim_steps=2, random_state=0, verbose=1, **EVERY_ROW).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4, lines
    assert "on 100 of 100 rows" in lines[0] and "on 70 of 100 rows" in lines[2]
    # The density's trim is a third of the autoencoder's: 90% of the rows kept.
    assert "VariationalAutoEncoder on 90 of 100 rows" in lines[3]
    AEOutlierDetector(trim_fraction=0, random_state=0, verbose=1, **EVERY_ROW).fit(X)
    assert "VariationalAutoEncoder on 100 of 100 rows" in capsys.readouterr().out
    AEOutlierDetector(random_state=0).fit(X)
    assert capsys.readouterr().out == ""


def test_a_default_fit_validates_X_once(monkeypatch):
    """The detector hands its validated rows to its autoencoders and density
    through their private twins (nine validations of the full X before)."""
    import skae._utils

    calls = []
    validate = skae._utils.validate_data

    def counting(estimator, *args, **kwargs):
        calls.append(type(estimator).__name__)
        return validate(estimator, *args, **kwargs)

    monkeypatch.setattr(skae._utils, "validate_data", counting)
    X = np.random.RandomState(0).normal(size=(150, 4))
    detector = AEOutlierDetector(random_state=0, **EVERY_ROW).fit(X)
    assert calls == ["AEOutlierDetector"]
    assert AEOutlierDetector(random_state=0).fit(X) and calls == ["AEOutlierDetector"] * 2
    assert detector.estimator_.n_features_in_ == 4
    assert detector.density_estimator_.n_features_in_ == 4
    # the fitted inner estimators still validate what a user gives them
    with pytest.raises(ValueError, match="features"):
        detector.estimator_.reconstruction_error(X[:, :3])


def test_a_subclass_that_overrides_fit_is_called(monkeypatch):
    """The twins are used only where the public method is skae's own."""
    seen = []

    class Logged(AutoEncoderTransformer):
        def fit(self, X, y=None, sample_weight=None):
            seen.append(len(X))
            return super().fit(X, y, sample_weight)

    X = np.random.RandomState(0).normal(size=(100, 4))
    AEOutlierDetector(Logged(hidden_layer_sizes=(8,), max_epochs=2, device="cpu"),
                      density_weight=0, n_trim_steps=1, **EVERY_ROW).fit(X)  # fmt: skip
    assert seen == [100, 70]
    seen.clear()
    AEOutlierDetector(Logged(hidden_layer_sizes=(8,), max_epochs=2, device="cpu"),
                      max_samples=50, n_estimators=2).fit(X)  # fmt: skip
    assert seen == [50, 35, 50, 35]


# -- the default: autoencoders on subsamples, scored by neighbour distances ----
def test_default_fit_trains_each_autoencoder_on_a_subsample():
    X = np.random.RandomState(0).normal(size=(3000, 6))
    detector = AEOutlierDetector(random_state=0).fit(X)
    assert len(detector.estimators_) == 3 and detector.estimator_ is detector.estimators_[0]
    for estimator in detector.estimators_:
        # 512 rows drawn, 358 kept by one trim at 0.3: 3 batches of 128 an epoch.
        assert len(estimator.net_.history[-1, "batches"]) == 3
    # Scoring meets a fixed number of reference rows, whatever N is.
    assert detector.nearest_reference_.shape == (1024, 6)
    assert detector.neighbor_blocks_.shape == (10, 64, 6)
    assert detector.code_blocks_.shape == (3, 2, 128, 32)
    # The cut is set on the calibration rows, not on all 3,000.
    assert detector.decision_scores_.shape == (1024,)
    assert (detector.predict(X) == -1).mean() < 0.05


def test_training_rows_are_scored_as_new_rows(data):
    """Leave-one-out: a training row does not count as its own neighbour, so
    the training scores equal score_samples on the same rows."""
    X_train, _, _ = data
    detector = AEOutlierDetector(random_state=0).fit(X_train)
    np.testing.assert_allclose(
        detector.decision_scores_, -detector.score_samples(X_train), rtol=1e-5, atol=1e-6
    )
    # Scores are in interquartile ranges of the training terms: about 0 inside.
    assert abs(np.median(detector.decision_scores_)) < 1.5


def test_default_ranks_anomalies_and_is_repeatable(data):
    X_train, X_test, y_test = data
    first = AEOutlierDetector(random_state=0).fit(X_train)
    assert roc_auc_score(y_test, -first.score_samples(X_test)) > 0.95
    second = AEOutlierDetector(random_state=0).fit(X_train)
    np.testing.assert_array_equal(first.score_samples(X_test), second.score_samples(X_test))


def test_a_cluster_of_training_outliers_does_not_shield_its_test_twins():
    # 4% of the training rows are a tight cluster: distance to the 5th
    # neighbour among all rows calls its members normal; blocks of 64 rows
    # hold about 2.6 of them, fewer than 5, and see them.
    rng = np.random.RandomState(4)
    X, _ = make_data(480, 0, random_state=4)
    corner = 2.0 * np.sign(np.random.RandomState(1).normal(size=8))
    X = StandardScaler().fit_transform(np.vstack([X, corner + 0.3 * rng.normal(size=(20, 8))]))
    y = np.r_[np.zeros(480), np.ones(20)]
    detector = AEOutlierDetector(random_state=0).fit(X)
    knn = NearestNeighbors(n_neighbors=6).fit(X).kneighbors(X)[0][:, -1]
    auc, knn_auc = roc_auc_score(y, -detector.score_samples(X)), roc_auc_score(y, knn)
    # measured: 0.86 against 0.50 for the kNN distance
    assert auc > 0.8 and auc > knn_auc + 0.25, (auc, knn_auc)


def test_a_rare_one_hot_column_does_not_dominate_the_score():
    # A binary column that is 1 in 1% of the rows: its typical error is near
    # zero, and a standardized error used to put such rows at ~1e9.
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=(2000, 6)), (rng.uniform(size=2000) < 0.01).astype(float)]
    detector = AEOutlierDetector(random_state=0).fit(X)
    row = np.r_[np.zeros(6), 1.0][None]
    far = np.r_[np.full(6, 6.0), 0.0][None]
    assert -detector.score_samples(row)[0] < -detector.score_samples(far)[0]
    assert -detector.score_samples(row)[0] < 100
    assert np.all(detector.feature_scale_ >= 0.1 * detector.feature_scale_.mean() - 1e-12)


def test_zero_sample_weight_keeps_a_row_out_of_every_reference():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    X[:30] += 8.0
    weight = np.r_[np.zeros(30), np.ones(270)]
    detector = AEOutlierDetector(max_samples=100, random_state=0).fit(X, sample_weight=weight)
    scaled = (X[:30] - detector.input_location_) / detector.input_scale_
    for reference in (detector.nearest_reference_, detector.neighbor_blocks_.reshape(-1, 4)):
        assert np.abs(reference[:, None, :] - scaled[None]).sum(axis=2).min() > 1.0
    # the weighted-out rows are then the outliers
    assert (detector.predict(X[:30]) == -1).all()


def test_density_needs_every_row():
    X = np.random.RandomState(0).normal(size=(100, 4))
    with pytest.raises(ValueError, match="max_samples=None"):
        AEOutlierDetector(density_weight=1.0).fit(X)


@pytest.mark.parametrize("max_samples, rows", [(50, 50), (0.25, 75), (1.0, 300), ("auto", 300)])
def test_max_samples_sets_the_rows_of_each_autoencoder(max_samples, rows, capsys):
    X = np.random.RandomState(0).normal(size=(300, 4))
    AEOutlierDetector(max_samples=max_samples, n_estimators=2, random_state=0, verbose=1).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(f"on {rows} of 300 rows" in line for line in lines), lines
