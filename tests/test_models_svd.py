"""SVD, SVDpp and NMF: Surprise 1.1's models, compared with Surprise itself (issue 9)."""

import io
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import surprise  # a [test] peer: missing, this module fails rather than skips

from turborec.datasets import Interactions
from turborec.metrics import rmse
from turborec.models import NMF, SVD, SVDpp
from test_models_baseline import _ml100k, _random_ratings, _split, predict_both


def _fit_both(theirs, ours, train):
    trainset = surprise.Dataset.load_from_df(train, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    theirs.fit(trainset)
    data = Interactions.from_raw(train.u.to_numpy(), train.i.to_numpy(), train.r.to_numpy())
    ours.fit(data, rating_scale=(1, 5))
    return trainset, data


def _compare(theirs, ours, train, test):
    """Largest absolute differences of predictions and RMSE, and of the factors of known rows."""
    trainset, data = _fit_both(theirs, ours, train)
    predictions, expected, users, items, got, _ = predict_both(theirs, ours, data, test)
    raw_users = train.u.unique()
    inner = [trainset.to_inner_uid(x) for x in raw_users]
    ours_rows = data.user_mapper.transform(raw_users)
    return {"predictions": float(np.abs(got - expected).max()),
            "rmse": abs(rmse(test.r.to_numpy(), got) - surprise.accuracy.rmse(predictions, verbose=False)),
            "pu": float(np.abs(ours.pu_[ours_rows] - theirs.pu[inner]).max()),
            "bu": float(np.abs(ours.bu_[ours_rows] - theirs.bu[inner]).max())}


def test_svd_equals_surprise_on_movielens_100k():
    """Surprise's defaults (100 factors, 20 epochs) on an 80/20 split of all of ML-100K."""
    train, test = _split(_ml100k())
    differences = _compare(surprise.SVD(random_state=11), SVD(random_state=11), train, test)
    assert max(differences.values()) < 1e-10, differences


@pytest.mark.parametrize("params", [
    dict(biased=False, n_factors=7, n_epochs=9),
    dict(n_factors=5, n_epochs=6, lr_all=0.01, reg_all=0.05, lr_bu=0.02, lr_qi=0.003, reg_bi=0.1, reg_pu=0.0,
         init_mean=0.05, init_std_dev=0.2),
], ids=["unbiased", "per-parameter-rates"])
def test_svd_equals_surprise_on_random_ratings(params):
    train, test = _split(_random_ratings(seed=2))
    differences = _compare(surprise.SVD(random_state=5, **params), SVD(random_state=5, **params), train, test)
    assert max(differences.values()) < 1e-12, differences


@pytest.mark.parametrize("params", [{}, dict(biased=True, n_factors=4, n_epochs=12, lr_bu=0.01, reg_bi=0.05),
                                    dict(reg_pu=0.1, reg_qi=0.02, init_low=0.2, init_high=0.8, n_epochs=10)],
                         ids=["defaults", "biased", "own-init"])
def test_nmf_equals_surprise_on_movielens_100k(params):
    train, test = _split(_ml100k())
    differences = _compare(surprise.NMF(random_state=7, **params), NMF(random_state=7, **params), train, test)
    assert max(differences.values()) < 1e-10, differences


def test_svd_block_grid_is_reproducible_and_fits_as_well():
    """n_blocks=G: not Surprise's order, so not its numbers; the same for any thread count, and
    the test RMSE on ML-100K within Surprise's band (0.934-0.938 with its defaults)."""
    train, test = _split(_ml100k())
    data = Interactions.from_raw(train.u.to_numpy(), train.i.to_numpy(), train.r.to_numpy())
    users, items = _known(data, test)
    fits = {t: SVD(random_state=0, n_blocks=6, n_threads=t).fit(data, rating_scale=(1, 5)) for t in (1, 2, 4)}
    for t in (2, 4):  # 4: threads that own unequal shares of the grid's rows
        np.testing.assert_array_equal(fits[1].pu_, fits[t].pu_)
        np.testing.assert_array_equal(fits[1].predict(users, items), fits[t].predict(users, items))
    plain = SVD(random_state=0).fit(data, rating_scale=(1, 5))
    assert not np.array_equal(plain.pu_, fits[1].pu_)
    errors = [rmse(test.r.to_numpy(), model.predict(users, items)) for model in (plain, fits[1])]
    assert errors[1] < 0.94 and abs(errors[1] - errors[0]) < 0.003, errors
    with pytest.raises(ValueError, match="n_blocks: expected a positive int"):
        SVD(n_blocks=0).fit(data)


@pytest.mark.parametrize("cache_ratings", [True, False], ids=["exact", "fast"])
def test_svdpp_equals_surprise_on_movielens_subset(cache_ratings):
    """Surprise's SVDpp costs O(|N(u)| k) per rating: a 25k-rating sample of ML-100K, its defaults."""
    df = _ml100k()
    sample = df.iloc[np.random.default_rng(3).permutation(len(df))[:25000]].reset_index(drop=True)
    train, test = _split(sample)
    differences = _compare(surprise.SVDpp(random_state=2, cache_ratings=cache_ratings),
                           SVDpp(random_state=2, cache_ratings=cache_ratings), train, test)
    assert max(differences.values()) < 1e-10, differences


def test_svdpp_with_own_rates_and_duplicate_ratings_equals_surprise():
    df = _random_ratings(seed=4, n=900)
    df = pd.concat([df, df.iloc[:40]], ignore_index=True)  # repeated (user, item) pairs
    train, test = _split(df)
    params = dict(n_factors=6, n_epochs=5, lr_yj=0.02, reg_yj=0.1, lr_pu=0.01, reg_all=0.03)
    differences = _compare(surprise.SVDpp(random_state=9, **params), SVDpp(random_state=9, **params), train, test)
    assert max(differences.values()) < 1e-12, differences


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_seeding_as_surprise_none_and_randomstate(model):
    train, test = _split(_random_ratings(seed=5, n=600))
    peer = {SVD: surprise.SVD, SVDpp: surprise.SVDpp, NMF: surprise.NMF}[model]
    trainset, data = _fit_both(peer(n_factors=4, n_epochs=3), model(n_factors=4, n_epochs=3), train)
    np.random.seed(123)
    theirs = peer(n_factors=4, n_epochs=3).fit(trainset)
    np.random.seed(123)
    ours = model(n_factors=4, n_epochs=3).fit(data, rating_scale=(1, 5))  # None: numpy's global RandomState
    np.testing.assert_allclose(ours.predict(*_known(data, test)), _surprise_predictions(theirs, test, data),
                               atol=1e-12)
    a = model(n_factors=4, n_epochs=3, random_state=np.random.RandomState(8)).fit(data)
    b = model(n_factors=4, n_epochs=3, random_state=8).fit(data)
    np.testing.assert_array_equal(a.pu_, b.pu_)
    assert not np.array_equal(a.pu_, ours.pu_)


def _known(data, test):
    users = data.user_mapper.transform(test.u.to_numpy(), unknown="ignore")
    items = data.item_mapper.transform(test.i.to_numpy(), unknown="ignore")
    return users, items


def _surprise_predictions(theirs, test, data):
    return np.array([p.est for p in theirs.test(list(test.itertuples(index=False, name=None)))])


def test_verbose_prints_as_surprise(capsys):
    SVD(n_factors=2, n_epochs=2, verbose=True).fit((np.arange(3), np.arange(3), np.ones(3)))
    SVDpp(n_factors=2, n_epochs=1, verbose=True).fit((np.arange(3), np.arange(3), np.ones(3)))
    NMF(n_factors=2, n_epochs=1, verbose=True).fit((np.arange(3), np.arange(3), np.ones(3)))
    assert capsys.readouterr().out == "Processing epoch 0\nProcessing epoch 1\n processing epoch 0\nProcessing epoch 0\n"


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_tuple_input_equals_interactions_and_float32_is_close(model):
    df = _random_ratings(seed=7, n=800)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    a = model(n_factors=5, n_epochs=4, random_state=1).fit(data)
    b = model(n_factors=5, n_epochs=4, random_state=1).fit((data.users, data.items, df.r.to_numpy()))
    users, items = data.users[:50], data.items[::-1][:50]
    np.testing.assert_array_equal(a.predict(users, items), b.predict(users, items))
    c = model(n_factors=5, n_epochs=4, random_state=1, dtype="float32").fit(data)
    assert c.pu_.dtype == np.float32
    np.testing.assert_allclose(c.predict(users, items), a.predict(users, items), atol=1e-4)


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_backends_give_the_same_model(model):
    df = _random_ratings(seed=8, n=400)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    fits = [model(n_factors=3, n_epochs=2, random_state=4, backend=b, cache_ratings=True).fit(data)
            if model is SVDpp else model(n_factors=3, n_epochs=2, random_state=4, backend=b).fit(data)
            for b in ("native", "numba", "numpy")]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.pu_, fits[0].pu_)
        np.testing.assert_array_equal(other.qi_, fits[0].qi_)
    assert [f.backend_ for f in fits] == ["native", "numba", "numpy"]


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_save_load_and_pickle(model, tmp_path):
    df = _random_ratings(seed=9, n=500)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    fitted = model(n_factors=4, n_epochs=2, random_state=3, reg_bu=0.05).fit(data, rating_scale=(0.5, 5))
    users, items = np.arange(-1, data.n_users + 1), np.resize(np.arange(data.n_items), data.n_users + 2)
    for loaded in (model.load(_saved(fitted, tmp_path / "m")), pickle.loads(pickle.dumps(fitted))):
        assert loaded.get_params() == fitted.get_params()
        np.testing.assert_array_equal(loaded.predict(users, items), fitted.predict(users, items))
        assert loaded.rating_scale_ == (0.5, 5.0)
    unfitted = model.load(_saved(model(n_factors=3, verbose=True), io.BytesIO()))
    assert unfitted.get_params() == model(n_factors=3, verbose=True).get_params()
    with pytest.raises(RuntimeError, match="not fitted"):
        unfitted.predict(0, 0)
    other = SVDpp if model is not SVDpp else SVD
    with pytest.raises(ValueError, match=f"holds a {model.__name__}"):
        other.load(_saved(fitted, io.BytesIO()))


