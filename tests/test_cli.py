"""The ``skae`` command line (skae._cli)."""

import csv

import numpy as np
import pytest

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


def test_detect_flags_the_broken_row_and_names_its_column(readings, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    main(["detect", str(readings), "--out", str(out)])
    rows = scores_of(out)
    assert len(rows) == 200
    worst = max(rows, key=lambda r: float(r["anomaly_score"]))
    assert worst["row"] == "7" and worst["outlier"] == "1"
    assert worst["worst_column"] == "total"
    err = capsys.readouterr().err
    assert "skipped column 'machine': not numeric" in err
    assert "200 rows, 3 numeric columns" in err


def test_saved_model_scores_new_rows_the_same(readings, tmp_path):
    model, first, second = tmp_path / "model.skae", tmp_path / "1.csv", tmp_path / "2.csv"
    main(["detect", str(readings), "--out", str(first), "--save-model", str(model)])
    main(["detect", str(readings), "--out", str(second), "--model", str(model)])
    assert scores_of(first) == scores_of(second)


def test_contamination_sets_the_share_of_outliers(readings, tmp_path):
    out = tmp_path / "scores.csv"
    main(["detect", str(readings), "--out", str(out), "--contamination", "0.05"])
    assert sum(r["outlier"] == "1" for r in scores_of(out)) == 10


def test_bad_input_is_refused_with_a_message(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n1,2\n3,\n")
    with pytest.raises(SystemExit, match="line 3 .* empty"):
        read_table(path)
    path.write_text("x,y\nfoo,bar\n")
    with pytest.raises(SystemExit, match="no numeric column"):
        read_table(path)
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


def test_nan_cells_and_header_only_files_are_refused(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("a,b\n1,2\nnan,4\n")
    with pytest.raises(SystemExit, match="line 3 .* NaN or infinite"):
        read_table(path)
    path.write_text("a,b\n")
    with pytest.raises(SystemExit, match="no data rows"):
        read_table(path)


def test_a_saved_bare_detector_scores_as_it_is(readings, tmp_path):
    import skae
    from skae import AEOutlierDetector

    X, _, _ = read_table(readings)
    skae.save(AEOutlierDetector(random_state=0).fit(X), tmp_path / "bare.skae")
    out = tmp_path / "scores.csv"
    main(["detect", str(readings), "--model", str(tmp_path / "bare.skae"), "--out", str(out)])
    assert len(scores_of(out)) == 200
