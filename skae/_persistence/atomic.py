"""Writing a file in one step (``skae.save``, the command line's outputs)."""

import os
import tempfile


class atomic_write:
    """Write a file in one step: a temporary file in the same folder, then ``os.replace``.

    A write that is killed (SIGKILL, SIGTERM, Ctrl-C) or fails part-way
    leaves the file at ``path`` as it was, and no temporary file behind but
    after SIGKILL. Used as ``with atomic_write(path, "w") as handle:``;
    ``mode`` is ``"wb"`` (default) or a text mode with ``**kwargs`` of
    :func:`open`.
    """

    def __init__(self, path, mode="wb", **kwargs):
        self.path = os.fspath(path)
        self.mode = mode
        self.kwargs = kwargs

    def __enter__(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, self.tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{os.path.basename(self.path)}.", suffix=".tmp"
        )
        self.handle = os.fdopen(fd, self.mode, **self.kwargs)
        return self.handle

    def __exit__(self, kind, error, traceback):
        try:
            self.handle.close()
            if kind is None:
                # The mode of a new file, as open() would have made it.
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(self.tmp, 0o666 & ~umask)
                os.replace(self.tmp, self.path)
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)
        return False
