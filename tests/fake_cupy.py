"""A NumPy-backed test double for the slice of CuPy that turborec uses. Not CuPy.

Installed as ``sys.modules["cupy"]`` by the ``fake_gpu`` fixture of
``test_selection_fakegpu.py``, it lets the Python code of the GPU backends (``_dispatch``'s
device handling, ``selection/_cupy.py``, ``selection/_gpu_tiles.py``, ``similarity/_cupy.py``
(installed by ``test_similarity_fakegpu.py``), the CuPy branches of ``_validation`` and
``selection/__init__``) run on a machine without a GPU or CuPy.

What it covers, and how it stays honest:

- :class:`ndarray` is a NumPy array in host memory posing as device memory: it carries a
  ``__cuda_array_interface__`` (so turborec's ``is_gpu_array`` and the registry treat it as a GPU
  array), ``.get()`` returns a plain ``numpy.ndarray`` copy, ``.device`` the :class:`Device`
  it was made on. Results of its operators and of this module's functions are fake-GPU arrays
  again (reductions give 0-d arrays, as CuPy's do).
- CuPy's host/device wall is enforced: a plain ``numpy.ndarray`` mixed into an operator, a
  ufunc, an assignment's value or any function here except ``asarray`` / ``array`` raises
  ``TypeError: Unsupported type <class 'numpy.ndarray'>`` like CuPy; NumPy arrays and lists are
  accepted as indices, as CuPy converts them.
- CuPy's current-device rule: new arrays (results, copies, ``astype``) are made on the current
  device, views stay on their base's, and an operation on an array of another device raises
  ``ValueError`` as CuPy does between devices without peer access.
- Only the functions turborec calls exist (``AttributeError`` for any other, so a new use is
  seen), each forwarding to NumPy; ``lexsort`` keeps CuPy's limit (one array of keys, 1-D or
  2-D); ``add`` has only ``at`` (CuPy's scatter-add), with CuPy's dtype limit (the dtypes CUDA's
  atomics serve); like CuPy, nothing warns about floating-point overflow or invalid values.
- ``cuda.Device`` (``.id``, context manager, ``DEVICE_COUNT`` devices: 1 unless a test sets it),
  ``cuda.runtime.getDeviceCount``, ``cuda.Stream`` (context manager, ``synchronize``, ``ptr``)
  and ``cuda.get_current_stream``.

What it cannot cover: real kernels (every operation is NumPy on the host, so cuBLAS rounding,
``cupy.partition``/``lexsort`` implementations and the CUDA kernels of ``turborec._cuda`` are not
exercised; ``add.at`` adds in index order where CuPy's atomics add in any order), streams
(launches are synchronous; stream order and races are invisible), device memory (the
interface's pointer is a host pointer: ``turborec._cuda`` rejects it; no memory limits; peer
access is never available), ``numpy.asarray`` on a fake array (it silently succeeds where CuPy
raises), and CuPy's own dtype promotion and NaN-ordering differences.
"""

import types

import numpy as np

DEVICE_COUNT = 1  # devices this fake pretends to have; tests may set it

float32, float64, int32, int64, uint8, bool_ = np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_

_device_stack = [0]  # the current device is the last entry


def _current_device():
    return _device_stack[-1]


def _unsupported(x):
    raise TypeError(f"Unsupported type {type(x)}")


def _host(x):
    """``x`` with fake arrays (also inside lists and tuples) seen as plain NumPy arrays, for an
    operation on the current device. Refused like CuPy refuses them: a plain NumPy array (no
    implicit host-to-device transfer) and an array of another device (as between devices without
    peer access)."""
    if isinstance(x, ndarray):
        if x._device_id != _current_device():
            raise ValueError(f"The device where the array resides ({x._device_id}) is different from the current "
                             f"device ({_current_device()}). Peer access is unavailable between these devices.")
        return x.view(np.ndarray)
    if isinstance(x, np.ndarray):
        _unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_host(item) for item in x)
    return x


