"""skae.save / skae.load: a model file format that never unpickles."""

import hashlib
import io
import json
import pickle
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    PolynomialFeatures,
    PowerTransformer,
    QuantileTransformer,
    StandardScaler,
)

import skae
from skae import (
    AEOutlierDetector,
    AutoEncoderTransformer,
    DenoisingAutoEncoder,
    DisentangledAutoEncoder,
    ModelFileError,
    VQTransformer,
)

from _registry import AUTOENCODERS, ESTIMATOR_CLASSES, call, make, needs_y, output_methods

# Short fits are deliberate here; the warning is tested in test_autoencoder.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, device="cpu", random_state=0)


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(120, 6)).astype(np.float32)


@pytest.fixture
def no_pickle(monkeypatch):
    """Make every way of unpickling fail for the duration of the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    class RefusingUnpickler(pickle.Unpickler):
        # A class, not a function: modules imported meanwhile may subclass it.
        load = refuse

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", RefusingUnpickler)
    monkeypatch.setattr(torch, "load", refuse)


def roundtrip(estimator, tmp_path, **load_kwargs):
    path = tmp_path / "model.skae"
    skae.save(estimator, path)
    return skae.load(path, **load_kwargs)


#: The autoencoders of rows; the denoising one with the noise that keeps
#: donor rows, VQ with two codebooks.
ROW_AUTOENCODERS = [cls for cls in AUTOENCODERS if not needs_y(cls())]
OWN = {
    DenoisingAutoEncoder: dict(noise="swap", noise_level=0.2),
    VQTransformer: dict(n_codebooks=2),
}


@pytest.mark.parametrize("cls", ROW_AUTOENCODERS, ids=lambda cls: cls.__name__)
def test_row_estimators_roundtrip_exactly(cls, X, tmp_path, no_pickle):
    estimator = make(cls, **FAST, **OWN.get(cls, {})).fit(X)
    loaded = roundtrip(estimator, tmp_path)
    assert type(loaded) is type(estimator)
    assert loaded.get_params() == estimator.get_params()
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))
    np.testing.assert_array_equal(
        loaded.sample(5, random_state=0), estimator.sample(5, random_state=0)
    )
    assert loaded.score(X) == estimator.score(X)
    assert len(loaded.history_) == len(estimator.history_)


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_public_estimator_roundtrips(cls, X, tmp_path, no_pickle):
    estimator = call(make(cls, **FAST), "fit", X)
    loaded = roundtrip(estimator, tmp_path)
    assert type(loaded) is cls
    methods = output_methods(estimator)
    assert methods
    for method in methods:
        np.testing.assert_array_equal(call(loaded, method, X), call(estimator, method, X))


def test_training_resumes_exactly_after_a_save(X, tmp_path):
    """Checkpoint and resume: three epochs, save, load, three more, as six in one go."""
    straight = AutoEncoderTransformer(dropout=0.2, **FAST)
    for _ in range(6):
        straight.partial_fit(X)
    resumed = AutoEncoderTransformer(dropout=0.2, **FAST)
    for _ in range(3):
        resumed.partial_fit(X)
    resumed = roundtrip(resumed, tmp_path)
    for _ in range(3):
        resumed.partial_fit(X)
    losses = straight.history_[:, "train_loss"]
    np.testing.assert_allclose(resumed.history_[:, "train_loss"], losses, rtol=1e-6)
    np.testing.assert_allclose(resumed.transform(X), straight.transform(X), rtol=1e-5, atol=1e-6)


def test_detector_with_its_autoencoder_roundtrips(X, tmp_path, no_pickle):
    detector = AEOutlierDetector(AutoEncoderTransformer(**FAST), random_state=0).fit(X)
    loaded = roundtrip(detector, tmp_path)
    np.testing.assert_array_equal(loaded.score_samples(X), detector.score_samples(X))
    np.testing.assert_array_equal(loaded.predict(X), detector.predict(X))
    assert loaded.offset_ == detector.offset_


def test_disentangled_on_sequences_roundtrips(tmp_path, no_pickle):
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, 4)).astype(np.float32) for n in (20, 30, 25, 18)]
    y = np.array(["a", "b", "a", "b"], dtype=object)
    dae = DisentangledAutoEncoder(segment_length=8, **FAST).fit(X, y)
    loaded = roundtrip(dae, tmp_path)
    assert loaded.classes_.tolist() == ["a", "b"]
    for a, b in zip(loaded.convert(X, "a"), dae.convert(X, "a")):
        np.testing.assert_array_equal(a, b)


def test_pipeline_with_scaler_pca_and_autoencoder(X, tmp_path, no_pickle):
    pipe = make_pipeline(StandardScaler(), PCA(4), AutoEncoderTransformer(**FAST)).fit(X)
    loaded = roundtrip(pipe, tmp_path)
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X))


def test_feature_names_survive(X, tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(6)])
    ae = AutoEncoderTransformer(**FAST).fit(frame)
    loaded = roundtrip(ae, tmp_path)
    assert loaded.feature_names_in_.tolist() == list(frame.columns)


def test_unfitted_estimator_roundtrips(tmp_path):
    loaded = roundtrip(VQTransformer(n_codes=4, hidden_layer_sizes=(8, 4)), tmp_path)
    assert loaded.get_params()["hidden_layer_sizes"] == (8, 4)
    assert not hasattr(loaded, "net_")


class Payload:
    def __reduce__(self):
        return (exec, ("raise SystemExit('payload ran')",))


#: What FunctionTransformer's refusal says: the class, the function, why, what else.
FUNCTION_REFUSED = (
    r"FunctionTransformer with func=log1p: a model file cannot hold a function, because "
    r"restoring arbitrary code means running it.*PowerTransformer.*joblib"
)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: AutoEncoderTransformer(callbacks=[("x", torch.nn.Identity())]), "callbacks"),
        (lambda: DenoisingAutoEncoder(noise=lambda x, g: x), "noise"),
        (lambda: AutoEncoderTransformer(random_state=np.random.RandomState(0)), "RandomState"),
        (lambda: make_pipeline(FunctionTransformer(np.log1p)), FUNCTION_REFUSED),
        (
            lambda: ColumnTransformer([("log", FunctionTransformer(np.log1p), [0])]).fit(
                np.ones((3, 2))
            ),
            r"ColumnTransformer\.transformers\[0\]\[1\] is a sklearn.preprocessing."
            r"FunctionTransformer with func=log1p",
        ),
        (
            lambda: FunctionTransformer(feature_names_out=lambda self, names: names),
            "FunctionTransformer with feature_names_out=",
        ),
        (
            lambda: ColumnTransformer([("all", StandardScaler(), lambda X: [0])]),
            r"transformers\[0\]\[2\] is a callable .*holds no code",
        ),
    ],
    ids=[
        "callbacks",
        "noise",
        "RandomState",
        "FunctionTransformer",
        "in-ColumnTransformer",
        "feature_names_out",
        "column-callable",
    ],  # fmt: skip
)
def test_what_cannot_be_saved_safely_is_refused(make, match, tmp_path):
    with pytest.raises(TypeError, match=match):
        skae.save(make(), tmp_path / "model.skae")
    assert not (tmp_path / "model.skae").exists()


def test_hostile_attribute_is_refused_at_save(X, tmp_path):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    ae.extra = Payload()
    with pytest.raises(TypeError, match=r"AutoEncoderTransformer\.extra is a Payload"):
        skae.save(ae, tmp_path / "model.skae")


def rewrite(path, edit_manifest=None, replace=None):
    """Copy the archive at ``path`` with its manifest or a member changed."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["skae.json"])
    if edit_manifest is not None:
        edit_manifest(manifest)
    members["skae.json"] = json.dumps(manifest).encode()
    members.update(replace or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@pytest.fixture
def saved(X, tmp_path):
    path = tmp_path / "model.skae"
    skae.save(AutoEncoderTransformer(**FAST).fit(X), path)
    return path


def test_tampered_class_name_is_refused_and_runs_nothing(saved, no_pickle):
    def to_os_system(manifest):
        manifest["object"]["__estimator__"] = "os.system"

    rewrite(saved, to_os_system)
    with pytest.raises(ModelFileError, match="not allowed: 'os.system'"):
        skae.load(saved)


def test_pickle_payload_in_an_array_member_is_refused(saved, no_pickle):
    payload = pickle.dumps(Payload())
    with zipfile.ZipFile(saved) as archive:
        name = next(n for n in archive.namelist() if n.startswith("arrays/"))
    rewrite(saved, replace={name: payload})
    with pytest.raises(ModelFileError, match="does not match its digest"):
        skae.load(saved)


def test_object_array_with_matching_digest_is_refused(saved, no_pickle, tmp_path):
    import hashlib
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    data = buffer.getvalue()
    with zipfile.ZipFile(saved) as archive:
        name = next(n for n in archive.namelist() if n.startswith("arrays/"))

    def redigest(manifest):
        manifest["sha256"][name] = hashlib.sha256(data).hexdigest()

    rewrite(saved, redigest, replace={name: data})
    with pytest.raises(ModelFileError, match="cannot be read without pickle"):
        skae.load(saved)


def test_truncated_and_foreign_files_are_refused(saved, tmp_path):
    data = saved.read_bytes()
    truncated = tmp_path / "truncated.skae"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="not a readable skae model file"):
        skae.load(truncated)
    foreign = tmp_path / "model.pkl"
    foreign.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError):
        skae.load(foreign)


