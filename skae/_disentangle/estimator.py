"""The disentangled autoencoder: a content code and a group code.

The estimator trains through the shared engine like every skae autoencoder;
it supplies the group ids of the rows as the engine's per-row conditioning
(:meth:`DisentangledAutoEncoder._check_fit_data`), and the network
(:mod:`skae._disentangle.modules`) returns the adversary's loss as an
auxiliary term (the group discrepancy of the content codes, or an adversary's
loss whose gradient is reversed into the encoder), so one optimizer trains
encoder, decoder, group embeddings and adversary together.
Sequence input is handled by :mod:`skae._disentangle.sequences`; group labels, group codes
and rendering in a group (:class:`skae._disentangle.rendering.GroupConversionMixin`) by
:mod:`skae._disentangle.rendering`.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._base import _MAX_KEPT_CODES, BaseAutoEncoder
from .._typing import (
    Activation,
    Callbacks,
    Device,
    Loss,
    Optimizer,
    Precision,
    RandomStateLike,
)
from .._utils import subsample
from .labels import encode_groups, group_ids
from .modules import DisentangledConv, DisentangledMLP
from .rendering import GroupConversionMixin
from .sequences import SequenceInputMixin, is_sequences
from .spread import group_moments

METHODS = ("mmd", "adversarial", "instance_norm", "bottleneck")

#: ``mmd_weight="auto"`` for rows: at 10 (the sequences' weight) the discrepancy
#: term held the rows' reconstruction back, and conversions of
#: ``benchmarks/bench_disentangle.py``'s synthetic families erred a third as
#: much as the target group's mean row (a twentieth at 1, with batches of 512).
#: Chosen on that grid's
#: choosing families (seed 0), confirmed on its held-out families and seeds
#: (``benchmarks/results/disentangle.md``).
ROW_MMD_WEIGHT = 1.0

#: What ``"auto"`` sizes and weights are: (for rows, for sequences). Sequences get a
#: narrower content code per frame in a wider convolutional network, trained
#: on batches of fewer (each 64-frame) windows; as windows half overlap, 50
#: epochs pass over every frame 100 times. On log-mel speech the rows' network
#: (8 numbers, 128/64) keeps the mel-cepstral distortion of conversions above
#: 3.2 dB (``benchmarks/results/vc_defaults.md``). Rows train on batches of 512
#: for up to 300 epochs with ``mmd_weight`` 1 (:data:`ROW_MMD_WEIGHT`): with
#: batches of 256, the group discrepancy of 8-16 groups was estimated from so
#: few codes per group that content codes collapsed to the group means.
AUTO_SIZES = {
    "n_components": (8, 3),
    "hidden_layer_sizes": ((128, 64), (256, 256)),
    "batch_size": (512, 32),
    "max_epochs": (300, 50),
    "mmd_weight": (ROW_MMD_WEIGHT, 10.0),
}


class DisentangledAutoEncoder(GroupConversionMixin, SequenceInputMixin, BaseAutoEncoder):
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

    Four ways keep the group out of the content code (``method``):

    - ``"mmd"`` [4]_ (the default): the loss adds ``mmd_weight`` times the
      maximum mean discrepancy between each group's content codes and all
      codes of the batch, so the codes are pushed to be distributed alike in
      every group: a probe that predicts the group from the code then finds
      nothing, whatever ``n_components`` is. No classifier to fool, so no
      min-max game. Fits rows and sequences (per frame; the sequence network
      is the instance-normalised one of ``"instance_norm"``).
    - ``"adversarial"`` [1]_: a group classifier is trained on the content
      code and its gradient is reversed into the encoder (scaled by
      ``adversary_weight``), so the encoder removes what the classifier
      uses. The code is tanh-bounded; a moderate weight (~0.3) is stable,
      a strong one can diverge. Fits rows and sequences; with a code wider
      than the content the encoder learns to fool the classifier of the
      moment rather than to drop the group (a fresh probe reads it again).
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
    The sizes default to ``"auto"``, which depends on the kind of input: rows
    get a content code of 8 numbers in a 128/64 network, batches of 512 rows,
    300 epochs and ``mmd_weight=1``; sequences a content code of 3 channels
    per frame in a 256/256 convolutional network, batches of 32 windows, 50
    epochs and ``mmd_weight=10``. The rows' defaults were chosen on
    synthetic families
    (:doc:`benchmarks/bench_disentangle.py </benchmarks/disentangle>`). On log-mel
    speech the rows' network sizes convert further from the real target
    (mel-cepstral distortion 3.22-3.38 dB over three seeds of the
    documentation's benchmark, against 2.91-2.95 dB), at about a quarter of
    the fit time.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Width of the content code (per frame for sequences). ``"auto"``: 8
        for rows, 3 for sequences.
    group_dim : int, default=16
        Width of the group code.
    method : {"mmd", "adversarial", "instance_norm", "bottleneck"}, \
            default="mmd"
        How the content code is kept free of the group; see above.
    group_encoder : bool, default=False
        Compute group codes from the data instead of learning one per group
        (sequences only): a group encoder (1-D convolutions of the encoder's
        widths, averaged over time, as the speaker encoders of AdaIN-VC
        [2]_ and AutoVC [3]_) is trained with the autoencoder, each
        training window's code encoded from another window of its group in
        the batch (from itself when it is alone there). :meth:`embed_group` is then one forward pass over a few
        seconds of a group never seen in training (one-shot conversion), and
        :attr:`group_embeddings_` are the mean codes of each group's training
        windows. Pays off with many training groups (tens of speakers: the
        encoder must learn the space of groups, not a few points of it).
    n_codes : int or None, default=None
        Snap each content code (per frame for sequences) to the nearest of
        ``n_codes`` learned vectors, a VQ-VAE bottleneck [5]_: the content
        becomes a sequence of discrete units (:meth:`content_codes`), and
        with a group-conditioned decoder they need not carry the group. The codebook is initialised by
        k-means on the first batch and follows moving averages of its
        frames; unused codes are re-seeded. None: continuous codes.
    code_jitter : float in [0, 1], default=0.0
        Time-jitter regularisation [6]_ (sequences only; ignored for rows):
        in training, the decoder gets each frame's content code swapped for
        the code of the frame before or after it with this probability, so
        the codes cannot carry frame-exact detail and describe the slower
        content instead. With ``n_codes`` on speech, 1.0 (every inner frame
        decoded from a neighbour's code) made the units the most phone-like
        of the values tried, more informative of the phone than k-means
        (:doc:`benchmarks/results/units.md </benchmarks/units>`).
    mmd_weight : float or "auto", default="auto"
        Weight of the group discrepancy term for ``method="mmd"``; ignored by
        the other methods. Larger hides the group better and rebuilds less
        exactly. ``"auto"``: 1 for rows, 10 for sequences. On the synthetic
        families of :doc:`benchmarks/bench_disentangle.py </benchmarks/disentangle>` (1-6 content
        dimensions, 2-16 groups) 1 rather than 10, with the rows' batches of
        512, brings row conversions from about a third to a twentieth of the
        target group's mean error, the group still out of the default
        8-number code; wider codes leak more at 1 (a probe reads 0.42 of
        4 groups at 32 numbers): raise it for wide codes.
    adversary_weight : float, default=0.3
        Scale of the adversary's reversed gradient in the encoder for
        ``method="adversarial"``; ignored by the other methods.
    segment_length : int, default=64
        Frames per training window for sequence input (shorter sequences are
        padded by repeating their last frame); ignored for rows.
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden widths (channels for sequences) of the encoder; the decoder
        uses them reversed, the adversary as given. ``"auto"``: ``(128, 64)``
        for rows, ``(256, 256)`` for sequences.
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
    optimizer_kwargs : dict or None, default=None
        Further arguments of the optimizer, e.g. ``{"momentum": 0.9}`` for
        SGD or ``{"betas": (0.9, 0.99)}`` for Adam; ``lr`` and
        ``weight_decay`` are parameters of their own.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    batch_size : int or "auto", default="auto"
        Rows (or windows) per training step. ``"auto"``: 512 rows, or 32
        windows of ``segment_length`` frames.
    max_epochs : int or "auto", default="auto"
        Maximum number of passes over the training data (rows or windows).
        Training usually ends earlier, when the monitored loss stops
        improving (see ``early_stopping``). ``"auto"``: 300 for rows, 50 for
        sequences (windows half overlap, so each frame is seen 100 times).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when their loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs, then
        restore the best weights. When False, stop when the training loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs. The
        monitored loss is the reconstruction error alone: the terms that
        keep the group out of the code are not part of it.
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
    precision : {"fp32", "bf16", "fp16"}, default="fp32"
        Arithmetic of the network's forward pass, in training and inference:
        ``"bf16"`` and ``"fp16"`` run it in half precision through
        ``torch.autocast`` (weights, optimizer state and losses stay float32;
        ``"fp16"`` also scales the loss), faster on GPUs with tensor cores.
        Outputs are float32 either way.
    compile : bool, default=False
        Train through ``torch.compile(module)``: faster steps on a GPU after a
        compilation of seconds to a minute at the first training call; the
        saved model and inference use the module itself.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, e.g. ``skorch.callbacks.LRScheduler``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, the validation split and
        dropout. Equal seeds give equal models on the CPU.
    verbose : int, default=0
        1 shows the progress of training: on a terminal a bar over the
        epochs with the loss and the time left, elsewhere a line at the first
        epoch, about every tenth and the last. 2 and up print skorch's full
        table, one line per epoch (and on a terminal a bar over each epoch's
        batches).

    Attributes
    ----------
    classes_ : ndarray of shape (n_groups,)
        The group labels seen in :meth:`fit`, sorted.
    group_embeddings_ : ndarray of shape (n_groups, group_dim)
        The learned code of each group, in the order of ``classes_``; with
        ``group_encoder=True``, the mean encoded code of its training windows
        (over every ``partial_fit`` call since the network was made).
    n_features_in_ : int
        Number of features (per frame for sequences) seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names (rows only).
    net_ : skae._engine.net.ReconstructionNet
        The skorch net that trained the module.
    module_ : torch.nn.Module
        The trained network
        (:class:`skae._disentangle.modules.DisentangledMLP` for rows,
        :class:`skae._disentangle.modules.DisentangledConv` for sequences).
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
    .. [4] C. Louizos, K. Swersky, Y. Li, M. Welling and R. Zemel, "The
       variational fair autoencoder", ICLR 2016, arXiv:1511.00830.
    .. [5] A. van den Oord, O. Vinyals and K. Kavukcuoglu, "Neural discrete
       representation learning", NeurIPS 2017, arXiv:1711.00937.
    .. [6] J. Chorowski, R. J. Weiss, S. Bengio and A. van den Oord,
       "Unsupervised speech representation learning using WaveNet
       autoencoders", IEEE/ACM TASLP 27(12), 2019, arXiv:1901.08810.

    Examples
    --------
    >>> import numpy as np
    >>> from skae import DisentangledAutoEncoder
    >>> rng = np.random.RandomState(0)
    >>> y = rng.randint(0, 2, size=100)
    >>> X = rng.normal(size=(100, 6)) + 3 * y[:, None]
    >>> dae = DisentangledAutoEncoder(n_components=2, group_dim=2, max_epochs=5,
    ...                               device="cpu", random_state=0).fit(X, y)
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
        "mmd_weight": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "adversary_weight": [Interval(Real, 0, None, closed="left")],
        "segment_length": [Interval(Integral, 1, None, closed="left")],
        "group_encoder": ["boolean"],
        "n_codes": [Interval(Integral, 2, None, closed="left"), None],
        "code_jitter": [Interval(Real, 0, 1, closed="both")],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "hidden_layer_sizes": ["array-like", StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(
        self,
        n_components: int | Literal["auto"] = "auto",
        *,
        group_dim: int = 16,
        method: Literal["mmd", "adversarial", "instance_norm", "bottleneck"] = "mmd",
        group_encoder: bool = False,
        n_codes: int | None = None,
        code_jitter: float = 0.0,
        mmd_weight: float | Literal["auto"] = "auto",
        adversary_weight: float = 0.3,
        segment_length: int = 64,
        hidden_layer_sizes: tuple[int, ...] | Literal["auto"] = "auto",
        activation: Activation = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        loss: Loss = "mse",
        optimizer: Optimizer = "adam",
        optimizer_kwargs: dict[str, Any] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int | Literal["auto"] = "auto",
        max_epochs: int | Literal["auto"] = "auto",
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        warm_start: bool = False,
        device: Device = "auto",
        precision: Precision = "fp32",
        compile: bool = False,
        callbacks: Callbacks = None,
        random_state: RandomStateLike = None,
        verbose: int = 0,
    ) -> None:
        super().__init__(
            n_components,
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
            loss=loss,
            optimizer=optimizer,
            optimizer_kwargs=optimizer_kwargs,
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
            precision=precision,
            compile=compile,
            callbacks=callbacks,
            random_state=random_state,
            verbose=verbose,
        )
        self.group_dim = group_dim
        self.method = method
        self.group_encoder = group_encoder
        self.n_codes = n_codes
        self.code_jitter = code_jitter
        self.mmd_weight = mmd_weight
        self.adversary_weight = adversary_weight
        self.segment_length = segment_length

    # -- fitting ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike) -> DisentangledAutoEncoder:
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
        return self._fit(X, y, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> DisentangledAutoEncoder:
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
        return self._fit(X, y, partial=True)

    def _check_fit_data(self, X, y, *, reset):
        """Training rows (or windows cut from sequences) and their group ids."""
        sequences = is_sequences(X)
        if self.method == "instance_norm" and not sequences:
            raise ValueError(
                "method='instance_norm' normalises over time and needs sequence "
                "input: a 3-D array (n_sequences, n_frames, n_features) or a list "
                "of 2-D arrays. For rows use 'mmd', 'adversarial' or 'bottleneck'."
            )
        if self.group_encoder and not sequences:
            raise ValueError(
                "group_encoder=True encodes a group code from a sequence over time and "
                "needs sequence input: a 3-D array (n_sequences, n_frames, n_features) "
                "or a list of 2-D arrays."
            )
        X, y, owners = self._check_rows_or_windows(X, y, reset=reset)
        if reset:
            self.classes_, ids = encode_groups(y)
        else:
            ids = group_ids(self.classes_, y, len(y))
        return X, ids[owners]

    def _resolved(self, name):
        """A parameter's value for this fit: ``"auto"`` by the kind of input."""
        value = getattr(self, name)
        if isinstance(value, str) and value == "auto":
            return AUTO_SIZES[name][self._sequence_input]
        return value

    def _build_module(self, n_features):
        shape = (
            self._resolved("n_components"),
            len(self.classes_),
            self.group_dim,
            tuple(self._resolved("hidden_layer_sizes")),
        )
        common = dict(
            activation=self.activation,
            dropout=self.dropout,
            adversary_weight=self.adversary_weight if self.method == "adversarial" else 0.0,
            mmd_weight=self._resolved("mmd_weight") if self.method == "mmd" else 0.0,
            n_codes=self.n_codes,
        )
        if self._sequence_input:
            instance_norm = self.method in ("instance_norm", "mmd")
            return DisentangledConv(
                n_features,
                *shape,
                instance_norm=instance_norm,
                group_encoder=self.group_encoder,
                code_jitter=self.code_jitter,
                **common,
            )
        output_activation = "sigmoid" if self.loss == "bce" else None
        return DisentangledMLP(
            n_features,
            *shape,
            batch_norm=self.batch_norm,
            output_activation=output_activation,
            **common,
        )

    def _summarize_training(self, X, cond):
        """Keep a subsample of training content codes (frames) for :meth:`sample`;
        with a group encoder, make each trained group's code its mean encoded code;
        record each group's moments for ``convert(variance_compensation=)``."""
        codes = self._encode(X)
        self._training_codes = subsample(codes.reshape(-1, codes.shape[-1]), _MAX_KEPT_CODES)
        module = self.net_.module_
        if module.group_encoder is not None:
            # Each group's code: the mean encoded code of all its windows
            # trained on so far (partial_fit adds to it; a new fit starts over).
            encoded = torch.as_tensor(self._infer(module.group_encoder, X))
            module.add_group_codes(encoded, torch.as_tensor(cond))
        # The training rows (windows) and their renderings in their own group;
        # a subsample of them for large data.
        keep = subsample(np.arange(len(X)), _MAX_KEPT_CODES)
        ids = np.asarray(cond)[keep]
        rendered = self._infer(module.decode, codes[keep], cond=self.group_embeddings_[ids])
        # A group absent from this call (partial_fit) keeps its moments; a fresh
        # fit sees every group, so the earlier moments are all replaced.
        previous = getattr(self, "_group_moments", None)
        shape = (len(self.classes_), 4, self.n_features_in_)
        self._group_moments = group_moments(
            np.asarray(X)[keep],
            rendered,
            ids,
            len(self.classes_),
            previous if previous is not None and previous.shape == shape else None,
        )

    # -- inference ----------------------------------------------------------
    def transform(self, X: ArrayLike) -> NDArray[np.float32] | list[NDArray[np.float32]]:
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
        return self._encode(self._check_input(X))

    def content_codes(self, X: ArrayLike) -> NDArray[np.int64] | list[NDArray[np.int64]]:
        """The codebook index of each content code (``n_codes`` set).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows, or sequences if the estimator was fitted on sequences.

        Returns
        -------
        codes : ndarray of shape (n_samples,), dtype int64
            Index into :attr:`content_codebook_` of each row's content code;
            for sequences one per frame, ``(n_sequences, n_frames)`` (a list
            for list input).
        """
        check_is_fitted(self)
        if self.net_.module_.quantizer is None:
            raise ValueError(
                "content_codes needs a codebook: fit with n_codes set (e.g. n_codes=64)."
            )
        X = self._check_input(X)
        return self._infer(self.net_.module_.content_codes, X)

    @property
    def content_codebook_(self) -> NDArray[np.float32] | None:
        """The content codebook, ``(n_codes, n_components)``; None without ``n_codes``."""
        check_is_fitted(self)
        quantizer = self.net_.module_.quantizer
        return None if quantizer is None else quantizer.codebook.detach().cpu().numpy().copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
