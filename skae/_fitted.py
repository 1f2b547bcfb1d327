"""What a fitted skae network offers its estimator, and fitting without side effects.

:class:`FittedNetworkMixin` gives :class:`skae._base.BaseAutoEncoder` its
fitted-state accessors (``module_``, ``history_``, ``device_``) and batched
no-grad inference in the training's precision; :func:`unchanged_on_error`
makes a failed fit leave an estimator as it was.
"""

from contextlib import contextmanager

import torch
from sklearn.utils.validation import check_is_fitted

from ._engine.choices import in_precision
from ._engine.inference import apply_batched


@contextmanager
def unchanged_on_error(estimator, restore=None):
    """Put ``estimator``'s attributes back if the block raises (anything).

    ``restore``, if given, is called first, to undo changes made inside
    objects the attributes refer to (a network trained in place).
    """
    before = dict(vars(estimator))
    try:
        yield
    except BaseException:
        if restore is not None:
            restore()
        vars(estimator).clear()
        vars(estimator).update(before)
        raise


class FittedNetworkMixin:
    """Accessors and inference over the fitted ``net_`` of an estimator."""

    @property
    def module_(self):
        """The trained ``torch.nn.Module``."""
        check_is_fitted(self)
        return self.net_.module_

    @property
    def history_(self):
        """Per-epoch record of training: ``history_[:, "train_loss"]``."""
        check_is_fitted(self)
        return self.net_.history

    @property
    def device_(self):
        """The ``torch.device`` the module lives on."""
        check_is_fitted(self)
        return torch.device(self.net_.device)

    @property
    def _n_features_out(self):
        """Width of :meth:`transform`'s output, for ``get_feature_names_out``.

        Read off the kept training codes, so it is an AttributeError (not
        fitted) before the first fit and follows the fitted model, not a
        later ``set_params``.
        """
        return self._training_codes.shape[-1]

    def _infer(self, fn, X, cond=None, *, check_finite=True):
        """``fn`` applied to validated ``X`` (and aligned ``cond``) in chunks,
        without gradients, with the module in evaluation mode.

        A NaN or infinite output (the network overflowed) raises a ValueError
        unless ``check_finite=False`` (reconstruction errors are inf there).
        """
        self.net_.module_.eval()
        fn = in_precision(fn, self.device_, self.net_.precision)
        return apply_batched(fn, X, self.device_, cond=cond, check_finite=check_finite)

    def _encode(self, X):
        return self._infer(self.net_.module_.encode, X)
