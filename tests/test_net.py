"""Tests of the training engine's own behaviour (skae._net)."""

import numpy as np
import pytest
import torch
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

    ae = AutoEncoderTransformer(
        callbacks=[PoisonBeforeValidation()], early_stopping=True, **FAST
    )
    with pytest.raises(TrainingDivergedError, match="validation loss became"):
        ae.fit(X)
