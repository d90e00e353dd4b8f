"""Read a torch zip checkpoint without torch and without running code from it.

``torch.save`` writes a zip whose ``<root>/data.pkl`` is a pickle and whose
``<root>/data/<key>`` files hold the raw bytes of each tensor storage. Plain
``pickle.load`` would import and call whatever the pickle names, so the pickle
is read by :class:`RestrictedUnpickler`, which resolves only an allow-list of
globals (see :meth:`RestrictedUnpickler.find_class`):

* plain containers (``collections.OrderedDict``, ``set``, ``frozenset``);
* ``torch.<T>Storage`` types, read as NumPy dtypes;
* ``torch._utils._rebuild_tensor_v2`` and the ``_rebuild_parameter`` functions,
  replaced by NumPy versions that return ``np.ndarray`` copies;
* ``torch.Size`` (a tuple);
* plain metadata: NumPy scalars and small arrays of numbers, ``TorchVersion`` as ``str``
  (:mod:`.plain_data`);
* module classes of ``torch.nn.modules`` and of the SuDoRM-RF code, replaced by
  :class:`ModuleStandIn`, an inert object that only records its class path and
  the state ``torch.save`` gave it.

Every other global (``os.system``, ``builtins.eval``, unknown classes...) is
refused with a :class:`ConvertError` that names it.

A small file must not cost unbounded memory or time either (limits in
:mod:`npsep.limits`): only regular files are opened; every zip entry's size is
checked from the zip directory before it is read; the pickle's memo indices are
checked before it runs (the C unpickler sizes its memo table by them); a storage
must have exactly the bytes its persistent id declares, a tensor may not view
more elements than its storage backs (no zero-stride or overlapping blow-ups),
and the storages and tensors together stay under
:data:`npsep.limits.MAX_TENSOR_BYTES`; the unpickled structure may not be
cyclic, nested deeper than :data:`npsep.limits.MAX_NESTING` or expand past
:data:`npsep.limits.MAX_OBJECTS`.
"""
import _compat_pickle
import io
import math
import pickle
import pickletools
import re
import zipfile
from collections import OrderedDict

import numpy as np

from npsep import limits
from npsep.errors import ConvertError

from .plain_data import GLOBALS as _PLAIN_DATA_GLOBALS

# Legacy (torch < 1.6, or _use_new_zipfile_serialization=False) files start with a
# protocol-2 pickle of this magic number.
_LEGACY_MAGIC = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)[:14]

_STORAGE_DTYPES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
}
"""torch storage class -> element type (``UntypedStorage`` holds bytes)."""

_MODULE_PACKAGES = re.compile(r"torch\.nn\.modules\.\w+|sudo_rm_rf\.dnn\.models\."
                              r"(sudormrf|improved_sudormrf|groupcomm_sudormrf_v2)")
"""Modules whose classes are replaced by :class:`ModuleStandIn`."""

_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


class ModuleStandIn:
    """Inert stand-in for a pickled ``torch.nn.Module``.

    Pickles rebuild modules with ``cls.__new__(cls)`` and then pass the module's
    ``__dict__`` to ``__setstate__``; this class keeps that dict in ``state``
    and does nothing else. Each allowed class path gets its own subclass whose
    ``class_path`` attribute says which class the pickle named.
    """
    class_path = None

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise ConvertError(f"the pickled {self.class_path} has no attribute dict")
        self.state = state


class StorageType:
    """Marker for a ``torch.<T>Storage`` class: the element type of a storage."""

    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]