def _saved(model, file):
    model.save(file)
    if isinstance(file, io.BytesIO):
        file.seek(0)
        return file
    return str(file)


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_recommend_ranks_by_predicted_rating(model):
    df = _random_ratings(seed=10, n=1200)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    fitted = model(n_factors=6, n_epochs=3, random_state=0).fit(data)
    users = np.array([0, 3, 17])
    ids, scores = fitted.recommend(users, N=5)
    for row, u in enumerate(users):
        predicted = fitted.predict(np.full(data.n_items, u), np.arange(data.n_items), clip=False)
        np.testing.assert_allclose(scores[row], np.sort(predicted)[::-1][:5], atol=1e-12)
        np.testing.assert_allclose(predicted[ids[row]], scores[row], atol=1e-12)
    exclude = sp.csr_matrix((np.ones(3), ([0, 1, 2], ids[:, 0])), shape=(3, data.n_items))
    kept, _ = fitted.recommend(users, N=5, exclude=exclude)
    assert not any(ids[r, 0] in kept[r] for r in range(3))
    one, one_scores = fitted.recommend(3, N=2)
    np.testing.assert_array_equal(one, ids[1, :2])
    with pytest.raises(IndexError, match="users: index out of range"):
        fitted.recommend([data.n_users])


@pytest.mark.parametrize("model", [SVD, SVDpp])
@pytest.mark.parametrize("params, error, message", [
    (dict(n_factors=0), ValueError, "n_factors: expected a positive int"),
    (dict(n_factors=2.5), TypeError, "n_factors"),
    (dict(n_epochs=-1), ValueError, "n_epochs: expected a non-negative int"),
    (dict(lr_all=0), ValueError, "lr_bu: expected a finite number > 0"),
    (dict(lr_qi=-0.1), ValueError, "lr_qi: expected a finite number > 0"),
    (dict(reg_all=-1), ValueError, "reg_bu: expected a finite number >= 0"),
    (dict(init_std_dev=-0.1), ValueError, "init_std_dev: expected a number >= 0"),
    (dict(init_mean=np.nan), ValueError, "init_mean: expected a finite number"),
    (dict(random_state="seed"), ValueError, "random_state: expected None, an int or a numpy RandomState"),
    (dict(dtype="float16"), ValueError, "dtype: expected one of float32, float64"),
    (dict(verbose="yes"), TypeError, "verbose: expected a bool"),
])
def test_bad_parameters_are_clear_errors(model, params, error, message):
    with pytest.raises(error, match=message):
        model(**params).fit((np.array([0, 1]), np.array([1, 0]), np.array([3.0, 4.0])))


