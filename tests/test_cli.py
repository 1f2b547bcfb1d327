"""The ``skae`` command line (skae._cli, skae._table)."""

import csv
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AEOutlierDetector
from skae._cli import main, read_table
from skae._table import TableError, read_cells, select

#: The installed console script (the one a user runs), beside this Python.
SCRIPT = Path(sys.executable).with_name("skae")


def skae(*args, stdin=None, timeout=300):
    """Run the installed ``skae`` console script; its CompletedProcess."""
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "skae"]
    return subprocess.run(
        [*command, *map(str, args)],
        input=stdin,
        capture_output=True,
        timeout=timeout,
    )


def one_line_error(done, *fragments):
    """The program ended with exit status 2 and one line naming the problem."""
    err = done.stderr.decode()
    assert done.returncode == 2, (done.returncode, err)
    assert err.startswith("skae: error: ") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    return err


def write_csv(path, header, rows, **options):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.writer(handle, **options)
        if header:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def sensor_rows(n, seed=0):
    """``n`` readings ``a, b, total = a + b``, row 7 broken."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 3))
    X[:, 2] = X[:, 0] + X[:, 1] + 0.05 * rng.normal(size=n)
    X[6] = [0.5, 0.5, 6.0]
    return X


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model saved by the console script from a file with an integer ``id``
    column (ids 1000, 1001, ...), with the run's output and summary."""
    folder = tmp_path_factory.mktemp("trained")
    X = sensor_rows(200)
    data = write_csv(
        folder / "ids.csv", ["id", "a", "b", "total"], [[1000 + i, *x] for i, x in enumerate(X)]
    )
    model, out = folder / "model.skae", folder / "scores.csv"
    done = skae("detect", data, "--out", out, "--save-model", model)
    assert done.returncode == 0, done.stderr.decode()
    return {"X": X, "data": data, "model": model, "out": out, "err": done.stderr.decode()}


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
    refused(capsys, lambda: read_table(path), "line 3 of")
    refused(capsys, lambda: read_table(path), "column 'a': 'nan' is not a number")
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
        capsys,
        lambda: main(["score", str(model), str(narrow)]),
        "lacks the column(s) 'total' that the model was trained on",
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


# -- columns by name, ids, bad cells (issue 29) -------------------------------
def test_an_integer_id_column_is_no_feature_and_names_the_rows(trained):
    assert "200 rows, 3 numeric columns" in trained["err"]
    assert "skipped" not in trained["err"]  # the id is recognised, not "skipped"
    assert "  id 1006: anomaly score" in trained["err"]  # the file's id, not a row number
    rows = scores_of(trained["out"])
    assert list(rows[0])[:4] == ["id", "a", "b", "total"]
    worst = max(rows, key=lambda r: float(r["anomaly_score"]))
    assert worst["id"] == "1006" and worst["worst_column"] == "total"


def test_score_takes_the_models_columns_by_name(trained, tmp_path):
    by_id = {r["id"]: r["anomaly_score"] for r in scores_of(trained["out"])}
    X = trained["X"]
    shuffled = write_csv(
        tmp_path / "shuffled.csv",
        ["total", "extra", "a", "id", "b"],
        [[x[2], 7.0, x[0], 1000 + i, x[1]] for i, x in enumerate(X)],
    )
    out = tmp_path / "out.csv"
    done = skae("score", trained["model"], shuffled, "--out", out)
    assert done.returncode == 0, done.stderr.decode()
    assert {r["id"]: r["anomaly_score"] for r in scores_of(out)} == by_id
    renamed = write_csv(
        tmp_path / "renamed.csv", ["id", "a", "b", "sum"], [[i, *x] for i, x in enumerate(X)]
    )
    one_line_error(
        skae("score", trained["model"], renamed),
        "lacks the column(s) 'total' that the model was trained on",
        "'sum'",
    )


def test_the_saved_model_remembers_its_columns(trained):
    import skae as package

    pipeline = package.load(trained["model"])
    assert list(pipeline.feature_names_in_) == ["a", "b", "total"]
    package.save(pipeline, trained["model"].with_suffix(".copy"))
    again = package.load(trained["model"].with_suffix(".copy"))
    assert list(again.feature_names_in_) == ["a", "b", "total"]