def load(path):
    """Unpickle the checkpoint at ``path`` safely; return the top-level object.

    Tensors come back as ``np.ndarray`` in native byte order (bfloat16 as float32),
    modules as :class:`ModuleStandIn`. Raises :class:`ConvertError` for any file
    that is not a readable torch zip checkpoint or that names a refused global.
    """
    limits.check_regular_file(path, ConvertError)
    archive = _open_zip(path)
    with archive:
        try:
            root = _root(archive, path)
            byteorder = _byteorder(archive, root)
            data = _read_member(archive, f"{root}/data.pkl", limits.MAX_PICKLE_BYTES)
            check_memo_indices(data)
            unpickler = RestrictedUnpickler(io.BytesIO(data), archive, root, byteorder)
            obj = unpickler.load()
            check_structure(obj)
            return obj
        except ConvertError:
            raise
        except MemoryError:
            raise ConvertError(f"{path}: out of memory while reading the checkpoint") from None
        except Exception as e:  # any damage to the pickle or the zip (RecursionError too)
            raise ConvertError(f"{path}: damaged checkpoint ({_describe(e)})") from None


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle reader that resolves only the allow-listed globals of the module docstring."""

    def __init__(self, file, archive, root, byteorder):
        super().__init__(file)
        self._archive, self._root, self._byteorder = archive, root, byteorder
        self._storages = {}
        self._module_classes = {}
        self._tensor_bytes = 0  # storages read plus tensors built, against MAX_TENSOR_BYTES

    def find_class(self, module, name):
        """Resolve a global the pickle names, or refuse it."""
        module, name = _python3_name(module, name)
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return self.rebuild_tensor
        safe = _SAFE_GLOBALS.get((module, name), _PLAIN_DATA_GLOBALS.get((module, name)))
        if safe is not None:
            return safe
        if module == "torch" and name in _STORAGE_DTYPES:
            return StorageType(name)
        if _MODULE_PACKAGES.fullmatch(module) and _IDENTIFIER.fullmatch(name):
            return self._module_class(f"{module}.{name}")
        hint = (" (whole Asteroid models are not supported: save model.serialize() instead)"
                if module.split(".")[0] == "asteroid" else "")
        raise ConvertError(f"refusing to load {module + '.' + name!r} named by the checkpoint: "
                           "only tensors, containers and SuDoRM-RF / torch.nn modules are "
                           f"allowed{hint}")

    def persistent_load(self, pid):
        """Return the storage a persistent id ``('storage', type, key, location, numel)`` names."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
                and isinstance(pid[4], int)):
            raise ConvertError(f"unsupported persistent id {' '.join(str(pid).split())[:80]!r} "
                               "in the checkpoint")
        _, storage_type, key, _location, numel = pid
        if key not in self._storages:
            self._storages[key] = self._read_storage(storage_type, key, numel)
        return self._storages[key]

    def _read_storage(self, storage_type, key, numel):
        name = f"{self._root}/data/{key}"
        dtype = storage_type.dtype
        itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
        size = _member_info(self._archive, name, limits.MAX_TENSOR_BYTES).file_size
        if numel < 0 or size != numel * itemsize:
            raise ConvertError(f"storage {key!r} has {size} bytes, expected {numel} "
                               f"{storage_type.name} elements")
        self._count_bytes(size)
        raw = _read_member(self._archive, name, size)
        if len(raw) != size:
            raise ConvertError(f"storage {key!r} is truncated")
        order = "<" if self._byteorder == "little" else ">"
        if dtype == "bfloat16":  # the upper half of a float32
            halves = np.frombuffer(raw, dtype=order + "u2").astype(np.uint32)
            return (halves << 16).view(np.float32)
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder(order)).astype(dtype)

    def _module_class(self, path):
        if path not in self._module_classes:
            self._module_classes[path] = type(path.rsplit(".", 1)[1], (ModuleStandIn,),
                                              {"class_path": path})
        return self._module_classes[path]


    def rebuild_tensor(self, storage, storage_offset, size, stride, requires_grad, hooks,
                       metadata=None):
        """NumPy version of ``torch._utils._rebuild_tensor_v2``: a strided view of a storage,
        copied, refused if it needs more elements than its storage backs."""
        if not isinstance(storage, np.ndarray):
            raise ConvertError("a tensor in the checkpoint is not backed by a storage")
        size, stride = _int_tuple(size), _int_tuple(stride)
        if not (size is not None and stride is not None and len(size) == len(stride)
                and type(storage_offset) is int and storage_offset >= 0):
            raise ConvertError(f"a tensor has an invalid size {_short(size)} / stride "
                               f"{_short(stride)}")
        count = math.prod(size)
        if count == 0:
            return np.zeros(size, dtype=storage.dtype)
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size:
            raise ConvertError(f"a tensor of size {_short(size)} reads past the end of its "
                               "storage")
        if count > storage.size - storage_offset:
            raise ConvertError(f"a tensor of size {_short(size)} has {count} elements but its "
                               f"storage backs {storage.size - storage_offset} (zero or "
                               "overlapping strides are not supported)")
        self._count_bytes(count * storage.itemsize)
        view = np.lib.stride_tricks.as_strided(storage[storage_offset:], shape=size,
                                               strides=[s * storage.itemsize for s in stride])
        return view.copy()

    def _count_bytes(self, nbytes):
        self._tensor_bytes += nbytes
        if self._tensor_bytes > limits.MAX_TENSOR_BYTES:
            raise ConvertError(f"the checkpoint's tensors need more than "
                               f"{limits.MAX_TENSOR_BYTES} bytes, npsep's limit")


def rebuild_parameter(data, requires_grad, hooks, state=None):
    """NumPy version of ``torch._utils._rebuild_parameter[_with_state]``: the data itself."""
    return data


_SAFE_GLOBALS = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("torch", "Size"): tuple,
    ("torch._utils", "_rebuild_parameter"): rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): rebuild_parameter,
}


def _python3_name(module, name):
    """Python 2 names (``__builtin__.set``, which torch's protocol-2 pickles use) as Python 3's.

    The same mapping stock ``pickle`` applies before importing anything.
    """
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _open_zip(path):
    """Open ``path`` as a zip, or explain in one line why it is not a torch zip checkpoint."""
    try:
        with open(path, "rb") as f:
            head = f.read(len(_LEGACY_MAGIC))
        if not head:
            raise ConvertError(f"{path}: the file is empty")
        if head == _LEGACY_MAGIC:
            raise ConvertError(f"{path}: legacy (pre-zip) torch serialization is not supported; "
                               "re-save it with torch >= 1.6: torch.save(torch.load(path), path)")
        return zipfile.ZipFile(path)
    except ConvertError:
        raise
    except OSError as e:
        raise ConvertError(f"{path}: cannot read ({e.strerror or _describe(e)})") from None
    except Exception:  # BadZipFile, or a damaged directory (undecodable names, bad offsets...)
        raise ConvertError(f"{path}: not a PyTorch zip checkpoint (not a zip file, "
                           "or truncated or damaged)") from None


