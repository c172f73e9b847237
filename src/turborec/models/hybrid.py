"""A weighted blend of the normalised scores of several recommenders."""

import numbers

import numpy as np
import scipy.sparse as sp

from .. import _validation as v
from .._progress import check_show_progress
from ._base import RecommenderBase, as_user_items, resolve_backend_and_threads, topk_of_pool

NORMALIZATIONS = ("minmax", "rank", None)
_BLOCK = 1 << 22  # user x item scores blended per step (~32 MiB of float64)


class Hybrid(RecommenderBase):
    """Recommend by a weighted sum of several models' scores, each normalised per user.

    For a user ``u`` and an eligible item ``i`` (a candidate, not excluded for ``u``):

    ``score(u, i) = sum_m weight_m * norm_m(u, i)``

    where ``norm_m(u, .)`` is model ``m``'s score (its :meth:`~RecommenderBase.score`) of the
    eligible items of ``u``, normalised over those items:

    - ``"minmax"``: scaled to [0, 1], ``(s - min) / (max - min)``; 0 for every item when the
      model scores them all alike (it has no preference to add);
    - ``"rank"``: reciprocal rank ``1 / r``, ``r = 1`` for the model's best eligible item (ties
      ranked by lower item id, as :func:`turborec.topk` breaks them);
    - None: the raw scores (for models on one scale).

    Normalising over the eligible items, not the whole catalogue, keeps a model's top scores on
    liked or filtered items from compressing the scale of the items that can be recommended.
    The best ``N`` are then selected with :func:`turborec.topk`, with the exclusions every model
    applies (liked items, ``filter_items``, ``items``).

    Parameters
    ----------
    models : list of (model, weight) pairs
        Recommenders with the common API (:class:`RecommenderBase`: ``fit``, ``recommend``
        and ``score``; a model without ``score`` is scored through ``recommend`` over the whole
        catalogue). Weights are finite and >= 0, not all 0; a model of weight 0 is never
        scored. The same model may appear in several pairs.
    normalize : {"minmax", "rank", None}, default "minmax"
    prefit : bool, default False
        The models are fitted already: ``fit`` only checks that they agree on the shape (and
        may then be called without ``user_items``). Otherwise ``fit`` fits each model in place.
    backend, n_threads
        Of the final top-k selection (see :func:`turborec.topk`).

    Attributes
    ----------
    weights_ : float64 ndarray of shape (len(models),)
    n_users_, n_items_ : int
    backend_ : str
    n_threads_ : int

    Notes
    -----
    ``get_params(deep=True)`` lists each model's parameters as ``models__<position>__<name>``,
    and ``set_params`` sets them the same way (``set_params(models__0__seed=3)``).

    Examples
    --------
    >>> from turborec.models import Hybrid, MostPopular, Random
    >>> model = Hybrid([(MostPopular(), 0.8), (Random(seed=1), 0.2)])  # doctest: +SKIP
    >>> ids, scores = model.fit(train).recommend(0, train, N=10)  # doctest: +SKIP
    """

    def __init__(self, models, *, normalize="minmax", prefit=False, backend=None, n_threads=None):
        self.models = models
        self.normalize = normalize
        self.prefit = prefit
        self.backend = backend
        self.n_threads = n_threads
        _check_models(models)
        _check_normalize(normalize)

    def get_params(self, deep=True):
        """The constructor parameters, and with ``deep`` each model's as ``models__<i>__<name>``.

        Parameters
        ----------
        deep : bool, default True

        Returns
        -------
        dict
        """
        params = super().get_params(deep=False)
        if deep:
            for i, pair in enumerate(self.models):
                model = pair[0] if isinstance(pair, (list, tuple)) and len(pair) == 2 else None
                if hasattr(model, "get_params") and not isinstance(model, type):
                    params.update((f"models__{i}__{key}", value) for key, value in model.get_params(deep=True).items())
        return params

    def set_params(self, **params):
        """Set parameters; ``models__<i>__<name>`` sets a parameter of the ``i``-th model.

        Parameters
        ----------
        **params

        Returns
        -------
        self
        """
        nested = {}
        for key in [key for key in params if key.startswith("models__")]:
            position, _, name = key[len("models__"):].partition("__")
            if not position.isdigit() or int(position) >= len(self.models) or not name:
                raise ValueError(f"{key}: expected models__<position>__<parameter> with a position below "
                                 f"{len(self.models)}")
            nested.setdefault(int(position), {})[name] = params.pop(key)
        super().set_params(**params)
        for position, inner in nested.items():
            try:
                self.models[position][0].set_params(**inner)
            except ValueError as exc:  # "<name>: ..." of the model, named as the caller wrote it
                raise ValueError(f"models__{position}__{exc}") from None
        return self

    def fit(self, user_items=None, show_progress=True, callback=None):
        """Fit every model on ``user_items`` (unless ``prefit``) and check they agree on the shape.

        Parameters
        ----------
        user_items : scipy.sparse.csr_matrix of shape (n_users, n_items), or Interactions
            Passed to each model's ``fit``. Optional with ``prefit=True`` (then checked against
            the models' shape when given).
        show_progress : bool, default True
            Passed to each model's ``fit``.
        callback : callable, optional
            Not passed on, never called (implicit's signature).

        Returns
        -------
        self
        """
        check_show_progress(show_progress)
        pairs = _check_models(self.models)
        _check_normalize(self.normalize)
        prefit = v.as_bool(self.prefit, "prefit")
        if user_items is None and not prefit:
            raise TypeError("user_items: required unless prefit=True")
        if user_items is not None:
            user_items = as_user_items(user_items)  # converted (and warned about) once, for every model
        shape = None if user_items is None else user_items.shape
        if not prefit:
            for model, _ in pairs:
                model.fit(user_items, show_progress=show_progress)
        for i, (model, _) in enumerate(pairs):
            found = (getattr(model, "n_users_", None), getattr(model, "n_items_", None))
            if None in found:
                raise ValueError(f"models[{i}]: {type(model).__name__} is not fitted (no n_users_, n_items_); "
                                 "fit it or pass prefit=False")
            if shape is not None and found != shape:
                what = "user_items" if i == 0 or user_items is not None else "models[0]"
                raise ValueError(f"models[{i}]: fitted on shape {found}, expected {shape} like {what}")
            shape = found
        self.weights_ = np.array([weight for _, weight in pairs], dtype=np.float64)
        # What recommend blends, until the next fit (set_params takes effect at fit).
        self._fitted_models, self._fitted_normalize = [model for model, _ in pairs], self.normalize
        self.n_users_, self.n_items_ = shape
        self.backend_, self.n_threads_ = resolve_backend_and_threads(self.backend, self.n_threads)
        return self

    def _rank(self, users, N, exclude, candidates):
        pool = np.arange(self.n_items_) if candidates is None else candidates
        block = max(1, _BLOCK // max(self.n_items_, 1))
        ids, scores = [], []
        for start in range(0, len(users), block):
            stop = min(start + block, len(users))
            part = None if exclude is None else exclude[start:stop]
            blend = self._blend(users[start:stop], part, pool)
            i, s = topk_of_pool(blend[:, pool], N, part, pool, self.n_items_, self.backend_, self.n_threads_)
            ids.append(i)
            scores.append(s)
        return np.vstack(ids), np.vstack(scores)

    def _blend(self, users, exclude, pool):
        """float64 (len(users), n_items) weighted sum of normalised scores (valid on eligible items).

        Kept in float64 through the top-k (and rounded to float32 after it): distinct float32
        scores of one model stay distinct after normalisation, so a lone model ranks as itself.
        """
        eligible = np.zeros((len(users), self.n_items_), dtype=bool)
        eligible[:, pool] = True
        if exclude is not None:
            rows = np.repeat(np.arange(len(users)), np.diff(exclude.indptr))
            eligible[rows, exclude.indices] = False
        blend = np.zeros(eligible.shape, dtype=np.float64)
        for position, (model, weight) in enumerate(zip(self._fitted_models, self.weights_)):
            if weight == 0:
                continue
            raw = _model_scores(model, users, self.n_items_, position)
            blend += weight * _normalized(raw, eligible, self._fitted_normalize)
        return blend


def _model_scores(model, users, n_items, position):
    """float64 (len(users), n_items) scores of one model, checked finite."""
    if hasattr(model, "score"):
        raw = np.asarray(model.score(users), dtype=np.float64)
    else:  # the common API without the hook: every item ranked by recommend
        ids, values = model.recommend(users, sp.csr_matrix((len(users), n_items), dtype=np.float32), N=n_items,
                                      filter_already_liked_items=False)
        ids, values = np.asarray(ids), np.asarray(values, dtype=np.float64)
        raw = np.full((len(users), n_items), -np.inf)
        rows, cols = np.nonzero(ids >= 0)
        raw[rows, ids[rows, cols]] = values[rows, cols]
    if raw.shape != (len(users), n_items):
        raise ValueError(f"models[{position}]: scores of shape {raw.shape}, expected {(len(users), n_items)}")
    if not np.isfinite(raw).all():
        raise ValueError(f"models[{position}]: {type(model).__name__} gave NaN or infinite scores")
    return raw


def _normalized(raw, eligible, normalize):
    """Scores normalised per row over the eligible items (other entries: anything finite)."""
    if normalize is None:
        return raw
    if normalize == "minmax":
        low = np.where(eligible, raw, np.inf).min(axis=1, keepdims=True)
        high = np.where(eligible, raw, -np.inf).max(axis=1, keepdims=True)
        span = high - low
        flat = ~(span > 0)  # also rows without eligible items (span is -inf or nan)
        out = (raw - np.where(flat, 0.0, low)) / np.where(flat, 1.0, span)
        out[flat[:, 0]] = 0.0
        return out
    # "rank": best eligible item 1, next 1/2, ...; ties to the lower id (a stable sort).
    order = np.argsort(np.where(eligible, -raw, np.inf), axis=1, kind="stable")
    ranks = np.empty(raw.shape, dtype=np.float64)
    np.put_along_axis(ranks, order, np.arange(1, raw.shape[1] + 1, dtype=np.float64)[None, :], axis=1)
    return 1.0 / ranks


def _check_normalize(normalize):
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize: expected one of {NORMALIZATIONS}, got {normalize!r}")


def _check_models(models):
    """The (model, weight) pairs as a list of tuples, every pair and weight checked."""
    if not isinstance(models, (list, tuple)):
        raise TypeError(f"models: expected a list of (model, weight) pairs, got {type(models).__name__}")
    if not models:
        raise ValueError("models: expected at least one (model, weight) pair, got none")
    pairs = []
    for i, pair in enumerate(models):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"models[{i}]: expected a (model, weight) pair, got {pair!r}")
        model, weight = pair
        if isinstance(model, type) or not (callable(getattr(model, "fit", None))
                                           and callable(getattr(model, "recommend", None))):
            got = f"the class {model.__name__} (pass an instance)" if isinstance(model, type) else type(model).__name__
            raise TypeError(f"models[{i}]: expected a recommender (with fit and recommend), got {got}")
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real):
            raise TypeError(f"models[{i}]: expected a real weight, got {type(weight).__name__}")
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"models[{i}]: expected a finite weight >= 0, got {weight!r}")
        pairs.append((model, float(weight)))
    if all(weight == 0 for _, weight in pairs):
        raise ValueError("models: every weight is 0; give at least one model a positive weight")
    return pairs
