"""What rating-prediction models (Surprise 1.1's algorithms) share.

They predict a rating for (user, item) pairs instead of ranking a catalogue, so they do not
derive from :class:`~turborec.models.RecommenderBase` (whose ``recommend`` and ``score`` serve
top-N lists). They keep its parameter surface: ``get_params``, ``set_params`` and ``repr`` are
the very functions of ``RecommenderBase`` (borrowed, not copied), so both kinds of model follow
scikit-learn's conventions alike.
"""

import numpy as np

from ..datasets import Interactions
from ._base import RecommenderBase


class RatingPredictor:
    """Base of rating-prediction models: subclasses implement ``fit`` and ``_estimate``.

    ``_estimate(users, items, known_user, known_item)`` returns the float64 unclipped estimates
    (unknown indices already replaced by 0 and flagged in the masks) and a boolean
    ``was_impossible`` mask; :meth:`predict` validates before and clips after.
    """

    _param_names = RecommenderBase.__dict__["_param_names"]
    get_params = RecommenderBase.get_params
    set_params = RecommenderBase.set_params
    _split_params = RecommenderBase._split_params
    __repr__ = RecommenderBase.__repr__

    def predict(self, users, items, *, clip=True, return_details=False):
        """Predicted ratings of (user, item) pairs, vectorised.

        Parameters
        ----------
        users, items : int or array-like of int, shape (n,)
            Indices of the training data. An index outside ``[0, n_users)`` (``[0, n_items)``),
            such as the -1 that ``IdMapper(unknown="ignore")`` gives an unseen raw id, or of a
            user (item) with no training rating, is unknown, as a raw id absent from the
            trainset is to Surprise.
        clip : bool, default True
            Clip to ``rating_scale_``, as Surprise's ``predict(..., clip=True)``.
        return_details : bool, default False
            Also return the per-prediction details.

        Returns
        -------
        predictions : float64 ndarray of shape (n,), or a float for scalar arguments
        details : dict of bool ndarrays of shape (n,), only with ``return_details=True``
            ``"was_impossible"``: Surprise's flag of the same name (the model could not estimate
            and gave the global mean); ``"known_user"``, ``"known_item"``: whether the index has
            training ratings.
        """
        self._check_fitted()
        scalar = np.ndim(users) == 0 and np.ndim(items) == 0
        users = _as_query(users, "users")
        items = _as_query(items, "items")
        if len(users) != len(items):
            raise ValueError(f"items: expected {len(users)} entries like users, got {len(items)}")
        known_user = (users >= 0) & (users < len(self.user_counts_))
        known_user[known_user] = self.user_counts_[users[known_user]] > 0
        known_item = (items >= 0) & (items < len(self.item_counts_))
        known_item[known_item] = self.item_counts_[items[known_item]] > 0
        users = np.where(known_user, users, 0)
        items = np.where(known_item, items, 0)
        estimates, impossible = self._estimate(users, items, known_user, known_item)
        estimates = np.asarray(estimates, dtype=np.float64)
        if clip:
            low, high = self.rating_scale_
            estimates = np.maximum(np.minimum(estimates, high), low)  # Surprise: min first, then max
        if scalar:
            estimates = float(estimates[0])
        if not return_details:
            return estimates
        return estimates, {"was_impossible": impossible, "known_user": known_user, "known_item": known_item}

    def _check_fitted(self):
        if not hasattr(self, "global_mean_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit() first")


def as_rating_triples(data, rating_scale=None):
    """``(users, items, ratings, n_users, n_items, rating_scale)`` of a model's training data.

    Parameters
    ----------
    data : Interactions with ratings, or a tuple ``(users, items, ratings)``
        Arrays: contiguous non-negative int indices and finite float ratings, kept in float64.
        ``Interactions`` store float32 ratings, exact for whole and half stars.
    rating_scale : tuple (low, high), optional
        Default: the lowest and highest training rating.

    Returns
    -------
    users, items : int64 ndarray, ratings : float64 ndarray, n_users, n_items : int, (low, high) floats
    """
    if isinstance(data, Interactions):
        if data.ratings is None:
            raise ValueError("data: these Interactions have no ratings; a rating model needs them")
        users, items = data.users.astype(np.int64), data.items.astype(np.int64)
        ratings = data.ratings.astype(np.float64)
        n_users, n_items = data.shape
    elif isinstance(data, tuple) and len(data) == 3:
        users, items = _as_index(data[0], "users"), _as_index(data[1], "items")
        ratings = np.asarray(data[2])
        if ratings.ndim != 1 or not (np.issubdtype(ratings.dtype, np.number) and not np.iscomplexobj(ratings)):
            raise TypeError(f"ratings: expected a 1-D array of real numbers, got dtype {ratings.dtype}, "
                            f"shape {ratings.shape}")
        ratings = ratings.astype(np.float64)
        if not np.isfinite(ratings).all():
            raise ValueError("ratings: NaN or inf found; every rating must be finite")
        if not len(users) == len(items) == len(ratings):
            raise ValueError(f"data: users, items and ratings must have one length, got "
                             f"{len(users)}, {len(items)}, {len(ratings)}")
        n_users, n_items = int(users.max(initial=-1)) + 1, int(items.max(initial=-1)) + 1
    else:
        raise TypeError(f"data: expected Interactions with ratings or a tuple (users, items, ratings), "
                        f"got {type(data).__name__}")
    if len(ratings) == 0:
        raise ValueError("data: no ratings to fit on")
    if rating_scale is None:
        rating_scale = (float(ratings.min()), float(ratings.max()))
    else:
        if np.ndim(rating_scale) != 1 or len(rating_scale) != 2:
            raise ValueError(f"rating_scale: expected (low, high), got {rating_scale!r}")
        low, high = (float(x) for x in rating_scale)
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ValueError(f"rating_scale: expected finite low <= high, got {rating_scale!r}")
        rating_scale = (low, high)
    return users, items, ratings, n_users, n_items, rating_scale


def _as_index(values, name):
    values = np.asarray(values)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"{name}: expected a 1-D array of int indices, got dtype {values.dtype}, shape {values.shape}")
    values = values.astype(np.int64)
    if values.size and values.min() < 0:
        raise ValueError(f"{name}: indices must be >= 0, got {values.min()}")
    return values


def _as_query(values, name):
    values = np.atleast_1d(np.asarray(values))
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise TypeError(f"{name}: expected an int or a 1-D array of int indices, got dtype {values.dtype}, "
                        f"shape {values.shape}")
    return values.astype(np.int64)


def recommend_users(users, n_users):
    """``(scalar, int64 users)`` of a rating model's ``recommend`` argument, checked against
    ``[0, n_users)``."""
    scalar = np.ndim(users) == 0
    users = np.atleast_1d(np.asarray(users))
    if users.ndim != 1 or (users.size and not np.issubdtype(users.dtype, np.integer)):
        raise TypeError(f"users: expected an int or a 1-D array of int indices, got dtype {users.dtype}")
    users = users.astype(np.int64)
    if users.size and (users.min() < 0 or users.max() >= n_users):
        raise IndexError(f"users: index out of range [0, {n_users})")
    return scalar, users