def _index(key):
    """An index: NumPy arrays and lists are accepted (CuPy converts them), fake arrays unwrapped."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    return key.view(np.ndarray) if isinstance(key, ndarray) else key


def _device(x):
    """A NumPy result as a fake-GPU array on the current device (scalars as 0-d arrays)."""
    if isinstance(x, tuple):
        return tuple(_device(item) for item in x)
    if isinstance(x, ndarray):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        out = np.asarray(x).view(ndarray)
        out._device_id = _current_device()
        return out
    return x


class ndarray(np.ndarray):
    """Host memory posing as device memory (see the module docstring)."""

    _device_id = 0

    def __array_finalize__(self, obj):
        # A view lives where its base does; new memory (a copy, astype) on the current device.
        viewing = isinstance(obj, ndarray) and self.base is not None
        self._device_id = obj._device_id if viewing else _current_device()

    @property
    def __cuda_array_interface__(self):
        return {
            "shape": tuple(self.shape),
            "typestr": self.dtype.str,
            "data": (self.__array_interface__["data"][0], not self.flags.writeable),
            "strides": None if self.flags.c_contiguous else tuple(self.strides),
            "version": 3,
        }

    @property
    def device(self):
        return Device(self._device_id)

    def get(self, stream=None):
        """A host copy, as a plain ``numpy.ndarray``."""
        return np.array(self.view(np.ndarray), copy=True)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_host(o) for o in out)
        with np.errstate(all="ignore"):  # a GPU raises no floating-point warnings
            result = getattr(ufunc, method)(*_host(inputs), **kwargs)
        if out is not None:  # written in place: hand back the caller's arrays themselves
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __getitem__(self, key):
        return _device(super().__getitem__(_index(key)))

    def __setitem__(self, key, value):
        _host(self)  # a write is a kernel on the current device
        super().__setitem__(_index(key), _host(value))

    def __array_function__(self, func, types_, args, kwargs):
        # numpy.<function>(fake, ...): CuPy dispatches these to itself; here NumPy runs them under
        # the same host/device wall as this module's functions.
        return _device(func(*_host(args), **{k: _host(v) for k, v in kwargs.items()}))

    def __repr__(self):
        return f"fake_cupy.{np.array_repr(self.view(np.ndarray))}"

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def _forward(name):
    numpy_function = getattr(np, name)

    def function(*args, **kwargs):
        with np.errstate(all="ignore"):  # a GPU raises no floating-point warnings
            return _device(numpy_function(*_host(args), **{k: _host(v) for k, v in kwargs.items()}))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"numpy.{name} on fake-GPU arrays (host arrays refused)."
    return function


for _name in ("abs", "arange", "broadcast_to", "concatenate", "cumsum", "einsum", "empty", "frexp", "isfinite",
              "isnan", "ldexp", "nonzero", "partition", "searchsorted", "sqrt", "stack", "take_along_axis", "where",
              "zeros", "zeros_like"):
    globals()[_name] = _forward(_name)


def asarray(a, dtype=None):
    """``a`` on the current device: a fake array as is (or cast), anything else copied over."""
    if isinstance(a, ndarray) and (dtype is None or a.dtype == np.dtype(dtype)):
        return a
    return _device(np.array(a.view(np.ndarray) if isinstance(a, ndarray) else a, dtype=dtype, copy=True))


array = asarray


def ascontiguousarray(a, dtype=None):
    if not isinstance(a, ndarray):  # CuPy's takes cupy.ndarray only
        raise TypeError(f"Argument 'a' has incorrect type (expected cupy.ndarray, got {type(a).__name__})")
    if a.flags.c_contiguous and (dtype is None or a.dtype == np.dtype(dtype)):
        return a  # itself, on its own device
    return _device(np.ascontiguousarray(a.view(np.ndarray), dtype=dtype))


def lexsort(keys):
    """CuPy's lexsort: one array of keys (1-D or 2-D), never a sequence of arrays."""
    if not isinstance(keys, ndarray):
        raise TypeError("cupy.lexsort: keys must be a cupy.ndarray")
    if keys.ndim not in (1, 2):
        raise NotImplementedError("Keys with the rank of three or more is not supported in lexsort")
    return _device(np.lexsort(keys.view(np.ndarray)))



class _ScatterUfunc:
    """``cupy.<ufunc>.at`` and nothing else of the ufunc (calling it is a TypeError, any other
    attribute an AttributeError): CuPy's scatter with atomics (CuPy >= 13). As CuPy's, it refuses a
    target dtype CUDA's atomics do not serve, and it runs under the host/device wall: the target a
    fake array on the current device, the values fake arrays or scalars (a NumPy array is refused),
    the indices fake arrays, NumPy arrays or lists."""

    _ATOMIC = tuple(np.dtype(t) for t in (np.int32, np.float16, np.float32, np.float64, np.uint32, np.uint64))

    def __init__(self, name):
        self._ufunc = getattr(np, name)
        self.__name__ = name

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            raise TypeError(f"{self.__name__}.at: the target must be a cupy.ndarray, got {type(a).__name__}")
        if a.dtype not in self._ATOMIC:
            raise TypeError("scatter_add only supports int32, float16, float32, float64, uint32, uint64, as data type")
        target = _host(a)
        with np.errstate(all="ignore"):  # a GPU raises no floating-point warnings
            self._ufunc.at(target, _index(indices), _host(b))


add = _ScatterUfunc("add")

# ---- cupy.cuda ----


class Device:
    """A device id; ``with Device(i):`` makes it current (an error for a device that is not there)."""

    def __init__(self, device=None):
        self.id = _current_device() if device is None else int(device)

    def __enter__(self):
        if not 0 <= self.id < DEVICE_COUNT:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id} (fake_cupy has "
                               f"{DEVICE_COUNT})")
        _device_stack.append(self.id)
        return self

    def __exit__(self, *exc):
        _device_stack.pop()

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<fake_cupy Device {self.id}>"


class Stream:
    """A stream that records nothing: operations here are synchronous host NumPy calls."""

    _next_ptr = 0x1000
    _stack = []

    def __init__(self, null=False, non_blocking=False, ptds=False):
        if null:
            self.ptr = 0
        else:
            Stream._next_ptr += 0x10
            self.ptr = Stream._next_ptr

    def __enter__(self):
        Stream._stack.append(self)
        return self

    def __exit__(self, *exc):
        Stream._stack.pop()

    def synchronize(self):
        pass


_null_stream = Stream(null=True)


def _get_current_stream():
    return Stream._stack[-1] if Stream._stack else _null_stream


def _get_device_count():
    return DEVICE_COUNT


cuda = types.SimpleNamespace(
    Device=Device,
    Stream=Stream,
    get_current_stream=_get_current_stream,
    runtime=types.SimpleNamespace(getDeviceCount=_get_device_count),
)
