"""Hostile model files, each built from a real saved model: one clear ModelFileError.

Every case is a file a saboteur could hand over: valid digests over arrays of
the wrong shape, members that inflate to far more than they hold, a manifest
flagged encrypted, a root that is no estimator... ``skae.load`` must refuse
each with :class:`skae.ModelFileError` naming the problem, without
allocating more than a small multiple of the network the file describes
(peak memory measured with ``resource`` in a subprocess) and without
touching any other file. A save killed part-way leaves the old file intact.
"""

import hashlib
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import skae
from skae import AutoEncoderTransformer, ModelFileError, VQTransformer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
TINY = dict(hidden_layer_sizes=(8,), n_components=4, max_epochs=2, device="cpu", random_state=0)
#: Peak memory a refused load may add to that of loading the good file.
MAX_EXTRA_PEAK_MB = 100


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(40, 6)).astype(np.float32)


@pytest.fixture
def saved(X, tmp_path):
    path = tmp_path / "model.skae"
    skae.save(AutoEncoderTransformer(**TINY).fit(X), path)
    return path


def members_of(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_members(path, members, compress=None):
    """Write ``members`` (name -> bytes); ``compress`` maps names to a zip method."""
    compress = compress or {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=compress.get(name, zipfile.ZIP_DEFLATED))


def edit(path, change_manifest=None, replace=None, compress=None):
    """Rewrite the model at ``path``: the manifest changed, members replaced (re-digested)."""
    members = members_of(path)
    manifest = json.loads(members["skae.json"])
    for name, data in (replace or {}).items():
        members[name] = data
        manifest["sha256"][name] = hashlib.sha256(data).hexdigest()
    if change_manifest is not None:
        change_manifest(manifest)
    members["skae.json"] = json.dumps(manifest).encode()
    write_members(path, members, compress)


def npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def tensor_member(manifest, *keys):
    """The member name of the tensor at ``keys`` of the root's net."""
    node = manifest["object"]["net"][keys[0]]
    for key in keys[1:]:
        node = dict(node["__dict__"])[key]
    return node["__tensor__"]["__array__"]


def load_refused(path, match):
    with pytest.raises(ModelFileError, match=match):
        skae.load(path)


def patch_central_directory(path, name, offset, fmt, value):
    """Set a field of ``name``'s central-directory entry (a zip-level forgery)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    start = data.find(b"PK\x01\x02" + b"", 0)
    while start != -1:
        name_length = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46 : start + 46 + name_length]).decode() == info.filename:
            struct.pack_into(fmt, data, start + offset, value)
            break
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))


# -- 1: optimizer state ----------------------------------------------------------
def test_adam_moments_of_the_wrong_shape_are_refused(saved):
    """(1, 1) moments for (8, 6) weights made fused Adam abort the interpreter."""
    manifest = json.loads(members_of(saved)["skae.json"])
    state = dict(manifest["object"]["net"]["optimizer"]["__dict__"])["state"]
    moments = dict(state["__dict__"][0][1]["__dict__"])
    replace = {moments[key]["__tensor__"]["__array__"]: npy(np.zeros((1, 1), np.float32))
               for key in ("exp_avg", "exp_avg_sq")}  # fmt: skip
    edit(saved, replace=replace)
    load_refused(saved, r"altered.*optimizer state 'exp_avg' .* shape \(8, 6\) has shape \(1, 1\)")


def test_adam_moments_of_another_dtype_are_refused(saved):
    manifest = json.loads(members_of(saved)["skae.json"])
    state = dict(manifest["object"]["net"]["optimizer"]["__dict__"])["state"]
    name = dict(state["__dict__"][0][1]["__dict__"])["exp_avg"]["__tensor__"]["__array__"]
    edit(saved, replace={name: npy(np.zeros((8, 6), np.int64))})
    load_refused(saved, "optimizer state 'exp_avg' is torch.int64")


def test_a_resumed_model_still_trains(saved, X):
    """The checks refuse nothing of a file skae wrote: partial_fit resumes."""
    loaded = skae.load(saved)
    loaded.partial_fit(X)
    assert loaded.n_iter_ == 3


# -- 5: reading failures and the root ------------------------------------------
def test_tampered_weight_shape_says_altered(saved):
    manifest = json.loads(members_of(saved)["skae.json"])
    name = tensor_member(manifest, "module", "encoder.0.weight")
    edit(saved, replace={name: npy(np.zeros((3, 6), np.float32))})
    load_refused(saved, r"altered: weight 'encoder.0.weight' has shape \(3, 6\)")


def test_flipped_byte_in_the_compressed_manifest(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("skae.json")
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start] ^= 0x06  # the first block's type becomes 3, which is invalid (zlib.error)
    saved.write_bytes(bytes(data))
    load_refused(saved, "skae.json")


def test_manifest_flagged_encrypted(saved):
    patch_central_directory(saved, "skae.json", 8, "<H", 0x1)
    load_refused(saved, "'skae.json' is encrypted")


def test_unknown_compression_method(saved):
    patch_central_directory(saved, "skae.json", 10, "<H", 99)
    load_refused(saved, "'skae.json' uses compression method 99")


def test_deeply_nested_json(saved):
    members = members_of(saved)
    deep = b"[" * 100_000 + b"]" * 100_000
    members["skae.json"] = members["skae.json"].replace(b'"lr": 0.001', b'"lr": ' + deep)
    assert deep in members["skae.json"]
    write_members(saved, members)
    load_refused(saved, "cannot read skae.json .RecursionError")


@pytest.mark.parametrize(
    "root", [float("nan"), "AutoEncoderTransformer", {"__optimizer__": "torch.optim.SGD"}, [1]]
)
def test_root_must_be_an_estimator(saved, root):
    edit(saved, lambda manifest: manifest.update(object=root))
    load_refused(saved, "holds no estimator")


# -- 2: sizes ---------------------------------------------------------------------
@pytest.mark.parametrize("method", [zipfile.ZIP_LZMA, zipfile.ZIP_BZIP2])
def test_lzma_and_bzip2_members_are_refused(saved, method):
    manifest = json.loads(members_of(saved)["skae.json"])
    name = tensor_member(manifest, "module", "encoder.0.weight")
    edit(saved, compress={name: method})
    load_refused(saved, f"'{name}' uses compression method {method}")


PEAK_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    import skae
    try:
        skae.load(sys.argv[1])
        outcome = "loaded"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"[:300]
    print(outcome)
    """
)
#: Runs the command after it and prints its peak resident memory in MB. An
#: interpreter started straight from pytest would report pytest's own peak
#: (Linux keeps the peak of the process image that exec replaced); this small
#: one's is a few MB.
MEASURE = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024); "
    "sys.exit(done.returncode)"
)


