"""turborec: fast recommender-system kernels.

C++/OpenMP and CUDA kernels with Numba, CuPy and NumPy backends behind one API.
See ``turborec.show_config()`` for what this installation can run.
"""

from ._config import config_context, get_config
from ._show import show_config
from ._threads import resolve_n_threads
from .backends import available
from .exceptions import BackendUnavailableError, PerformanceWarning
from .selection import QuantizedItems, quantize_items, topk, topk_dot, topk_dot_quantized
from .similarity import sparse_dot_topk
from .evaluation import cross_validate, evaluate
from .models import MostPopular, Random
from . import (als, attention, biases, bpr, datasets, exceptions, features, knn_rating, lmf, metrics,  # noqa: E402
               models, sgd, similarity, split)  # (submodules as attributes)

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "MostPopular",
    "PerformanceWarning",
    "QuantizedItems",
    "Random",
    "available",
    "config_context",
    "cross_validate",
    "evaluate",
    "get_config",
    "quantize_items",
    "resolve_n_threads",
    "show_config",
    "sparse_dot_topk",
    "topk",
    "topk_dot",
    "topk_dot_quantized",
    "__version__",
]
