"""The limits npsep puts on what it reads, checked before any work that could be unbounded.

A weights file or a checkpoint is data a user may have downloaded from anywhere;
a tiny file must not be able to make npsep allocate gigabytes, loop for hours or
wait forever. The limits are generous: every published SuDoRM-RF model is far
inside them (``docs/checkpoints.md`` has the table).
"""
import os
import stat
import zipfile

HPARAM_LIMITS = {
    "out_channels": 4096, "in_channels": 16384, "num_blocks": 256, "upsampling_depth": 16,
    "enc_kernel_size": 4095, "enc_num_basis": 8192, "num_sources": 64, "group_size": 1024,
}
"""Largest accepted value of each integer hyper-parameter (documented in docs/checkpoints.md)."""

MAX_TENSOR_BYTES = 2 ** 31
"""Bytes of tensor data a checkpoint may hold (its storages, and again the tensors viewing them)."""

MAX_PICKLE_BYTES = 2 ** 26
"""Bytes of a checkpoint's ``data.pkl`` (the pickled structure, tensors excluded)."""

MAX_NESTING = 100
"""Containers nested inside one another in a checkpoint's pickle."""

MAX_OBJECTS = 10 ** 6
"""Objects a checkpoint's pickle may expand to, counting a shared one at every place it appears."""

MAX_CONFIG_BYTES = 2 ** 20
"""Bytes of a weights file's ``__config__`` entry."""

DEFLATE_MAX_RATIO = 1032
"""Largest ratio of a deflate stream's output to its input: a zip member that claims more is damaged."""


def check_hparam_bounds(hp):
    """Raise ``ValueError`` naming the first integer hyper-parameter above :data:`HPARAM_LIMITS`."""
    for name, limit in HPARAM_LIMITS.items():
        value = hp.get(name)
        if isinstance(value, int) and value > limit:
            raise ValueError(f"hyper-parameter {name}={value} is above npsep's limit of {limit} "
                             "(see the limits table in docs/checkpoints.md)")


def check_regular_file(path, error, what="file"):
    """Raise ``error`` unless ``path`` is a regular file (by ``stat``: no FIFO, device or folder)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise error(f"{path}: no such {what}") from None
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    if stat.S_ISDIR(mode):
        raise error(f"{path} is a directory, not a {what}")
    if not stat.S_ISREG(mode):
        raise error(f"{path}: not a regular file (a FIFO, socket or device cannot be a {what})")


def check_zip_member(info, limit, error):
    """Raise ``error`` if the zip member ``info`` (a ``ZipInfo``) is encrypted, or if the sizes its
    directory entry gives are above ``limit`` bytes or impossible for its compression."""
    if info.flag_bits & 0x1:
        raise error(f"zip entry {info.filename[:80]!r} is encrypted")
    if info.file_size > limit:
        raise error(f"zip entry {info.filename[:80]!r} holds {info.file_size} bytes, more than "
                    f"the limit of {limit}")
    ratio = 1 if info.compress_type == zipfile.ZIP_STORED else DEFLATE_MAX_RATIO
    if info.file_size > ratio * info.compress_size + 64:
        raise error(f"zip entry {info.filename[:80]!r} claims {info.file_size} bytes from "
                    f"{info.compress_size} compressed: damaged")
