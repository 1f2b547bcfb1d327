"""Mixed precision, torch.compile and where training rows live.

Everything but the device calls runs on the CPU here; the tests marked
``cuda`` run only where a GPU is (CI has none: they ran on the GPU machine
recorded in ``benchmarks/results/speed_cuda.md``).
"""

import pickle

import numpy as np
import pytest
import torch

import skae
from skae import AutoEncoderTransformer
from skae._engine import data as _data
from skae._engine.data import BatchIterator, TensorData, training_rows

from _registry import AUTOENCODERS, call, make

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
FAST = dict(
    n_components=3,
    hidden_layer_sizes=(16,),
    max_epochs=15,
    batch_size=32,
    lr=3e-3,
    device="cpu",
    random_state=0,
)


@pytest.fixture
def X():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(300, 3))
    return (np.tanh(latent @ rng.normal(size=(3, 8))) + 0.05 * rng.normal(size=(300, 8))).astype(
        np.float32
    )


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precision_trains_and_outputs_float32(X, precision):
    ae = AutoEncoderTransformer(**FAST, precision=precision).fit(X)
    losses = ae.history_[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    Z = ae.transform(X)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    # Close to the float32 model's reconstruction quality.
    full = AutoEncoderTransformer(**FAST).fit(X)
    err = ae.reconstruction_error(X).mean()
    assert err < 2 * full.reconstruction_error(X).mean() + 0.01
    # The same seed gives the same model.
    again = AutoEncoderTransformer(**FAST, precision=precision).fit(X)
    np.testing.assert_array_equal(again.transform(X), Z)


def test_fp16_scales_the_loss_and_bf16_does_not(X):
    fp16 = AutoEncoderTransformer(**{**FAST, "max_epochs": 2}, precision="fp16").fit(X)
    bf16 = AutoEncoderTransformer(**{**FAST, "max_epochs": 2}, precision="bf16").fit(X)
    assert isinstance(fp16.net_._scaler, torch.amp.GradScaler)
    assert getattr(bf16.net_, "_scaler", None) is None


def test_inference_runs_in_the_chosen_precision(X, monkeypatch):
    ae = AutoEncoderTransformer(**FAST, precision="bf16").fit(X)
    seen = []
    encode = ae.net_.module_.encode

    def spy(x):
        out = encode(x)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr(ae.net_.module_, "encode", spy)
    assert ae.transform(X).dtype == np.float32
    assert seen and set(seen) == {torch.bfloat16}


def test_precision_is_validated_and_kept_by_save_and_pickle(X, tmp_path):
    with pytest.raises(ValueError, match="precision"):
        AutoEncoderTransformer(**FAST, precision="fp8").fit(X)
    ae = AutoEncoderTransformer(**{**FAST, "max_epochs": 3}, precision="fp16").fit(X)
    skae.save(ae, tmp_path / "m.skae")
    loaded = skae.load(tmp_path / "m.skae")
    assert loaded.precision == "fp16" and loaded.net_.precision == "fp16"
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))
    clone = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(clone.transform(X), ae.transform(X))
    clone.partial_fit(X)  # the scaler is rebuilt after unpickling


