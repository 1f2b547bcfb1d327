"""Robustness: every estimator against a grid of awkward inputs.

For each public estimator, the same grid of inputs (rows 0/1/2/9, columns
0/1/3, five dtypes, NaN/inf/huge/tiny values, constant and duplicate columns,
lists, pandas and sparse containers) is given to

- ``fit`` of a fresh estimator,
- the inference methods of an estimator fitted on clean data (3 columns),
- ``partial_fit`` of that fitted estimator (where it has one),

and each outcome is counted as: worked (finite output; errors and scores may
be inf), a clear error (``ValueError``, ``TypeError`` or
``TrainingDivergedError`` with a message), an unclear error (any other
exception), a NaN output, or, after a failed call on a fitted estimator, a
poisoned state (its outputs on clean rows changed). Goals: 0 unclear errors,
0 NaN outputs, 0 poisoned states. The report ends with a catalogue: each kind
of input and what ``AutoEncoderTransformer.fit`` does with it.

It also forges hostile model files from real saved models (wrong-shaped
optimizer state, members that inflate, LZMA/BZIP2/encrypted members, deep
JSON, roots that are no estimator, networks far larger than their weights,
...) and counts how ``skae.load`` answers each (goal: ``ModelFileError``
every time, no file touched), and kills saves part-way with SIGKILL, SIGTERM
and SIGINT (goal: the file on disk always loads).

Usage::

    python benchmarks/bench_robustness.py            # writes results/robustness.md
    python benchmarks/bench_robustness.py --sections files kill   # the fast sections
    python benchmarks/bench_robustness.py --no-write
"""

import copy
import hashlib
import io
import itertools
import json
import pickle
import struct
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _common import (
    command_line,
    markdown_table,
    produced_by,
    single_thread,
)

import skae
from skae import (
    AEOutlierDetector,
    AutoEncoderTransformer,
    DenoisingAutoEncoder,
    DisentangledAutoEncoder,
    ModelFileError,
    TrainingDivergedError,
    VariationalAutoEncoder,
    VQTransformer,
)

TINY = dict(hidden_layer_sizes=(4,), max_epochs=2, batch_size=8, device="cpu", random_state=0)
ESTIMATORS = {
    "AutoEncoderTransformer": lambda: AutoEncoderTransformer(n_components=2, **TINY),
    "DenoisingAutoEncoder": lambda: DenoisingAutoEncoder(n_components=2, noise="masking", **TINY),
    "VQTransformer": lambda: VQTransformer(n_codes=4, n_components=2, **TINY),
    "AEOutlierDetector": lambda: AEOutlierDetector(AutoEncoderTransformer(n_components=2, **TINY)),
    "DisentangledAutoEncoder": lambda: DisentangledAutoEncoder(n_components=2, group_dim=2, **TINY),
}
CLEAR = (ValueError, TypeError, TrainingDivergedError)
#: Outputs that may hold inf (a row that cannot be rebuilt), never NaN.
MAY_BE_INF = {"reconstruction_error", "score_samples", "decision_function"}


# -- the grid of inputs -------------------------------------------------------
def make_input(n_rows, n_cols, scale, special, constant, dtype, container):
    values = np.random.RandomState(0).normal(size=(n_rows, n_cols)) * scale
    if n_rows and n_cols:
        if special is not None:
            values[0, 0] = special
        if constant:
            values[:, 0] = values[0, 0]
            if n_cols > 1:
                values[:, 1] = values[:, 0]
    with np.errstate(all="ignore"):
        table = values.astype(dtype) if dtype != "object" else values.astype(str).astype(object)
    if container == "list":
        return table.tolist()
    if container == "pandas":
        return pd.DataFrame(table, columns=[f"c{i}" for i in range(n_cols)])
    if container == "sparse" and dtype.startswith("float") and n_rows and n_cols:
        return sp.csr_matrix(table)
    return table


def grid(n_cols_choices=(0, 1, 3)):
    """``(description, X)`` for every input of the grid."""
    axes = dict(
        n_rows=(0, 1, 2, 9),
        n_cols=n_cols_choices,
        scale=(1.0, 1e-30, 1e30, 3e38),
        special=(None, np.nan, np.inf),
        constant=(False, True),
        dtype=("float32", "float64", "int64", "bool", "object"),
        container=("array", "list", "pandas", "sparse"),
    )
    for values in itertools.product(*axes.values()):
        case = dict(zip(axes, values))
        yield case, make_input(**case)


