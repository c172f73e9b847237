"""AlternatingLeastSquares (issue 10): implicit 0.7's model compared with implicit itself (the same
initial factors, the same half-steps, the same answers to every query, p@10 on MovieLens 100K),
its API, persistence, and bad input. The common model API runs on it in tests/test_models_api.py."""

import io
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from turborec.datasets import Interactions, read_movielens_file
from turborec.models import AlternatingLeastSquares, ParameterWarning
from turborec.split import random_split

import implicit.als  # noqa: E402 - a peer, in [test]: missing is a failure
import implicit.cpu.als
import implicit.evaluation

ROOT = Path(__file__).resolve().parents[1]
ML100K = ROOT.parent / "shared" / "data" / "ml-100k" / "u.data"


def implicit_model(**params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads advice
        return implicit.als.AlternatingLeastSquares(**params)


def fit_implicit(user_items, **params):
    model = implicit_model(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(user_items, show_progress=False)
    return model


def random_matrix(seed, n_users=120, n_items=80, density=0.08):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=density, format="csr", random_state=rng, dtype=np.float32)
    matrix.data = rng.integers(1, 6, matrix.nnz).astype(np.float32)
    return matrix


@pytest.fixture(scope="module")
def movielens():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    train, test = random_split(read_movielens_file(ML100K), 0.2, seed=0)
    return train.to_csr(values="ones"), test.to_csr(values="ones")


def precision_at_10(model, train, test):
    return implicit.evaluation.precision_at_k(model, train, test, K=10, show_progress=False, num_threads=1)


# ---------------------------------------------------------------- parity with implicit


@pytest.mark.parametrize("params", [dict(factors=64, iterations=15), dict(factors=64, use_cg=False, iterations=15),
                                    dict(factors=32, regularization=0.1, alpha=2.0, iterations=10)],
                         ids=["cg", "cholesky", "alpha"])
def test_precision_at_10_on_movielens_equals_implicits(movielens, params):
    train, test = movielens
    ours = AlternatingLeastSquares(**params, random_state=0).fit(train, show_progress=False)
    theirs = fit_implicit(train, **params, random_state=0)
    # implicit's own evaluation ranks both models through their recommend (ours is a drop-in)
    p_ours, p_theirs = precision_at_10(ours, train, test), precision_at_10(theirs, train, test)
    assert p_theirs > 0.3
    assert abs(p_ours - p_theirs) <= 0.02 * p_theirs


def test_the_same_seed_draws_implicits_initial_factors():
    matrix = random_matrix(0)
    for seed in (0, 7, np.random.default_rng(3)):
        theirs = fit_implicit(matrix, factors=5, iterations=0, random_state=seed)
        if isinstance(seed, np.random.Generator):
            seed = np.random.default_rng(3)
        ours = AlternatingLeastSquares(factors=5, iterations=0, random_state=seed).fit(matrix, show_progress=False)
        np.testing.assert_array_equal(ours.user_factors, theirs.user_factors)
        np.testing.assert_array_equal(ours.item_factors, theirs.item_factors)


@pytest.mark.parametrize("use_cg", [True, False])
def test_float64_training_follows_implicits_iterates(use_cg):
    matrix = random_matrix(1)
    matrix.data[::5] *= -1  # dislikes too
    params = dict(factors=6, iterations=3, dtype=np.float64, use_cg=use_cg, regularization=0.5, random_state=2)
    ours = AlternatingLeastSquares(**params).fit(matrix, show_progress=False)
    theirs = fit_implicit(matrix, **params, num_threads=1)
    assert ours.user_factors.dtype == np.float64
    np.testing.assert_allclose(ours.user_factors, theirs.user_factors, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(ours.item_factors, theirs.item_factors, rtol=1e-7, atol=1e-9)


@pytest.fixture(scope="module")
def pair():
    """Our fitted model and implicit's model holding the very same factors."""
    matrix = random_matrix(4, 150, 90)
    ours = AlternatingLeastSquares(factors=8, iterations=5, regularization=0.05, alpha=1.5, random_state=0)
    ours.fit(matrix, show_progress=False)
    theirs = implicit_model(factors=8, regularization=0.05, alpha=1.5)
    theirs.user_factors, theirs.item_factors = ours.user_factors.copy(), ours.item_factors.copy()
    return matrix, ours, theirs


def assert_same_ranking(ours, theirs, rtol=1e-5):
    np.testing.assert_allclose(ours[1], theirs[1], rtol=rtol, atol=1e-6)
    agree = ours[0] == theirs[0]
    assert agree.mean() > 0.9  # near-ties may swap after rounding (the scores by position agree)


def test_recommend_equals_implicits(pair):
    matrix, ours, theirs = pair
    users = np.arange(matrix.shape[0])
    for options in (dict(), dict(filter_already_liked_items=False), dict(filter_items=[1, 5, 7]),
                    dict(items=np.arange(10, 60)), dict(recalculate_user=True)):
        got = ours.recommend(users, matrix, N=10, **options)
        want = theirs.recommend(users, matrix.copy(), N=10, **options)  # implicit zeroes entries of it with items=
        assert_same_ranking(got, want, rtol=1e-4 if options.get("recalculate_user") else 1e-5)
    table = Interactions(*matrix.nonzero(), n_users=matrix.shape[0], n_items=matrix.shape[1])  # every user's row
    np.testing.assert_array_equal(ours.recommend([3, 7], table, recalculate_user=True)[0],
                                  ours.recommend([3, 7], table.to_csr(values="ones")[[3, 7]], recalculate_user=True)[0])
    one = ours.recommend(3, matrix[3], N=5)
    batch = ours.recommend(users, matrix, N=5)
    np.testing.assert_array_equal(one[0], batch[0][3])
    assert one[0].shape == (5,) and one[0].dtype == np.int32 and one[1].dtype == np.float32
    assert not set(one[0]) & set(matrix[3].indices)


def test_recommend_items_puts_liked_candidates_last_as_implicit(pair):
    """implicit's own test_rank_items: with ``items=``, every candidate comes back, the liked ones
    last (score -FLT_MAX), highest id first as implicit orders them."""
    matrix, ours, theirs = pair
    users = np.arange(matrix.shape[0])
    items = np.random.default_rng(3).permutation(matrix.shape[1])[:30]
    got = ours.recommend(users, matrix, N=40, items=items)
    want = theirs.recommend(users, matrix.copy(), N=40, items=items)
    sunk = want[1] == np.finfo(np.float32).min
    assert sunk.any() and got[0].shape == want[0].shape == (len(users), 30)
    np.testing.assert_array_equal(got[1] == np.finfo(np.float32).min, sunk)
    np.testing.assert_array_equal(got[0][sunk], want[0][sunk])
    assert_same_ranking(got, want)
    assert all(set(row) == set(items) for row in got[0])
    first = ours.recommend(5, matrix[5], N=3, items=np.r_[items, items[:4]])  # repeats count once
    np.testing.assert_array_equal(first[0], got[0][5][:3])


def test_similar_items_and_users_equal_implicits(pair):
    matrix, ours, theirs = pair
    items, users = np.arange(matrix.shape[1]), np.arange(matrix.shape[0])
    assert_same_ranking(ours.similar_items(items, N=6), theirs.similar_items(items, N=6))
    assert_same_ranking(ours.similar_users(users, N=6), theirs.similar_users(users, N=6))
    assert_same_ranking(ours.similar_items(items, N=6, filter_items=[0, 1]),
                        theirs.similar_items(items, N=6, filter_items=[0, 1]))
    assert_same_ranking(ours.similar_users(users, N=4, users=np.arange(20, 70)),
                        theirs.similar_users(users, N=4, users=np.arange(20, 70)))
    ids, scores = ours.similar_items(5, N=3)
    assert ids[0] == 5 and scores[0] == pytest.approx(1.0, abs=1e-5)
    item_users = matrix.T.tocsr()[[2, 9]]
    assert_same_ranking(ours.similar_items([2, 9], N=5, recalculate_item=True, item_users=item_users),
                        theirs.similar_items(np.array([2, 9]), N=5, recalculate_item=True, item_users=item_users),
                        rtol=1e-4)


def test_recalculate_and_partial_fit_equal_implicits(pair):
    matrix, ours, theirs = pair
    np.testing.assert_allclose(ours.recalculate_user(7, matrix[7]), theirs.recalculate_user(7, matrix[7]),
                               rtol=1e-4, atol=1e-6)
    rows = matrix[[1, 4]]
    np.testing.assert_allclose(ours.recalculate_user([1, 4], rows), theirs.recalculate_user([1, 4], rows),
                               rtol=1e-4, atol=1e-6)
    grown = pickle.loads(pickle.dumps(ours))
    n_users, n_items = matrix.shape
    grown.partial_fit_users([2, n_users + 3], matrix[[2, 5]])
    assert grown.user_factors.shape == (n_users + 4, 8) and grown.n_users_ == n_users + 4
    np.testing.assert_array_equal(grown.user_factors[n_users:n_users + 3], 0)
    np.testing.assert_allclose(grown.user_factors[n_users + 3], ours.recalculate_user(0, matrix[5]))
    assert ours.user_factors.shape == (n_users, 8)  # the original is untouched
    item_users = sp.csr_matrix(np.pad(matrix.T.toarray()[[0]], ((0, 0), (0, 4))))
    grown.partial_fit_items([n_items], item_users)
    assert grown.n_items_ == n_items + 1
    np.testing.assert_allclose(grown.item_factors[n_items], grown.recalculate_item(0, item_users))
    assert grown.recommend(0, sp.csr_matrix((1, n_items + 1)), N=3)[0].shape == (3,)


def test_explain_equals_implicits_and_sums_to_the_recalculated_score(pair):
    matrix, ours, theirs = pair
    total, top, weights = ours.explain(11, matrix, 4, N=5)
    their_total, their_top, _ = theirs.explain(11, matrix, 4, N=5)
    assert total == pytest.approx(their_total, rel=1e-5)
    assert [i for i, _ in top] == [i for i, _ in their_top]
    np.testing.assert_allclose([s for _, s in top], [s for _, s in their_top], rtol=1e-5)
    assert total == pytest.approx(float(ours.recalculate_user(11, matrix[11]) @ ours.item_factors[4]), rel=1e-4)
    assert ours.explain(11, matrix[11], 4, user_weights=weights, N=5)[0] == pytest.approx(total)


# ---------------------------------------------------------------- fitting


def test_callback_and_training_loss_as_implicit():
    matrix = random_matrix(5)
    calls = []
    model = AlternatingLeastSquares(factors=4, iterations=4, calculate_training_loss=True, random_state=0)
    model.fit(matrix, show_progress=False, callback=lambda *args: calls.append(args))
    assert [c[0] for c in calls] == [0, 1, 2, 3]
    assert all(c[1] >= 0 for c in calls)
    losses = [c[2] for c in calls]
    assert losses == sorted(losses, reverse=True) and model.loss_ == losses[-1]
    from implicit.cpu.als import calculate_loss
    assert model.loss_ == pytest.approx(calculate_loss(matrix, model.user_factors, model.item_factors, 0.01), rel=1e-5)
    quiet = []
    AlternatingLeastSquares(factors=4, iterations=2).fit(matrix, show_progress=False,
                                                          callback=lambda *args: quiet.append(args))
    assert [c[2] for c in quiet] == [None, None]


def test_alpha_scales_the_values():
    matrix = random_matrix(6)
    scaled = matrix.copy()
    scaled.data *= np.float32(3.0)
    a = AlternatingLeastSquares(factors=4, iterations=3, alpha=3.0, random_state=1).fit(matrix, show_progress=False)
    b = AlternatingLeastSquares(factors=4, iterations=3, random_state=1).fit(scaled, show_progress=False)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)


def test_every_fit_starts_afresh_from_random_state():
    matrix = random_matrix(7)
    once = AlternatingLeastSquares(factors=4, iterations=2, random_state=0).fit(matrix, show_progress=False)
    again = pickle.loads(pickle.dumps(once)).fit(matrix, show_progress=False)  # a fitted copy refitted
    np.testing.assert_array_equal(once.user_factors, again.user_factors)
    other = again.fit(matrix[:50], show_progress=False)
    assert other.user_factors.shape == (50, 4)


def test_empty_rows_and_columns_get_zero_factors():
    matrix = random_matrix(8).tolil()
    matrix[3, :] = 0
    matrix[:, 5] = 0
    matrix = matrix.tocsr()
    matrix.eliminate_zeros()
    model = AlternatingLeastSquares(factors=4, iterations=2).fit(matrix, show_progress=False)
    np.testing.assert_array_equal(model.user_factors[3], 0)
    np.testing.assert_array_equal(model.item_factors[5], 0)


def test_float64_and_the_numpy_backend():
    matrix = random_matrix(9)
    fast = AlternatingLeastSquares(factors=4, iterations=2, dtype=np.float64, random_state=0).fit(
        matrix, show_progress=False)
    slow = AlternatingLeastSquares(factors=4, iterations=2, dtype=np.float64, use_native=False, random_state=0).fit(
        matrix, show_progress=False)
    assert slow.backend_ == "numpy" and fast.backend_ == "native"
    np.testing.assert_allclose(fast.item_factors, slow.item_factors, rtol=1e-9, atol=1e-12)


def test_non_csr_input_gets_a_parameter_warning_and_is_converted():
    matrix = random_matrix(10)
    with pytest.warns(ParameterWarning, match="user_items: got a COO matrix"):
        model = AlternatingLeastSquares(factors=4, iterations=2, random_state=0).fit(matrix.tocoo(),
                                                                                     show_progress=False)
    direct = AlternatingLeastSquares(factors=4, iterations=2, random_state=0).fit(matrix, show_progress=False)
    np.testing.assert_array_equal(model.user_factors, direct.user_factors)


def test_user_input_is_not_modified():
    matrix = random_matrix(11)
    before = matrix.copy()
    model = AlternatingLeastSquares(factors=4, iterations=2, alpha=5.0).fit(matrix, show_progress=False)
    users = np.arange(matrix.shape[0])
    model.recommend(users, matrix, items=np.arange(10, 40))  # implicit 0.7 zeroes entries of matrix here
    model.recommend(users, matrix, recalculate_user=True)
    model.explain(0, matrix, 3)
    np.testing.assert_array_equal(matrix.data, before.data)
    np.testing.assert_array_equal(matrix.indices, before.indices)


# ---------------------------------------------------------------- persistence


def test_save_load_round_trips_every_parameter(pair, tmp_path):
    _, ours, _ = pair
    model = AlternatingLeastSquares(factors=8, regularization=0.05, alpha=1.5, dtype=np.float32, use_native=True,
                                    use_cg=False, iterations=5, calculate_training_loss=True, num_threads=1,
                                    random_state=3, backend="numba", n_threads=2)
    model.user_factors, model.item_factors = ours.user_factors, ours.item_factors
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = AlternatingLeastSquares.load(buffer)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.user_factors, model.user_factors)
    assert loaded.backend_ == "numba" and loaded.n_threads_ == 2
    np.testing.assert_array_equal(loaded.recommend(0, sp.csr_matrix((1, 90)))[0],
                                  ours.recommend(0, sp.csr_matrix((1, 90)))[0])
    path = str(tmp_path / "als")
    ours.save(path)
    theirs = implicit.cpu.als.AlternatingLeastSquares.load(path)  # implicit reads our files, and we read its
    np.testing.assert_array_equal(theirs.item_factors, ours.item_factors)
    theirs.save(str(tmp_path / "theirs"))
    back = AlternatingLeastSquares.load(str(tmp_path / "theirs"))
    assert back.get_params() == AlternatingLeastSquares(factors=8, regularization=0.05, alpha=1.5,
                                                        iterations=5, random_state=0).get_params()


