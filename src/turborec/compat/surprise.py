"""turborec's rating predictors as Surprise 1.1 algorithms.

Each class here is a ``surprise.AlgoBase`` with the constructor of Surprise's class of the same
name (plus turborec's keyword-only ``backend`` and ``n_threads``), so it goes wherever a
Surprise algorithm goes: ``surprise.model_selection.cross_validate``, ``GridSearchCV``,
``surprise.dump``. ``fit(trainset)`` turns the ``Trainset`` into index arrays and fits the
turborec model of the same name on them; ``estimate``, ``predict`` and ``test`` give Surprise's
estimates, ``details`` and ``PredictionImpossible`` cases, and ``test`` predicts the whole test
set in one vectorised call.

Surprise's inner ids are turborec's indices: the ratings are handed over in an order Surprise
could have read them in (:func:`_trainset_arrays`), so turborec numbers users and items as the
trainset does and breaks ties among equally similar neighbours as Surprise does.

Adding a model is one short class: subclass :class:`_Adapter`, set ``model_class`` to the
turborec ``RatingPredictor`` and the two ``PredictionImpossible`` messages, and write an
``__init__`` with Surprise's parameters stored under the turborec model's parameter names
(override ``_model`` where a name differs, ``_expose`` for more of Surprise's attributes, such
as an SVD's ``pu`` and ``qi``).
"""

try:
    import surprise
except ImportError as error:  # scikit-surprise is an optional extra
    raise ImportError('turborec.compat.surprise needs Surprise (the scikit-surprise package): '
                      'pip install "turborec[surprise]"') from error

import numpy as np

from .. import models, sgd
from .._threads import resolve_n_threads
from ..models.knn_rating import SIM_NAMES

__all__ = ["BaselineOnly", "KNNBaseline", "KNNBasic", "KNNWithMeans", "KNNWithZScore", "NMF", "SVD", "SVDpp"]


def _trainset_arrays(trainset):
    """``(users, items, ratings)`` of a Surprise ``Trainset``: inner ids (int64) and ratings
    (float64), in an order of reading that rebuilds the same trainset.

    Any order in which each user's ratings follow ``trainset.ur[u]``, each item's follow
    ``trainset.ir[i]``, and users (items) first appear in inner-id order does: read in that
    order, Surprise would number users and items as the trainset does and build the same ``ur``
    and ``ir`` lists. turborec's models take the neighbours' tie order, the order of SGD and the
    numbering from the order of their data, so this order makes them equal Surprise's. It is a
    topological order of those constraints (Kahn's algorithm; each rating waits for at most two
    others).
    """
    n, n_users, n_items = trainset.n_ratings, trainset.n_users, trainset.n_items
    ur = [trainset.ur.get(u, ()) for u in range(n_users)]  # .get: reading a defaultdict adds keys
    ir = [trainset.ir.get(i, ()) for i in range(n_items)]
    # Position p: the ratings in ur order (by user, then along ur[u]); q: in ir order.
    user_counts = np.fromiter(map(len, ur), np.int64, n_users)
    item_counts = np.fromiter(map(len, ir), np.int64, n_items)
    if user_counts.sum() != n or item_counts.sum() != n:
        raise ValueError(f"trainset: ur and ir hold {user_counts.sum()} and {item_counts.sum()} ratings, "
                         f"n_ratings is {n}")
    if n_users and user_counts.min() == 0 or n_items and item_counts.min() == 0:
        raise ValueError("trainset: every inner user and item id must have ratings in ur and ir "
                         "(as Dataset.construct_trainset builds them)")
    users = np.repeat(np.arange(n_users, dtype=np.int64), user_counts)
    items = np.fromiter((i for row in ur for i, _ in row), np.int64, n)
    ratings = np.fromiter((r for row in ur for _, r in row), np.float64, n)
    q_items = np.repeat(np.arange(n_items, dtype=np.int64), item_counts)
    q_users = np.fromiter((u for row in ir for u, _ in row), np.int64, n)
    # The k-th rating of a (user, item) pair in ur is its k-th in ir (both follow the reading order).
    by_pair_p, by_pair_q = np.lexsort((items, users)), np.lexsort((q_items, q_users))
    if not (np.array_equal(users[by_pair_p], q_users[by_pair_q])
            and np.array_equal(items[by_pair_p], q_items[by_pair_q])):
        raise ValueError("trainset: its ur and ir lists do not hold the same (user, item) pairs")
    p_of_q = np.empty(n, dtype=np.int64)
    p_of_q[by_pair_q] = by_pair_p
    q_of_p = np.empty(n, dtype=np.int64)
    q_of_p[by_pair_p] = by_pair_q
    # Each rating's predecessor in its user's list, or, for a user's first rating, the previous
    # user's first rating; the same on the item side. -1: none.
    user_starts = np.cumsum(user_counts) - user_counts
    item_starts = np.cumsum(item_counts) - item_counts
    after_user = np.arange(-1, n - 1)
    after_user[user_starts] = np.concatenate(([-1], user_starts[:-1]))
    after_item_q = np.arange(-1, n - 1)
    after_item_q[item_starts] = np.concatenate(([-1], item_starts[:-1]))
    after_item = after_item_q[q_of_p]
    after_item = np.where(after_item >= 0, p_of_q[np.maximum(after_item, 0)], -1)

    edges_from = np.concatenate((after_user, after_item))
    edges_to = np.concatenate((np.arange(n), np.arange(n)))
    keep = edges_from >= 0
    edges_from, edges_to = edges_from[keep], edges_to[keep]
    successors = edges_to[np.argsort(edges_from, kind="stable")].tolist()
    starts = np.concatenate(([0], np.cumsum(np.bincount(edges_from, minlength=n)))).tolist()
    waiting = np.bincount(edges_to, minlength=n).tolist()
    ready = [p for p in range(n) if waiting[p] == 0]
    order = []
    while ready:
        p = ready.pop()
        order.append(p)
        for s in successors[starts[p]:starts[p + 1]]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    if len(order) != n:
        raise ValueError("trainset: no reading order gives its ur and ir lists (was it built by "
                         "Dataset.construct_trainset?)")
    order = np.array(order, dtype=np.int64)
    return users[order], items[order], ratings[order]


