"""The disentangled autoencoder: a content code and a group code.

The estimator trains through the shared engine like every skae autoencoder;
it supplies the group ids of the rows as the engine's per-row conditioning
(:meth:`DisentangledAutoEncoder._check_fit_data`), and the network
(:mod:`skae._disentangle_modules`) returns the adversary's loss as an
auxiliary term, so one optimizer trains encoder, decoder, group embeddings and
adversary together (the adversary's gradient is reversed into the encoder).
"""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_array, check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import _MAX_KEPT_CODES, LOSSES, BaseAutoEncoder
from ._data import as_tensor
from ._disentangle_modules import DisentangledConv, DisentangledMLP

METHODS = ("adversarial", "instance_norm", "bottleneck")

#: Sequences decoded per forward pass at inference (3-D array input).
_SEQUENCE_BATCH = 256


def _is_sequences(X):
    """True for a 3-D array or a list/tuple of 2-D arrays (one per sequence)."""
    if getattr(X, "ndim", None) == 3:
        return True
    return (
        isinstance(X, (list, tuple))
        and len(X) > 0
        and all(getattr(x, "ndim", None) == 2 for x in X)
    )


class DisentangledAutoEncoder(BaseAutoEncoder):
    """Autoencoder whose code is split into content and group.

    ``fit(X, y)`` learns, from rows ``X`` and the group ``y`` of each row
    (speaker, machine, site, ...), an encoder to a *content* code that
    carries no group information, a code per group (:attr:`group_embeddings_`)
    and a decoder that renders content in any group. :meth:`transform`
    returns the content code; :meth:`inverse_transform` renders codes in
    chosen groups; :meth:`convert` re-renders rows of one group as another
    (voice conversion: the same words, another speaker). A group not seen in
    training gets a code from a few of its rows with :meth:`embed_group`.

    ``X`` is rows ``(n_samples, n_features)`` or sequences: a 3-D array
    ``(n_sequences, n_frames, n_features)`` or a list of 2-D arrays of
    varying lengths (one label per sequence). Sequences are modelled by 1-D
    convolutions over time, trained on windows of ``segment_length`` frames;
    codes are per frame.

    Three ways keep the group out of the content code (``method``):

    - ``"adversarial"`` [1]_: a group classifier is trained on the content
      code and its gradient is reversed into the encoder (scaled by
      ``adversary_weight``), so the encoder removes what the classifier
      uses. The code is tanh-bounded; a moderate weight (~0.3) is stable,
      a strong one can diverge. Fits rows and sequences, and is the method
      that actively enforces a group-free code even when it is wide.
    - ``"instance_norm"`` [2]_ (sequences only): every encoder layer is
      instance-normalised over time, which removes per-sequence channel
      statistics (where a speaker's timbre lives in a spectrogram), and the
      decoder injects the group code by adaptive instance normalisation
      (AdaIN). Fits groups that show as per-sequence statistics.
    - ``"bottleneck"`` [3]_: reconstruction loss only; the decoder is given
      the group code, so a content code too narrow to hold everything
      (``n_components`` small) drops the group first. Simplest and most
      stable, but it relies on choosing ``n_components`` well.

    Scale the input first (e.g. ``StandardScaler``); the network sees float32.

    Parameters
    ----------
    n_components : int, default=8
        Width of the content code (per frame for sequences).
    group_dim : int, default=16
        Width of the group code.
    method : {"adversarial", "instance_norm", "bottleneck"}, \
            default="adversarial"
        How the content code is kept free of the group; see above.
    adversary_weight : float, default=0.3
        Scale of the adversary's reversed gradient in the encoder for
        ``method="adversarial"``; ignored by the other methods.
    segment_length : int, default=64
        Frames per training window for sequence input (shorter sequences are
        padded by repeating their last frame); ignored for rows.
    hidden_layer_sizes : tuple of int, default=(128, 64)
        Hidden widths (channels for sequences) of the encoder; the decoder
        uses them reversed, the adversary as given.
    activation : {"relu", "leaky_relu", "elu", "gelu", "selu", "tanh", \
            "sigmoid", "identity"}, default="relu"
        Activation after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation, in [0, 1).
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer (rows only).
    loss : {"mse", "mae", "huber", "bce"}, default="mse"
        Reconstruction loss. ``"bce"`` needs data in [0, 1] (rows only).
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, \
            default="adam"
        The optimizer.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    batch_size : int, default=256
        Rows (or windows) per training step.
    max_epochs : int, default=100
        Maximum number of passes over the training data.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, then
        restore the best weights. When False, stop when the training loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs. The
        monitored loss includes the adversary's term.
    validation_fraction : float, default=0.1
        Fraction of rows held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.
    tol : float, default=1e-4
        Smallest decrease of the monitored loss that counts as improvement.
    warm_start : bool, default=False
        Continue from the previous fit's weights instead of starting anew.
    device : str or torch.device, default="auto"
        Torch device to train and infer on; ``"auto"`` is ``"cuda"`` when
        available, else ``"cpu"``.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and
        dropout. Equal seeds give equal models on the CPU.
    verbose : int, default=0
        Print one line per epoch when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_groups,)
        The group labels seen in :meth:`fit`, sorted.
    group_embeddings_ : ndarray of shape (n_groups, group_dim)
        The learned code of each group, in the order of ``classes_``.
    n_features_in_ : int
        Number of features (per frame for sequences) seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names (rows only).
    net_ : skae._net.ReconstructionNet
        The skorch net that trained the module.
    module_ : torch.nn.Module
        The trained network
        (:class:`skae._disentangle_modules.DisentangledMLP` for rows,
        :class:`skae._disentangle_modules.DisentangledConv` for sequences).
    history_ : skorch.callbacks.History
        Per-epoch losses (reconstruction plus the adversary's term).
    n_iter_ : int
        Number of epochs trained in all.
    device_ : torch.device
        Device the module lives on.

    See Also
    --------
    AutoEncoderTransformer : One code for everything; it keeps the group.

    References
    ----------
    .. [1] J. Chou, C. Yeh, H. Lee and L. Lee, "Multi-target voice conversion
       without parallel data by adversarially learning disentangled audio
       representations", Interspeech 2018, arXiv:1804.02812.
    .. [2] J. Chou and H. Lee, "One-shot voice conversion by separating
       speaker and content representations with instance normalization",
       Interspeech 2019, arXiv:1904.05742.
    .. [3] K. Qian, Y. Zhang, S. Chang, X. Yang and M. Hasegawa-Johnson,
       "AutoVC: zero-shot voice style transfer with only autoencoder loss",
       ICML 2019, arXiv:1905.05879.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import DisentangledAutoEncoder
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 2, size=100)
    >>> X = rng.normal(size=(100, 6)) + 3 * y[:, None]
    >>> dae = DisentangledAutoEncoder(n_components=2, group_dim=2, max_epochs=5,
    ...                               random_state=0).fit(X, y)
    >>> dae.transform(X).shape
    (100, 2)
    >>> dae.convert(X[:3], y_target=1).shape
    (3, 6)
    >>> dae.group_embeddings_.shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **BaseAutoEncoder._parameter_constraints,
        "group_dim": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "adversary_weight": [Interval(Real, 0, None, closed="left")],
        "segment_length": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        n_components=8,
        *,
        group_dim=16,
        method="adversarial",
        adversary_weight=0.3,
        segment_length=64,
        hidden_layer_sizes=(128, 64),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        loss="mse",
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        batch_size=256,
        max_epochs=100,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        device="auto",
        callbacks=None,
        random_state=None,
        verbose=0,
    ):
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
            loss=loss,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            warm_start=warm_start,
            device=device,
            callbacks=callbacks,
            random_state=random_state,
            verbose=verbose,
        )
        self.group_dim = group_dim
        self.method = method
        self.adversary_weight = adversary_weight
        self.segment_length = segment_length

    # -- fitting ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Learn content codes, group codes and the decoder from groups ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Training rows; or a 3-D array ``(n_sequences, n_frames,
            n_features)`` or a list of ``(n_frames_i, n_features)`` arrays.
        y : array-like of shape (n_samples,) or (n_sequences,)
            The group of each row (or sequence); any hashable labels.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit_validated(X, y, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y):
        """Train for one pass over ``X``, keeping earlier training.

        The first call initialises the network and fixes the groups
        (``classes_``); later calls may only use those groups.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            A batch of training rows or sequences.
        y : array-like of shape (n_samples,) or (n_sequences,)
            The group of each row (or sequence).

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit_validated(X, y, partial=True)

    def _fit_validated(self, X, y, *, partial):
        if self.method == "instance_norm" and not _is_sequences(X):
            raise ValueError(
                "method='instance_norm' normalises over time and needs sequence "
                "input: a 3-D array (n_sequences, n_frames, n_features) or a list "
                "of 2-D arrays. For rows use 'adversarial' or 'bottleneck'."
            )
        return self._fit(X, y, partial=partial)

    def _check_fit_data(self, X, y, *, reset):
        if _is_sequences(X):
            sequences, y = self._check_sequences(X, y, reset=reset)
            self._sequence_input = True
            windows, owners = self._windows(sequences)
            return windows, self._fit_group_ids(y, reset)[owners]
        if not reset and getattr(self, "_sequence_input", False):
            raise ValueError(
                "This estimator was fitted on sequences; continue training on "
                "sequences, not rows."
            )
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32)
        self._sequence_input = False
        return X, self._fit_group_ids(y, reset)

    def _fit_group_ids(self, y, reset):
        check_classification_targets(y)
        if reset:
            self.classes_, ids = np.unique(y, return_inverse=True)
            return ids.astype(np.int64)
        return self._group_ids(y, len(y))

    def _check_sequences(self, X, y, *, reset):
        """Validate sequence input; return a list of float32 arrays and y."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        sequences = [check_array(x, dtype=np.float32) for x in X]
        widths = {x.shape[1] for x in sequences}
        if len(widths) != 1:
            raise ValueError(
                f"All sequences must have the same number of features, got {sorted(widths)}."
            )
        n_features = widths.pop()
        if reset:
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif not getattr(self, "_sequence_input", False):
            raise ValueError(
                "This estimator was fitted on rows; continue training on rows, not sequences."
            )
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        y = column_or_1d(y, warn=True)
        if len(y) != len(sequences):
            raise ValueError(
                f"y has {len(y)} labels for {len(sequences)} sequences; give one per sequence."
            )
        return sequences, y

    def _windows(self, sequences):
        """Cut sequences into windows of ``segment_length`` frames, half overlapping."""
        length = self.segment_length
        hop = max(1, length // 2)
        windows, owners = [], []
        for i, x in enumerate(sequences):
            if len(x) < length:
                x = np.concatenate([x, np.repeat(x[-1:], length - len(x), axis=0)])
            starts = list(range(0, len(x) - length + 1, hop))
            if starts[-1] != len(x) - length:
                starts.append(len(x) - length)
            windows.extend(x[s : s + length] for s in starts)
            owners.extend([i] * len(starts))
        return np.stack(windows), np.asarray(owners)

    def _build_module(self, n_features):
        sizes = tuple(self.hidden_layer_sizes)
        weight = self.adversary_weight if self.method == "adversarial" else 0.0
        if self._sequence_input:
            return DisentangledConv(
                self.n_features_in_,
                self.n_components,
                len(self.classes_),
                self.group_dim,
                sizes,
                activation=self.activation,
                dropout=self.dropout,
                instance_norm=self.method == "instance_norm",
                adversary_weight=weight,
            )
        return DisentangledMLP(
            n_features,
            self.n_components,
            len(self.classes_),
            self.group_dim,
            sizes,
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            output_activation="sigmoid" if self.loss == "bce" else None,
            adversary_weight=weight,
        )

    def _keep_training_codes(self, X):
        """Keep a subsample of training content codes (frames) for :meth:`sample`."""
        codes = self._encode_batch(X)
        codes = codes.reshape(-1, self.n_components)
        if len(codes) > _MAX_KEPT_CODES:
            rng = np.random.default_rng(0)
            codes = codes[np.sort(rng.choice(len(codes), _MAX_KEPT_CODES, replace=False))]
        self._training_codes = codes

    # -- groups -------------------------------------------------------------
    @property
    def group_embeddings_(self):
        """The code of each group in ``classes_``: (n_groups, group_dim)."""
        check_is_fitted(self)
        return self.module_.group_embedding.weight.detach().cpu().numpy().copy()

    def _group_ids(self, y, n):
        """Indices into ``classes_`` of a label or one label per item."""
        y = np.asarray(y)
        if y.ndim == 0:
            y = np.repeat(y[None], n)
        y = column_or_1d(y)
        if len(y) != n:
            raise ValueError(
                f"y has {len(y)} labels for {n} rows or sequences; give one label or one per item."
            )
        ids = np.searchsorted(self.classes_, y)
        ids = np.minimum(ids, len(self.classes_) - 1)
        unseen = self.classes_[ids] != y
        if unseen.any():
            raise ValueError(
                f"y contains groups not seen in fit: {np.unique(y[unseen])[:5].tolist()}; "
                f"known groups are {self.classes_.tolist()[:10]}. For a new group use "
                "embed_group and group_code=."
            )
        return ids.astype(np.int64)

    def _group_codes(self, y, group_code, n):
        """Group codes (n, group_dim) from labels ``y`` or given ``group_code``."""
        if (y is None) == (group_code is None):
            raise ValueError("Give exactly one of y (group labels) and group_code.")
        if group_code is None:
            return self.group_embeddings_[self._group_ids(y, n)]
        codes = check_array(np.atleast_2d(group_code), dtype=np.float32)
        if codes.shape[1] != self.group_dim:
            raise ValueError(
                f"group_code has {codes.shape[1]} values, expected group_dim={self.group_dim}."
            )
        if len(codes) == 1:
            codes = np.repeat(codes, n, axis=0)
        if len(codes) != n:
            raise ValueError(
                f"group_code has {len(codes)} rows for {n} rows or sequences; give one or one "
                "per item."
            )
        return codes

    def embed_group(self, X_examples, *, n_steps=200, lr=0.05):
        """A group code for a new group from a few of its rows (or sequences).

        The code is fitted to the examples: starting from the mean of
        :attr:`group_embeddings_`, ``n_steps`` Adam steps minimise the
        reconstruction loss of the examples decoded from their own content
        codes; the network stays fixed. Pass the result as ``group_code=`` to
        :meth:`convert` or :meth:`inverse_transform` (one-shot conversion).

        Parameters
        ----------
        X_examples : array-like of shape (n_examples, n_features), or sequences
            Rows (or sequences) of the new group, of the kind seen in fit.
        n_steps : int, default=200
            Optimisation steps.
        lr : float, default=0.05
            Step size of the optimisation.

        Returns
        -------
        group_code : ndarray of shape (group_dim,), dtype float32
            The code of the group of ``X_examples``.
        """
        check_is_fitted(self)
        X = self._check_input(X_examples)
        module, device = self.module_, self.device_
        module.eval()
        if self._sequence_input:
            windows, _ = self._windows(X)
            X = windows
        rng = np.random.default_rng(0)
        if len(X) > 2048:
            X = X[np.sort(rng.choice(len(X), 2048, replace=False))]
        x = as_tensor(X).to(device)
        with torch.no_grad():
            z = module.encode(x)
        g = torch.tensor(self.group_embeddings_.mean(axis=0), device=device, requires_grad=True)
        optimizer = torch.optim.Adam([g], lr=lr)
        criterion = LOSSES[self.loss]()
        with torch.enable_grad():
            for _ in range(n_steps):
                optimizer.zero_grad()
                loss = criterion(module.decode(z, g.expand(len(x), -1)), x)
                (grad,) = torch.autograd.grad(loss, g)
                g.grad = grad
                optimizer.step()
        return g.detach().cpu().numpy().astype(np.float32)

    # -- inference ----------------------------------------------------------
    def _check_input(self, X):
        """Validate rows or sequences for inference: an array or list of arrays."""
        if getattr(self, "_sequence_input", False):
            if not _is_sequences(X):
                raise ValueError(
                    "This estimator was fitted on sequences: give a 3-D array "
                    "(n_sequences, n_frames, n_features) or a list of 2-D arrays."
                )
            sequences, _ = self._check_sequences(X, np.zeros(len(X)), reset=False)
            if getattr(X, "ndim", None) == 3:
                return np.stack(sequences)
            return sequences
        return validate_data(self, X, reset=False, dtype=np.float32)

    def _run(self, fn, *arrays):
        """Apply ``fn`` to tensors of ``arrays`` in chunks, without gradients.

        ``arrays`` are numpy arrays (rows or 3-D sequences, chunked along the
        first axis) or, for variable-length sequences, lists (one call per
        sequence). Returns an array, or a list for list input.
        """
        module, device = self.module_, self.device_
        module.eval()
        with torch.inference_mode():
            if isinstance(arrays[0], list):
                return [
                    fn(*(as_tensor(a[i][None]).to(device) for a in arrays))[0].cpu().numpy()
                    for i in range(len(arrays[0]))
                ]
            step = _SEQUENCE_BATCH if arrays[0].ndim == 3 else 16384
            chunks = [
                fn(*(as_tensor(a[s : s + step]).to(device) for a in arrays)).cpu().numpy()
                for s in range(0, len(arrays[0]), step)
            ]
            return np.concatenate(chunks)

    def _encode_batch(self, X):
        return self._run(self.module_.encode, X)

    def transform(self, X):
        """Encode ``X`` into the group-free content code.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows, or sequences if the estimator was fitted on sequences.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), dtype float32
            Content codes; for sequences, per-frame codes of shape
            ``(n_sequences, n_frames, n_components)`` (a list for list input).
        """
        check_is_fitted(self)
        return self._encode_batch(self._check_input(X))

    def fit_transform(self, X, y, **fit_params):
        """Fit to ``X`` and groups ``y``, then return the content codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Training rows or sequences.
        y : array-like of shape (n_samples,) or (n_sequences,)
            The group of each row (or sequence).
        **fit_params : dict
            Unused; for API consistency.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), dtype float32
            Content codes of ``X``.
        """
        return self.fit(X, y).transform(X)

    def inverse_transform(self, X, y=None, *, group_code=None):
        """Render content codes in group(s) ``y`` (or a given group code).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components), or sequences
            Content codes, e.g. from :meth:`transform`.
        y : label or array-like of shape (n_samples,), default=None
            The group to render in: one label for all, or one per row
            (sequence). Required unless ``group_code`` is given.
        group_code : array-like of shape (group_dim,) or (n_samples, group_dim), \
                default=None
            Group code(s) to render in instead of ``y``, e.g. from
            :meth:`embed_group`.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_), dtype float32
            Rows (or sequences of frames) rendered in the chosen group(s).
        """
        check_is_fitted(self)
        if getattr(self, "_sequence_input", False) and _is_sequences(X):
            Z = [check_array(z, dtype=np.float32) for z in X]
            if any(z.shape[1] != self.n_components for z in Z):
                raise ValueError(
                    f"Codes must have n_components={self.n_components} values per frame."
                )
            if getattr(X, "ndim", None) == 3:
                Z = np.stack(Z)
        else:
            Z = self._check_codes(X)
        G = self._group_codes(y, group_code, len(Z))
        if isinstance(Z, list):
            G = list(G)
        if self._sequence_input and not isinstance(Z, list) and Z.ndim == 2:
            # Frames without time context (e.g. from sample): one frame each.
            return self._run(self.module_.decode, Z[:, None], G)[:, 0]
        return self._run(self.module_.decode, Z, G)

    def convert(self, X, y_target=None, *, group_code=None):
        """Render ``X`` in another group: ``inverse_transform(transform(X), y_target)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows (or sequences) to convert.
        y_target : label or array-like of shape (n_samples,), default=None
            Target group, one label or one per row (sequence). Required
            unless ``group_code`` is given.
        group_code : array-like of shape (group_dim,) or (n_samples, group_dim), \
                default=None
            Target group code, e.g. from :meth:`embed_group` for a group not
            seen in training.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_), dtype float32
            The converted rows (sequences).
        """
        return self.inverse_transform(self.transform(X), y_target, group_code=group_code)

    def reconstruction_error(self, X, y, per_feature=False):
        """Reconstruction loss of each row (sequence) decoded in its own group.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows (sequences) to reconstruct.
        y : array-like of shape (n_samples,) or (n_sequences,)
            Their groups.
        per_feature : bool, default=False
            Return the loss of every entry instead of the means.

        Returns
        -------
        errors : ndarray of shape (n_samples,) or like ``X``
            The training ``loss`` per row (sequence: mean over its frames),
            or per entry when ``per_feature``.
        """
        check_is_fitted(self)
        X = self._check_input(X)
        X_hat = self.inverse_transform(self._encode_batch(X), y)
        criterion = LOSSES[self.loss](reduction="none")

        def loss(x_hat, x):
            return criterion(torch.from_numpy(x_hat), as_tensor(x)).numpy()

        if isinstance(X, list):
            errors = [loss(a, b) for a, b in zip(X_hat, X)]
            return errors if per_feature else np.array([e.mean() for e in errors], dtype=np.float32)
        errors = loss(X_hat, X)
        return errors if per_feature else errors.reshape(len(errors), -1).mean(axis=1)

    def score(self, X, y):
        """Minus the mean reconstruction loss of ``X`` in its groups ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows (sequences) to score.
        y : array-like of shape (n_samples,) or (n_sequences,)
            Their groups.

        Returns
        -------
        score : float
            ``-mean(loss(X, reconstruct(X)))`` with the training ``loss``.
        """
        return -float(np.mean(self.reconstruction_error(X, y), dtype=np.float64))

    def sample(self, n_samples=1, y=None, random_state=None):
        """Render training content codes, drawn at random, in group(s) ``y``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows (frames for sequence input) to generate.
        y : label or array-like of shape (n_samples,), default=None
            Group(s) to render in; None draws groups uniformly.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_), dtype float32
            Generated rows (frames).
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        rng = check_random_state(random_state)
        Z = self._training_codes[rng.randint(len(self._training_codes), size=n_samples)]
        if y is None:
            y = self.classes_[rng.randint(len(self.classes_), size=n_samples)]
        return self.inverse_transform(Z, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