def test_newer_format_version_is_refused(saved):
    rewrite(saved, lambda manifest: manifest.update(format_version=99))
    with pytest.raises(ModelFileError, match="format version 99"):
        skae.load(saved)


def test_manifest_records_versions(saved):
    with zipfile.ZipFile(saved) as archive:
        manifest = json.loads(archive.read("skae.json"))
    assert manifest["versions"]["skae"] == skae.__version__
    assert manifest["versions"]["torch"] == torch.__version__


def test_loads_on_cpu_whatever_device_wrote_it(saved, no_pickle):
    def from_cuda(manifest):
        manifest["object"]["net"]["device"] = "cuda:3"

    rewrite(saved, from_cuda)
    loaded = skae.load(saved)
    assert loaded.device_ == torch.device("cpu") or torch.cuda.is_available()


def test_explicit_device_is_checked(saved):
    loaded = skae.load(saved, device="cpu")
    assert loaded.device_ == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            skae.load(saved, device="cuda")


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["object"]["params"].update(n_components={"__scalar__": "x"}),
        lambda m: m["object"]["params"].update(bogus=1),
        lambda m: m["object"]["state"].update(n_iter_={"__optimizer__": "torch.optimx.Evil"}),
        lambda m: m["object"].update(net={"device": "cpu"}),
        lambda m: m.update(object={"__nothing__": 1}),
    ],
    ids=["scalar", "param", "optimizer", "net", "kind"],
)
def test_malformed_manifest_is_a_model_file_error(saved, edit):
    rewrite(saved, edit)
    with pytest.raises(ModelFileError):
        skae.load(saved)


