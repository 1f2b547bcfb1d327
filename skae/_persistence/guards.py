"""The checks that bound what reading a model file may cost.

Caps on the manifest and on the arrays, the zip members skae could have
written (stored or deflated, unencrypted), the digest of every array, array
headers read without their data (the dry reader), and optimizer state that
must match its parameters (torch does not compare shapes).
"""

import hashlib
import io
import json
import math
import zipfile
import zlib

import numpy as np
import torch

from ..exceptions import ModelFileError

MANIFEST = "skae.json"

#: the training history, about 80 bytes a batch, so this allows 1.6 million
#: batches (300 epochs of 1.4 million rows in batches of 256).
MAX_MANIFEST_BYTES = 128 * 2**20
#: The arrays of a file may hold at most this many times the bytes of the
#: networks it describes (weights, two moments of Adam, fitted attributes)...
ARRAY_BYTES_PER_NETWORK_BYTE = 4
#: ... plus this many bytes (fitted attributes of estimators without a network).
ARRAY_BYTES_ALLOWANCE = 64 * 2**20
#: The compressions that skae writes (and so reads): deflate bounds what it
#: inflates per read, and LZMA or BZIP2 members are refused.
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
#: Errors that reading a member (or parsing the manifest) may raise.
_READ_ERRORS = (
    KeyError, zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError,
    RuntimeError, MemoryError, RecursionError, ValueError,
)  # fmt: skip
#: Arrays up to this size are read whole when the file is checked (numpy
#: scalars among the parameters, ``classes_``); larger ones by their header.
_DRY_READ_BYTES = 2**16


def _nbytes(shape, dtype):
    return math.prod(shape) * dtype.itemsize


def _state_bytes(module):
    return sum(_nbytes(t.shape, t.dtype) for t in module.state_dict().values())


class _Archive:
    """The arrays of an archive, each checked against its digest and its header.

    A ``dry`` archive reads only the headers of the arrays (giving zero-cost
    stand-ins of their shape and dtype) and checks every digest.
    """

    def __init__(self, archive, digests, *, dry=False):
        self.archive = archive
        self.digests = digests
        self.dry = dry

    def member(self, name):
        """The zip directory entry of ``name``, which must be one skae could have written."""
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise ModelFileError(f"The model file lacks {name!r}.") from None
        if info.flag_bits & 0x1:
            raise ModelFileError(f"The model file's {name!r} is encrypted; skae never encrypts.")
        if info.compress_type not in _COMPRESSIONS:
            raise ModelFileError(
                f"The model file's {name!r} uses compression method {info.compress_type}; "
                "skae writes only stored or deflated members."
            )
        return info

    def array(self, name):
        if not isinstance(name, str) or name not in self.digests:
            raise ModelFileError(f"The model file refers to an unlisted array {name!r:.80}.")
        info = self.member(name)
        if self.dry:
            self._check_digest(name, info)
            return self._array_header(name, info)
        try:
            data = self.archive.read(name)
        except _READ_ERRORS as exc:
            raise ModelFileError(f"The model file lacks or cannot read {name!r}: {exc}") from None
        if hashlib.sha256(data).hexdigest() != self.digests[name]:
            raise ModelFileError(f"The model file's {name!r} does not match its digest (altered).")
        try:
            return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            raise ModelFileError(
                f"The model file's {name!r} cannot be read without pickle: {exc}"
            ) from None

    def _check_digest(self, name, info):
        """Hash the member a megabyte at a time (its data is not kept)."""
        digest = hashlib.sha256()
        try:
            with self.archive.open(info) as handle:
                while chunk := handle.read(2**20):
                    digest.update(chunk)
        except _READ_ERRORS as exc:
            raise ModelFileError(f"The model file lacks or cannot read {name!r}: {exc}") from None
        if digest.hexdigest() != self.digests[name]:
            raise ModelFileError(f"The model file's {name!r} does not match its digest (altered).")

    def _array_header(self, name, info):
        """A stand-in of the array ``name`` with its shape and dtype, read from its header.

        The member's size in the zip directory must be exactly what the
        header says (the reading of the data is bounded by that size).
        """
        try:
            with self.archive.open(info) as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise ValueError(f"npy format version {version}")
                offset = handle.tell()
        except _READ_ERRORS as exc:
            raise ModelFileError(f"The model file cannot read {name!r}: {exc}") from None
        if dtype.hasobject or dtype.itemsize == 0:
            raise ModelFileError(
                f"The model file's {name!r} cannot be read without pickle: a {dtype} array."
            )
        if info.file_size != offset + _nbytes(shape, dtype):
            raise ModelFileError(
                f"The model file's {name!r} is {info.file_size} bytes, not the "
                f"{offset + _nbytes(shape, dtype)} its header describes (altered)."
            )
        if info.file_size <= _DRY_READ_BYTES:  # small: its values may size the network
            with self.archive.open(info) as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
        return np.broadcast_to(np.zeros((), dtype), shape)