def test_pickle_round_trips(pair):
    matrix, ours, _ = pair
    copy = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(copy.recommend(np.arange(5), matrix[:5])[0], ours.recommend(np.arange(5),
                                                                                               matrix[:5])[0])


def test_a_generator_random_state_is_not_saved(tmp_path):
    model = AlternatingLeastSquares(factors=2, iterations=1, random_state=np.random.default_rng(0))
    model.fit(random_matrix(12), show_progress=False)
    with pytest.warns(ParameterWarning, match="random_state: a Generator cannot be saved"):
        model.save(str(tmp_path / "m"))
    assert AlternatingLeastSquares.load(str(tmp_path / "m")).random_state is None


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("params, error, match", [
    (dict(factors=0), ValueError, "factors: expected a positive int"),
    (dict(factors=-3), ValueError, "factors: expected a positive int"),
    (dict(factors=2.5), TypeError, "factors"),
    (dict(dtype=np.float16), TypeError, "dtype: expected numpy.float32 or numpy.float64, got float16"),
    (dict(dtype="int32"), TypeError, "dtype: expected numpy.float32 or numpy.float64"),
    (dict(regularization=-0.1), ValueError, "regularization"),
    (dict(alpha=0.0), ValueError, "alpha"),
    (dict(alpha=float("inf")), ValueError, "alpha"),
    (dict(iterations=-1), ValueError, "iterations"),
    (dict(num_threads=-2), ValueError, "num_threads"),
    (dict(use_cg="no"), TypeError, "use_cg"),
    (dict(random_state="seed"), TypeError, "random_state"),
    (dict(backend="fortran"), ValueError, "backend"),
])
def test_bad_parameters_are_named(params, error, match):
    with pytest.raises(error, match=match):
        AlternatingLeastSquares(**params).fit(random_matrix(13), show_progress=False)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_values_are_refused(value):
    matrix = random_matrix(14)
    matrix.data[3] = value
    row = int(np.searchsorted(matrix.indptr, 3, side="right")) - 1
    with pytest.raises(ValueError, match="user_items: contains NaN or inf"):
        AlternatingLeastSquares(factors=2).fit(matrix, show_progress=False)
    model = AlternatingLeastSquares(factors=2, iterations=1).fit(random_matrix(14), show_progress=False)
    with pytest.raises(ValueError, match="contains NaN or inf"):
        model.recalculate_user(0, matrix[row])


