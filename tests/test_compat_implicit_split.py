"""turborec.compat.implicit.evaluation.leave_k_out_split (issue 10): the entries implicit 0.7 holds
out, drawn as implicit draws them, compared with implicit's own function (a [test] peer) on
random matrices and MovieLens 100K; its argument errors as implicit raises them."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import implicit.evaluation  # a peer: missing is a failure

import turborec.compat.implicit as compat
from turborec.compat.implicit.evaluation import leave_k_out_split
from turborec.datasets import read_movielens_file

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"


def ratings(seed, n_users=200, n_items=80, empty_rows=()):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=rng.uniform(0.02, 0.2), format="csr", random_state=seed,
                       dtype=np.float32)
    matrix.data[:] = rng.integers(1, 6, matrix.nnz)
    for row in empty_rows:
        matrix.data[matrix.indptr[row]:matrix.indptr[row + 1]] = 0
    matrix.eliminate_zeros()
    return matrix


def both(matrix, seed, **kwargs):
    """``(implicit's split, ours, the global state after each)``, each from the same global seed."""
    results = []
    for function in (implicit.evaluation.leave_k_out_split, leave_k_out_split):
        np.random.seed(seed)
        results.append((*function(matrix, **kwargs), np.random.random()))
    return results


def assert_same_csr(got, want):
    assert type(got) is sp.csr_matrix and got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)
    np.testing.assert_array_equal(got.data, want.data)


def assert_same_pattern(got, want):
    got, want = got.tocsr(), want.tocsr()
    got.sort_indices()
    want.sort_indices()
    np.testing.assert_array_equal(got.indptr, want.indptr)
    np.testing.assert_array_equal(got.indices, want.indices)


def assert_splits_as_implicit(matrix, seed, **kwargs):
    (train, test, state), (our_train, our_test, our_state) = both(matrix, seed, **kwargs)
    assert_same_csr(our_train, train)
    assert our_state == state  # the same draws from NumPy's global generator
    csr = sp.csr_matrix(matrix)
    # the same entries held out, each with its own value (implicit adds some of them twice or more)
    assert_same_pattern(our_test, test)
    np.testing.assert_array_equal(our_test.toarray(), np.where(test.toarray() != 0, csr.toarray(), 0))
    assert (our_train + our_test != csr).nnz == 0
    return our_train, our_test, test


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("train_only_size", [0.0, 0.25])
def test_the_split_is_implicits(seed, K, train_only_size):
    matrix = ratings(seed, empty_rows=(3, 50) if seed % 2 else ())
    train, test, _ = assert_splits_as_implicit(matrix, seed, K=K, train_only_size=train_only_size,
                                               random_state=seed)
    counts = np.diff(sp.csr_matrix(matrix).indptr)
    held = np.diff(test.indptr)
    assert set(held[counts > K + 1]) <= {0, K} and held[counts <= K + 1].sum() == 0
    assert test.nnz > 0
    if train_only_size:
        assert (held[counts > K + 1] == 0).sum() > 0  # some eligible users kept wholly in training


def test_where_no_user_below_an_eligible_one_lacks_a_test_entry_the_test_matrix_is_implicits_too():
    matrix = sp.csr_matrix(np.random.default_rng(5).integers(1, 4, (30, 12)).astype(np.float64))  # all eligible
    (train, test, _), (our_train, our_test, _) = both(matrix, 5, K=2, random_state=1)
    assert_same_csr(our_train, train)
    assert_same_csr(our_test, test)
    assert our_test.nnz == 60


def test_implicits_repeated_test_values_are_not_copied():
    dense = np.zeros((4, 6), dtype=np.float32)
    dense[0, :1] = dense[2, :2] = 1  # users 0 and 2: too few entries to give one
    dense[1, :5] = dense[3, :] = 2
    (train, test, _), (our_train, our_test, _) = both(sp.csr_matrix(dense), 0, K=1)
    assert sorted(test.data) == [4.0, 4.0]  # implicit counts the held-out entries twice
    assert sorted(our_test.data) == [2.0, 2.0]
    np.testing.assert_array_equal(np.diff(our_test.indptr), [0, 1, 0, 1])
    assert_same_csr(our_train, train)


@pytest.mark.parametrize("n_users, train_only_size", [(50, 0.58), (75, 0.84), (90, 0.7)])
def test_the_train_only_count_is_taken_in_float32_as_implicit(n_users, train_only_size):
    matrix = sp.csr_matrix(np.ones((n_users, 8)))
    _, test, _ = assert_splits_as_implicit(matrix, 0, train_only_size=train_only_size, random_state=1)
    in_float32 = int(np.float32(n_users) * np.float32(train_only_size))
    assert in_float32 != int(n_users * train_only_size)  # the cases where float64 would differ
    assert n_users - np.count_nonzero(np.diff(test.indptr)) == in_float32


def test_movielens_100k_leave_one_out_as_implicit():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    matrix = read_movielens_file(ML100K).to_csr()
    train, test, _ = assert_splits_as_implicit(matrix, 0, K=1, random_state=0)
    assert test.nnz == matrix.shape[0]  # every ML-100K user has at least 20 ratings
    assert_splits_as_implicit(matrix, 1, K=5, train_only_size=0.1, random_state=1)


