"""What implicit 0.7's trained factor models share here (``AlternatingLeastSquares``,
``BayesianPersonalizedRanking``, ``LogisticMatrixFactorization``): implicit's
``check_random_state``, dtype and thread arguments, ``recommend``, the
``n_users_`` / ``n_items_`` of factors set by ``fit``, and ``similar_items`` / ``similar_users``
by the cosine of the factors, through :func:`turborec.topk_dot`."""

import warnings

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .. import selection as _topk
from .._threads import resolve_n_threads
from ..backends import resolve
from ..exceptions import ParameterWarning
from ._base import RecommenderBase, as_user_items
from .factors import FactorModel

FACTORS = ("user_factors", "item_factors")


def check_random_state(random_state):
    """implicit's ``check_random_state``: a Generator from None, an int or a Generator (itself); a
    RandomState seeds a fresh Generator with one draw. Anything else is a TypeError."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31))
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None:
        random_state = v.as_int(random_state, "random_state", "an int, a numpy Generator or RandomState, or None")
        if random_state < 0:
            raise ValueError(f"random_state: expected a non-negative int, got {random_state}")
    return np.random.default_rng(random_state)


def check_iterations(iterations):
    """``iterations`` as an int >= 0; anything else names the argument."""
    iterations = v.as_int(iterations, "iterations", "an int >= 0")
    if iterations < 0:
        raise ValueError(f"iterations: expected an int >= 0, got {iterations}")
    return iterations


def threads_of(n_threads, num_threads):
    """The thread count a model runs on: turborec's ``n_threads`` when given, else implicit's
    ``num_threads`` (0: every core, as None)."""
    if n_threads is not None:
        return n_threads
    num_threads = v.as_int(num_threads, "num_threads", "an int >= 0 (0: every core)")
    if num_threads < 0:
        raise ValueError(f"num_threads: expected 0 (every core) or a positive int, got {num_threads}")
    return num_threads or None


def float_dtype(dtype):
    """``dtype`` as a NumPy float32 or float64 dtype; anything else is a TypeError."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected numpy.float32 or numpy.float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected numpy.float32 or numpy.float64, got {dtype}")
    return dtype


def _ids(ids, name):
    """``(scalar, 1-D int64 array)`` of an id argument (negative ids refused)."""
    scalar = np.ndim(ids) == 0
    array = np.atleast_1d(v.as_array(ids, name))
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{name}: expected an int or a 1-D array of ints, got {array.dtype} of shape {np.shape(ids)}")
    if array.size and array.min() < 0:
        raise IndexError(f"{name}: {array.min()} is negative")
    return scalar, array.astype(np.int64)


