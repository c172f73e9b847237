"""BaselineOnly: Surprise 1.1's BaselineOnly, compared with Surprise itself (issue 8)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import surprise  # a [test] peer: missing, this module fails rather than skips

from turborec.datasets import Interactions
from turborec.metrics import rmse
from turborec import biases
from turborec.models import BaselineOnly
from turborec.models.baseline_only import check_bsl_options, surprise_order

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"

OPTIONS = [
    {},
    {"method": "als", "n_epochs": 4, "reg_u": 3.5, "reg_i": 0.0},
    {"method": "sgd"},
    {"method": "sgd", "n_epochs": 7, "reg": 0.1, "learning_rate": 0.02},
]


def _random_ratings(seed=0, n=1500):
    """Half-star ratings over string ids whose first appearance is not their sorted order."""
    rng = np.random.default_rng(seed)
    users = [f"u{x}" for x in rng.integers(0, 80, n)]
    items = [f"i{x}" for x in rng.integers(0, 50, n)]
    ratings = rng.integers(2, 11, n) / 2.0
    ratings[:2] = [1.0, 5.0]  # the scale turborec infers is Surprise's Reader's
    return pd.DataFrame({"u": users, "i": items, "r": ratings})


def _ml100k():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    return pd.read_csv(ML100K, sep="\t", names=["u", "i", "r", "t"])[["u", "i", "r"]]


def predict_both(theirs, ours, data, test):
    """Surprise's and turborec's predictions of the ``test`` rows (raw ids, unknown ones
    included), checked to have the same dtype and ``was_impossible``; returns Surprise's
    predictions and estimates, our query indices, our estimates and our details."""
    predictions = theirs.test(list(test.itertuples(index=False, name=None)))
    expected = np.array([p.est for p in predictions])
    users = data.user_mapper.transform(test.u.to_numpy(), unknown="ignore")
    items = data.item_mapper.transform(test.i.to_numpy(), unknown="ignore")
    got, details = ours.predict(users, items, return_details=True)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(details["was_impossible"], [p.details["was_impossible"] for p in predictions])
    return predictions, expected, users, items, got, details


def _split(df, seed=0):
    """A random 80/20 split, plus test rows of a user and an item the training data lacks."""
    mask = np.random.default_rng(seed).random(len(df)) < 0.8
    train, test = df[mask].reset_index(drop=True), df[~mask].reset_index(drop=True)
    known_u, known_i = train.u.iloc[0], train.i.iloc[0]
    ghost = "ghost" if isinstance(df.u.iloc[0], str) else -7
    extra = pd.DataFrame({"u": [ghost, known_u, ghost], "i": [known_i, ghost, ghost], "r": [3.0, 4.0, 2.0]})
    return train, pd.concat([test, extra], ignore_index=True)


def _compare(train, test, options):
    """Fit Surprise and turborec on ``train``; the largest relative differences on every output."""
    trainset = surprise.Dataset.load_from_df(train, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    theirs = surprise.BaselineOnly(bsl_options=dict(options), verbose=False).fit(trainset)
    data = Interactions.from_raw(train.u.to_numpy(), train.i.to_numpy(), train.r.to_numpy())
    ours = BaselineOnly(bsl_options=dict(options), verbose=False).fit(data)

    raw_users, raw_items = train.u.unique(), train.i.unique()
    bu = theirs.bu[[trainset.to_inner_uid(x) for x in raw_users]]
    bi = theirs.bi[[trainset.to_inner_iid(x) for x in raw_items]]
    our_bu = ours.bu_[data.user_mapper.transform(raw_users)]
    our_bi = ours.bi_[data.item_mapper.transform(raw_items)]

    predictions, expected, users, items, got, details = predict_both(theirs, ours, data, test)
    np.testing.assert_array_equal(details["known_user"], users >= 0)
    np.testing.assert_array_equal(details["known_item"], items >= 0)
    assert ours.global_mean_ == pytest.approx(trainset.global_mean, rel=1e-12)

    def rel(a, b):
        return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-3)))

    return {"bu": rel(our_bu, bu), "bi": rel(our_bi, bi), "predictions": rel(got, expected),
            "rmse": rel(rmse(test.r.to_numpy(), got), surprise.accuracy.rmse(predictions, verbose=False))}


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_equals_surprise_on_random_ratings(options):
    train, test = _split(_random_ratings())
    differences = _compare(train, test, options)
    assert max(differences.values()) < 1e-6, differences


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_equals_surprise_on_movielens_100k(options):
    train, test = _split(_ml100k())
    differences = _compare(train, test, options)
    assert max(differences.values()) < 1e-6, differences


def test_sweep_follows_surprise_all_ratings_order():
    df = _random_ratings(seed=3, n=300)
    trainset = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    order = surprise_order(data.users.astype(np.int64), data.n_users)
    theirs = [(trainset.to_raw_uid(u), trainset.to_raw_iid(i), r) for u, i, r in trainset.all_ratings()]
    ours = list(zip(df.u.to_numpy()[order], df.i.to_numpy()[order], df.r.to_numpy()[order]))
    assert ours == theirs


FAMILY = "biases"


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_numba_kernels_equal_the_reference(backend, method):
    rng = np.random.default_rng(1)
    n_users, n_items, n = 40, 30, 600
    users, items = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    ratings = rng.uniform(1, 5, n)
    options = dict(list(check_bsl_options({"method": method, "n_epochs": 5}).items())[1:])
    fit = getattr(biases, f"baseline_{method}")
    want = fit(users, items, ratings, n_users, n_items, ratings.mean(), **options, backend="numpy")
    got = fit(users, items, ratings, n_users, n_items, ratings.mean(), **options, backend=backend)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)
    assert np.abs(want[0]).max() > 0 and np.abs(want[1]).max() > 0


def test_bias_kernels_check_their_arguments():
    ok = (np.array([0, 1]), np.array([0, 0]), np.array([4.0, 2.0]))
    with pytest.raises(IndexError, match="items: index out of range \\[0, 1\\)"):
        biases.baseline_als(ok[0], np.array([0, 3]), ok[2], 2, 1, 3.0)
    with pytest.raises(ValueError, match="ratings: contains NaN or inf"):
        biases.baseline_sgd(*ok[:2], np.array([4.0, np.nan]), 2, 1, 3.0)
    with pytest.raises(ValueError, match="expected three 1-D arrays of one length"):
        biases.baseline_als(ok[0], ok[1][:1], ok[2], 2, 1, 3.0)
    with pytest.raises(Exception, match="does not implement the 'biases' kernels"):
        biases.baseline_als(*ok, 2, 1, 3.0, backend="native")


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_users_and_items_without_ratings_are_unknown_with_zero_bias(method):
    # The shape has room for user 3 and item 4, which have no rating; reg_i=0 must not divide 0 by 0.
    data = Interactions([0, 0, 1, 2, 2], [0, 1, 1, 2, 3], [5.0, 3.0, 4.0, 1.0, 2.0], n_users=4, n_items=5)
    model = BaselineOnly({"method": method, "reg_i": 0, "reg_u": 0}, verbose=False).fit(data)
    assert model.bu_[3] == 0 and model.bi_[4] == 0 and np.isfinite(model.bu_).all() and np.isfinite(model.bi_).all()
    got, details = model.predict([3, 0, 3, -1, 99], [0, 4, 4, 1, 2], clip=False, return_details=True)
    mu = model.global_mean_
    np.testing.assert_allclose(got, [mu + model.bi_[0], mu + model.bu_[0], mu, mu + model.bi_[1], mu + model.bi_[2]])
    np.testing.assert_array_equal(details["known_user"], [False, True, False, False, False])
    np.testing.assert_array_equal(details["known_item"], [True, False, False, True, True])
    assert not details["was_impossible"].any()  # Surprise's BaselineOnly never gives up


def test_predictions_are_clipped_to_the_rating_scale():
    data = (np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([5.0, 5.0, 1.0, 1.5]))
    model = BaselineOnly({"reg_u": 0, "reg_i": 0}, verbose=False).fit(data, rating_scale=(2, 4))
    assert model.rating_scale_ == (2.0, 4.0)
    raw = model.predict([0, 1], [0, 1], clip=False)
    assert raw.max() > 4 and raw.min() < 2
    np.testing.assert_array_equal(model.predict([0, 1], [0, 1]), np.clip(raw, 2, 4))
    default = BaselineOnly({"reg_u": 0, "reg_i": 0}, verbose=False).fit(data)
    assert default.rating_scale_ == (1.0, 5.0)  # the training ratings' range
    assert isinstance(default.predict(0, 1), float)


@pytest.mark.parametrize("options, error, match", [
    ({"method": "foo"}, ValueError, r"bsl_options\['method'\]: invalid method 'foo'"),
    ({"reg_u": -1}, ValueError, r"bsl_options\['reg_u'\]"),
    ({"method": "als", "reg_i": -0.5}, ValueError, r"bsl_options\['reg_i'\]"),
    ({"method": "sgd", "reg": -0.02}, ValueError, r"bsl_options\['reg'\]"),
    ({"method": "sgd", "learning_rate": 0}, ValueError, r"bsl_options\['learning_rate'\]"),
    ({"n_epochs": 0}, ValueError, r"bsl_options\['n_epochs'\]: expected >= 1"),
    ({"method": "sgd", "n_epochs": 2.5}, TypeError, r"bsl_options\['n_epochs'\]"),
    ({"reg_U": 1}, ValueError, r"unknown option\(s\) 'reg_U'"),
    ({"reg_u": float("nan")}, ValueError, r"bsl_options\['reg_u'\]"),
    ("als", TypeError, "bsl_options: expected a dict"),
])
def test_bad_options_are_errors_naming_the_option(options, error, match):
    with pytest.raises(error, match=match):
        BaselineOnly(options, verbose=False).fit((np.array([0]), np.array([0]), np.array([3.0])))


def test_options_of_the_other_method_are_ignored_like_surprise():
    data = (np.array([0, 1, 1]), np.array([0, 0, 1]), np.array([4.0, 2.0, 3.0]))
    plain = BaselineOnly({"method": "sgd"}, verbose=False).fit(data)
    mixed = BaselineOnly({"method": "sgd", "reg_u": 99}, verbose=False).fit(data)
    np.testing.assert_array_equal(plain.bu_, mixed.bu_)


def test_bad_data_is_an_error():
    with pytest.raises(ValueError, match="no ratings"):
        BaselineOnly(verbose=False).fit(Interactions([0, 1], [1, 0]))
    with pytest.raises(TypeError, match="data: expected Interactions"):
        BaselineOnly(verbose=False).fit([[0, 1], [1, 0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="ratings: NaN"):
        BaselineOnly(verbose=False).fit((np.array([0]), np.array([0]), np.array([np.nan])))
    with pytest.raises(ValueError, match="one length"):
        BaselineOnly(verbose=False).fit((np.array([0, 1]), np.array([0]), np.array([3.0])))
    with pytest.raises(ValueError, match="rating_scale"):
        BaselineOnly(verbose=False).fit((np.array([0]), np.array([0]), np.array([3.0])), rating_scale=(5, 1))
    with pytest.raises(RuntimeError, match="not fitted"):
        BaselineOnly().predict([0], [0])
    model = BaselineOnly(verbose=False).fit((np.array([0]), np.array([0]), np.array([3.0])))
    with pytest.raises(TypeError, match="users: expected"):
        model.predict([0.5], [0])
    with pytest.raises(ValueError, match="items: expected 2 entries"):
        model.predict([0, 0], [0])


def test_verbose_prints_surprise_line(capsys):
    BaselineOnly({"method": "sgd"}).fit((np.array([0]), np.array([0]), np.array([3.0])))
    assert capsys.readouterr().out == "Estimating biases using sgd...\n"
    BaselineOnly(verbose=False).fit((np.array([0]), np.array([0]), np.array([3.0])))
    assert capsys.readouterr().out == ""


def test_parameters_follow_the_estimator_conventions():
    model = BaselineOnly()
    assert repr(model) == "BaselineOnly()"
    assert model.get_params() == {"bsl_options": None, "verbose": True, "backend": None, "n_threads": None}
    assert model.set_params(bsl_options={"method": "sgd"}, verbose=False) is model
    assert repr(model) == "BaselineOnly(bsl_options={'method': 'sgd'}, verbose=False)"
    with pytest.raises(ValueError, match="valid parameters: backend, bsl_options, n_threads, verbose"):
        model.set_params(n_epochs=3)
    data = (np.array([0, 1]), np.array([0, 0]), np.array([4.0, 2.0]))
    model.fit(data)
    assert model.backend_ == "numba"
    assert model.bu_[0] != 0


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_the_reference_backend_fits_the_same_biases(method):
    df = _random_ratings(seed=5, n=400)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    fast = BaselineOnly({"method": method}, verbose=False).fit(data)
    slow = BaselineOnly({"method": method}, verbose=False, backend="numpy").fit(data)
    assert (fast.backend_, slow.backend_) == ("numba", "numpy")
    np.testing.assert_allclose(slow.bu_, fast.bu_, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(slow.bi_, fast.bi_, rtol=1e-12, atol=1e-15)