def _root(archive, path):
    """The folder that holds ``data.pkl`` (torch names it after the file)."""
    roots = [n[:-len("/data.pkl")] for n in archive.namelist()
             if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(roots) != 1:
        raise ConvertError(f"{path}: not a PyTorch checkpoint (a zip without "
                           f"{'one' if roots else 'a'} <root>/data.pkl)")
    return roots[0]


def _byteorder(archive, root):
    """``'little'`` or ``'big'``, from ``<root>/byteorder`` (absent: little, as torch assumes)."""
    name = f"{root}/byteorder"
    if name not in archive.namelist():
        return "little"
    mark = _read_member(archive, name, 64).decode("ascii", "replace").strip()
    if mark not in ("little", "big"):
        raise ConvertError(f"unknown byteorder {mark[:20]!r} in the checkpoint")
    return mark


def _member_info(archive, name, limit):
    """The directory entry of ``name``: not encrypted, at most ``limit`` bytes, sizes possible."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ConvertError(f"the checkpoint has no zip entry {name[:80]!r}") from None
    limits.check_zip_member(info, limit, ConvertError)
    return info


def _read_member(archive, name, limit):
    """The bytes of zip entry ``name``, refused before reading if its directory entry says more
    than ``limit`` bytes (decompression stops at the size the directory gives)."""
    with archive.open(_member_info(archive, name, limit)) as f:
        return f.read(limit + 1)


def check_memo_indices(data):
    """Refuse a pickle whose memo indices run past the opcodes before them.

    The C unpickler sizes its memo table by the largest index it is given, so a
    20-byte pickle could make it allocate gigabytes. :func:`pickletools.genops`
    walks the opcodes without running any (and stops at the first malformed one).
    """
    for count, (opcode, arg, _) in enumerate(pickletools.genops(data)):
        if opcode.name in _MEMO_OPCODES and arg > count:
            raise ConvertError(f"the checkpoint's pickle uses memo index {arg} after {count} "
                               "opcodes: damaged")


_MEMO_OPCODES = {"PUT", "BINPUT", "LONG_BINPUT", "GET", "BINGET", "LONG_BINGET"}


def check_structure(root):
    """Refuse an unpickled object graph that is cyclic, nested deeper than
    :data:`npsep.limits.MAX_NESTING`, or larger than :data:`npsep.limits.MAX_OBJECTS` once
    shared objects are counted at every place they appear (what a recursive walk would visit).

    An iterative depth-first walk, each container visited once, so it is cheap itself.
    """
    depth, size = {}, {}  # id -> nesting depth / expanded object count, of finished containers
    on_path = set()
    stack = [(root, False)]
    while stack:
        obj, finished = stack.pop()
        key, items = id(obj), _contents(obj)
        if finished:
            on_path.discard(key)
            inner = [x for x in items if id(x) in depth]
            depth[key] = 1 + max((depth[id(x)] for x in inner), default=0)
            size[key] = min(1 + sum(size.get(id(x), 1) for x in items), limits.MAX_OBJECTS + 1)
            if depth[key] > limits.MAX_NESTING:
                raise ConvertError(f"the checkpoint nests containers more than "
                                   f"{limits.MAX_NESTING} deep")
            if size[key] > limits.MAX_OBJECTS:
                raise ConvertError(f"the checkpoint expands to more than {limits.MAX_OBJECTS} "
                                   "objects (shared objects counted where they appear)")
        elif items is not None and key not in depth:
            if key in on_path:
                raise ConvertError("the checkpoint holds a container that contains itself")
            if len(on_path) >= limits.MAX_NESTING:
                raise ConvertError(f"the checkpoint nests containers more than "
                                   f"{limits.MAX_NESTING} deep")
            on_path.add(key)
            stack.append((obj, True))
            stack.extend((x, False) for x in items)


def _contents(obj):
    """The objects inside a container (dict keys and values), or ``None`` for a leaf."""
    if isinstance(obj, dict):
        return [*obj.keys(), *obj.values()]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, ModuleStandIn):
        return [getattr(obj, "state", None)]
    return None


def _int_tuple(values):
    """``values`` as a tuple of non-negative ints, or ``None`` (a bounded number of them)."""
    if not isinstance(values, (tuple, list)) or len(values) > 64:
        return None
    if not all(type(v) is int and v >= 0 for v in values):
        return None
    return tuple(values)


def _short(value):
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(e):
    text = (str(e).splitlines() or [""])[0]
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
