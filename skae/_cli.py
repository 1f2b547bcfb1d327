"""The ``skae`` command line: the demo, and anomalies of a CSV file.

``skae detect readings.csv`` trains a standardizing
:class:`~sklearn.pipeline.Pipeline` with :class:`skae.AEOutlierDetector` on
the numeric columns of a CSV (or Parquet) file and writes the file's rows
with three more columns: the anomaly score, whether the row is an anomaly, and
the column it is worst rebuilt in. ``--save-model`` keeps the fitted pipeline (:func:`skae.save`, no
pickle); ``skae score MODEL FILE`` (or ``detect --model``) scores a new file
with it instead of training. A bad file or argument ends the command with one
line on standard error and exit status 2, never a traceback; no existing file
is overwritten without ``--force``.
"""

import argparse
import contextlib
import csv
import os
import sys

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ._demo import run_demo
from ._outlier.detector import AEOutlierDetector
from ._persistence import atomic_write, load, save

#: Cells that parse as floats but are no values a detector can use.
_MISSING = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}


def _is_number(text):
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def _has_header(rows):
    """Whether the first row names the columns.

    It does when a cell of it is not a number in a column whose other cells
    are, or when none of its cells is a number; a column of ids is text in
    every row and says nothing.
    """
    first, rest = rows[0], rows[1:]
    if not any(_is_number(cell) for cell in first):
        return True
    return any(
        not _is_number(cell) and rest and all(_is_number(row[j]) for row in rest if j < len(row))
        for j, cell in enumerate(first)
    )


