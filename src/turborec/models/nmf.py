"""Surprise 1.1's ``NMF``: non-negative matrix factorisation of explicit ratings by multiplicative
updates (Luo et al. 2014), with Surprise's initialisation, order and prediction rules."""

from .. import _validation as v
from .. import sgd
from ._factorisation import _finite, _SGDFactorisation
from .svd import SVD


class NMF(_SGDFactorisation):
    """Surprise 1.1's ``NMF``: ``r_ui ~ q_i . p_u`` with non-negative factors (plus ``mu + b_u +
    b_i`` when ``biased``), fitted by multiplicative updates.

    Same parameters, defaults, initialisation (``rng.uniform(init_low, init_high)`` for ``pu``
    then ``qi``, rows numbered as Surprise numbers users and items), update order and prediction
    rules as Surprise; with the same ratings in the same order and the same integer
    ``random_state``, predictions equal Surprise's (float64). Update rules:
    :func:`turborec.sgd.nmf_epoch`.

    Parameters
    ----------
    n_factors : int, default 15
    n_epochs : int, default 50
    biased : bool, default False
        Surprise warns that the biased version is prone to overfitting (fewer factors help).
    reg_pu, reg_qi : float, default 0.06
        Regularisation of the factors (>= 0).
    reg_bu, reg_bi : float, default 0.02
    lr_bu, lr_bi : float, default 0.005
        Learning rates of the biases (> 0; used when ``biased``).
    init_low, init_high : float, default 0 and 1
        Uniform range of the initial factors; ``init_low < 0`` is a ValueError, as in Surprise.
    random_state, verbose, dtype, backend, n_threads
        As in :class:`~turborec.models.SVD`.

    Attributes
    ----------
    pu_, qi_, bu_, bi_, global_mean_, user_counts_, item_counts_, rating_scale_, backend_, n_threads_
        As in :class:`~turborec.models.SVD`.
    """

    _estimate = SVD._estimate

    def __init__(self, n_factors=15, n_epochs=50, biased=False, reg_pu=0.06, reg_qi=0.06, reg_bu=0.02, reg_bi=0.02,
                 lr_bu=0.005, lr_bi=0.005, init_low=0, init_high=1, random_state=None, verbose=False, *,
                 dtype="float64", backend=None, n_threads=None):
        self.n_factors, self.n_epochs, self.biased = n_factors, n_epochs, biased
        self.reg_pu, self.reg_qi, self.reg_bu, self.reg_bi = reg_pu, reg_qi, reg_bu, reg_bi
        self.lr_bu, self.lr_bi = lr_bu, lr_bi
        self.init_low, self.init_high = init_low, init_high
        self.random_state, self.verbose = random_state, verbose
        self.dtype, self.backend, self.n_threads = dtype, backend, n_threads

    def _check_init(self):
        _finite(self, "init_low", "init_high")
        if self.init_low < 0:
            raise ValueError(f"init_low: should be greater than zero (Surprise's rule), got {self.init_low!r}")

    def _draw(self, rng, size):
        return rng.uniform(self.init_low, self.init_high, size=size)

    def _rates(self):
        return {name: getattr(self, name) for name in ("lr_bu", "lr_bi", "reg_bu", "reg_bi", "reg_pu", "reg_qi")}

    def _check_params(self):
        v.as_bool(self.biased, "biased")
        return super()._check_params()

    def _epoch(self, users, items, ratings, arrays, rates):
        return sgd.nmf_epoch(users, items, ratings, *arrays, global_mean=self.global_mean_, biased=self.biased,
                             **rates, backend=self.backend, n_threads=self.n_threads)
