"""The one path from a public kernel function to a backend's implementation.

Every public function of a kernel family validates and coerces its arguments once
(``_validation``), then calls :func:`dispatch`, which

1. picks the backend (``backends.resolve``: argument > config_context > env > auto; a backend
   whose module lacks ``kernel`` is refused by name, or skipped by auto) and resolves
   ``n_threads`` once;
2. allocates the outputs on the backend's device (host: NumPy, GPU: CuPy);
3. returns them untouched when they are empty: no kernel ever sees an empty problem;
4. moves host inputs to the GPU when a GPU backend was asked for explicitly, calls
   ``impl.<kernel>(*inputs, *params, n_threads, *outputs)``;
5. copies the outputs back to the host when the inputs were on the host.

Every backend implementation has that one signature: inputs, plain parameters, the thread
count (GPU backends ignore it), then the preallocated outputs, written in place.
"""

import math

from . import backends
from ._threads import resolve_n_threads
from ._validation import gpu_device, is_gpu_array


def _flatten(inputs):
    for a in inputs:
        if isinstance(a, tuple):
            yield from a
        elif a is not None:
            yield a


def _to_device(a, xp):
    """``a`` (an array, None, or a tuple of arrays such as a CSR's (indptr, indices)) on ``xp``."""
    if a is None:
        return None
    if isinstance(a, tuple):
        return tuple(_to_device(x, xp) for x in a)
    return xp.ascontiguousarray(xp.asarray(a))


def dispatch(family, kernel, *, inputs, params=(), outputs, backend=None, n_threads=None):
    """Run ``kernel`` of kernel family ``family`` on the backend in force.

    Parameters
    ----------
    family, kernel : str
        ``turborec/<family>/_<backend>.py`` defines ``kernel``.
    inputs : tuple
        Validated arrays (NumPy or CuPy), ``None``, or tuples of arrays (a CSR's
        ``(indptr, indices)``). Their device decides auto's choice and where results go.
    params : tuple
        Plain values passed after the inputs.
    outputs : sequence of (shape, dtype)
        The outputs to allocate and pass last.
    backend, n_threads
        The caller's arguments, resolved here.

    Returns
    -------
    array or tuple of arrays
        The outputs, on the device the inputs came from.
    """
    chosen = backends.resolve(family, backend, tuple(_flatten(inputs)), kernel)
    n_threads = resolve_n_threads(n_threads)
    implementation = getattr(chosen.impl, kernel)
    if chosen.on_gpu:
        with gpu_device(*_flatten(inputs)):  # the inputs' device (the current one for host inputs)
            outs = _run(implementation, chosen.xp, inputs, params, n_threads, outputs)
        if not any(is_gpu_array(a) for a in _flatten(inputs)):
            outs = tuple(o.get() for o in outs)
    else:
        outs = _run(implementation, chosen.xp, inputs, params, n_threads, outputs)
    return outs[0] if len(outs) == 1 else outs


def _run(implementation, xp, inputs, params, n_threads, outputs):
    outs = tuple(xp.empty(shape, dtype=dtype) for shape, dtype in outputs)
    if any(math.prod(shape) > 0 for shape, _ in outputs):
        implementation(*(_to_device(a, xp) for a in inputs), *params, n_threads, *outs)
    return outs
