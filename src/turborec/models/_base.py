"""What every turborec recommender shares: the implicit 0.7 ``RecommenderBase`` surface.

``recommend(userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
recalculate_user=False, items=None)`` takes a scalar user id (1-D results) or an array of ids
(2-D results), with ``user_items`` holding those users' rows of the user x item matrix. Results
have ``min(N, n_items)`` columns (``min(N, len(items))`` with ``items``), like
:func:`turborec.topk_dot`; slots with no eligible item left carry id -1 and score -FLT_MAX
(implicit's sink value).

Models also follow scikit-learn's estimator conventions: constructor arguments are stored
unchanged as attributes of the same name, ``get_params`` / ``set_params`` read and write them,
and ``repr`` shows the ones that differ from their defaults.
"""

import contextlib
import inspect
import json
import warnings

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .. import selection as _topk
from .._threads import resolve_n_threads
from ..backends import resolve
from ..datasets import Interactions
from ..exceptions import ParameterWarning

SINK_SCORE = float(np.finfo(np.float32).min)


def as_user_items(user_items, name="user_items", stacklevel=3):
    """A users x items CSR matrix from a scipy sparse matrix or an Interactions table.

    Parameters
    ----------
    user_items : scipy.sparse matrix or turborec.datasets.Interactions
        A CSR matrix is used as it is (its structure checked; a copy with sorted indices
        when they are not); other sparse formats are converted with a ParameterWarning; Interactions become their implicit matrix
        (``to_csr(values="ones")``: one per interaction, repeats counted).
    name : str
        The argument's name in error messages.
    stacklevel : int
        Of the ParameterWarning: 3 points at the caller of the function that calls this one.

    Returns
    -------
    scipy.sparse.csr_matrix
    """
    if isinstance(user_items, Interactions):
        return user_items.to_csr(values="ones")
    if not sp.issparse(user_items):
        raise TypeError(f"{name}: expected a scipy.sparse CSR matrix (users x items) or "
                        f"turborec.datasets.Interactions, got {type(user_items).__name__}")
    if user_items.format != "csr":
        warnings.warn(f"{name}: got a {user_items.format.upper()} matrix; converting to CSR (pass CSR to avoid the copy)",
                      ParameterWarning, stacklevel=stacklevel)
    return v.as_csr(user_items, name)  # structure checked before scipy touches it; converted


def topk_of_pool(scores, N, exclude, pool, n_items, backend, n_threads):
    """Best ``N`` per row of dense scores over the candidate items ``pool``.

    Parameters
    ----------
    scores : float32 ndarray of shape (n_rows, len(pool))
        Column ``j`` scores item ``pool[j]``.
    N : int
    exclude : scipy.sparse.csr_matrix of shape (n_rows, n_items), or None
        Items never returned, by item id.
    pool : sorted int ndarray of item ids
    n_items : int
    backend, n_threads
        Of :func:`turborec.topk`.

    Returns
    -------
    ids : int32 ndarray (n_rows, min(N, len(pool)))
        Item ids, -1 where no eligible item is left.
    values : float32 ndarray of the same shape
    """
    pool_exclude = None
    if exclude is not None:
        exclude = exclude.copy()
        exclude.sort_indices()
        indptr, indices = v.restrict_columns(exclude.indptr, exclude.indices, pool, n_items)
        pool_exclude = sp.csr_matrix((np.ones(len(indices), np.float32), indices, indptr),
                                     shape=(scores.shape[0], len(pool)))
    ids, values = _topk.topk(scores, N, exclude=pool_exclude, backend=backend, n_threads=n_threads)
    return np.where(ids >= 0, pool[np.maximum(ids, 0)], -1), values


def resolve_backend_and_threads(backend, n_threads):
    """The backend name and thread count a model runs with (its ``backend_``, ``n_threads_``)."""
    return resolve("selection", backend).name, resolve_n_threads(n_threads)