def test_numpy_scalar_params_and_attributes_stay_scalars(X, tmp_path):
    ae = AutoEncoderTransformer(
        n_components=np.int64(3), lr=np.float32(0.01), **{**FAST, "random_state": np.int64(3)}
    ).fit(X)
    loaded = roundtrip(ae, tmp_path)
    assert np.ndim(loaded.n_components) == 0 and loaded.n_components == 3
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    loaded.partial_fit(X)  # the Adam step counters are 0-d again
    pca = PCA(2).fit(X)
    assert np.ndim(roundtrip(pca, tmp_path).noise_variance_) == 0


def test_parameters_set_after_fit_do_not_change_the_saved_network(X, tmp_path):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    expected = ae.transform(X)
    ae.set_params(activation="tanh", n_components=3, lr=0.5)
    loaded = roundtrip(ae, tmp_path)
    np.testing.assert_array_equal(loaded.transform(X), expected)
    assert loaded.get_params()["activation"] == "tanh"
    loaded.set_params(warm_start=True).fit(X)  # the new lr applies on a warm start
    assert loaded.net_.optimizer_.param_groups[0]["lr"] == 0.5


def test_optimizers_outside_torch_optim_are_refused_at_save(tmp_path):
    class MyOptimizer(torch.optim.SGD):
        pass

    with pytest.raises(TypeError, match="outside torch.optim"):
        skae.save(AutoEncoderTransformer(optimizer=MyOptimizer), tmp_path / "m.skae")