def _check_optimizer_state(optimizer, state_dict):
    """Refuse optimizer state whose tensors do not match their parameters.

    torch's ``load_state_dict`` does not compare shapes, and its fused CPU
    kernels write out of bounds on a smaller moment (the interpreter
    aborts). Every tensor of a parameter's state is a 0-d count (``step``)
    or has the parameter's shape and, when floating, its dtype.
    """
    if not isinstance(state_dict, dict) or not isinstance(state_dict.get("param_groups"), list):
        raise ValueError("the optimizer state has no param_groups")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    ids = [i for group in state_dict["param_groups"] for i in group.get("params", ())]
    if len(ids) != len(params) or len(set(ids)) != len(ids):
        raise ValueError(f"the optimizer state lists {len(ids)} parameters, not {len(params)}")
    by_id = dict(zip(ids, params))
    state = state_dict.get("state", {})
    if not isinstance(state, dict):
        raise ValueError("the optimizer state is not a mapping")
    factored = type(optimizer).__name__ == "Adafactor"
    for key, values in state.items():
        if key not in by_id or not isinstance(values, dict):
            raise ValueError(f"optimizer state for an unknown parameter {key!r:.40}")
        param = by_id[key]
        for name, value in values.items():
            if not isinstance(value, torch.Tensor) or value.ndim == 0:
                continue
            shape_ok = value.shape == param.shape
            if factored:  # factored second moments broadcast to the parameter
                shape_ok = value.ndim == param.ndim and all(
                    v in (1, p) for v, p in zip(value.shape, param.shape)
                )
            if not shape_ok:
                raise ValueError(
                    f"optimizer state {name!r} of a parameter of shape {tuple(param.shape)} "
                    f"has shape {tuple(value.shape)}"
                )
            if value.dtype != param.dtype:
                raise ValueError(
                    f"optimizer state {name!r} is {value.dtype}, its parameter {param.dtype}"
                )


def _read_manifest(archive, path):
    info = _Archive(archive, {}).member(MANIFEST)
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(
            f"{path}: {MANIFEST} is {info.file_size} bytes, more than a model file's "
            f"manifest may be ({MAX_MANIFEST_BYTES})."
        )
    try:
        with archive.open(info) as handle:
            text = handle.read(MAX_MANIFEST_BYTES + 1)
        if len(text) > MAX_MANIFEST_BYTES:
            raise ValueError("it inflates beyond its size in the zip directory")
        return json.loads(text)
    except _READ_ERRORS as exc:
        kind = type(exc).__name__
        raise ModelFileError(f"{path}: cannot read {MANIFEST} ({kind}: {exc})") from None


def _check_sizes(archive, digests, network_bytes, path):
    """Refuse arrays that hold far more than the networks the file describes need."""
    total = sum(archive.getinfo(name).file_size for name in digests)
    budget = ARRAY_BYTES_PER_NETWORK_BYTE * network_bytes + ARRAY_BYTES_ALLOWANCE
    if total > budget:
        raise ModelFileError(
            f"{path}: its arrays are {total} bytes, far more than the networks it describes "
            f"need ({network_bytes} bytes of weights); the file was altered."
        )
