"""Tests of the training engine's own behaviour (skae._engine.net)."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import Callback

from skae import AutoEncoderTransformer, TrainingDivergedError

FAST = dict(hidden_layer_sizes=(8,), batch_size=4, max_epochs=3, device="cpu", random_state=0)


class PoisonAt(Callback):
    """Counts training batches; sets the weights to NaN before batch ``at``."""

    def __init__(self, at):
        self.at = at

    def on_train_begin(self, net, **kwargs):
        self.started = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        self.started += 1
        if self.started == self.at:
            with torch.no_grad():
                for param in net.module_.parameters():
                    param.fill_(float("nan"))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_divergence_stops_at_the_first_bad_batch(early_stopping):
    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    poison = PoisonAt(3)
    ae = AutoEncoderTransformer(
        callbacks=[poison], early_stopping=early_stopping, validation_fraction=0.2, **FAST
    )
    with pytest.raises(TrainingDivergedError, match="training loss became nan at epoch 1"):
        ae.fit(X)
    # 60 rows in batches of 4 make 15 (or 12) batches an epoch: none after the third ran.
    assert poison.started == 3
    assert not hasattr(ae, "net_")


def test_divergence_in_validation_is_named():
    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)

    class PoisonBeforeValidation(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if not training:
                with torch.no_grad():
                    next(net.module_.parameters()).fill_(float("inf"))

    ae = AutoEncoderTransformer(callbacks=[PoisonBeforeValidation()], early_stopping=True, **FAST)
    with pytest.raises(TrainingDivergedError, match="validation loss became"):
        ae.fit(X)


def test_callback_parameters_are_settable_by_name():
    from sklearn.model_selection import GridSearchCV
    from skorch.callbacks import LRScheduler

    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    ae = AutoEncoderTransformer(
        callbacks=[
            ("lr", LRScheduler(policy="StepLR", step_size=5)),
            LRScheduler(policy="StepLR", step_size=4),
        ],
        **FAST,
    )
    ae.set_params(callbacks__lr__step_size=2, callbacks__LRScheduler__step_size=3, lr=0.01)
    assert ae.callbacks[0][1].step_size == 2 and ae.callbacks[1].step_size == 3 and ae.lr == 0.01
    with pytest.raises(ValueError, match="among \\['LRScheduler', 'lr'\\]"):
        ae.set_params(callbacks__nope__step_size=1)
    search = GridSearchCV(ae, {"callbacks__lr__step_size": [1, 2]}, cv=2).fit(X)
    assert search.best_params_["callbacks__lr__step_size"] in (1, 2)


def test_a_callable_scorer_sees_the_rows_as_an_array():
    from skorch.callbacks import EpochScoring

    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    seen = []

    def mean_abs(net, X_seen, y=None):
        seen.append(np.asarray(X_seen).shape)
        return float(np.abs(np.asarray(X_seen)).mean())

    ae = AutoEncoderTransformer(callbacks=[EpochScoring(mean_abs, on_train=True)], **FAST).fit(X)
    assert seen[0] == (60, 5)
    np.testing.assert_allclose(ae.history_[-1, "mean_abs"], np.abs(X).mean(), rtol=1e-5)


def test_verbose_table_has_no_colour_codes_off_a_terminal(capsys):
    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    AutoEncoderTransformer(verbose=2, **FAST).fit(X)
    out = capsys.readouterr().out
    assert "train_loss" in out and out.count("\n") >= 3
    assert "\x1b[" not in out
    # No progress bar either: only on a terminal.
    assert "progress_bar" not in dict(
        AutoEncoderTransformer(verbose=2, **FAST).fit(X).net_.callbacks_
    )


def test_verbose_1_is_a_few_lines_with_the_time_left_not_a_table(capsys):
    """300 epochs print 11 lines (first, every 30th), not a 300-row table."""
    X = np.random.RandomState(0).normal(size=(40, 3)).astype(np.float32)
    ae = AutoEncoderTransformer(verbose=1, **{**FAST, "max_epochs": 300, "n_iter_no_change": 300})
    with pytest.warns(ConvergenceWarning):
        ae.fit(X)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11, lines
    assert lines[0].startswith("AutoEncoderTransformer: epoch 1/300, train_loss ")
    assert lines[1].startswith("AutoEncoderTransformer: epoch 30/300, ") and "s left" in lines[1]
    assert lines[-1].startswith("AutoEncoderTransformer: epoch 300/300, ")
    assert not any("\x1b" in line or "\r" in line for line in lines)
    # Stopped early: the last line says where.
    ae = AutoEncoderTransformer(verbose=1, **{**FAST, "max_epochs": 300, "n_iter_no_change": 2})
    ae.fit(X)
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"AutoEncoderTransformer: epoch {ae.n_iter_}/300, ")


def test_progress_bar_on_a_terminal(monkeypatch, capsys):
    from skorch.callbacks import ProgressBar

    from skae._engine.callbacks import EpochProgress

    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    X = np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)
    quiet = AutoEncoderTransformer(**FAST).fit(X)
    assert "progress_bar" not in dict(quiet.net_.callbacks_)
    ae = AutoEncoderTransformer(verbose=1, **FAST).fit(X)
    assert isinstance(dict(ae.net_.callbacks_)["progress"], EpochProgress)
    captured = capsys.readouterr()
    assert captured.out == "" and "3/3" in captured.err  # tqdm's bar, on standard error
    ae = AutoEncoderTransformer(verbose=2, **FAST).fit(X)
    assert isinstance(dict(ae.net_.callbacks_)["progress_bar"], ProgressBar)


def test_duplicate_and_class_callbacks_are_named_as_skorch_does():
    from skorch.callbacks import EarlyStopping, EpochScoring

    ae = AutoEncoderTransformer(
        callbacks=[EpochScoring("r2"), EpochScoring("r2"), ("es", EarlyStopping)], **FAST
    )
    ae.set_params(callbacks__EpochScoring_2__lower_is_better=False)
    assert ae.callbacks[0].lower_is_better is True and ae.callbacks[1].lower_is_better is False
    with pytest.raises(ValueError, match="is a class"):
        ae.set_params(callbacks__es__patience=3)
