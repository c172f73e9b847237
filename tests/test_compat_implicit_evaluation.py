"""turborec.compat.implicit.evaluation: implicit 0.7's ranking metrics and train_test_split,
compared with implicit's own (a [test] peer), on implicit's model and on turborec's."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import implicit.als
import implicit.evaluation  # a peer: missing is a failure

from turborec.compat import implicit as compat
from turborec.compat.implicit import evaluation


def ratings(seed, n_users=300, n_items=120):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=0.08, format="csr", random_state=seed, dtype=np.float32)
    matrix.data[:] = rng.integers(1, 5, matrix.nnz)
    return matrix


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_train_test_split_draws_as_implicit(seed):
    matrix = ratings(seed)
    matrix.data[::7] *= -1  # negative test values are dropped
    for got, want in zip(evaluation.train_test_split(matrix, 0.7, random_state=seed),
                         implicit.evaluation.train_test_split(matrix, 0.7, random_state=seed)):
        assert got.shape == want.shape and (got != want).nnz == 0


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("K", [1, 5, 10, 50])  # K above what recommend returns: implicit reads past its array
def test_ranking_metrics_equal_implicits(seed, K):
    train, test = implicit.evaluation.train_test_split(ratings(seed), 0.8, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads advice
        theirs = implicit.als.AlternatingLeastSquares(factors=8, iterations=4, random_state=0)
        theirs.fit(train, show_progress=False)
    ours = compat.als.AlternatingLeastSquares(factors=8, iterations=4, random_state=0).fit(train, show_progress=False)
    for model in (theirs, ours):
        want = implicit.evaluation.ranking_metrics_at_k(model, train, test, K=K, show_progress=False)
        got = evaluation.ranking_metrics_at_k(model, train, test, K=K, show_progress=False)
        assert set(got) == {"precision", "map", "ndcg", "auc"}
        for name in want:
            assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-15), name
        assert got["precision"] > 0  # not vacuous
    for function, key in [(evaluation.precision_at_k, "precision"), (evaluation.mean_average_precision_at_k, "map"),
                          (evaluation.ndcg_at_k, "ndcg"), (evaluation.AUC_at_k, "auc")]:
        assert function(ours, train, test, K=K, show_progress=False) == got[key]
