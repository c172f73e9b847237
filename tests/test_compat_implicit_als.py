"""turborec.compat.implicit, the ALS part of implicit 0.7's module layout (issue 10): the same
code runs on implicit and on the compat modules, with the same answers, computed by turborec."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
import turborec.compat.implicit as compat

import implicit  # noqa: E402 - a peer, in [test]: missing is a failure
import implicit.als
import implicit.cpu.als
import implicit.nearest_neighbours
import implicit.utils


def user_items(seed=0, n_users=100, n_items=60):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=0.1, format="csr", random_state=rng, dtype=np.float32)
    matrix.data = rng.integers(1, 5, matrix.nnz).astype(np.float32)
    return matrix


def workflow(library, matrix):
    """Code as written for implicit: only the module it gets differs."""
    model = library.als.AlternatingLeastSquares(8, 0.1, 2.0, np.float64, True, False, False, 4, num_threads=1,
                                               random_state=0)
    model.fit(matrix, show_progress=False)
    ids, _ = model.recommend(np.arange(10), matrix[:10], N=5)
    similar, _ = model.similar_items(3, N=4)
    loss = library.cpu.als.calculate_loss(matrix, model.user_factors, model.item_factors, 0.1)
    liked = list(library.utils.nonzeros(matrix, 2))
    weighted = library.nearest_neighbours.bm25_weight(matrix, K1=100, B=0.8)
    return model, ids, similar, loss, liked, weighted


def test_implicit_code_runs_unchanged_with_the_same_answers():
    matrix = user_items()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads advice
        theirs = workflow(implicit, matrix)
    ours = workflow(compat, matrix)
    assert isinstance(ours[0], turborec.models.AlternatingLeastSquares)
    np.testing.assert_allclose(ours[0].user_factors, theirs[0].user_factors, rtol=1e-7, atol=1e-10)
    np.testing.assert_array_equal(ours[1], theirs[1])
    np.testing.assert_array_equal(ours[2], theirs[2])
    assert ours[3] == pytest.approx(theirs[3], rel=1e-7)
    assert ours[4] == theirs[4]
    np.testing.assert_allclose(ours[5].toarray(), theirs[5].toarray(), rtol=1e-6)


def test_the_layout_names_turborecs_objects():
    assert compat.cpu.als.AlternatingLeastSquares is turborec.models.AlternatingLeastSquares
    assert compat.utils.ParameterWarning is turborec.exceptions.ParameterWarning
    assert compat.nearest_neighbours.CosineRecommender is turborec.models.CosineRecommender
    assert compat.gpu.HAS_CUDA is False
    assert compat.__version__ == "0.7.3"


def test_the_factory_refuses_the_gpu_it_does_not_have():
    with pytest.raises(NotImplementedError, match="use_gpu: turborec has no GPU ALS model"):
        compat.als.AlternatingLeastSquares(use_gpu=True)


def test_calculate_loss_takes_implicits_num_threads():
    matrix = user_items(1)
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 4), dtype=np.float32), rng.random((60, 4), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = implicit.cpu.als.calculate_loss(matrix, x, y, 0.05, num_threads=1)
    for threads in (0, 1, 2):
        assert compat.cpu.als.calculate_loss(matrix, x, y, 0.05, num_threads=threads) == pytest.approx(want, rel=1e-5)


def test_bpr_code_runs_unchanged_with_the_same_answers():
    # With one thread and a seed, implicit's and turborec's BPR start from the same factors;
    # their random streams differ, so the fitted models are compared by what they learnt.
    import implicit.bpr
    import implicit.cpu.bpr

    assert compat.cpu.bpr.BayesianPersonalizedRanking is turborec.models.BayesianPersonalizedRanking
    matrix = user_items(2, n_users=300, n_items=80)
    models = []
    for library in (implicit, compat):
        model = library.bpr.BayesianPersonalizedRanking(16, 0.05, 0.01, np.float32, 30, num_threads=1,
                                                        random_state=0)
        model.fit(matrix, show_progress=False)
        models.append(model)
    assert isinstance(models[1], turborec.models.BayesianPersonalizedRanking)
    theirs, ours = models
    assert ours.item_factors.shape == theirs.item_factors.shape == (80, 17)  # the bias column, as implicit
    ids, _ = ours.recommend(np.arange(5), matrix[:5], N=5)
    assert ids.shape == (5, 5) and not any(matrix[u, ids[u]].nnz for u in range(5))  # liked items filtered
    with pytest.raises(NotImplementedError, match="use_gpu: turborec has no GPU BPR model"):
        compat.bpr.BayesianPersonalizedRanking(use_gpu=True)


def test_lmf_factory_and_class_are_turborecs():
    import implicit.lmf  # noqa: F401 - the peer's module exists with this name

    assert compat.cpu.lmf.LogisticMatrixFactorization is turborec.models.LogisticMatrixFactorization
    matrix = user_items(3, n_users=200, n_items=50)
    model = compat.lmf.LogisticMatrixFactorization(8, 1.0, 0.6, np.float32, 3, 5, num_threads=1, random_state=0)
    assert isinstance(model, turborec.models.LogisticMatrixFactorization) and model.neg_prop == 5
    model.fit(matrix, show_progress=False)
    ids, _ = model.recommend(np.arange(4), matrix[:4], N=5)
    assert ids.shape == (4, 5) and not any(matrix[u, ids[u]].nnz for u in range(4))
    with pytest.raises(NotImplementedError, match="use_gpu: turborec has no GPU LMF model"):
        compat.lmf.LogisticMatrixFactorization(use_gpu=True)