class TrainedFactorModel(FactorModel):
    """A :class:`FactorModel` whose factors ``fit`` learns: parameters are hyper-parameters (not
    factors), ``n_users_`` / ``n_items_`` exist once fitted, and the ``similar_*`` queries rank by
    cosine. Subclasses set ``backend_`` and ``n_threads_`` in ``_resolve_runtime``; ALS overrides
    ``_item_queries`` to recalculate items."""

    set_params = RecommenderBase.set_params  # FactorModel's would re-validate factors as parameters
    _family = None  # the kernel family whose backend runs the model (ALS resolves its own)
    _saved = ()  # the parameters save writes: implicit's keys (either library loads the other's files), then ours

    @property
    def n_users_(self):
        if self.user_factors is None:
            raise AttributeError("n_users_: not fitted")
        return len(self.user_factors)

    @property
    def n_items_(self):
        if self.item_factors is None:
            raise AttributeError("n_items_: not fitted")
        return len(self.item_factors)

    def _resolve_runtime(self):
        """``backend_`` and ``n_threads_`` from ``backend`` and ``n_threads`` / ``num_threads``."""
        self.backend_ = resolve(self._family, self.backend).name
        self.n_threads_ = resolve_n_threads(threads_of(self.n_threads, self.num_threads))

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
                  recalculate_user=False, items=None):
        """Top-``N`` items by ``user_factors @ item_factors.T``; see
        :meth:`RecommenderBase.recommend`. ``recalculate_user`` is ALS's only (the others raise
        NotImplementedError, as implicit's)."""
        if sp.issparse(user_items):
            user_items = as_user_items(user_items)  # here, so that a conversion warning names the caller's line
        self._resolve_runtime()
        return super().recommend(userid, user_items, N, filter_already_liked_items, filter_items, recalculate_user,
                                 items)

    def similar_items(self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None):
        """Items most similar to ``itemid`` by the cosine of their factors (the item itself first).

        Parameters
        ----------
        itemid : int or array-like of int
        N : int
            ``min(N, n_items)`` columns (``min(N, len(items))`` with ``items``).
        recalculate_item : bool
            Compute the query items' factors from ``item_users`` first (ALS only; the others
            raise NotImplementedError, as implicit's).
        item_users : scipy.sparse.csr_matrix of shape (len(itemid), n_users), optional
        filter_items, items : array-like of int, optional
            Item ids never returned / the only ids ranked (at most one of them).

        Returns
        -------
        ids : int32 ndarray, shape (width,) or (len(itemid), width)
        scores : float32 ndarray of cosines
        """
        self._check_fitted()
        scalar, queries = self._item_queries(itemid, v.as_bool(recalculate_item, "recalculate_item"), item_users)
        return self._similar(queries, scalar, self.item_factors, N, filter_items, items, "filter_items", "items")

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """Users most similar to ``userid`` by the cosine of their factors (the user itself first).

        Parameters
        ----------
        userid : int or array-like of int
        N : int
        filter_users, users : array-like of int, optional
            User ids never returned / the only ids ranked (at most one of them).

        Returns
        -------
        ids : int32 ndarray
        scores : float32 ndarray of cosines
        """
        self._check_fitted()
        scalar, ids = self._ids_in(userid, self.n_users_, "userid")
        return self._similar(self.user_factors[ids], scalar, self.user_factors, N, filter_users, users,
                             "filter_users", "users")

    def _item_queries(self, itemid, recalculate, item_users):
        """``(scalar, query factors)`` of ``similar_items``."""
        if recalculate:
            raise NotImplementedError(f"recalculate_item: not supported by {type(self).__name__}")
        scalar, ids = self._ids_in(itemid, self.n_items_, "itemid")
        return scalar, self.item_factors[ids]

    def _ids_in(self, ids, n, name):
        scalar, ids = _ids(ids, name)
        if len(ids) and ids.max() >= n:
            raise IndexError(f"{name}: {ids.max()} out of range [0, {n})")
        return scalar, ids

    def _similar(self, queries, scalar, factors, N, filtered, only, filter_name, only_name):
        N = v.check_k(N, "N")
        n = len(factors)
        if filtered is not None and only is not None:
            raise ValueError(f"{filter_name} and {only_name}: give at most one of them")
        candidates = None
        if filtered is not None:
            candidates = np.setdiff1d(np.arange(n), v.as_candidates(filtered, n, filter_name))
        elif only is not None:
            candidates = v.as_candidates(only, n, only_name)
        self._resolve_runtime()
        ids, scores = _topk.topk_dot(queries.astype(factors.dtype), factors, N, candidates=candidates, normalize=True,
                                     backend=self.backend_, n_threads=self.n_threads_)
        ids, scores = ids.astype(np.int32), scores.astype(np.float32)
        return (ids[0], scores[0]) if scalar else (ids, scores)

    # ------------------------------------------------------------------ persistence

    def save(self, fileobj_or_path):
        """Save the factors (when fitted) and every parameter to ``.npz`` in implicit's layout, each
        under its own name (None ones left out; either library loads the other's files). A
        ``random_state`` that is not an int cannot be stored without pickling: it is left out with
        a ParameterWarning.

        Parameters
        ----------
        fileobj_or_path : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it (as ``numpy.savez`` does).
        """
        arrays = {name: getattr(self, name) for name in FACTORS if getattr(self, name) is not None}
        for name in self._saved:
            value = getattr(self, name)
            if name == "dtype":
                value = float_dtype(value).name
            elif name == "random_state" and value is not None and not isinstance(value, (int, np.integer)):
                warnings.warn(f"random_state: a {type(value).__name__} cannot be saved without pickling; not saved",
                              ParameterWarning, stacklevel=2)
                value = None
            if value is not None:
                arrays[name] = np.asarray(value)
        np.savez(fileobj_or_path, **arrays)

    @classmethod
    def load(cls, fileobj_or_path):
        """A model saved by :meth:`save` (or by implicit's ``save``), read with
        ``allow_pickle=False``.

        Parameters
        ----------
        fileobj_or_path : str, path or file object
            A ``str`` path without the ``.npz`` suffix gets it.

        Returns
        -------
        a model of this class
        """
        if isinstance(fileobj_or_path, str) and not fileobj_or_path.endswith(".npz"):
            fileobj_or_path += ".npz"
        model = cls()
        with np.load(fileobj_or_path, allow_pickle=False) as data:
            for key in data.files:
                if key not in cls._saved and key not in FACTORS:
                    raise ValueError(f"fileobj_or_path: unexpected entry {key!r} (not a saved {cls.__name__})")
                value = data[key]
                if key == "dtype":
                    value = np.dtype(str(value)).type
                elif value.shape == () and key not in FACTORS:
                    value = value.item()
                setattr(model, key, value)
        if model.user_factors is not None:
            model._resolve_runtime()
        return model