@pytest.mark.parametrize("key", ["__class__", "transform", "module_"])
def test_state_cannot_set_dunders_or_methods(saved, key):
    rewrite(
        saved, lambda m: m["object"]["state"].update({key: {"__optimizer__": "torch.optim.SGD"}})
    )
    with pytest.raises(ModelFileError, match="forbidden attribute"):
        skae.load(saved)


def test_pipeline_memory_is_neither_saved_nor_loaded(X, tmp_path):
    with pytest.raises(TypeError, match="memory"):
        skae.save(make_pipeline(StandardScaler(), memory=str(tmp_path)), tmp_path / "p.skae")
    path = tmp_path / "p.skae"
    skae.save(make_pipeline(StandardScaler()).fit(X), path)
    rewrite(path, lambda m: m["object"]["params"].update(memory=str(tmp_path / "cache")))
    with pytest.raises(ModelFileError, match="memory"):
        skae.load(path)


# -- the format across versions ----------------------------------------------
DATA = Path(__file__).parent / "data"


def test_files_of_format_1_still_load_and_predict_the_same(no_pickle):
    """Files written before the package moved into folders name classes by
    their old private modules; the table of format 1's names reads them."""
    expected = np.load(DATA / "format1_expected.npz")
    X = expected["X"]
    detector = skae.load(DATA / "format1_pipeline_detector.skae")
    np.testing.assert_array_equal(detector.score_samples(X), expected["detector_score_samples"])
    np.testing.assert_array_equal(detector.predict(X), expected["detector_predict"])
    # It was fitted before max_samples existed: it keeps the detector it was.
    assert detector[-1].get_params()["max_samples"] is None
    refitted = clone(detector).fit(X)
    assert refitted[-1].estimators_ is None and refitted[-1].density_estimator_ is not None
    vq = skae.load(DATA / "format1_vq.skae")
    np.testing.assert_array_equal(vq.transform(X), expected["vq_transform"])
    np.testing.assert_allclose(
        vq.inverse_transform(expected["vq_transform"]), expected["vq_inverse"]
    )


def test_files_name_classes_by_their_public_names(X, tmp_path):
    path = tmp_path / "m.skae"
    vq = VQTransformer(n_codes=4, optimizer=torch.optim.SGD, **FAST)
    model = make_pipeline(StandardScaler(), PCA(2), vq).fit(X)
    skae.save(model, path)
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("skae.json"))
    assert manifest["format_version"] == 2
    text = json.dumps(manifest["object"])
    names = {"sklearn.pipeline.Pipeline", "sklearn.preprocessing.StandardScaler",
             "sklearn.decomposition.PCA", "skae.VQTransformer", "torch.optim.SGD"}  # fmt: skip
    for name in names:
        assert f'"{name}"' in text
    # no private module path of skae, scikit-learn or torch.optim
    assert "skae._" not in text and "sklearn.preprocessing._" not in text
    assert "torch.optim.sgd" not in text