class _Adapter(surprise.AlgoBase):
    """A Surprise algorithm computed by the turborec ``RatingPredictor`` ``model_class``.

    Subclasses set ``model_class`` and the ``PredictionImpossible`` messages, and store their
    constructor's parameters under the names of ``model_class``'s; ``fit`` builds the turborec
    model from them. Fitted: ``trainset``, ``model`` (the fitted turborec model), ``bu``, ``bi``
    (None unless the model computed biases).
    """

    model_class = None
    unknown_reason = "User and/or item is unknown."  # Surprise's messages, per algorithm
    impossible_reason = "Not enough neighbors."

    def __init__(self, *, sim_options=None, bsl_options=None, verbose=True, backend=None, n_threads=None):
        # AlgoBase stores the options and adds sim_options["user_based"]: give it copies, so the
        # caller's dicts (and no shared default) are never changed.
        surprise.AlgoBase.__init__(self, sim_options=_options(sim_options, "sim_options"),
                                   bsl_options=_options(bsl_options, "bsl_options"))
        self.verbose = verbose
        self.backend = backend
        self.n_threads = n_threads

    def _model(self):
        """A new, unfitted turborec model with this algorithm's parameters."""
        return self.model_class(**{name: getattr(self, name) for name in self.model_class._param_names()})

    def fit(self, trainset):
        """Fit the turborec model on ``trainset`` (inner ids as indices, ratings in float64).

        Returns
        -------
        self
        """
        surprise.AlgoBase.fit(self, trainset)
        self.model = None  # until this trainset's model is fitted
        self._check_options()
        data = _trainset_arrays(trainset)
        self._check_data(*data)
        self.model = self._fit_model(data)
        self._expose(self.model)
        return self

    def _fit_model(self, data):
        """A turborec model fitted on the trainset's ``data`` (see :func:`_trainset_arrays`)."""
        return self._model().fit(data, rating_scale=self.trainset.rating_scale)

    def _check_fitted(self):
        if getattr(self, "model", None) is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(trainset) first")

    def _check_options(self):
        """Checks that must raise Surprise's exception types (the model checks the rest)."""

    def _check_data(self, users, items, ratings):
        """Refuse a trainset whose answer from the model would differ from Surprise's."""

    def _expose(self, model):
        """Set Surprise's attributes from the fitted turborec ``model``."""
        self.bu = getattr(model, "bu_", None)
        self.bi = getattr(model, "bi_", None)

    def _query(self, users, items):
        """The model's unclipped estimates of inner-id arrays (-1: unknown) and, per pair, Surprise's
        ``PredictionImpossible`` message (None where possible) and ``actual_k`` (-1 where
        Surprise's details have none), as lists."""
        estimates, details = self.model.predict(users, items, clip=False, return_details=True)
        known = details["known_user"] & details["known_item"]
        reasons = [None if not impossible else self.impossible_reason if both else self.unknown_reason
                   for impossible, both in zip(details["was_impossible"].tolist(), known.tolist())]
        actual_k = details["actual_k"].tolist() if "actual_k" in details else [-1] * len(users)
        return estimates, reasons, actual_k

    def estimate(self, u, i):
        """Surprise's estimate of inner ids ``u``, ``i`` (or the ``"UKN__"`` ids of unknowns).

        Returns the unclipped estimate, with ``{"actual_k": ...}`` where Surprise's algorithm
        reports it; raises ``surprise.PredictionImpossible`` where Surprise's does.
        """
        self._check_fitted()
        user = int(u) if self.trainset.knows_user(u) else -1
        item = int(i) if self.trainset.knows_item(i) else -1
        estimates, reasons, actual_k = self._query(np.array([user]), np.array([item]))
        if reasons[0] is not None:
            raise surprise.PredictionImpossible(reasons[0])
        if actual_k[0] >= 0:
            return float(estimates[0]), {"actual_k": int(actual_k[0])}
        return float(estimates[0])

    def test(self, testset, verbose=False):
        """Predict every ``(uid, iid, r_ui)`` of ``testset`` (raw ids), as Surprise's ``test``.

        One vectorised prediction for the whole test set; each ``surprise.Prediction`` has the
        ``est`` (clipped to the rating scale) and ``details`` Surprise's ``predict`` gives it.

        Returns
        -------
        list of surprise.Prediction
        """
        self._check_fitted()
        testset = list(testset)
        to_user, to_item = self.trainset._raw2inner_id_users, self.trainset._raw2inner_id_items
        users = np.fromiter((to_user.get(uid, -1) for uid, _, _ in testset), np.int64, len(testset))
        items = np.fromiter((to_item.get(iid, -1) for _, iid, _ in testset), np.int64, len(testset))
        estimates, reasons, actual_k = self._query(users, items)
        impossible = np.array([reason is not None for reason in reasons], dtype=bool)
        estimates = np.where(impossible, self.default_prediction(), estimates)
        low, high = self.trainset.rating_scale
        estimates = np.maximum(np.minimum(estimates, high), low)  # as AlgoBase.predict: min first
        predictions = []
        for (uid, iid, r_ui), est, reason, k in zip(testset, estimates.tolist(), reasons, actual_k):
            if reason is not None:
                details = {"was_impossible": True, "reason": reason}
            elif k >= 0:
                details = {"actual_k": k, "was_impossible": False}
            else:
                details = {"was_impossible": False}
            predictions.append(surprise.Prediction(uid, iid, r_ui, est, details))
            if verbose:
                print(predictions[-1])
        return predictions

    def compute_baselines(self):
        """``(bu, bi)``, as Surprise's: the fitted ones, else fitted now with ``bsl_options``."""
        if self.bu is None:
            model = models.BaselineOnly(bsl_options=self.bsl_options, verbose=self.verbose, backend=self.backend,
                                        n_threads=self.n_threads)
            model.fit(_trainset_arrays(self.trainset), rating_scale=self.trainset.rating_scale)
            self.bu, self.bi = model.bu_, model.bi_
        return self.bu, self.bi

    def compute_similarities(self):
        """The similarity matrix of ``sim_options`` on the trainset, as Surprise's (computed anew)."""
        _check_sim_name(self.sim_options)
        data = _trainset_arrays(self.trainset)
        _check_single_ratings(self.trainset, *data[:2])
        model = models.KNNBasic(sim_options=self.sim_options, verbose=self.verbose, backend=self.backend,
                                n_threads=self.n_threads, bsl_options=self.bsl_options)
        return model.fit(data, rating_scale=self.trainset.rating_scale).sim_


