"""What implicit's three index wrappers share here: the wrapped model answers every query exactly.

implicit 0.7 speeds up ``recommend`` and ``similar_items`` of a factor model by building an
approximate nearest-neighbours index of the item factors at the end of ``fit`` (nmslib's HNSW,
annoy's trees or faiss's IVF lists). turborec's exact top-k scores a batch of users against every
item in one fused pass (BLAS scoring and selection, liked items excluded, nothing materialised),
so these wrappers answer from the model itself: exact answers, the index parameters accepted and
ignored, and no index to build at each fit. Where implicit's wrappers refuse a query because an
index cannot answer it (``items=``, ``recalculate_user``, ``similar_users``, ``save``), they
answer it here as the model does.
"""

import warnings

import scipy.sparse as sp

from .... import _validation as v
from ....exceptions import ParameterWarning
from ....models.als import AlternatingLeastSquares

__all__ = ["ExactIndexModel"]


class ExactIndexModel:
    """A fitted factor model's queries answered exactly, under an index wrapper's name.

    Parameters
    ----------
    model : a turborec factor model (``AlternatingLeastSquares``, ``BayesianPersonalizedRanking``,
        ``LogisticMatrixFactorization``)
        The model that is fitted and answers.
    approximate_similar_items, approximate_recommend : bool, default True
        Whether implicit would answer ``similar_items`` / ``recommend`` from an index; the
        answers are exact either way.

    Attributes
    ----------
    model
    similar_items_index, recommend_index : None
        No index is built.
    """

    def __init__(self, model, approximate_similar_items=True, approximate_recommend=True):
        for method in ("fit", "recommend", "similar_items", "similar_users"):
            if not callable(getattr(model, method, None)):
                raise TypeError(f"model: expected a factor model with a {method} method, got {type(model).__name__}")
        self.model = model
        self.approximate_similar_items = v.as_bool(approximate_similar_items, "approximate_similar_items")
        self.approximate_recommend = v.as_bool(approximate_recommend, "approximate_recommend")
        self.similar_items_index = None
        self.recommend_index = None

    def fit(self, Cui, show_progress=True, callback=None):
        """Fit the wrapped model: ``model.fit(Cui, show_progress, callback=callback)``.

        Returns
        -------
        self
        """
        self.model.fit(Cui, show_progress, callback=callback)
        self._fitted(self.model.item_factors)
        return self

    def _fitted(self, item_factors):
        """Set what implicit's wrapper derives from the item factors at the end of ``fit``."""

    def recommend(self, userid, user_items, N=10, filter_already_liked_items=True, filter_items=None,
                  recalculate_user=False, items=None):
        """The wrapped model's ``recommend`` (same parameters and results). As in implicit's
        wrappers, ``user_items`` must be a ``scipy.sparse.csr_matrix`` when liked items are filtered
        or the user is recalculated (a ValueError otherwise)."""
        if (filter_already_liked_items or recalculate_user) and not isinstance(user_items, sp.csr_matrix):
            raise ValueError(f"user_items needs to be a CSR sparse matrix (scipy.sparse.csr_matrix), "
                             f"got {type(user_items).__name__}")
        return self.model.recommend(userid, user_items, N=N, filter_already_liked_items=filter_already_liked_items,
                                    filter_items=filter_items, recalculate_user=recalculate_user, items=items)

    def similar_items(self, itemid, N=10, recalculate_item=False, item_users=None, filter_items=None, items=None):
        """The wrapped model's ``similar_items``: the cosine of the item factors, the item first."""
        return self.model.similar_items(itemid, N, recalculate_item=recalculate_item, item_users=item_users,
                                        filter_items=filter_items, items=items)

    def similar_users(self, userid, N=10, filter_users=None, users=None):
        """The wrapped model's ``similar_users`` (implicit's wrappers raise NotImplementedError)."""
        return self.model.similar_users(userid, N, filter_users=filter_users, users=users)

    def save(self, file):
        """Save the wrapped model (its own ``.npz`` layout, implicit's); the index parameters,
        which change no answer, are not saved."""
        self.model.save(file)

    @classmethod
    def load(cls, file):
        """A wrapper, with the default index parameters, of the ``AlternatingLeastSquares`` saved in
        ``file`` by :meth:`save` (or by ``AlternatingLeastSquares.save``)."""
        return cls(AlternatingLeastSquares.load(file))

    def __repr__(self):
        return f"{type(self).__name__}({self.model!r})"


def check_int(value, name, allowed):
    """``value`` as an int accepted by ``allowed`` (described after "expected")."""
    text, accepts = allowed
    value = v.as_int(value, name, text)
    if not accepts(value):
        raise ValueError(f"{name}: expected {text}, got {value}")
    return value


def check_params(value, name, default):
    """``value`` as a new dict (``default``'s copy when None)."""
    if value is None:
        return dict(default)
    if not isinstance(value, dict):
        raise TypeError(f"{name}: expected a dict or None, got {type(value).__name__}")
    return value


def warn_ignored(kwargs, cls):
    """implicit's ``NMSLibModel`` takes and ignores any other keyword argument: say so."""
    if kwargs:
        warnings.warn(f"{cls}: ignored keyword arguments {sorted(kwargs)} (as implicit ignores them)",
                      ParameterWarning, stacklevel=3)