def test_format_1_names_outside_its_table_are_refused(X, tmp_path):
    path = tmp_path / "m.skae"
    skae.save(StandardScaler().fit(X), path)

    def as_format_1(manifest):
        manifest["format_version"] = 1
        manifest["object"]["__estimator__"] = "sklearn.preprocessing._data.QuantileTransformer"

    rewrite(path, as_format_1)
    with pytest.raises(ModelFileError, match="not allowed"):
        skae.load(path)


# -- scikit-learn's preprocessing of tables ----------------------------------------
def mixed_table(n=40, seed=0):
    """Numeric columns with NaN and text categories (with a missing one), as pandas."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame({
        "amount": rng.lognormal(size=n), "age": rng.normal(40, 10, size=n),
        "city": rng.choice(["Lyon", "Oslo", "Porto"], n).astype(object),
        "plan": rng.choice(["free", "pro"], n).astype(object),
    })  # fmt: skip
    frame.loc[::7, "amount"] = np.nan
    frame.loc[3, "city"] = np.nan
    return frame


def table_pipeline():
    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    columns = ColumnTransformer([
        ("num", numeric, ["amount", "age"]),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city", "plan"]),
    ])  # fmt: skip
    detector = AEOutlierDetector(
        AutoEncoderTransformer(**{**FAST, "max_epochs": 2}), random_state=0
    )
    return Pipeline([("columns", columns), ("detector", detector)])


def assert_same_state(a, b, path="estimator"):
    """Equal fitted state, of the same types: arrays bit for bit, estimators recursively.

    A ``np.float64`` (a subclass of float) is saved as a JSON number, exact, and
    comes back a float, as it always has (the training history has one an epoch).
    """
    same_type = type(a) is type(b) or {type(a), type(b)} == {float, np.float64}
    assert same_type, f"{path}: {type(a)} != {type(b)}"
    if hasattr(a, "get_params") and not isinstance(a, type):
        assert vars(a).keys() == vars(b).keys(), path
        for key in vars(a):
            if key != "net_":
                assert_same_state(vars(a)[key], vars(b)[key], f"{path}.{key}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, path
        if a.dtype == object:  # item by item: NaN among categories, numpy ints
            assert_same_state(a.ravel().tolist(), b.ravel().tolist(), path)
        else:
            np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for key in a:
            assert_same_state(a[key], b[key], f"{path}[{key!r}]")
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, path


def test_table_pipeline_roundtrips_in_a_fresh_process(tmp_path, no_pickle):
    """ColumnTransformer (imputer + scaler, one-hot) before a detector: a new
    interpreter loads the file and scores the same rows bit for bit."""
    frame = mixed_table()
    pipe = table_pipeline().fit(frame)
    path = tmp_path / "pipe.skae"
    skae.save(pipe, path)
    unseen = frame.head(8).copy()
    unseen.loc[0, "city"] = "Rome"  # a category fitting never saw: ignored
    unseen.to_pickle(tmp_path / "rows.pkl")  # the test's own data, for the child
    script = textwrap.dedent(f"""
        import warnings; warnings.simplefilter("ignore")
        import numpy as np, pandas as pd, skae
        model = skae.load({str(path)!r})
        frame = pd.read_pickle({str(tmp_path / "rows.pkl")!r})
        np.savez({str(tmp_path / "out.npz")!r}, scores=model.score_samples(frame),
                 labels=model.predict(frame),
                 names=model[:-1].get_feature_names_out().astype(str))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    out = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(out["scores"], pipe.score_samples(unseen))
    np.testing.assert_array_equal(out["labels"], pipe.predict(unseen))
    assert out["names"].tolist() == pipe[:-1].get_feature_names_out().tolist()
    loaded = skae.load(path)
    assert repr(loaded.get_params()) == repr(pipe.get_params())
    assert_same_state(loaded[0], pipe[0], "columns")
    np.testing.assert_array_equal(loaded.score_samples(frame), pipe.score_samples(frame))