class RecommenderBase:
    """Base of turborec recommenders: subclasses implement ``fit`` and ``_rank``.

    ``_rank(users, N, exclude, candidates)`` returns ids and scores of the best ``N`` eligible
    items per user (fewer columns, or -1 ids, where fewer are eligible); ``recommend`` validates
    its arguments before and shapes the result after. ``_score(users)`` returns every item's
    score, dense (``score`` validates before); the default ranks every item with ``_rank``, and
    models that can score directly override it.

    Subclasses take every parameter as an explicit keyword of ``__init__`` (no ``*args`` or
    ``**kwargs``) and store it unchanged under the same name, as scikit-learn estimators do.

    Models that score a user from its row of ``user_items`` (item-item neighbours) set
    ``_scores_user_items``: ``recommend`` then always reads the rows (filtering or not), accepts
    ``recalculate_user`` (the row is always what is scored), and calls
    ``_rank(users, N, exclude, candidates, rows=rows)``; ``score`` calls ``_score(users, rows)``
    (``rows`` None when ``user_items`` is not given).
    """

    _scores_user_items = False

    @classmethod
    def _param_names(cls):
        """The constructor's parameter names, sorted (as scikit-learn lists them)."""
        names = []
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__: *args and **kwargs cannot be parameters "
                                "(get_params lists explicit arguments only)")
            names.append(name)
        return sorted(names)

    def get_params(self, deep=True):
        """The constructor parameters and their current values.

        Parameters
        ----------
        deep : bool, default True
            Also list the parameters of parameters that are themselves estimators (objects with
            ``get_params``), as ``<parameter>__<name>``.

        Returns
        -------
        dict
            ``{name: value}``.
        """
        params = {}
        for name in self._param_names():
            value = getattr(self, name)
            params[name] = value
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{key}", item) for key, item in value.get_params(deep=True).items())
        return params

    def set_params(self, **params):
        """Set constructor parameters (``<parameter>__<name>`` reaches into nested estimators).

        Fitted attributes (``*_``) are left as they are: new values take effect at the next
        ``fit``.

        Parameters
        ----------
        **params
            Parameter names and their new values.

        Returns
        -------
        self
        """
        direct, nested = self._split_params(params)
        for name, value in direct.items():
            setattr(self, name, value)
        for name, inner in nested.items():
            getattr(self, name).set_params(**inner)
        return self

    def _split_params(self, params):
        """``set_params`` arguments as ``({name: value}, {name: {inner_name: value}})``, checked."""
        valid = self._param_names()
        direct, nested = {}, {}
        for key, value in params.items():
            name, _, rest = key.partition("__")
            if name not in valid:
                raise ValueError(f"{key}: not a parameter of {type(self).__name__}; "
                                 f"valid parameters: {', '.join(valid)}")
            if not rest:
                direct[name] = value
            elif hasattr(getattr(self, name), "set_params"):
                nested.setdefault(name, {})[rest] = value
            else:
                raise ValueError(f"{key}: {name} is a {type(getattr(self, name)).__name__}, "
                                 "which has no parameters to set")
        return direct, nested

    def __repr__(self):
        signature = inspect.signature(type(self).__init__).parameters
        shown = []
        for name, value in self.get_params(deep=False).items():
            default = signature[name].default
            if default is inspect.Parameter.empty or not _same_value(value, default):
                shown.append(f"{name}={_short_repr(value)}")
        return f"{type(self).__name__}({', '.join(shown)})"

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
                  recalculate_user=False, items=None):
        """Top-``N`` items for one user (1-D results) or an array of users (2-D results).

        Parameters
        ----------
        userid : int or array-like of int
        user_items : scipy.sparse.csr_matrix of shape (len(userid), n_items), or Interactions
            The users' rows of the interaction matrix (needed to filter liked items). An
            :class:`~turborec.datasets.Interactions` table holds every user: it must have the
            model's shape (n_users, n_items), and the rows of ``userid`` are taken from it.
        N : int
            Items per user. Results have ``min(N, n_items)`` columns, or ``min(N, len(items))``
            with ``items``, like :func:`turborec.topk_dot` (implicit 0.7 clips ``N`` the same way
            with ``items``; without it, implicit pads with id 0 and score 0, which read as a real
            recommendation of item 0).
        filter_already_liked_items : bool
            Never return items stored in the user's row of ``user_items``.
        filter_items : array-like of int, optional
            Item ids never returned.
        recalculate_user : bool
            Models that cannot recompute a user from ``user_items`` raise NotImplementedError.
        items : array-like of int, optional
            Rank only these item ids (repeats are ignored; cannot be combined with
            ``filter_items``). Liked ones, when filtered, come last with score -FLT_MAX, highest
            id first, as implicit 0.7 returns them: every id of ``items`` is returned when ``N >=
            len(items)``.

        Returns
        -------
        ids : int32 array of shape (width,) or (len(userid), width)
            Best first; -1 where no eligible item is left (without ``items``, liked or filtered
            items are never returned). ``width`` is ``min(N, n_items)``, or ``min(N, len(items))``.
        scores : float32 array of the same shape
            -FLT_MAX where the id is -1.
        """
        self._check_fitted()
        scalar, users = self._users(userid)
        N = v.check_k(N, "N")
        if recalculate_user and not self._scores_user_items:
            raise NotImplementedError(f"{type(self).__name__} cannot recalculate users")
        if filter_items is not None and items is not None:
            raise ValueError("filter_items and items: give at most one of them")
        rows = self._liked(users, user_items) if filter_already_liked_items or self._scores_user_items else None
        exclude = rows if filter_already_liked_items else None
        width = min(N, self.n_items_)
        if filter_items is not None:
            banned = v.as_candidates(filter_items, self.n_items_, "filter_items")
            items = np.setdiff1d(np.arange(self.n_items_), banned)
        elif items is not None:
            items = v.as_candidates(items, self.n_items_, "items")
            width = min(N, len(items))
        if self._scores_user_items:
            ids, scores = self._rank(users, width, exclude, items, rows=rows)
        else:
            ids, scores = self._rank(users, width, exclude, items)
        ids, scores = _pad(ids, scores, width)
        if filter_items is None and items is not None and exclude is not None:
            ids = _excluded_last(ids, items, exclude)
        return (ids[0], scores[0]) if scalar else (ids, scores)

    def score(self, userid, user_items=None):
        """Scores of every item for one user or an array of users: the hook that
        :class:`~turborec.models.Hybrid` blends.

        Higher is better; ``recommend`` ranks by the same scores (Random draws fresh ones at
        every call). Nothing is filtered: liked items are scored like the others.

        Parameters
        ----------
        userid : int or array-like of int
        user_items : scipy.sparse.csr_matrix of shape (len(userid), n_items), or Interactions, optional
            The users' rows, as for :meth:`recommend`; checked when given. Item-item
            neighbourhood models (``ItemKNN`` and implicit's item-item classes) score these rows,
            or the users' training rows when none are given; the other models ignore them.

        Returns
        -------
        scores : float32 ndarray of shape (n_items,) or (len(userid), n_items)
            Dense: mind the memory of many users over a large catalogue, and pass them in
            batches.
        """
        self._check_fitted()
        scalar, users = self._users(userid)
        rows = None if user_items is None else self._liked(users, user_items)
        scores = np.asarray(self._score(users, rows) if self._scores_user_items else self._score(users),
                            dtype=np.float32)
        return scores[0] if scalar else scores

    def _score(self, users):
        """Dense (len(users), n_items) scores; by default every item ranked by ``_rank``.

        Subclasses that can score directly override this.
        """
        ids, values = self._rank(users, self.n_items_, None, None)
        ids, values = _pad(ids, values, self.n_items_)
        scores = np.full((len(users), self.n_items_), SINK_SCORE, dtype=np.float32)
        rows, cols = np.nonzero(ids >= 0)
        scores[rows, ids[rows, cols]] = values[rows, cols]
        return scores

    def _users(self, userid):
        """``(scalar, int array of user ids)`` of a ``userid`` argument, checked."""
        scalar = np.ndim(userid) == 0
        users = np.atleast_1d(np.asarray(userid))
        if users.size and not np.issubdtype(users.dtype, np.integer):
            raise TypeError(f"userid: expected int user ids, got dtype {users.dtype}")
        if users.ndim != 1:
            raise ValueError(f"userid: expected an int or a 1-D array, got shape {np.shape(userid)}")
        if users.size and (users.min() < 0 or users.max() >= self.n_users_):
            bad = users.min() if users.min() < 0 else users.max()
            raise IndexError(f"userid: {bad} out of range [0, {self.n_users_})")
        return scalar, users

    def _liked(self, users, user_items):
        """The rows of ``users`` in ``user_items`` (a CSR of those rows, or a whole Interactions)."""
        if isinstance(user_items, Interactions):
            if user_items.shape != (self.n_users_, self.n_items_):
                raise ValueError(f"user_items: expected Interactions of shape ({self.n_users_}, {self.n_items_}) "
                                 f"(the model's users x items), got {user_items.shape}")
            return as_user_items(user_items)[users]
        user_items = as_user_items(user_items, stacklevel=4)  # recommend -> _liked -> here
        if user_items.shape != (len(users), self.n_items_):
            raise ValueError(f"user_items: expected shape ({len(users)}, {self.n_items_}) (the rows of userid), "
                             f"got {user_items.shape}")
        return user_items

    def _check_fitted(self):
        if not hasattr(self, "n_items_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")