@pytest.mark.parametrize("params, error, message", [
    (dict(init_low=-0.1), ValueError, "init_low: should be greater than zero"),
    (dict(init_high=np.inf), ValueError, "init_high: expected a finite number"),
    (dict(lr_bu=0), ValueError, "lr_bu: expected a finite number > 0"),
    (dict(reg_qi=-1), ValueError, "reg_qi: expected a finite number >= 0"),
    (dict(biased="no"), TypeError, "biased: expected a bool"),
    (dict(n_factors=0), ValueError, "n_factors: expected a positive int"),
])
def test_nmf_bad_parameters_are_clear_errors(params, error, message):
    with pytest.raises(error, match=message):
        NMF(**params).fit((np.array([0, 1]), np.array([1, 0]), np.array([3.0, 4.0])))


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
@pytest.mark.parametrize("data, error, message", [
    ((np.array([0, 1]), np.array([1, 0]), np.array([3.0, np.nan])), ValueError, "ratings: NaN or inf"),
    ((np.array([0, -1]), np.array([1, 0]), np.array([3.0, 4.0])), ValueError, "users: indices must be >= 0"),
    ((np.array([0, 1]), np.array([1, -2]), np.array([3.0, 4.0])), ValueError, "items: indices must be >= 0"),
    ((np.array([], int), np.array([], int), np.array([])), ValueError, "data: no ratings to fit on"),
    ((np.array([0, 1]), np.array([1, 0])), TypeError, "data: expected Interactions with ratings"),
    ((np.array([0, 1]), np.array([1, 0]), np.array([3.0])), ValueError, "must have one length"),
])
def test_bad_data_is_a_clear_error(model, data, error, message):
    with pytest.raises(error, match=message):
        model(n_factors=2).fit(data)