def test_detect_on_chosen_columns_equals_the_python_api_and_scores_its_own_file(tmp_path):
    """``--columns total a``: the scores of the same pipeline fitted in Python
    on those columns in that order, and ``score`` accepts the same file."""
    X = sensor_rows(150, seed=2)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "total"], X)
    model, first, second = tmp_path / "m.skae", tmp_path / "1.csv", tmp_path / "2.csv"
    done = skae("detect", data, "--columns", "total", "a", "--save-model", model, "--out", first)
    assert done.returncode == 0, done.stderr.decode()
    cli = np.array([float(r["anomaly_score"]) for r in scores_of(first)])
    pipeline = make_pipeline(StandardScaler(), AEOutlierDetector(random_state=0))
    api = -pipeline.fit(X[:, [2, 0]]).score_samples(X[:, [2, 0]])
    # To float32 rounding: the CLI scales a DataFrame, Python an ndarray, whose
    # float64 means round apart by an ulp; scores near 0 differ by ~5e-7.
    np.testing.assert_allclose(cli, api, rtol=1e-5, atol=1e-6)
    done = skae("score", model, data, "--out", second)
    assert done.returncode == 0, done.stderr.decode()
    assert scores_of(first) == scores_of(second)


@pytest.mark.parametrize(
    "cell, why",
    [
        ("NA", "'NA' is not a number"),
        ("abc", "'abc' is not a number"),
        ("", "an empty cell"),
        ("1e400", "'1e400' is infinite"),
        ("1e300", "'1e300' is beyond float32's range"),
        ("-inf", "'-inf' is infinite"),
    ],
)
def test_a_bad_cell_is_one_line_naming_its_line_and_column(tmp_path, cell, why):
    rows = [[i, float(i), 2.0 * i] for i in range(20)]
    rows[4][2] = cell
    path = write_csv(tmp_path / "bad.csv", ["id", "a", "b"], rows)
    one_line_error(skae("detect", path), f"line 6 of {path}, column 'b': {why}")


def test_drop_bad_columns_leaves_them_out_and_says_so(tmp_path):
    rows = [[float(i), 2.0 * i, 1.0] for i in range(30)]
    rows[3][1] = "NA"
    path = write_csv(tmp_path / "bad.csv", ["a", "b", "c"], rows)
    X, names, skipped = read_table(path, drop_bad_columns=True)
    assert names == ["a", "c"] and skipped == ["b"] and X.shape == (30, 2)
    names, cells, lines = read_cells(path)
    *_, notes = select(names, cells, lines, path, drop_bad_columns=True)[:3]
    assert notes == [("b", "line 5: 'NA' is not a number")]


def test_id_rule_id_column_and_exclude(tmp_path):
    X = sensor_rows(20)

    def features(header, first, **options):
        path = write_csv(tmp_path / "t.csv", header, [[first(i), *x] for i, x in enumerate(X)])
        names, cells, lines = read_cells(path)
        _, feats, skipped, ids, id_name = select(names, cells, lines, path, **options)
        return feats, [name for name, _ in skipped], id_name, ids

    # An integer column named id / index / nothing is the id.
    def seven_on(i):
        return 7 + i

    for name in ("id", "ID", "index", ""):
        feats, skipped, id_name, ids = features([name, "a", "b", "c"], seven_on)
        assert feats == ["a", "b", "c"] and skipped == [] and id_name == name
        assert list(ids[:2]) == ["7", "8"]
    # Named otherwise, or not integers: a feature (the documented rule).
    assert features(["n", "a", "b", "c"], seven_on)[0] == ["n", "a", "b", "c"]
    assert features(["id", "a", "b", "c"], lambda i: i + 0.5)[0] == ["id", "a", "b", "c"]
    # Text is never a feature; --id-column names any column; --exclude drops one.
    feats, skipped, id_name, ids = features(
        ["machine", "a", "b", "c"], lambda i: f"m{i}", id_column="machine", exclude=["b"]
    )
    assert feats == ["a", "c"] and skipped == [] and id_name == "machine" and ids[6] == "m6"


def test_unknown_exclude_and_id_columns_are_named(readings):
    one_line_error(skae("detect", readings, "--exclude", "volts"), "no column 'volts'")
    one_line_error(skae("detect", readings, "--id-column", "serial"), "no column 'serial'")