def _same_value(value, default):
    """Whether a parameter still has its default (arrays are never taken for the default)."""
    if value is default:
        return True
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    if isinstance(value, float) and isinstance(default, float) and np.isnan(value) and np.isnan(default):
        return True
    return type(value) is type(default) and repr(value) == repr(default)


def _short_repr(value):
    """A parameter as ``repr`` shows it: arrays by shape and dtype, never by their contents."""
    if isinstance(value, np.ndarray):
        return f"<{value.dtype} array of shape {value.shape}>"
    if sp.issparse(value):
        return f"<{value.dtype} {value.format.upper()} matrix of shape {value.shape}, {value.nnz} stored>"
    return repr(value)


def _excluded_last(ids, candidates, exclude):
    """implicit's ``recommend(items=...)``: the sorted ``candidates`` that ``exclude`` filtered
    out fill the open (-1) slots at the end of each row, highest id first (implicit's order)."""
    need = (ids < 0).sum(axis=1)
    if not need.any():
        return ids
    order = candidates[::-1]
    filtered = sp.csr_matrix(exclude)[:, order]
    filtered.sort_indices()  # column j is order[j]: ascending j, descending ids
    take = np.minimum(np.diff(filtered.indptr), need)
    rows = np.repeat(np.arange(len(ids)), take)
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(take) - take, take)
    ids[rows, ids.shape[1] - need[rows] + rank] = order[filtered.indices[filtered.indptr[rows] + rank]]
    return ids