def numeric(frame):
    return frame[["amount", "age"]]


def complete(frame):
    return frame[["amount", "age"]].fillna(0.0)


def categories(frame):
    return frame[["city", "plan"]]


#: Each newly allowed class with the columns it takes; ids name the case.
PREPROCESSING = {
    "SimpleImputer-median": (lambda: SimpleImputer(strategy="median"), numeric),
    "SimpleImputer-constant-text": (
        lambda: SimpleImputer(strategy="constant", fill_value="none", add_indicator=True),
        categories,
    ),
    "SimpleImputer-most-frequent": (lambda: SimpleImputer(strategy="most_frequent"), categories),
    "MissingIndicator": (lambda: MissingIndicator(features="all"), numeric),
    "OneHotEncoder": (lambda: OneHotEncoder(handle_unknown="ignore"), categories),
    "OneHotEncoder-infrequent-drop": (
        lambda: OneHotEncoder(
            drop="if_binary",
            min_frequency=14,
            handle_unknown="infrequent_if_exist",
            sparse_output=False,
            dtype=np.float32,
        ),  # fmt: skip
        categories,
    ),
    "OrdinalEncoder": (
        lambda: OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, dtype=float),
        categories,
    ),
    "PolynomialFeatures": (lambda: PolynomialFeatures(2, interaction_only=True), complete),
    "VarianceThreshold": (lambda: VarianceThreshold(0.5), complete),
    "QuantileTransformer": (
        lambda: QuantileTransformer(n_quantiles=12, output_distribution="normal"),
        numeric,
    ),
    "PowerTransformer": (lambda: PowerTransformer(), complete),
    "ColumnTransformer-slice-mask-drop-passthrough": (
        lambda: ColumnTransformer(
            [
                ("scaled", StandardScaler(), slice(0, 1)),
                ("gone", "drop", np.array([False, True, False])),
                ("kept", "passthrough", [0]),
            ],  # fmt: skip
            remainder="passthrough",
        ),
        lambda frame: complete(frame).to_numpy()[:, [0, 1, 1]],
    ),
    "ColumnTransformer-remainder-estimator-pandas-out": (
        lambda: ColumnTransformer(
            [("imputed", SimpleImputer(), ["amount"])], remainder=StandardScaler()
        ).set_output(transform="pandas"),
        numeric,
    ),
}


@pytest.mark.parametrize("case", list(PREPROCESSING))
def test_preprocessing_roundtrips_alone(case, tmp_path, no_pickle):
    make_estimator, columns = PREPROCESSING[case]
    X = columns(mixed_table())
    estimator = make_estimator().fit(X)
    loaded = roundtrip(estimator, tmp_path)
    assert repr(loaded) == repr(estimator)
    assert repr(loaded.get_params()) == repr(estimator.get_params())
    assert_same_state(loaded, estimator)
    unseen = columns(mixed_table(seed=1))
    for rows in (X, unseen):
        expected, got = estimator.transform(rows), loaded.transform(rows)
        if hasattr(expected, "toarray"):
            expected, got = expected.toarray(), got.toarray()
        assert type(got) is type(expected)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected))
    if hasattr(estimator, "get_feature_names_out"):
        names = estimator.get_feature_names_out()
        np.testing.assert_array_equal(loaded.get_feature_names_out(), names)


def saved_table_model(tmp_path, estimator=None):
    frame = mixed_table()
    estimator = estimator if estimator is not None else table_pipeline()[:1]
    path = tmp_path / "table.skae"
    skae.save(estimator.fit(frame), path)
    return path


def estimator_nodes(node, name):
    """The JSON nodes of the estimators of class ``name`` in a manifest's tree."""
    found = []
    if isinstance(node, dict):
        if node.get("__estimator__") == name:
            found.append(node)
        for value in node.values():
            found += estimator_nodes(value, name)
    elif isinstance(node, list):
        for value in node:
            found += estimator_nodes(value, name)
    return found