def test_divergence_is_an_error_not_nan_predictions():
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 20, 300), rng.integers(0, 20, 300), rng.uniform(1, 5, 300))
    with pytest.raises(FloatingPointError, match="lower the learning rates"):
        SVD(n_factors=5, lr_all=50.0, random_state=0).fit(data)


def test_inputs_are_not_modified_and_unknown_ids_fall_back():
    users, items, ratings = np.array([0, 1, 1]), np.array([1, 0, 2]), np.array([3.0, 4.0, 5.0])
    saved = users.copy(), items.copy(), ratings.copy()
    model = SVD(n_factors=2, n_epochs=3, biased=False, random_state=0).fit((users, items, ratings))
    for a, b in zip((users, items, ratings), saved):
        np.testing.assert_array_equal(a, b)
    got, details = model.predict([0, 5, -1], [1, 0, 0], return_details=True)
    np.testing.assert_array_equal(details["was_impossible"], [False, True, True])
    assert got[1] == got[2] == model.global_mean_ == 4.0


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_ratings_outside_the_declared_scale_are_an_error(model):
    data = (np.array([0, 1]), np.array([1, 0]), np.array([3.0, 6.0]))
    with pytest.raises(ValueError, match="outside rating_scale=\\(1.0, 5.0\\)"):
        model(n_factors=2).fit(data, rating_scale=(1, 5))
    assert model(n_factors=2, n_epochs=1).fit(data).rating_scale_ == (3.0, 6.0)


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_indices_without_ratings_are_unknown(model):
    """User 1 and item 2 have no rating (gaps in the indices): zero rows, and unknown to predict."""
    users, items, ratings = np.array([0, 2, 2, 0]), np.array([0, 1, 0, 3]), np.array([4.0, 2.0, 5.0, 3.0])
    fitted = model(n_factors=3, n_epochs=4, random_state=0, biased=True).fit((users, items, ratings)) \
        if model is not SVDpp else model(n_factors=3, n_epochs=4, random_state=0).fit((users, items, ratings))
    assert not fitted.pu_[1].any() and not fitted.qi_[2].any() and fitted.bu_[1] == 0
    got, details = fitted.predict([1, 0, 0], [0, 2, 1], return_details=True, clip=False)
    np.testing.assert_array_equal(details["known_user"], [False, True, True])
    np.testing.assert_array_equal(details["known_item"], [True, False, True])
    assert got[0] == pytest.approx(fitted.global_mean_ + fitted.bi_[0])
    assert got[1] == pytest.approx(fitted.global_mean_ + fitted.bu_[0])


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_eval_set_history_and_callback_change_nothing(model):
    train, test = _split(_random_ratings(seed=11, n=1500))
    data = Interactions.from_raw(train.u.to_numpy(), train.i.to_numpy(), train.r.to_numpy())
    users, items = _known(data, test)
    held_out = (np.where(users < 0, 0, users), np.where(items < 0, 0, items), test.r.to_numpy())
    seen = []
    plain = model(n_factors=4, n_epochs=5, random_state=2).fit(data)
    watched = model(n_factors=4, n_epochs=5, random_state=2).fit(
        data, eval_set=held_out, callback=lambda epoch, elapsed, metrics: seen.append((epoch, metrics)),
        show_progress=True)
    np.testing.assert_array_equal(watched.qi_, plain.qi_)
    assert [h["epoch"] for h in watched.history_] == [0, 1, 2, 3, 4] == [epoch for epoch, _ in seen]
    last = watched.predict(*held_out[:2]) - held_out[2]
    assert watched.history_[-1]["rmse"] == pytest.approx(np.sqrt(np.mean(last ** 2)), rel=1e-12)
    assert watched.history_[-1]["mae"] == pytest.approx(np.mean(np.abs(last)), rel=1e-12)
    assert seen[-1][1] == {"rmse": watched.history_[-1]["rmse"], "mae": watched.history_[-1]["mae"]}
    calls = []
    model(n_factors=4, n_epochs=2).fit(data, callback=lambda *args: calls.append(args))
    assert [(c[0], c[2]) for c in calls] == [(0, {}), (1, {})] and calls[1][1] >= calls[0][1] >= 0