def _options(options, name):
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(f"{name}: expected a dict, got {type(options).__name__}")
    return dict(options)


def _check_sim_name(sim_options):
    """Surprise raises a NameError for an unknown similarity name; so does the adapter."""
    name = sim_options.get("name", "msd")
    if not isinstance(name, str) or name.lower() not in SIM_NAMES:
        raise NameError(f"sim_options['name']: wrong sim name {name!r}; allowed values are "
                        f"{', '.join(SIM_NAMES)}")


def _check_single_ratings(trainset, users, items):
    """turborec's similarities take one rating per (user, item) pair; Surprise's count every
    repeat, so a trainset with repeats is refused rather than answered differently."""
    pairs = users * trainset.n_items + items
    pairs.sort()
    repeated = pairs[1:][pairs[1:] == pairs[:-1]]
    if len(repeated):
        user, item = divmod(int(repeated[0]), trainset.n_items)
        raise ValueError(f"trainset: {len(np.unique(repeated))} (user, item) pairs are rated more than once "
                         f"(one: user {trainset.to_raw_uid(user)!r}, item {trainset.to_raw_iid(item)!r}); "
                         "the k-NN similarities need one rating per pair: drop the repeats")


class BaselineOnly(_Adapter):
    """Surprise's ``BaselineOnly`` computed by :class:`turborec.models.BaselineOnly`.

    Parameters
    ----------
    bsl_options : dict, optional
        Surprise's baseline options (``"method"``: ``"als"`` or ``"sgd"``, and theirs).
    verbose : bool, default True
        Print Surprise's progress line at ``fit``.
    backend, n_threads
        Of turborec's kernels.
    """

    model_class = models.BaselineOnly

    def __init__(self, bsl_options=None, verbose=True, *, backend=None, n_threads=None):
        super().__init__(sim_options=None, bsl_options=bsl_options, verbose=verbose, backend=backend,
                         n_threads=n_threads)


