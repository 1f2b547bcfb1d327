"""An on-disk cache of a synthesised speech corpus: spectrograms and phones.

One compressed ``.npz`` per set of arguments (named by their hash, holding
them too, checked on reading); written through a temporary file and an atomic
rename, read without unpickling.
"""

import hashlib
import json
import os

import numpy as np


def cache_path(cache_dir, key):
    """The file for ``key`` (JSON-able arguments) in ``cache_dir`` (``True``: the data home)."""
    if cache_dir is True:
        from sklearn.datasets import get_data_home

        cache_dir = os.path.join(get_data_home(), "skae_speech")
    os.makedirs(cache_dir, exist_ok=True)
    digest = hashlib.sha256(_key_text(key).encode()).hexdigest()[:16]
    return os.path.join(cache_dir, f"speech-{digest}.npz")


def _key_text(key):
    return json.dumps(key, sort_keys=True)


def save(path, key, mels, phones):
    """Write the spectrograms and per-frame phone names of a corpus made with ``key``."""
    names = sorted({p for frames in phones for p in frames})
    index = {p: i for i, p in enumerate(names)}
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez_compressed(
        tmp,
        mels=np.concatenate(mels),
        lengths=np.array([len(m) for m in mels]),
        phones=np.array([index[p] for frames in phones for p in frames], dtype=np.int16),
        phone_names=np.array(names, dtype=str),
        key=np.array(_key_text(key)),
    )
    os.replace(tmp, path)  # a reader never sees half a file


def load(path, key):
    """The spectrograms and per-frame phone names that :func:`save` wrote for ``key``.

    None when there is no such file, or it was written for another key.
    """
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as data:
        if "key" not in data.files or str(data["key"]) != _key_text(key):
            return None
        splits = np.cumsum(data["lengths"])[:-1]
        mels = np.split(data["mels"], splits)
        phones = np.split(data["phone_names"][data["phones"]], splits)
    return mels, phones