def edit_node(name, change):
    def edit(manifest):
        for node in estimator_nodes(manifest["object"], name):
            change(node)

    return edit


PASSTHROUGH = ColumnTransformer([("kept", "passthrough", ["age"])])
IDENTITY = "sklearn.preprocessing.FunctionTransformer"
ONE_HOT = "sklearn.preprocessing.OneHotEncoder"


@pytest.mark.parametrize(
    "estimator, edit, match",
    [
        (
            PASSTHROUGH,
            edit_node(
                IDENTITY, lambda n: n["params"].update(func={"__optimizer__": "torch.optim.SGD"})
            ),
            "FunctionTransformer.func to the callable",
        ),
        (
            PASSTHROUGH,
            edit_node(
                IDENTITY, lambda n: n["params"].update(inverse_func={"__numpy_type__": "<f8"})
            ),
            "inverse_func to the callable",
        ),
        (
            PASSTHROUGH,
            edit_node(IDENTITY, lambda n: n["params"].update(func={"__builtin_type__": "eval"})),
            "type that is not allowed: 'eval'",
        ),
        (
            None,
            edit_node(
                ONE_HOT,
                lambda n: n.update(__estimator__="sklearn.utils._testing.MinimalTransformer"),
            ),
            "not allowed",
        ),
        (
            None,
            edit_node(
                ONE_HOT,
                lambda n: n["state"].update(
                    categories_=[
                        {"__objects__": {"shape": [1], "items": [{"__estimator__": "os.system"}]}}
                    ]
                ),
            ),
            "object array holds",
        ),
        (
            None,
            edit_node(
                ONE_HOT,
                lambda n: n["state"].update(
                    categories_=[{"__objects__": {"shape": [5], "items": ["a"]}}]
                ),
            ),
            "malformed object",
        ),
        (
            None,
            edit_node(ONE_HOT, lambda n: n["params"].update(dtype={"__numpy_type__": "|V8"})),
            "dtype that is not allowed",
        ),
        (
            None,
            edit_node(
                "sklearn.impute.SimpleImputer",
                lambda n: n["state"].update(_fit_dtype={"__dtype__": "<f8, <i4"}),
            ),
            "dtype that is not allowed",
        ),
        (
            None,
            edit_node(
                "sklearn.compose.ColumnTransformer",
                lambda n: n["state"].update(_columns=[{"__slice__": [0, "x", None]}]),
            ),
            "malformed slice",
        ),
    ],
    ids=[
        "callable-func",
        "numpy-type-as-func",
        "builtin-eval",
        "unknown-class",
        "object-array-of-estimators",
        "object-array-shape",
        "void-dtype",
        "structured-dtype",
        "slice-of-text",
    ],  # fmt: skip
)
def test_hostile_preprocessing_files_are_refused(estimator, edit, match, tmp_path, no_pickle):
    path = saved_table_model(tmp_path, estimator)
    rewrite(path, edit)
    with pytest.raises(ModelFileError, match=match):
        skae.load(path)


def test_object_array_member_of_a_preprocessing_file_is_refused(tmp_path, no_pickle):
    """The imputer's medians replaced by a pickled object array with a valid digest."""
    path = saved_table_model(tmp_path)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([Payload()], dtype=object), allow_pickle=True)
    data = buffer.getvalue()
    manifest = {}
    rewrite(path, manifest.update)
    imputers = estimator_nodes(manifest["object"], "sklearn.impute.SimpleImputer")
    (fitted,) = [node for node in imputers if "statistics_" in node["state"]]
    name = fitted["state"]["statistics_"]["__array__"]

    def redigest(manifest):
        manifest["sha256"][name] = hashlib.sha256(data).hexdigest()

    rewrite(path, redigest, replace={name: data})
    with pytest.raises(ModelFileError, match="cannot be read without pickle"):
        skae.load(path)
