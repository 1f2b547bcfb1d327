"""Data-parallel training (skae.data_parallel) on the gloo backend, on the CPU.

A group of one process must fit what a plain fit does; two processes, forked
so that they need not import skae again, must end with the same model, and
that model must be the one process's fit with the same (global) batch size.
"""

import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from skae import AutoEncoderTransformer, data_parallel
from skae._engine.data import BatchIterator, TensorData

pytestmark = [
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]

#: 99 rows: 89 to train on in batches of 20 (the last of 9, shared 4 + 5
#: between two processes) and 10 validation rows; early stopping ends the
#: fit at epoch 18 of 30.
PARAMS = dict(
    n_components=2,
    hidden_layer_sizes=(8,),
    batch_size=20,
    lr=1e-2,
    max_epochs=30,
    early_stopping=True,
    validation_fraction=0.1,
    n_iter_no_change=2,
    tol=0.01,
    device="cpu",
    random_state=0,
)
#: Batch norm (buffers), dropout (per-process masks), sample weights and no
#: random_state (each process would draw other initial weights).
NOISY = dict(PARAMS, batch_norm=True, dropout=0.1, random_state=None, early_stopping=False)


def _rows():
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(99, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(99, 6))
    weight = rng.uniform(0.5, 2.0, size=len(X))
    return X.astype(np.float32), weight


def _state(ae):
    return {
        "weights": {k: v.clone() for k, v in ae.net_.module_.state_dict().items()},
        "train_loss": ae.net_.history[:, "train_loss"],
        "valid_loss": ae.net_.history[:, "valid_loss"] if ae.early_stopping else None,
        "batch_sizes": ae.net_.history[-1, "batches", :, "train_batch_size"],
        "n_iter": ae.n_iter_,
    }


def _fits(X, weight):
    """The two fits each process makes inside data_parallel()."""
    with data_parallel():
        plain = AutoEncoderTransformer(**PARAMS).fit(X)
        noisy = AutoEncoderTransformer(**NOISY).fit(X, sample_weight=weight)
    return _state(plain), _state(noisy)


def _uneven_rows_error(rank):
    """The error of a fit where each process has other rows (none: it would hang)."""
    X, _ = _rows()
    try:
        with data_parallel():
            AutoEncoderTransformer(**PARAMS).fit(X[: len(X) - rank])
    except ValueError as error:
        return str(error)
    return None


def _worker(rank, init_method, world_size, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=world_size)
    try:
        result = (*_fits(*_rows()), _uneven_rows_error(rank))
        torch.save(result, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _run_processes(tmp_path, world_size, timeout=60):
    """Fork ``world_size`` workers; return each rank's fits; fail (not hang) after ``timeout``."""
    context = mp.start_processes(
        _worker,
        args=(f"file://{tmp_path}/init", world_size, str(tmp_path)),
        nprocs=world_size,
        join=False,
        start_method="fork",
    )
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"the {world_size} processes did not finish in {timeout} s")
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(world_size)]


def _assert_close(a, b, atol):
    assert a["n_iter"] == b["n_iter"]
    assert a["batch_sizes"] == b["batch_sizes"]
    np.testing.assert_allclose(a["train_loss"], b["train_loss"], rtol=0, atol=atol)
    if a["valid_loss"] is not None:
        np.testing.assert_allclose(a["valid_loss"], b["valid_loss"], rtol=0, atol=atol)
    for name, value in a["weights"].items():
        torch.testing.assert_close(value, b["weights"][name], rtol=0, atol=atol)


@pytest.mark.parametrize("world_size", [2, 3])
@pytest.mark.parametrize("shuffle, block_rows", [(False, None), (True, None), (True, 4)])
def test_shares_make_up_the_batches_of_one_process(world_size, shuffle, block_rows):
    # 25 rows in batches of 7: a tail of 4, two rows for each of two processes.
    data = TensorData(torch.arange(25, dtype=torch.float32)[:, None])

    def batches(shard):
        generator = torch.Generator().manual_seed(0)
        iterator = BatchIterator(
            data, 7, shuffle=shuffle, generator=generator, block_rows=block_rows, shard=shard
        )
        assert len(iterator) == len(list(iterator))
        generator.manual_seed(0)
        return [x.flatten().tolist() for x, _ in iterator]

    whole = batches(None)
    shares = [batches((rank, world_size)) for rank in range(world_size)]
    # Every process steps as often, on two rows at least: for three
    # processes, the tail joins the batch before it.
    assert len({len(parts) for parts in shares}) == 1
    assert all(len(part) >= 2 for parts in shares for part in parts)
    if world_size == 3:
        whole = [*whole[:-2], whole[-2] + whole[-1]]
    # Side by side in rank order, the shares are the batches of one process.
    assert [sum(parts, []) for parts in zip(*shares)] == whole


def test_data_parallel_needs_a_process_group():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"), data_parallel():
        pass


def test_one_process_group_fits_as_a_plain_fit(tmp_path):
    X, weight = _rows()
    plain = _state(AutoEncoderTransformer(**PARAMS).fit(X))
    dist.init_process_group("gloo", init_method=f"file://{tmp_path}/init", rank=0, world_size=1)
    try:
        parallel, _ = _fits(X, weight)
    finally:
        dist.destroy_process_group()
    # The same batches and steps; the gradient is scaled by the batch's rows
    # and back (g * n / n), which may round the last bit: the weights differed
    # by at most 2.7e-7 when this was written.
    _assert_close(parallel, plain, atol=1e-5)


def test_two_processes_fit_one_model(tmp_path):
    X, _ = _rows()
    (plain0, noisy0, error0), (plain1, noisy1, error1) = _run_processes(tmp_path, world_size=2)

    # Every process holds the same model, bit for bit, and stopped together.
    for a, b in [(plain0, plain1), (noisy0, noisy1)]:
        _assert_close(a, b, atol=0)
    # The history records whole batches, not a process's shares of them.
    assert plain0["batch_sizes"] == [20, 20, 20, 20, 9]
    assert plain0["n_iter"] < PARAMS["max_epochs"]  # stopped early, together
    assert plain0["train_loss"][-1] < 0.1 * plain0["train_loss"][0]
    assert noisy0["train_loss"][-1] < noisy0["train_loss"][0]

    # "Close" to one process with the same global batch_size: without
    # dropout or noise, two processes compute the gradient of the same
    # batches, only summed in another order, so the fits agree to float32
    # rounding grown over 90 Adam steps (at most 1.8e-7 in the weights when
    # this was written), and stop at the same epoch.
    one = _state(AutoEncoderTransformer(**PARAMS).fit(X))
    _assert_close(plain0, one, atol=1e-5)

    # Processes given other rows all raise, instead of waiting on each other.
    assert error0 == error1
    assert "every process must fit the same rows" in error0