def _pad(ids, scores, width):
    """Width-``width`` int32 ids / float32 scores; empty slots carry -1 and the sink score."""
    ids = np.asarray(ids, dtype=np.int32)
    scores = np.asarray(scores, dtype=np.float32)
    if ids.shape[1] < width:
        extra = width - ids.shape[1]
        ids = np.pad(ids, ((0, 0), (0, extra)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, extra)))
    scores[ids < 0] = SINK_SCORE
    return ids, scores


def saved_params(params):
    """The constructor parameters ``save`` writes: a JSON string as a 0-d array (NumPy scalars
    become Python numbers; anything else that JSON cannot hold is a TypeError)."""
    def plain(value):
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"save: a parameter of type {type(value).__name__} cannot be saved without pickling")

    return np.array(json.dumps(params, default=plain))


@contextlib.contextmanager
def open_saved(file, cls):
    """``(arrays, params)`` of a model file ``save`` wrote, read with ``allow_pickle=False``; a
    ``str`` path without ``.npz`` gets it; a file of another class is a ValueError."""
    if isinstance(file, str) and not file.endswith(".npz"):
        file += ".npz"
    with np.load(file, allow_pickle=False) as data:
        saved = str(data["class"])
        if saved != cls.__name__:
            raise ValueError(f"file: holds a {saved}, not a {cls.__name__}")
        yield data, json.loads(str(data["params"]))
