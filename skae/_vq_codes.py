"""Arrays of discrete codes (one column per codebook): validation and usage.

Pure numpy functions used by :class:`skae.VQTransformer`; they know no
estimator.
"""

import numpy as np
from sklearn.utils import check_array


def check_codes(codes, n_codebooks, n_codes, estimator_name):
    """Validate codes given to ``inverse_transform``; return them as int64.

    Raises
    ------
    ValueError
        If there is not one column per codebook, or a value is not an integer
        in ``[0, n_codes)``.
    """
    codes = check_array(codes, dtype=None)
    if codes.shape[1] != n_codebooks:
        raise ValueError(
            f"X has {codes.shape[1]} features, but {estimator_name}."
            f"inverse_transform is expecting {n_codebooks} codes per "
            "row (n_codebooks) as input."
        )
    as_int = codes.astype(np.int64)
    if not np.array_equal(as_int, codes) or as_int.min() < 0 or as_int.max() >= n_codes:
        raise ValueError(
            f"Codes must be integers in [0, {n_codes}) (n_codes); got "
            f"values in [{codes.min()}, {codes.max()}]."
        )
    return as_int


def code_usage(codes, n_codes):
    """How often each code is used, and the perplexity of each codebook.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, n_codebooks), dtype int64
    n_codes : int

    Returns
    -------
    usage : ndarray of shape (n_codebooks, n_codes), dtype int64
        Rows that chose each code.
    perplexity : ndarray of shape (n_codebooks,)
        ``exp`` of the entropy of each codebook's usage: the effective number
        of codes in use, at most ``n_codes``.
    """
    usage = np.stack([np.bincount(column, minlength=n_codes) for column in codes.T])
    p = usage / len(codes)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    return usage, np.exp(entropy)