def _fail(message):
    """End the command with ``message`` on standard error and exit status 2."""
    print(f"skae: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _read_rows(path):
    """The cells of a CSV file, or of a Parquet file (with pandas), as strings."""
    if not os.path.isfile(path):
        _fail(f"{path}: no such file")
    if str(path).lower().endswith((".parquet", ".pq")):
        try:
            import pandas as pd

            frame = pd.read_parquet(path)
        except ImportError:
            _fail("reading Parquet needs pandas and pyarrow: pip install pandas pyarrow")
        except Exception as error:  # noqa: BLE001 - any reader error is one line
            _fail(f"{path}: cannot read as Parquet ({error})")
        header = [str(name) for name in frame.columns]
        return [header] + [
            [repr(v) if isinstance(v, float) else str(v) for v in row]
            for row in frame.itertuples(index=False)
        ]
    try:
        with open(path, newline="") as handle:
            return [row for row in csv.reader(handle) if row]
    except (UnicodeDecodeError, csv.Error) as error:
        _fail(f"{path}: not a readable CSV file ({error})")


def read_table(path, columns=None):
    """The numeric columns of a CSV file: ``(X, names, skipped)``.

    The first line is a header when any of its cells is not a number. A
    column with a cell that is not a number is skipped (an id, a label);
    an empty cell is an error, since detectors need every value.
    ``columns``, if given, are the names of the columns to use.
    """
    return _read_table(path, columns)[:3]


def _read_table(path, columns=None):
    """:func:`read_table`, plus the file's column names and rows of cells."""
    rows = _read_rows(path)
    if not rows:
        _fail(f"{path} has no rows")
    header = None
    if _has_header(rows):
        header, rows = rows[0], rows[1:]
    if not rows:
        _fail(f"{path} has a header but no data rows")
    width = len(header) if header else len(rows[0])
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            _fail(f"line {number} of {path} has {len(row)} cells, not {width}")
        if any(cell.strip() == "" or cell.strip().lower() in _MISSING for cell in row):
            _fail(
                f"line {number} of {path} has an empty, NaN or infinite cell; "
                "fill or drop missing values first"
            )
    names = header or [f"column {j + 1}" for j in range(width)]
    wanted = range(width)
    if columns:
        unknown = [c for c in columns if c not in names]
        if unknown:
            _fail(f"{path} has no column {', '.join(map(repr, unknown))}; it has {names}")
        wanted = [names.index(c) for c in columns]
    numeric = [j for j in wanted if all(_is_number(row[j]) for row in rows)]
    skipped = [names[j] for j in wanted if j not in numeric]
    if columns and skipped:
        _fail(f"column {skipped[0]!r} of {path} is not numeric")
    if not numeric:
        _fail(f"{path} has no numeric column")
    X = np.array([[float(row[j]) for j in numeric] for row in rows], dtype=np.float64)
    return X, [names[j] for j in numeric], skipped, names, rows


def _contamination(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"give 'auto' or a share in (0, 0.5], not {text!r}")
    return value


def _check_new_file(path, force):
    """Refuse to overwrite ``path`` unless ``force``."""
    if path and os.path.exists(path) and not force:
        _fail(f"{path} exists; add --force to overwrite it")


def _load_detector(path):
    """The saved pipeline (or bare detector) at ``path``, as a pipeline."""
    if not os.path.isfile(path):
        _fail(f"{path}: no such model file")
    try:
        pipeline = load(path)
    except (ValueError, TypeError, OSError) as error:
        _fail(f"{path}: not a skae model file ({error})")
    if not isinstance(pipeline, Pipeline):
        pipeline = Pipeline([("detector", pipeline)])
    if not isinstance(pipeline[-1], AEOutlierDetector):
        _fail(f"{path} holds no AEOutlierDetector")
    return pipeline


def detect(args):
    if (
        args.out
        and args.save_model
        and os.path.abspath(args.out) == os.path.abspath(args.save_model)
    ):
        _fail(f"--out and --save-model are both {args.out}; give two files")
    _check_new_file(args.out, args.force)
    _check_new_file(args.save_model, args.force)
    pipeline = _load_detector(args.model) if args.model else None
    X, names, skipped, all_names, cells = _read_table(args.input, args.columns)
    say = (lambda *a: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    if pipeline is not None and X.shape[1] != pipeline[0].n_features_in_:
        _fail(
            f"the model in {args.model} was trained on {pipeline[0].n_features_in_} numeric "
            f"columns; {args.input} has {X.shape[1]}"
        )
    for name in skipped:
        say(f"skipped column {name!r}: not numeric")
    if pipeline is None:
        say(f"training on {len(X)} rows x {len(names)} columns ...")
        # Progress on standard error (standard output may be the scores): a
        # line per autoencoder fit, and on a terminal the epochs' progress bars.
        verbose = 0 if args.quiet else 2 if sys.stderr.isatty() else 1
        detector = AEOutlierDetector(
            contamination=args.contamination, random_state=args.random_state, verbose=verbose
        )
        with contextlib.redirect_stdout(sys.stderr):
            pipeline = make_pipeline(StandardScaler(), detector).fit(X)
        detector.set_params(verbose=0)  # a saved model stays quiet
    if args.save_model:
        save(pipeline, args.save_model)
    scaled = pipeline[:-1].transform(X) if len(pipeline) > 1 else X
    detector = pipeline[-1]
    anomaly = -detector.score_samples(scaled)
    # predict's own rule (a NaN decision is an outlier), without scoring twice.
    outlier = ~((-anomaly - detector.offset_) >= 0)
    errors = detector.reconstruction_error(scaled, per_feature=True) / detector.feature_scale_
    worst = [names[j] for j in np.argmax(errors, axis=1)]

    # A file is written whole or not at all (a killed run keeps the old one).
    with (
        atomic_write(args.out, "w", newline="")
        if args.out
        else contextlib.nullcontext(sys.stdout) as out
    ):
        writer = csv.writer(out)
        writer.writerow([*all_names, "anomaly_score", "is_anomaly", "worst_column"])
        for i, row in enumerate(cells):
            writer.writerow([*row, f"{anomaly[i]:.10g}", int(outlier[i]), worst[i]])
    say(
        f"{len(X)} rows, {len(names)} numeric columns: {int(outlier.sum())} outliers "
        f"({outlier.mean():.1%}; anomaly score above {detector.threshold_:.4g})"
    )
    if not np.isfinite(detector.threshold_) or np.isnan(anomaly).any():
        say(
            "warning: the model gives NaN scores or a NaN threshold; those rows are counted "
            "as outliers (the model file may be damaged)"
        )
    for i in np.argsort(np.nan_to_num(anomaly, nan=np.inf))[::-1][: min(5, int(outlier.sum()))]:
        say(f"  row {i + 1}: anomaly score {anomaly[i]:.4g}, worst rebuilt column {worst[i]!r}")


def main(argv=None):
    """Run the ``skae`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    parser = argparse.ArgumentParser(
        prog="skae", description="skae on the command line: the demo, and anomalies of a CSV file."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="an autoencoder against PCA on scikit-learn's digits")
    demo.add_argument("--n-components", type=int, default=8)
    demo.add_argument("--out", default="demo_output", help="folder for the figure")
    demo.add_argument("--random-state", type=int, default=0)

    find = sub.add_parser(
        "detect",
        help="anomalies of the rows of a CSV file",
        description="Train an autoencoder outlier detector on the numeric columns of a CSV "
        "file (or load one with --model) and write its rows with their anomaly score, "
        "whether each is an anomaly, and the column it is worst rebuilt in.",
    )
    find.add_argument("input", help="CSV file (a header line is optional) or Parquet file")
    find.add_argument(
        "--contamination",
        type=_contamination,
        default="auto",
        help="expected share of outliers, e.g. 0.05, or 'auto' (default)",
    )
    find.add_argument("--random-state", type=int, default=0)
    find.add_argument("--save-model", help="write the fitted pipeline here (skae.save)")
    find.add_argument("--model", help="score with this saved pipeline instead of training")
    score = sub.add_parser(
        "score",
        help="score the rows of a file with a saved detector",
        description="Score the rows of a CSV or Parquet file with a pipeline saved by "
        "'skae detect --save-model'; the file needs the numeric columns it was trained on.",
    )
    score.add_argument("model", help="model file written by skae detect --save-model")
    score.add_argument("input", help="CSV or Parquet file")
    for command in (find, score):
        command.add_argument(
            "--out", "--output", dest="out", help="CSV file to write (default: standard output)"
        )
        command.add_argument("--columns", nargs="+", help="use these columns only (by name)")
        command.add_argument("--force", action="store_true", help="overwrite existing files")
        command.add_argument("--quiet", action="store_true", help="print no summary")

    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.n_components, args.out, args.random_state)
        return
    if args.command == "score":
        args.save_model = None
    detect(args)