@pytest.mark.parametrize("Estimator", AUTOENCODERS, ids=lambda cls: cls.__name__)
def test_compile_trains_through_the_compiled_forward_only(X, monkeypatch, Estimator):
    calls = {"train": 0, "compiled": 0}
    real_compile = torch.compile

    def eager_compile(module, **kwargs):
        # Dynamo's tracing without inductor's C++ build: fast on CI.
        compiled = real_compile(module, backend="eager", **kwargs)
        calls["compiled"] += 1

        class Counting(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = compiled

            def forward(self, *args, **kw):
                calls["train"] += 1
                return self.inner(*args, **kw)

        return Counting()

    monkeypatch.setattr(torch, "compile", eager_compile)
    kwargs = {**FAST, "max_epochs": 3}
    est = call(make(Estimator, **kwargs, compile=True), "fit", X)
    plain = call(make(Estimator, **kwargs), "fit", X)
    batches = -(-len(X) // FAST["batch_size"])
    assert calls == {"compiled": 1, "train": 3 * batches}
    # The compiled forward computes what the module computes.
    np.testing.assert_allclose(est.transform(X), plain.transform(X), rtol=1e-4, atol=1e-5)
    # Nothing compiled is kept: the model pickles and saves.
    assert est.net_._compiled is None
    pickle.loads(pickle.dumps(est))


def test_rows_stay_where_they_are_on_the_cpu():
    X = torch.randn(10, 3)
    assert training_rows(X, torch.device("cpu")) is X


def test_batches_of_rows_held_elsewhere_move_to_the_training_device():
    # "meta" stands in for an accelerator: batches are copied there one by
    # one, the rows themselves stay on the CPU.
    X = torch.randn(50, 4)
    weight = torch.rand(50)
    data = TensorData(X, cond=torch.arange(50), weight=weight, device="meta")
    it = BatchIterator(data, 16, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(it)
    assert len(batches) == 4 and data.X.device.type == "cpu"
    inputs, (rows, w) = batches[0]
    assert inputs["x"].device.type == "meta" and inputs["cond"].device.type == "meta"
    assert rows.device.type == "meta" and w.device.type == "meta"
    moved = data.to_device()
    assert moved.X.device.type == "meta" and moved.weight.device.type == "meta"
    # The subset of a validation split keeps the device it will be used on.
    assert data.subset(torch.arange(5)).device.type == "meta"


@cuda
def test_cuda_rows_fit_on_the_gpu_are_moved_once(X):
    ae = AutoEncoderTransformer(**{**FAST, "device": "cuda"}).fit(X)
    assert ae.device_.type == "cuda"
    assert training_rows(torch.from_numpy(X), ae.device_).device.type == "cuda"


@cuda
def test_cuda_rows_kept_on_the_host_train_like_rows_on_the_gpu(X, monkeypatch):
    # Same seed, same batches: keeping the rows on the host (pinned,
    # non-blocking batch copies) changes where bytes live, not the model.
    on_gpu = AutoEncoderTransformer(**{**FAST, "device": "cuda"}).fit(X)
    monkeypatch.setattr(_data, "DEVICE_DATA_FRACTION", 0.0)
    assert training_rows(torch.from_numpy(X), torch.device("cuda")).device.type == "cpu"
    on_host = AutoEncoderTransformer(**{**FAST, "device": "cuda"}).fit(X)
    np.testing.assert_allclose(
        on_host.history_[:, "train_loss"], on_gpu.history_[:, "train_loss"], rtol=1e-4
    )
    np.testing.assert_allclose(on_host.transform(X), on_gpu.transform(X), rtol=1e-3, atol=1e-4)


@cuda
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_cuda_half_precision_and_compile(X, precision):
    ae = AutoEncoderTransformer(
        **{**FAST, "device": "cuda"}, precision=precision, compile=True
    ).fit(X)
    losses = ae.history_[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert ae.transform(X).dtype == np.float32
    pickle.loads(pickle.dumps(ae))


def test_losses_read_in_groups_are_the_losses_read_one_by_one(X, monkeypatch):
    # What an accelerator does (read 32 batch losses at once), on the CPU.
    from skae._engine import net as _net

    one_by_one = AutoEncoderTransformer(**{**FAST, "max_epochs": 4}).fit(X)
    monkeypatch.setattr(_net, "loss_read_batches", lambda device: 4)
    grouped = AutoEncoderTransformer(**{**FAST, "max_epochs": 4}).fit(X)
    for epoch_a, epoch_b in zip(one_by_one.history_, grouped.history_):
        assert [b["train_loss"] for b in epoch_a["batches"]] == [
            b["train_loss"] for b in epoch_b["batches"]
        ]
        assert epoch_a["train_loss"] == epoch_b["train_loss"]


def test_divergence_is_caught_when_losses_are_read_in_groups(X, monkeypatch):
    from skae._engine import net as _net

    monkeypatch.setattr(_net, "loss_read_batches", lambda device: 4)
    ae = AutoEncoderTransformer(**{**FAST, "lr": 1e6, "optimizer": "sgd"})
    with pytest.raises(skae.TrainingDivergedError, match="diverged"):
        ae.fit(X * 1e3)
    assert not hasattr(ae, "net_")


def test_the_guard_checks_each_read_loss_once_and_stops_at_unread_ones():
    from types import SimpleNamespace

    from skorch.history import History

    from skae._engine.callbacks import DivergenceGuard

    history = History()
    history.new_epoch()
    history.record("epoch", 1)
    net = SimpleNamespace(history=history)
    guard = DivergenceGuard()
    guard.on_epoch_begin(net)
    for loss in (1.0, 0.5):
        history.new_batch()
        history.record_batch("train_loss", loss)
    history.new_batch()
    history.record_batch("train_batch_size", 32)  # its loss not read yet
    guard.on_batch_end(net)
    assert guard.checked_ == 2
    # A group read at once: the middle batch's inf is caught, not only the last.
    history[-1, "batches"][-1]["train_loss"] = 0.4
    history.new_batch()
    history.record_batch("train_loss", float("inf"))
    history.new_batch()
    history.record_batch("train_loss", 0.3)
    with pytest.raises(skae.TrainingDivergedError, match="training loss became inf at epoch 1"):
        guard.on_batch_end(net)
