"""The ``skae`` command line: the demo, and anomalies of a CSV file.

``skae detect readings.csv`` trains a standardizing
:class:`~sklearn.pipeline.Pipeline` with :class:`skae.AEOutlierDetector` on
the numeric columns of a CSV file and writes, for every row, its anomaly
score, whether it is an outlier, and the column it is worst rebuilt in.
``--save-model`` keeps the fitted pipeline (:func:`skae.save`, no pickle);
``--model`` scores a new file with it instead of training.
"""

import argparse
import csv
import sys

import numpy as np
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ._demo import run_demo
from ._outlier import AEOutlierDetector
from ._persistence import load, save

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


def read_table(path):
    """The numeric columns of a CSV file: ``(X, names, skipped)``.

    The first line is a header when any of its cells is not a number. A
    column with a cell that is not a number is skipped (an id, a label);
    an empty cell is an error, since detectors need every value.
    """
    with open(path, newline="") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise SystemExit(f"error: {path} has no rows")
    header = None
    if _has_header(rows):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise SystemExit(f"error: {path} has a header but no data rows")
    width = len(header) if header else len(rows[0])
    for number, row in enumerate(rows, start=2 if header else 1):
        if len(row) != width:
            raise SystemExit(f"error: line {number} of {path} has {len(row)} cells, not {width}")
        if any(cell.strip() == "" or cell.strip().lower() in _MISSING for cell in row):
            raise SystemExit(
                f"error: line {number} of {path} has an empty, NaN or infinite cell; "
                "fill or drop missing values first"
            )
    names = header or [f"column {j + 1}" for j in range(width)]
    numeric = [j for j in range(width) if all(_is_number(row[j]) for row in rows)]
    skipped = [names[j] for j in range(width) if j not in numeric]
    if not numeric:
        raise SystemExit(f"error: {path} has no numeric column")
    X = np.array([[float(row[j]) for j in numeric] for row in rows], dtype=np.float64)
    return X, [names[j] for j in numeric], skipped


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


def detect(args):
    X, names, skipped = read_table(args.input)
    for name in skipped:
        print(f"skipped column {name!r}: not numeric", file=sys.stderr)
    if args.model:
        pipeline = load(args.model)
        if not isinstance(pipeline, Pipeline):
            pipeline = Pipeline([("detector", pipeline)])
        if not isinstance(pipeline[-1], AEOutlierDetector):
            raise SystemExit(f"error: {args.model} holds no AEOutlierDetector")
    else:
        detector = AEOutlierDetector(
            contamination=args.contamination, random_state=args.random_state
        )
        pipeline = make_pipeline(StandardScaler(), detector).fit(X)
    if args.save_model:
        save(pipeline, args.save_model)
    scaled = pipeline[:-1].transform(X) if len(pipeline) > 1 else X
    detector = pipeline[-1]
    anomaly = -detector.score_samples(scaled)
    # predict's own rule, without scoring the rows a second time.
    outlier = (-anomaly - detector.offset_) < 0
    errors = detector.reconstruction_error(scaled, per_feature=True) / detector.feature_scale_
    worst = [names[j] for j in np.argmax(errors, axis=1)]

    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["row", "anomaly_score", "outlier", "worst_column"])
        for i in range(len(X)):
            writer.writerow([i + 1, f"{anomaly[i]:.6g}", int(outlier[i]), worst[i]])
    finally:
        if args.out:
            out.close()
    print(
        f"{len(X)} rows, {len(names)} numeric columns: {int(outlier.sum())} outliers "
        f"(anomaly score above {detector.threshold_:.4g})",
        file=sys.stderr,
    )


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
        "file (or load one with --model) and write each row's anomaly score, whether it is "
        "an outlier, and the column it is worst rebuilt in.",
    )
    find.add_argument("input", help="CSV file; a header line is optional")
    find.add_argument("--out", help="CSV file to write (default: standard output)")
    find.add_argument(
        "--contamination",
        type=_contamination,
        default="auto",
        help="expected share of outliers, e.g. 0.05, or 'auto' (default)",
    )
    find.add_argument("--random-state", type=int, default=0)
    find.add_argument("--save-model", help="write the fitted pipeline here (skae.save)")
    find.add_argument("--model", help="score with this saved pipeline instead of training")

    args = parser.parse_args(argv)
    if args.command == "demo":
        run_demo(args.n_components, args.out, args.random_state)
    else:
        detect(args)