class _KNN(_Adapter):
    """What the four k-NN adapters share: Surprise's attributes ``sim``, ``n_x``, ``n_y``,
    ``xr``, ``yr`` (and ``means``, ``sigmas`` where the algorithm has them),
    ``get_neighbors``."""

    def __init__(self, k=40, min_k=1, sim_options=None, verbose=True, *, bsl_options=None, backend=None,
                 n_threads=None):
        super().__init__(sim_options=sim_options, bsl_options=bsl_options, verbose=verbose, backend=backend,
                         n_threads=n_threads)
        self.k = k
        self.min_k = min_k

    def _check_options(self):
        _check_sim_name(self.sim_options)

    def _check_data(self, users, items, ratings):
        _check_single_ratings(self.trainset, users, items)

    def _expose(self, model):
        super()._expose(model)
        ts, user_based = self.trainset, self.sim_options["user_based"]
        self.sim = model.sim_
        self.n_x, self.n_y = (ts.n_users, ts.n_items) if user_based else (ts.n_items, ts.n_users)
        self.xr, self.yr = (ts.ur, ts.ir) if user_based else (ts.ir, ts.ur)
        for name in ("means", "sigmas"):
            if hasattr(model, name + "_"):
                setattr(self, name, getattr(model, name + "_"))

    def get_neighbors(self, iid, k):
        """The inner ids of the ``k`` users (items) nearest ``iid``, as Surprise's (ties in
        inner-id order).

        Returns
        -------
        list of int
        """
        self._check_fitted()
        return self.model.get_neighbors(iid, k).tolist()


_KNN_DOC = """ computed by :class:`turborec.models.{name}`.

    Parameters
    ----------
    k, min_k, sim_options, verbose
        Surprise's (defaults 40, 1, msd user-based, True); see :class:`turborec.models.{name}`.
    bsl_options : dict, optional
        Surprise's baseline options, for the {what}.
    backend, n_threads
        Of turborec's kernels.
    """


class KNNBasic(_KNN):
    __doc__ = "Surprise's ``KNNBasic``" + _KNN_DOC.format(name="KNNBasic", what="pearson_baseline similarity")
    model_class = models.KNNBasic


class KNNWithMeans(_KNN):
    __doc__ = "Surprise's ``KNNWithMeans``" + _KNN_DOC.format(name="KNNWithMeans",
                                                                what="pearson_baseline similarity")
    model_class = models.KNNWithMeans


class KNNWithZScore(_KNN):
    __doc__ = "Surprise's ``KNNWithZScore``" + _KNN_DOC.format(name="KNNWithZScore",
                                                                 what="pearson_baseline similarity")
    model_class = models.KNNWithZScore


class KNNBaseline(_KNN):
    __doc__ = "Surprise's ``KNNBaseline``" + _KNN_DOC.format(name="KNNBaseline",
                                                              what="baselines (and a pearson_baseline similarity)")
    model_class = models.KNNBaseline

    def __init__(self, k=40, min_k=1, sim_options=None, bsl_options=None, verbose=True, *, backend=None,
                 n_threads=None):
        super().__init__(k=k, min_k=min_k, sim_options=sim_options, verbose=verbose, bsl_options=bsl_options,
                         backend=backend, n_threads=n_threads)

    def _expose(self, model):
        super()._expose(model)
        self.bx, self.by = (self.bu, self.bi) if self.sim_options["user_based"] else (self.bi, self.bu)