def test_duplicate_names_are_refused_and_a_bom_is_not_a_header(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a\n1,2,3\n4,5,6\n")
    one_line_error(skae("detect", path), "two columns named 'a'")
    path.write_bytes("\ufeff1,2\n3,4\n5,7\n".encode())
    X, names, _ = read_table(path)  # headerless: all three rows are data
    assert X.tolist() == [[1, 2], [3, 4], [5, 7]] and names == ["column 1", "column 2"]
    path.write_bytes("\ufeffa,b\n3,4\n5,7\n".encode())
    assert read_table(path)[1] == ["a", "b"]  # the first name is 'a', not '\ufeffa'


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_separator_is_sniffed_or_given(tmp_path, sep):
    X = sensor_rows(30)
    path = write_csv(tmp_path / "t.csv", ["a", "b", "c"], X, delimiter=sep)
    got, names, _ = read_table(path)
    assert names == ["a", "b", "c"]
    np.testing.assert_array_equal(got, X)
    assert read_table(path, sep=sep)[1] == ["a", "b", "c"]


def test_a_wrong_separator_gets_a_hint(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["a", "b"], [[1, 2], [3, 4]], delimiter=";")
    one_line_error(skae("detect", path, "--sep", ","), "separated by ';'", "--sep")


def test_errors_count_blank_and_quoted_lines(tmp_path):
    """Line numbers are the file's: a blank line and a quoted cell over two
    lines count."""
    bad = tmp_path / "bad.csv"
    bad.write_text('a,b\n1,2\n\n"3\n",4\n5,x\n')
    with pytest.raises(TableError, match="line 6 of .*column 'b': 'x' is not a number"):
        select(*read_cells(bad), bad)


# -- a data tool's input and output -------------------------------------------
def test_stdin_stdout_and_gzip(trained, tmp_path):
    expected = trained["out"].read_bytes().replace(b"\r\n", b"\n")
    done = skae("score", trained["model"], "-", "--out", "-", stdin=trained["data"].read_bytes())
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.replace(b"\r\n", b"\n") == expected
    packed = tmp_path / "ids.csv.gz"
    packed.write_bytes(gzip.compress(trained["data"].read_bytes()))
    out = tmp_path / "scores.csv.gz"
    done = skae("score", trained["model"], packed, "--out", out, "--quiet")
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()
    assert gzip.decompress(out.read_bytes()).replace(b"\r\n", b"\n") == expected


def test_version_and_help_answer_at_once():
    from skae import __version__

    start = time.perf_counter()
    done = skae("--version")
    assert done.returncode == 0 and done.stdout.decode().strip() == f"skae {__version__}"
    assert skae("detect", "--help").returncode == 0
    # No torch and no scikit-learn before a command needs them.
    check = "import sys, skae._cli; print(sorted({'torch', 'sklearn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert time.perf_counter() - start < 30  # generous: a loaded machine; ~0.2 s each idle


def test_a_closed_pipe_ends_quietly(trained, tmp_path):
    X = sensor_rows(3000, seed=4)
    big = write_csv(
        tmp_path / "big.csv", ["id", "a", "b", "total"], [[i, *x] for i, x in enumerate(X)]
    )
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "skae"]
    process = subprocess.Popen(
        [*command, "score", str(trained["model"]), str(big), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.readline().startswith(b"id,a,b,total,anomaly_score")
    process.stdout.close()  # as `| head -1` does
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert err == "", err


def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path):
    X = sensor_rows(4000, seed=5)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "total"], X)
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "skae"]
    process = subprocess.Popen(
        [*command, "detect", str(data), "--out", str(tmp_path / "o.csv")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    first = process.stderr.readline()
    assert first.startswith(b"read 4000 rows x 3 columns from "), first
    assert process.stderr.readline().startswith(b"training on 4000 rows")
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "skae: interrupted", err
    assert not os.path.exists(tmp_path / "o.csv")


def test_the_docs_page_names_every_option_and_exit_status():
    """docs/cli.md documents each option of each command (and the statuses)."""
    from skae._cli import _parser

    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    parser = _parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    for name, command in commands.items():
        assert f"skae {name}" in page, name
        for action in command._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in page, (name, flag)
    for status in ("| 0 |", "| 2 |", "| 130 |", "| 141 |"):
        assert status in page, status
