"""The ``skae`` command line (skae._cli)."""

import csv
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AEOutlierDetector
from skae._cli import main, read_table

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def readings(tmp_path):
    """200 machine readings with one broken row (row 7) and an id column."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    X[:, 2] = X[:, 0] + X[:, 1] + 0.05 * rng.normal(size=200)  # a sensor that sums two others
    X[6] = [0.5, 0.5, 6.0]  # plausible values, broken relation, off in "total"
    path = tmp_path / "readings.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["machine", "a", "b", "total"])
        for i, row in enumerate(X):
            writer.writerow([f"m{i}", *row])
    return path


def scores_of(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def refused(capsys, call, message):
    """``call()`` ends with exit status 2 and one line naming the problem."""
    with pytest.raises(SystemExit) as stop:
        call()
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("skae: error: ") and "\n" not in err, err
    assert message in err, err


def test_detect_flags_the_broken_row_and_names_its_column(readings, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    main(["detect", str(readings), "--out", str(out)])
    rows = scores_of(out)
    assert len(rows) == 200
    assert list(rows[0])[:4] == ["machine", "a", "b", "total"]  # the file's own columns first
    worst = max(rows, key=lambda r: float(r["anomaly_score"]))
    assert worst["machine"] == "m6" and worst["is_anomaly"] == "1"
    assert worst["worst_column"] == "total"
    captured = capsys.readouterr()
    err = captured.err
    assert "skipped column 'machine': not numeric" in err
    assert "200 rows, 3 numeric columns" in err
    # Progress goes to standard error: one line per autoencoder fit.
    assert err.count("AEOutlierDetector: fitted AutoEncoderTransformer") == 3
    assert captured.out == ""


def test_saved_model_scores_new_rows_the_same(readings, tmp_path):
    model, first, second = tmp_path / "model.skae", tmp_path / "1.csv", tmp_path / "2.csv"
    main(["detect", str(readings), "--out", str(first), "--save-model", str(model)])
    main(["detect", str(readings), "--out", str(second), "--model", str(model)])
    assert scores_of(first) == scores_of(second)


def test_contamination_sets_the_share_of_outliers(readings, tmp_path):
    out = tmp_path / "scores.csv"
    main(["detect", str(readings), "--out", str(out), "--contamination", "0.05"])
    assert sum(r["is_anomaly"] == "1" for r in scores_of(out)) == 10


def test_bad_input_is_refused_with_a_message(tmp_path, capsys):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,2\n3,\n")
    refused(capsys, lambda: read_table(path), "line 3 of")
    path.write_text("x,y\nfoo,bar\n")
    refused(capsys, lambda: read_table(path), "no numeric column")
    path.write_text("a,b\n1,2\n3\n")
    refused(capsys, lambda: read_table(path), "line 3 of")
    path.write_text("")
    refused(capsys, lambda: read_table(path), "has no rows")
    refused(capsys, lambda: read_table(tmp_path / "missing.csv"), "no such file")
    with pytest.raises(SystemExit):
        main(["detect", str(path), "--contamination", "0.9"])


def test_headerless_file(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,2\n3,4\n5,7\n")
    X, names, skipped = read_table(path)
    assert X.shape == (3, 2) and names == ["column 1", "column 2"] and skipped == []


def test_headerless_file_with_an_id_column_keeps_its_first_row(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("id0,1,2\nid1,3,4\nid2,5,7\n")
    X, names, skipped = read_table(path)
    assert X.shape == (3, 2) and skipped == ["column 1"]


def test_nan_cells_and_header_only_files_are_refused(tmp_path, capsys):
    path = tmp_path / "nan.csv"
    path.write_text("a,b\n1,2\nnan,4\n")
    refused(capsys, lambda: read_table(path), "NaN or infinite")
    path.write_text("a,b\n")
    refused(capsys, lambda: read_table(path), "no data rows")


def test_a_saved_bare_detector_scores_as_it_is(readings, tmp_path):
    import skae
    from skae import AEOutlierDetector

    X, _, _ = read_table(readings)
    skae.save(AEOutlierDetector(random_state=0).fit(X), tmp_path / "bare.skae")
    out = tmp_path / "scores.csv"
    main(["detect", str(readings), "--model", str(tmp_path / "bare.skae"), "--out", str(out)])
    assert len(scores_of(out)) == 200


def test_score_applies_a_saved_model_and_checks_its_columns(readings, tmp_path, capsys):
    model, first, second = tmp_path / "model.skae", tmp_path / "1.csv", tmp_path / "2.csv"
    main(["detect", str(readings), "--out", str(first), "--save-model", str(model), "--quiet"])
    assert capsys.readouterr().err == ""
    main(["score", str(model), str(readings), "--output", str(second), "--quiet"])
    assert scores_of(first) == scores_of(second)
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("a,b\n1,2\n3,4\n")
    refused(
        capsys, lambda: main(["score", str(model), str(narrow)]), "trained on 3 numeric columns"
    )
    refused(capsys, lambda: main(["score", str(readings), str(readings)]), "not a skae model file")


def test_outputs_are_not_overwritten_without_force(readings, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    out.write_text("keep me")
    refused(capsys, lambda: main(["detect", str(readings), "--out", str(out)]), "--force")
    assert out.read_text() == "keep me"
    main(["detect", str(readings), "--out", str(out), "--force", "--quiet"])
    assert len(scores_of(out)) == 200


def test_columns_selects_by_name(readings, tmp_path, capsys):
    X, names, _ = read_table(readings, ["total", "a"])
    assert names == ["total", "a"] and X.shape == (200, 2)
    refused(capsys, lambda: read_table(readings, ["a", "volts"]), "no column 'volts'")
    refused(capsys, lambda: read_table(readings, ["machine"]), "'machine' of")


def test_summary_names_the_top_rows(readings, tmp_path, capsys):
    main(["detect", str(readings), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert "row 7: anomaly score" in err and "'total'" in err


def test_command_line_scores_rank_as_the_python_api(tmp_path):
    """``skae detect`` run as a program on a CSV it has never seen gives the
    ROC-AUC of the same pipeline fitted in Python with the same seed."""
    rng = np.random.RandomState(1)
    normal = rng.normal(size=(300, 4))
    normal[:, 3] = normal[:, :3].sum(axis=1) + 0.1 * rng.normal(size=300)
    anomalies = rng.normal(size=(15, 4)) * 2.5
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(300), np.ones(15)]
    path, out = tmp_path / "unseen.csv", tmp_path / "scores.csv"
    np.savetxt(path, X, delimiter=",", header="p,q,r,s", comments="", fmt="%.17g")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "skae",
            "detect",
            str(path),
            "--out",
            str(out),
            "--random-state",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    cli_scores = np.array([float(r["anomaly_score"]) for r in scores_of(out)])
    pipeline = make_pipeline(StandardScaler(), AEOutlierDetector(random_state=3)).fit(X)
    api_scores = -pipeline.score_samples(X)
    assert roc_auc_score(y, cli_scores) == roc_auc_score(y, api_scores)
    np.testing.assert_allclose(cli_scores, api_scores, rtol=1e-6)


def test_a_broken_file_ends_the_program_with_one_line(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n3\n")
    done = subprocess.run(
        [sys.executable, "-m", "skae", "detect", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"skae: error: line 3 of {path} has 1 cells, not 2"