@pytest.mark.parametrize("convert", [sp.coo_matrix, sp.csc_matrix, sp.csr_array, sp.lil_matrix,
                                     lambda m: m.astype(np.int64)])
def test_other_sparse_inputs_convert_as_in_implicit(convert):
    matrix = convert(ratings(7))
    before = matrix.copy()
    assert_splits_as_implicit(matrix, 7, K=2, random_state=7)
    assert (matrix != before).nnz == 0  # not modified


def test_coo_entries_count_in_their_stored_order_duplicates_included():
    rng = np.random.default_rng(3)
    rows, cols = rng.integers(0, 40, 900), rng.integers(0, 25, 900)  # duplicates, unsorted
    matrix = sp.coo_matrix((rng.integers(1, 5, 900).astype(np.float64), (rows, cols)), shape=(40, 25))
    (train, test, state), (our_train, our_test, our_state) = both(matrix, 3, K=2, random_state=3)
    assert_same_csr(our_train, train)
    assert_same_pattern(our_test, test)
    assert our_state == state
    assert (our_train + our_test != matrix.tocsr()).nnz == 0


def test_no_eligible_user_and_no_entries():
    few = sp.csr_matrix(np.eye(5))
    for matrix in (few, sp.csr_matrix((3, 4))):
        train, test = leave_k_out_split(matrix, K=1)
        assert test.nnz == 0 and (train != matrix).nnz == 0


def test_random_state_kinds():
    matrix = ratings(2)
    np.random.seed(0)
    a = leave_k_out_split(matrix, train_only_size=0.5, random_state=np.random.default_rng(4))
    np.random.seed(0)
    b = leave_k_out_split(matrix, train_only_size=0.5, random_state=4)
    np.random.seed(0)
    c = leave_k_out_split(matrix, train_only_size=0.5, random_state=np.random.RandomState(4))  # implicit: a crash
    assert all((x != y).nnz == 0 for x, y in zip(a, b))
    assert c[1].shape == matrix.shape


@pytest.mark.parametrize("kwargs, error, words", [
    ({"K": 0}, ValueError, "'K' must be >= 1"),
    ({"K": -2}, ValueError, "'K' must be >= 1"),
    ({"K": "a"}, TypeError, "K: expected an int"),
    ({"K": None}, TypeError, "K: expected an int"),
    ({"K": 2**40}, OverflowError, "K: "),
    ({"K": -2**40}, OverflowError, "K: "),
    ({"train_only_size": 1.0}, ValueError, "'train_only_size' must be in the range"),
    ({"train_only_size": 1}, ValueError, "'train_only_size' must be in the range"),
    ({"train_only_size": -0.1}, ValueError, "'train_only_size' must be in the range"),
    ({"train_only_size": float("nan")}, ValueError, "'train_only_size' must be in the range"),
    ({"train_only_size": 1e300}, ValueError, "'train_only_size' must be in the range"),
    ({"train_only_size": 0.999999999}, ValueError, "'train_only_size' must be in the range"),  # 1.0 in float32
    ({"train_only_size": "x"}, TypeError, "train_only_size: expected a real number"),
    ({"train_only_size": None}, TypeError, "train_only_size: expected a real number"),
    ({"random_state": -1}, ValueError, "random_state"),
])
def test_bad_arguments_raise_as_implicit(kwargs, error, words):
    matrix = ratings(0)
    with pytest.raises(error):
        implicit.evaluation.leave_k_out_split(matrix, **kwargs)
    with pytest.raises(error, match=words):
        leave_k_out_split(matrix, **kwargs)


def test_dense_or_missing_ratings_name_the_argument():
    for value in (np.ones((3, 3)), None, [[1, 2]]):
        with pytest.raises(TypeError, match="ratings: expected a scipy.sparse matrix"):
            leave_k_out_split(value)
    with pytest.raises(ValueError, match="ratings: no stored entries"):
        leave_k_out_split(sp.csr_matrix((3, 4)), train_only_size=0.5)


def test_the_layout_names_it():
    assert compat.evaluation.leave_k_out_split is leave_k_out_split
    assert "leave_k_out_split" in compat.evaluation.__all__


def test_implicits_own_checks_run_on_the_compat_module():
    """The checks of implicit's tests/evaluation_test.py, through ``import ... as implicit``."""
    library = compat
    matrix = sp.random(100, 100, density=0.5, format="csr", dtype=np.float32, random_state=11).tocoo()
    train, test = library.evaluation.leave_k_out_split(matrix, K=1)
    assert train.shape == test.shape == matrix.shape
    assert ((train + test) - matrix).nnz == 0 and test.sum() > 0 and train.sum() > 0
    train, test = library.evaluation.leave_k_out_split(matrix, K=1, train_only_size=0.8)
    train_only = ~np.isin(np.unique(train.tocoo().row), test.tocoo().row)
    assert train_only.sum() == int(train.shape[0] * 0.8)
    for kwargs in ({"K": 0}, {"K": 1, "train_only_size": -1.0}, {"K": 1, "train_only_size": 1.0}):
        with pytest.raises(ValueError):  # before ratings is looked at
            library.evaluation.leave_k_out_split(None, **kwargs)