def peak_load(path, cwd):
    """(peak resident MB, outcome) of ``skae.load(path)`` in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    outcome, peak = done.stdout.strip().splitlines()[-2:]
    return int(peak), outcome


def tree(folder):
    return sorted(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
    )


@pytest.fixture(scope="module")
def baseline_peak(X, tmp_path_factory):
    folder = tmp_path_factory.mktemp("baseline")
    skae.save(AutoEncoderTransformer(**TINY).fit(X), folder / "good.skae")
    peak, outcome = peak_load(folder / "good.skae", folder)
    assert outcome == "loaded"
    return peak


def deflate_bomb(header_array_shape, dtype=np.float32):
    """``.npy`` bytes of zeros of that shape, as a deflated zip member costs little."""
    return npy(np.zeros(header_array_shape, dtype))


def bomb_training_codes(manifest_path):
    manifest = json.loads(members_of(manifest_path)["skae.json"])
    return manifest["object"]["state"]["_training_codes"]["__array__"]


def hidden_layers(sizes):
    def change(manifest):
        obj = manifest["object"]
        obj["params"]["hidden_layer_sizes"] = {"__tuple__": list(sizes)}
        trained = dict(obj["state"]["_trained_with"]["__dict__"])
        trained["hidden_layer_sizes"] = {"__tuple__": list(sizes)}
        obj["state"]["_trained_with"]["__dict__"] = [[k, v] for k, v in trained.items()]

    return change


def vq_codes(n_codes):
    def change(manifest):
        obj = manifest["object"]
        obj["params"]["n_codes"] = n_codes
        trained = dict(obj["state"]["_trained_with"]["__dict__"])
        trained["n_codes"] = n_codes
        obj["state"]["_trained_with"]["__dict__"] = [[k, v] for k, v in trained.items()]

    return change


@pytest.mark.parametrize(
    "case", ["inflating array", "huge string", "huge network", "huge codebook"]
)
def test_small_files_that_would_allocate_gigabytes(case, X, tmp_path, baseline_peak):
    folder = tmp_path / "files"
    folder.mkdir()
    path = folder / "model.skae"
    if case == "huge codebook":
        skae.save(VQTransformer(n_codes=4, **TINY).fit(X), path)
    else:
        skae.save(AutoEncoderTransformer(**TINY).fit(X), path)
    if case == "inflating array":  # 80 MiB of zeros, about 80 KB deflated
        edit(path, replace={bomb_training_codes(path): deflate_bomb((5 * 2**20, 4))})
        match = "arrays are .* bytes, far more than the networks it describes need"
    elif case == "huge string":  # 130 MiB, about 130 KB deflated
        edit(path, lambda manifest: manifest.update(note="x" * (130 * 2**20)))
        match = "skae.json is .* bytes, more than a model file's manifest may be"
    elif case == "huge network":  # 2 x 5000 x 5000 weights, 200 MB built on main
        edit(path, hidden_layers((5000, 5000)))
        match = "altered: its weights are not those of the network it describes"
    else:  # a codebook of 2e7 codes, 320 MB of buffers built on main
        edit(path, vq_codes(20_000_000))
        match = r"altered: weight .* but the network it describes has \(20000000, 4\)"
    assert path.stat().st_size < 2 * 2**20
    before = tree(tmp_path)
    peak, outcome = peak_load(path, folder)
    assert outcome.startswith("ModelFileError"), outcome
    assert __import__("re").search(match, outcome), outcome
    assert peak < baseline_peak + MAX_EXTRA_PEAK_MB, (peak, baseline_peak)
    assert tree(tmp_path) == before  # nothing written, nothing moved, the file untouched


def test_a_refused_load_touches_no_file(saved):
    """A file naming paths outside itself is refused and writes or reads nothing there."""
    folder = saved.parent
    edit(saved, lambda manifest: manifest["sha256"].update({"../../outside.npy": "0" * 64}))
    manifest = json.loads(members_of(saved)["skae.json"])
    manifest["object"]["state"]["n_features_in_"] = {"__array__": "../../outside.npy"}
    members = members_of(saved)
    members["skae.json"] = json.dumps(manifest).encode()
    write_members(saved, members)
    before = tree(folder.parent)
    load_refused(saved, "lacks '../../outside.npy'")
    assert tree(folder.parent) == before


# -- 3: kill during save --------------------------------------------------------------
SAVE_SCRIPT = textwrap.dedent(
    """
    import sys, time, zipfile
    import numpy as np
    import skae
    from skae import AutoEncoderTransformer
    X = np.random.RandomState(1).normal(size=(30, 6)).astype(np.float32)
    model = AutoEncoderTransformer(hidden_layer_sizes=(8,), n_components=4, max_epochs=1,
                                   device="cpu", random_state=1).fit(X)
    write = zipfile.ZipFile.writestr
    def slow(self, *args, **kwargs):
        write(self, *args, **kwargs)
        print("writing", flush=True)
        time.sleep(60)  # killed here, part-way through the archive
    zipfile.ZipFile.writestr = slow
    skae.save(model, sys.argv[1])
    """
)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_save_killed_part_way_keeps_the_old_file(saved, X, how):
    good = saved.read_bytes()
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_SCRIPT, str(saved)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline().strip() == "writing"
        process.send_signal(how)
        process.wait(timeout=60)
    finally:
        process.kill()
    assert saved.read_bytes() == good
    skae.load(saved).transform(X)
    if how == signal.SIGINT:  # KeyboardInterrupt cleans up; SIGKILL and SIGTERM cannot
        assert sorted(p.name for p in saved.parent.iterdir()) == ["model.skae"]


def test_a_save_that_fails_keeps_the_old_file(saved, X):
    good = saved.read_bytes()
    model = AutoEncoderTransformer(**TINY).fit(X)
    model._not_saveable = object()  # found after the manifest was begun
    with pytest.raises(TypeError):
        skae.save(model, saved)
    assert saved.read_bytes() == good
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model.skae"]


def test_save_is_atomic_under_os_replace(saved, X, monkeypatch):
    """The file is written beside the target and moved over it in one step."""
    calls = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (calls.append((a, b)), real(a, b)))
    skae.save(AutoEncoderTransformer(**TINY).fit(X), saved)
    [(source, target)] = calls
    assert os.path.dirname(source) == str(saved.parent) and target == str(saved)
    skae.load(saved)


# -- 6: NaN decisions ---------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_detector(X, tmp_path_factory):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skae import AEOutlierDetector

    folder = tmp_path_factory.mktemp("detector")
    detector = AEOutlierDetector(
        AutoEncoderTransformer(**TINY), n_trim_steps=1, max_samples=None, random_state=0
    )
    detector.set_params(density_weight=1.0)
    skae.save(make_pipeline(StandardScaler(), detector).fit(X), folder / "detector.skae")
    np.savetxt(folder / "rows.csv", X, delimiter=",", header="a,b,c,d,e,f", comments="")
    return folder


def detector_node(manifest):
    """The JSON node of the detector, the last step of the saved pipeline."""
    return manifest["object"]["params"]["steps"][-1]["__tuple__"][1]


@pytest.mark.parametrize("broken", ["offset_", "score_scale_"])
def test_nan_decisions_are_outliers(saved_detector, tmp_path, X, broken, capsys):
    from skae._cli import main

    path = tmp_path / "nan.skae"
    path.write_bytes((saved_detector / "detector.skae").read_bytes())
    manifest = json.loads(members_of(path)["skae.json"])
    state = detector_node(manifest)["state"]
    if broken == "offset_":
        edit(path, lambda m: detector_node(m)["state"].update(offset_=np.nan, threshold_=np.nan))
    else:
        edit(path, replace={state["score_scale_"]["__array__"]: npy([np.nan, np.nan])})
    pipeline = skae.load(path)
    detector = pipeline[-1]
    assert (pipeline.predict(X) == -1).all()
    if broken == "offset_":
        assert detector.labels_.all()
    out = tmp_path / "scores.csv"
    main(["score", str(path), str(saved_detector / "rows.csv"), "--out", str(out)])
    rows = out.read_text().splitlines()[1:]
    assert len(rows) == len(X) and all(row.split(",")[-2] == "1" for row in rows)
    err = capsys.readouterr().err
    assert f"{len(X)} outliers" in err and "NaN" in err, err


# -- 3: the command line's files ---------------------------------------------------------
def test_cli_refuses_out_equal_to_save_model(saved_detector, tmp_path, capsys):
    from skae._cli import main

    target = tmp_path / "both"
    with pytest.raises(SystemExit) as stop:
        main(["detect", str(saved_detector / "rows.csv"), "--out", str(target),
              "--save-model", str(target)])  # fmt: skip
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "--out and --save-model are both" in err and "\n" not in err
    assert not target.exists()


def test_cli_output_failing_part_way_keeps_the_old_file(saved_detector, tmp_path, monkeypatch):
    import csv

    from skae._cli import main

    out = tmp_path / "scores.csv"
    out.write_text("keep me")
    real = csv.writer

    class Failing:
        def __init__(self, handle):
            self.writer, self.rows = real(handle), 0

        def writerow(self, row):
            self.rows += 1
            if self.rows == 3:
                raise KeyboardInterrupt
            self.writer.writerow(row)

    monkeypatch.setattr(csv, "writer", Failing)
    with pytest.raises(SystemExit) as stopped:  # Ctrl-C: one line, exit 130
        main(["score", str(saved_detector / "detector.skae"), str(saved_detector / "rows.csv"),
              "--out", str(out), "--force", "--quiet"])  # fmt: skip
    assert stopped.value.code == 130
    assert out.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]