def test_early_stopping_keeps_the_best_epoch():
    train, test = _split(_ml100k())
    data = Interactions.from_raw(train.u.to_numpy(), train.i.to_numpy(), train.r.to_numpy())
    users, items = _known(data, test)
    held_out = (np.maximum(users, 0), np.maximum(items, 0), test.r.to_numpy())
    # a large learning rate overfits after a few epochs: validation RMSE rises again
    model = SVD(n_factors=50, n_epochs=40, lr_all=0.03, reg_all=0.0, random_state=0)
    model.fit(data, eval_set=held_out, early_stopping_rounds=3)
    errors = [h["rmse"] for h in model.history_]
    best = int(np.argmin(errors))
    assert model.best_epoch_ == best and len(errors) == best + 4 < 40
    got = np.sqrt(np.mean((model.predict(*held_out[:2]) - held_out[2]) ** 2))
    assert got == pytest.approx(errors[best], rel=1e-12)
    with pytest.raises(ValueError, match="early_stopping_rounds: needs an eval_set"):
        SVD(n_factors=2).fit(data, early_stopping_rounds=2)
    with pytest.raises(ValueError, match="early_stopping_rounds: expected a positive int"):
        SVD(n_factors=2).fit(data, eval_set=held_out, early_stopping_rounds=0)
    with pytest.raises(TypeError, match="callback: expected a callable"):
        SVD(n_factors=2).fit(data, callback=3)


