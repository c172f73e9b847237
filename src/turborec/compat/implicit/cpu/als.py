"""``implicit.cpu.als``: the ALS model class and ``calculate_loss``, on turborec's kernels."""

from .... import als as _kernels
from ....models.als import AlternatingLeastSquares

__all__ = ["AlternatingLeastSquares", "calculate_loss"]


def calculate_loss(Cui, X, Y, regularization, num_threads=0):
    """implicit's training loss of factors ``X`` (users) and ``Y`` (items) on the confidences
    ``Cui`` (users x items, CSR): :func:`turborec.als.calculate_loss`.

    Parameters
    ----------
    Cui : scipy.sparse matrix of shape (n_users, n_items)
    X, Y : float32 or float64 arrays of shape (n_users, factors), (n_items, factors)
    regularization : float
    num_threads : int, default 0
        0: every core.

    Returns
    -------
    float
    """
    return _kernels.calculate_loss(Cui, X, Y, regularization, n_threads=num_threads or None)