class _Factorisation(_Adapter):
    """What the matrix factorisations share: Surprise's parameters stored under the same names
    (the turborec models take Surprise's), its attributes ``pu``, ``qi`` (``yj``), ``bu``, ``bi``,
    and the exact mode by default: float64, one pass in Surprise's order, with Surprise's
    random stream, so that the same ``random_state`` gives Surprise's numbers (SVD's to rounding:
    ~1e-13)."""

    unknown_reason = "User and item are unknown."  # an unbiased model cannot estimate them
    _factors = ("pu", "qi")
    dtype = "float64"  # the model's dtype: Surprise's (SVD rounds otherwise, within ~1e-13)

    def _store(self, params):
        super().__init__(verbose=params.pop("verbose"), backend=params.pop("backend"),
                         n_threads=params.pop("n_threads"))
        for name, value in params.items():
            setattr(self, name, value)

    def _fit_model(self, data):
        # Surprise accepts ratings outside the reader's scale and clips only predictions, which
        # test() does; the turborec model would refuse them against a declared scale.
        return self._model().fit(data)

    def _expose(self, model):
        super()._expose(model)
        for name in self._factors:
            setattr(self, name, getattr(model, name + "_"))


_FACTORISATION_DOC = """ computed by :class:`turborec.models.{name}`, with Surprise's parameters
    and defaults (see there){extra}. ``backend`` and ``n_threads`` are of turborec's kernels. Fitted:
    ``pu``, ``qi``{more}, ``bu``, ``bi`` as Surprise's (inner ids as rows)."""


class SVD(_Factorisation):
    __doc__ = "Surprise's ``SVD``" + _FACTORISATION_DOC.format(
        name="SVD", more="", extra="; ``n_threads`` > 1 opts into turborec's parallel block grid, of ``n_blocks`` "
        "(default: twice ``n_threads``) squared blocks (reproducible for a seed and block count, not Surprise's "
        "order), as does ``n_blocks`` > 1")
    model_class = models.SVD

    def __init__(self, n_factors=100, n_epochs=20, biased=True, init_mean=0, init_std_dev=0.1, lr_all=0.005,
                 reg_all=0.02, lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None, reg_bu=None, reg_bi=None,
                 reg_pu=None, reg_qi=None, random_state=None, verbose=False, *, n_blocks=None, backend=None,
                 n_threads=None):
        self._store({name: value for name, value in locals().items() if name not in ("self", "__class__")})

    def _model(self):
        model = super()._model()
        if self.n_blocks is None:  # the exact mode, unless threads were asked for (-1: every core)
            threads = 1 if self.n_threads is None else resolve_n_threads(self.n_threads)
            model.n_blocks = min(2 * threads, sgd.MAX_BLOCKS) if threads > 1 else 1
        return model


class SVDpp(_Factorisation):
    __doc__ = "Surprise's ``SVDpp``" + _FACTORISATION_DOC.format(name="SVDpp", more=", ``yj``", extra="")
    model_class = models.SVDpp
    _factors = ("pu", "qi", "yj")

    def __init__(self, n_factors=20, n_epochs=20, init_mean=0, init_std_dev=0.1, lr_all=0.007, reg_all=0.02,
                 lr_bu=None, lr_bi=None, lr_pu=None, lr_qi=None, lr_yj=None, reg_bu=None, reg_bi=None, reg_pu=None,
                 reg_qi=None, reg_yj=None, random_state=None, verbose=False, cache_ratings=False, *, backend=None,
                 n_threads=None):
        self._store({name: value for name, value in locals().items() if name not in ("self", "__class__")})


class NMF(_Factorisation):
    __doc__ = "Surprise's ``NMF``" + _FACTORISATION_DOC.format(name="NMF", more="", extra="")
    model_class = models.NMF

    def __init__(self, n_factors=15, n_epochs=50, biased=False, reg_pu=0.06, reg_qi=0.06, reg_bu=0.02, reg_bi=0.02,
                 lr_bu=0.005, lr_bi=0.005, init_low=0, init_high=1, random_state=None, verbose=False, *,
                 backend=None, n_threads=None):
        self._store({name: value for name, value in locals().items() if name not in ("self", "__class__")})
