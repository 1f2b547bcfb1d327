"""The one training engine: a skorch ``NeuralNet`` and everything it trains with.

``net`` (the loop, :class:`ReconstructionNet`), ``state`` (its fitted state),
``callbacks``, ``data`` (training tensors and batches), ``inference`` (batched
no-grad passes), ``distributed`` (data-parallel training: the collectives
and the loop's data-parallel steps) and ``choices``
(devices, precisions, losses). It knows no estimator: the estimators in the
folders above configure it.
"""