def test_huge_alpha_overflowing_the_confidences_is_refused():
    with pytest.raises(ValueError, match="user_items: contains NaN or inf"):
        AlternatingLeastSquares(factors=2, alpha=1e38).fit(random_matrix(15), show_progress=False)


def test_bad_query_arguments_are_named(pair):
    matrix, ours, _ = pair
    with pytest.raises(IndexError, match="itemid: 90 out of range"):
        ours.similar_items(90)
    with pytest.raises(IndexError, match="userid: -1"):
        ours.similar_users(-1)
    with pytest.raises(ValueError, match="user_items: expected shape"):
        ours.recalculate_user([0, 1], matrix[:3])
    with pytest.raises(ValueError, match="filter_items and items"):
        ours.similar_items(0, filter_items=[1], items=[2])
    with pytest.raises(TypeError, match="userids: expected an array"):
        ours.partial_fit_users(3, matrix[3])
    with pytest.raises(RuntimeError, match="not fitted"):
        AlternatingLeastSquares().recommend(0, matrix[0])


def test_the_docs_examples_run(tmp_path):
    """docs/implicit.md's python blocks, run from the folder that holds ml-100k/."""
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "docs" / "implicit.md").read_text(), re.MULTILINE | re.DOTALL)
    assert any("AlternatingLeastSquares" in block for block in blocks)
    script = tmp_path / "implicit_blocks.py"
    script.write_text("\n".join(blocks))
    done = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=ML100K.parent.parent, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "precision@10" in done.stdout