def n_items(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


# -- calling ------------------------------------------------------------------
def call(estimator, method, X):
    disentangled = isinstance(estimator, DisentangledAutoEncoder)
    args = (X, np.arange(n_items(X)) % 2) if disentangled else (X,)
    if method in ("fit", "partial_fit", "reconstruction_error") or (
        method == "score" and disentangled
    ):
        return getattr(estimator, method)(*args)
    return getattr(estimator, method)(X)


def inference_methods(estimator):
    if isinstance(estimator, AEOutlierDetector):
        return ["score_samples", "decision_function", "predict"]
    return ["transform", "reconstruction_error"]


def outcome(fn, method):
    """One of worked / clear error / unclear error / NaN output, and a detail."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except CLEAR as exc:
        return ("clear error" if str(exc) else "unclear error"), f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
        return "unclear error", f"{type(exc).__name__}: {exc}"
    if method in ("fit", "partial_fit"):
        return "worked", ""
    out = np.asarray(out, dtype=float)
    if np.isnan(out).any():
        return "NaN output", method
    if method not in MAY_BE_INF and not np.isfinite(out).all():
        return "NaN output", f"{method} gave inf"
    return "worked", ""


def fingerprint(estimator, X_clean):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [np.asarray(call(estimator, m, X_clean)) for m in inference_methods(estimator)]


def run_estimator(name, make):
    counts = {kind: Counter() for kind in ("fit", "inference", "partial_fit")}
    examples = []
    X_clean = np.random.RandomState(1).normal(size=(40, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = call(make(), "fit", X_clean)
    reference = fingerprint(fitted, X_clean)
    for case, X in grid():
        result, detail = outcome(lambda: call(make(), "fit", X), "fit")
        counts["fit"][result] += 1
        if result in ("unclear error", "NaN output"):
            examples.append((case, "fit", detail))
        if case["n_cols"] != 3:
            continue
        for method in inference_methods(fitted):
            result, detail = outcome(lambda: call(fitted, method, X), method)
            counts["inference"][result] += 1
            if result in ("unclear error", "NaN output"):
                examples.append((case, method, detail))
        if hasattr(fitted, "partial_fit"):
            trained = copy.deepcopy(fitted)
            result, detail = outcome(lambda: call(trained, "partial_fit", X), "partial_fit")
            if result != "worked":
                after = fingerprint(trained, X_clean)
                if any(not np.array_equal(a, b) for a, b in zip(reference, after)):
                    result = "poisoned state"
            counts["partial_fit"][result] += 1
    return counts, examples


# -- the catalogue --------------------------------------------------------------
CATALOGUE = [
    ("no rows", dict(n_rows=0, n_cols=3)),
    ("one row", dict(n_rows=1, n_cols=3)),
    ("no columns", dict(n_rows=9, n_cols=0)),
    ("one column", dict(n_rows=9, n_cols=1)),
    ("a NaN", dict(special=np.nan)),
    ("an inf", dict(special=np.inf)),
    ("values ~1e30 (finite in float32)", dict(scale=1e30)),
    ("values ~3e38 (beyond float32)", dict(scale=3e38)),
    ("values ~1e-30", dict(scale=1e-30)),
    ("constant and duplicate columns", dict(constant=True)),
    ("int64", dict(dtype="int64")),
    ("bool", dict(dtype="bool")),
    ("strings (object)", dict(dtype="object")),
    ("a list of lists", dict(container="list")),
    ("a pandas DataFrame", dict(container="pandas")),
    ("a scipy sparse matrix", dict(container="sparse")),
]


def catalogue():
    rows = []
    base = dict(
        n_rows=9,
        n_cols=3,
        scale=1.0,
        special=None,
        constant=False,
        dtype="float64",
        container="array",
    )
    for label, change in CATALOGUE:
        X = make_input(**{**base, **change})
        result, detail = outcome(
            lambda: call(ESTIMATORS["AutoEncoderTransformer"](), "fit", X), "fit"
        )
        detail = detail.replace("|", "/").split("\n")[0][:150]
        rows.append([label, result, detail])
    return markdown_table(["input", "outcome", "message"], rows, align="lll")


# -- hostile model files ----------------------------------------------------------
def _members(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write(path, members, compress=None):
    compress = compress or {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=compress.get(name, zipfile.ZIP_DEFLATED))


def _edit(path, change=None, replace=None, compress=None, redigest=True):
    members = _members(path)
    manifest = json.loads(members["skae.json"])
    for name, data in (replace or {}).items():
        members[name] = data
        if redigest:
            manifest["sha256"][name] = hashlib.sha256(data).hexdigest()
    if change is not None:
        change(manifest)
    members["skae.json"] = json.dumps(manifest).encode()
    _write(path, members, compress)


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _net_tensor(manifest, part, index=0):
    node = manifest["object"]["net"][part]
    if part == "module":
        return node["__dict__"][index][1]["__tensor__"]["__array__"]
    state = dict(node["__dict__"])["state"]["__dict__"][0][1]["__dict__"]
    return dict(state)["exp_avg"]["__tensor__"]["__array__"], dict(state)["exp_avg_sq"][
        "__tensor__"
    ]["__array__"]


def _patch_directory(path, name, offset, fmt, value):
    data = bytearray(path.read_bytes())
    start = data.find(b"PK\x01\x02")
    while start != -1:
        length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46 : start + 46 + length]).decode() == name:
            struct.pack_into(fmt, data, start + offset, value)
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))


def _set_param(name, value):
    def change(manifest):
        obj = manifest["object"]
        obj["params"][name] = value
        trained = dict(obj["state"]["_trained_with"]["__dict__"])
        trained[name] = value
        obj["state"]["_trained_with"]["__dict__"] = [[k, v] for k, v in trained.items()]

    return change


def _flip_manifest(path):
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("skae.json")
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + name_length + extra_length] ^= 0x06
    path.write_bytes(bytes(data))


def hostile_cases(manifest, vq):
    """``{case: f(path)}``: each turns a saved model file into a hostile one."""
    weight = _net_tensor(manifest, "module")
    moments = _net_tensor(manifest, "optimizer")
    codes = manifest["object"]["state"]["_training_codes"]["__array__"]
    deep = b"[" * 100_000 + b"]" * 100_000
    cases = {
        "Adam moments (1, 1)": lambda p: _edit(
            p, replace={m: _npy(np.zeros((1, 1), np.float32)) for m in moments}
        ),
        "Adam moments int64": lambda p: _edit(
            p, replace={moments[0]: _npy(np.zeros((1, 1), np.int64))}
        ),
        "weight of another shape": lambda p: _edit(
            p, replace={weight: _npy(np.zeros((3, 3), np.float32))}
        ),
        "weight bytes altered": lambda p: _edit(
            p, replace={weight: _npy(np.ones((3, 3), np.float32))}, redigest=False
        ),
        "pickle payload member": lambda p: _edit(p, replace={weight: pickle.dumps(print)}),
        "LZMA member": lambda p: _edit(p, compress={weight: zipfile.ZIP_LZMA}),
        "BZIP2 member": lambda p: _edit(p, compress={weight: zipfile.ZIP_BZIP2}),
        "unknown compression": lambda p: _patch_directory(p, "skae.json", 10, "<H", 99),
        "manifest flagged encrypted": lambda p: _patch_directory(p, "skae.json", 8, "<H", 1),
        "flipped byte in the manifest": _flip_manifest,
        "JSON nested 100,000 deep": lambda p: _write(
            p,
            {
                **_members(p),
                "skae.json": _members(p)["skae.json"].replace(b'"lr": 0.001', b'"lr": ' + deep),
            },
        ),
        "root NaN": lambda p: _edit(p, lambda m: m.update(object=float("nan"))),
        "root a string": lambda p: _edit(p, lambda m: m.update(object="skae.VQTransformer")),
        "root torch.optim.SGD": lambda p: _edit(
            p, lambda m: m.update(object={"__optimizer__": "torch.optim.SGD"})
        ),
        "class os.system": lambda p: _edit(
            p, lambda m: m["object"].update(__estimator__="os.system")
        ),
        "attribute __class__": lambda p: _edit(
            p, lambda m: m["object"]["state"].update(__class__=1)
        ),
        "member ../outside.npy": lambda p: _edit(
            p, lambda m: m["object"]["state"].update(n_features_in_={"__array__": "../x.npy"})
        ),
        "truncated file": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
        "130 MiB string in skae.json": lambda p: _edit(p, lambda m: m.update(n="x" * 130 * 2**20)),
        "array inflating to 80 MiB": lambda p: _edit(
            p, replace={codes: _npy(np.zeros((5 * 2**20, 4), np.float32))}
        ),
        "hidden_layer_sizes (5000, 5000)": lambda p: _edit(
            p, _set_param("hidden_layer_sizes", {"__tuple__": [5000, 5000]})
        ),
    }
    if vq:
        cases["n_codes 2e7"] = lambda p: _edit(p, _set_param("n_codes", 20_000_000))
    return cases


def run_hostile_files(folder):
    """Outcome of ``skae.load`` on every hostile case of three saved models."""
    X = np.random.RandomState(1).normal(size=(40, 3)).astype(np.float32)
    models = {
        "AutoEncoderTransformer": ESTIMATORS["AutoEncoderTransformer"],
        "VQTransformer": ESTIMATORS["VQTransformer"],
        "VariationalAutoEncoder": lambda: VariationalAutoEncoder(n_components=2, **TINY),
    }
    counts, misses, slowest = Counter(), [], 0.0
    for name, make in models.items():
        good = folder / f"{name}.skae"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            skae.save(make().fit(X), good)
        manifest = json.loads(_members(good)["skae.json"])
        for case, forge in hostile_cases(manifest, name == "VQTransformer").items():
            path = folder / "hostile.skae"
            path.write_bytes(good.read_bytes())
            forge(path)
            before = sorted(p.name for p in folder.iterdir())
            start = time.perf_counter()
            try:
                skae.load(path)
                result = "loaded"
            except ModelFileError as exc:
                result = "ModelFileError" if str(exc) else "other error"
            except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
                result, exc = "other error", exc
            slowest = max(slowest, time.perf_counter() - start)
            if sorted(p.name for p in folder.iterdir()) != before:
                result = "touched a file"
            counts[result] += 1
            if result != "ModelFileError":
                misses.append(f"{name}: {case}: {result}")
    return counts, misses, slowest


KILL_SCRIPT = """
import sys, time
import numpy as np
import skae
model = skae.AutoEncoderTransformer(hidden_layer_sizes=(256, 256), max_epochs=1, device="cpu",
                                    random_state=0).fit(np.zeros((8, 64), np.float32))
print("ready", flush=True)
while True:
    skae.save(model, sys.argv[1])
"""


def run_killed_saves(folder, trials=3):
    """Saves killed at random moments over a good file: is a loadable file always left?"""
    import signal
    import subprocess
    import sys

    good = folder / "model.skae"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        skae.save(ESTIMATORS["AutoEncoderTransformer"]().fit(np.zeros((9, 3), np.float32)), good)
    counts = Counter()
    rng = np.random.RandomState(0)
    for how in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
        for _ in range(trials):
            process = subprocess.Popen(
                [sys.executable, "-c", KILL_SCRIPT, str(good)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # a KeyboardInterrupt's traceback
                text=True,
            )
            process.stdout.readline()
            time.sleep(rng.uniform(0.05, 0.5))
            process.send_signal(how)
            process.wait(timeout=60)
            try:
                skae.load(good)
                counts[f"{signal.Signals(how).name}: file intact"] += 1
            except ModelFileError:
                counts[f"{signal.Signals(how).name}: file destroyed"] += 1
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    skae.save(ESTIMATORS["AutoEncoderTransformer"]().fit(np.zeros((9, 3))), good)
    return counts


def files_report(hostile, killed):
    counts, misses, slowest = hostile
    lines = [
        "## Hostile model files and killed saves",
        "",
        "Generated by `python benchmarks/bench_robustness.py` (these sections alone: "
        "`--sections files kill`). Each hostile "
        f"case is made from a real saved model (AutoEncoderTransformer, VQTransformer, "
        f"VariationalAutoEncoder): {sum(counts.values())} files; goal: every one refused with "
        "`ModelFileError`, no file touched, nothing loaded. The slowest refusal took "
        f"{slowest:.2f} s.",
        "",
        "| outcome | files |",
        "|---|---:|",
        *[
            f"| {k} | {counts[k]} |"
            for k in ("ModelFileError", "other error", "loaded", "touched a file")
        ],
        "",
    ]
    lines += [f"- missed: {m}" for m in misses] + ([""] if misses else [])
    lines += [
        "A process saving a model in a loop over a good file, killed after 0.05-0.5 s; goal: "
        "the file loads after every kill.",
        "",
        "| signal and outcome | trials |",
        "|---|---:|",
        *[f"| {k} | {v} |" for k, v in sorted(killed.items())],
    ]
    return "\n".join(lines) + "\n"


# -- report ---------------------------------------------------------------------
def report(results, elapsed):
    outcomes = ("worked", "clear error", "unclear error", "NaN output", "poisoned state")
    table, examples = [], []
    for name, (counts, found) in results.items():
        for kind, counter in counts.items():
            if counter:
                table.append([name, kind, sum(counter.values()), *(counter[k] for k in outcomes)])
        examples += [(name, *item) for item in found]
    lines = [
        "# Robustness: awkward inputs against every estimator",
        "",
        f"{produced_by('python benchmarks/bench_robustness.py', elapsed)} "
        "Each estimator gets the same grid of inputs (rows 0/1/2/9 x columns 0/1/3 x scale "
        "1, 1e-30, 1e30, 3e38 x none/NaN/inf x with or without constant and duplicate "
        "columns x float32/float64/int64/bool/object x array/list/pandas/sparse): `fit` of a fresh "
        "estimator on all of them, inference and `partial_fit` of an estimator fitted on clean "
        "data on the 3-column ones. Goals: 0 unclear errors, 0 NaN outputs, 0 poisoned states.",
        "",
        markdown_table(["estimator", "call", "cases", *outcomes], table, align="llrrrrrr"),
    ]
    if examples:
        lines += ["", "## Cases that missed the goals", ""]
        lines += [
            f"- {name} `{method}` on {case}: {detail[:200]}"
            for name, case, method, detail in examples[:40]
        ]
    lines += [
        "",
        "## Catalogue: input -> what `AutoEncoderTransformer().fit` does",
        "",
        "Nine rows by three float64 columns unless the input says otherwise; every estimator "
        "validates the same way.",
        "",
        catalogue(),
    ]
    return "\n".join(lines) + "\n"


SECTIONS = ("inputs", "files", "kill")
FILES_HEADING = "## Hostile model files and killed saves"


def main(argv=None):
    parser = command_line(__doc__, "robustness.md")
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="inputs: the grid of awkward inputs (minutes); files: hostile model files; "
        "kill: saves killed part-way. Sections not run keep their text in the report.",
    )
    args = parser.parse_args(argv)
    target = args.out
    previous = target.read_text() if target.exists() else ""
    inputs_text, _, files_text = previous.partition(FILES_HEADING)
    files_text = FILES_HEADING + files_text if files_text else ""
    start = time.perf_counter()
    with single_thread():
        if "inputs" in args.sections:
            results = {}
            for name in args.estimators:
                results[name] = run_estimator(name, ESTIMATORS[name])
                print(name, {k: dict(v) for k, v in results[name][0].items()}, flush=True)
            inputs_text = report(results, time.perf_counter() - start)
        if "files" in args.sections or "kill" in args.sections:
            with tempfile.TemporaryDirectory() as folder:
                folder = Path(folder)
                (folder / "files").mkdir()
                (folder / "kill").mkdir()
                hostile = run_hostile_files(folder / "files") if "files" in args.sections else None
                killed = run_killed_saves(folder / "kill") if "kill" in args.sections else None
            files_text = files_report(hostile or (Counter(), [], 0.0), killed or Counter())
    text = inputs_text.rstrip("\n") + "\n\n" + files_text
    print(text)
    if not args.no_write:
        target.write_text(text)


if __name__ == "__main__":
    main()