def test_a_failed_fit_leaves_an_unfitted_model():
    data = (np.array([0, 1, 1]), np.array([1, 0, 1]), np.array([3.0, 4.0, 5.0]))
    model = SVD(n_factors=2, n_epochs=2, random_state=0).fit(data)

    def fail(epoch, elapsed, metrics):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        model.fit(data, callback=fail)
    assert not hasattr(model, "pu_") and not hasattr(model, "global_mean_")
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict(0, 0)


@pytest.mark.parametrize("model", [SVD, SVDpp, NMF])
def test_fit_on_a_surprise_trainset_in_inner_ids(model):
    """What an AlgoBase adapter does: the trainset's all_ratings() as arrays of inner ids, with
    numbering="index", gives Surprise's model row for row."""
    train, _ = _split(_random_ratings(seed=12, n=700))
    trainset = surprise.Dataset.load_from_df(train, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    peer = {SVD: surprise.SVD, SVDpp: surprise.SVDpp, NMF: surprise.NMF}[model]
    theirs = peer(n_factors=3, n_epochs=4, random_state=6).fit(trainset)
    u, i, r = (np.array(column) for column in zip(*trainset.all_ratings()))
    ours = model(n_factors=3, n_epochs=4, random_state=6).fit((u, i, r), rating_scale=trainset.rating_scale,
                                                               numbering="index")
    np.testing.assert_allclose(ours.pu_, theirs.pu, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.qi_, theirs.qi, rtol=0, atol=1e-12)
    assert ours.global_mean_ == trainset.global_mean
    by_appearance = model(n_factors=3, n_epochs=4, random_state=6).fit((u, i, r), rating_scale=(1, 5))
    assert not np.allclose(by_appearance.qi_, theirs.qi)  # items first appear in another order here
    with pytest.raises(ValueError, match="numbering: expected 'appearance' or 'index'"):
        model(n_factors=3).fit((u, i, r), numbering="inner")


@pytest.mark.parametrize("model, params", [(SVD, {}), (SVD, {"n_blocks": 3, "dtype": "float32"}), (SVDpp, {}),
                                           (NMF, {"biased": True})])
def test_partial_fit_continues_training(model, params):
    df = _random_ratings(seed=11, n=900)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    whole = model(n_factors=4, n_epochs=5, random_state=2, **params).fit(data)
    half = model(n_factors=4, n_epochs=2, random_state=2, **params).fit(data)
    before = half.pu_.copy()
    assert half.partial_fit(data, n_epochs=3) is half
    assert not np.array_equal(half.pu_, before)  # it trained
    for name in ("pu_", "qi_", "bu_", "bi_"):
        np.testing.assert_array_equal(getattr(half, name), getattr(whole, name))
    users, items = data.users[:40], data.items[:40]
    np.testing.assert_array_equal(half.predict(users, items), whole.predict(users, items))
    assert half.partial_fit(data, n_epochs=0) is half  # no epoch: nothing moves
    np.testing.assert_array_equal(half.pu_, whole.pu_)


def test_partial_fit_learns_new_ratings_and_refuses_what_it_cannot():
    df = _random_ratings(seed=12, n=900)
    data = Interactions.from_raw(df.u.to_numpy(), df.i.to_numpy(), df.r.to_numpy())
    with pytest.raises(RuntimeError, match="not fitted"):
        SVD().partial_fit(data)
    model = SVD(n_factors=4, n_epochs=3, random_state=0).fit(data)
    n_users, n_items = data.shape
    # New ratings of one user for one item, repeated: its prediction moves towards them.
    users, items = np.array([0] * 20), np.array([n_items - 1] * 20)
    before = model.predict(0, n_items - 1)
    model.partial_fit((users, items, np.full(20, 5.0)), n_epochs=5)
    assert model.predict(0, n_items - 1) > before
    assert model.user_counts_[0] == 20 and model.user_counts_[1] == 0  # the new data is what it knows
    with pytest.raises(ValueError, match="beyond the fitted model"):
        model.partial_fit((np.array([n_users]), np.array([0]), np.array([3.0])))
    with pytest.raises(ValueError, match="outside the fitted rating_scale_"):
        model.partial_fit((np.array([0]), np.array([0]), np.array([9.0])))
    with pytest.raises(ValueError, match="n_epochs"):
        model.partial_fit(data, n_epochs=-1)
