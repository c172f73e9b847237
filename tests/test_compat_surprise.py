"""turborec.compat.surprise: turborec's rating predictors as Surprise algorithms, compared with
Surprise itself (cross_validate, predictions and their details, get_neighbors, attributes, dump,
errors)."""

import copy
import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import surprise  # a [test] peer: missing, this module fails rather than skips
from surprise.model_selection import GridSearchCV, KFold, cross_validate

from turborec._threads import resolve_n_threads
from turborec.compat import surprise as compat

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"
KNN_NAMES = ["KNNBasic", "KNNWithMeans", "KNNWithZScore", "KNNBaseline"]


def _ml100k():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    return surprise.Dataset.load_from_file(str(ML100K), surprise.Reader("ml-100k"))


def _random_data(seed=0, n=1200, n_users=60, n_items=40, rating_scale=(1, 5)):
    """Whole-star ratings (many tied similarities) over string ids, each (user, item) pair once."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"u": [f"u{x}" for x in rng.integers(0, n_users, n)],
                       "i": [f"i{x}" for x in rng.integers(0, n_items, n)],
                       "r": rng.integers(rating_scale[0], rating_scale[1] + 1, n).astype(float)})
    df = df.drop_duplicates(["u", "i"]).reset_index(drop=True)
    return surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=rating_scale))


def _both(name, **params):
    """Surprise's algorithm and the adapter, with the same parameters (each its own copy)."""
    return (getattr(surprise, name)(verbose=False, **copy.deepcopy(params)),
            getattr(compat, name)(verbose=False, **copy.deepcopy(params)))


def _with_unknowns(testset, trainset):
    known_u, known_i = trainset.to_raw_uid(0), trainset.to_raw_iid(0)
    return list(testset) + [("ghost", known_i, 3.0), (known_u, "ghost", 4.0), ("ghost", "ghost", 2.0)]


def assert_same_predictions(ours, theirs, rtol=1e-12):
    """Same ids, true ratings and details (actual_k, was_impossible, reason); estimates to rtol."""
    assert len(ours) == len(theirs)
    assert [p[:3] for p in ours] == [p[:3] for p in theirs]
    assert [p.details for p in ours] == [p.details for p in theirs]
    np.testing.assert_allclose([p.est for p in ours], [p.est for p in theirs], rtol=rtol, atol=0)


# KNNWithZScore and item-based similarities on MovieLens: in the per-pair test below and on the
# random data sets (Surprise's item-based cross-validation alone takes ~25 s here).
CV_CASES = [
    ("KNNBasic", {}),
    ("KNNWithMeans", {"sim_options": {"name": "pearson"}}),
    ("KNNBaseline", {"sim_options": {"name": "pearson_baseline"}, "bsl_options": {"method": "sgd"}}),
    ("BaselineOnly", {"bsl_options": {"method": "sgd", "n_epochs": 5}}),
]


@pytest.mark.parametrize("name, params", CV_CASES)
def test_cross_validate_equals_surprise_on_movielens_100k(name, params):
    data = _ml100k()
    theirs, ours = _both(name, **params)
    cv = KFold(n_splits=2, random_state=0)
    expected = cross_validate(theirs, data, measures=["rmse", "mae"], cv=cv)
    got = cross_validate(ours, data, measures=["rmse", "mae"], cv=cv)
    for measure in ("test_rmse", "test_mae"):
        np.testing.assert_allclose(got[measure], expected[measure], rtol=1e-12, atol=0)
    assert 0.85 < got["test_rmse"].mean() < 1.1  # the models learnt something, and it was measured


def test_predictions_and_details_equal_surprise_on_movielens_100k():
    data = _ml100k()
    trainset, testset = next(KFold(n_splits=5, random_state=1).split(data))
    testset = _with_unknowns(testset, trainset)
    theirs, ours = _both("KNNBasic", k=20, min_k=3, sim_options={"name": "msd", "user_based": False})
    theirs.fit(trainset)
    ours.fit(trainset)
    expected = theirs.test(testset)
    assert_same_predictions(ours.test(testset), expected)
    assert sum(p.details["was_impossible"] for p in expected) > 3  # below min_k, and the unknowns
    # The inherited per-pair predict (through estimate) agrees too.
    for p in expected[:200] + expected[-3:]:
        assert_same_predictions([ours.predict(p.uid, p.iid, p.r_ui)], [p])


RANDOM_CASES = [(name, k, min_k, sim, user_based) for name in KNN_NAMES
                for k, min_k, sim, user_based in [(3, 1, "msd", True), (5, 3, "cosine", False),
                                                  (2, 2, "pearson", True), (4, 0, "pearson_baseline", False),
                                                  (40, 1, "pearson_baseline", True)]
                if not (name == "KNNBasic" and min_k == 0)]  # Surprise divides 0 by 0 there: see below


@pytest.mark.parametrize("name, k, min_k, sim, user_based", RANDOM_CASES)
def test_knn_equals_surprise_on_random_ratings_with_ties(name, k, min_k, sim, user_based):
    data = _random_data(seed=k + min_k)
    trainset, testset = next(KFold(n_splits=4, random_state=k).split(data))
    testset = _with_unknowns(testset, trainset)
    params = {"k": k, "min_k": min_k, "sim_options": {"name": sim, "user_based": user_based, "min_support": 2,
                                                      "shrinkage": 10},
              "bsl_options": {"method": "sgd", "n_epochs": 7}}
    if name != "KNNBaseline":
        params["bsl_options"] = {"method": "als", "reg_i": 5}  # through **kwargs in Surprise
    theirs, ours = _both(name, **params)
    theirs.fit(trainset)
    ours.fit(trainset)
    expected = theirs.test(testset)
    assert_same_predictions(ours.test(testset), expected)
    assert any(p.details.get("actual_k", 0) >= 1 for p in expected)  # not vacuous
    for p in expected:
        assert_same_predictions([ours.predict(p.uid, p.iid, p.r_ui)], [p])
    # Surprise's attributes.
    np.testing.assert_allclose(ours.sim, theirs.sim, rtol=1e-12, atol=1e-15)
    assert (ours.n_x, ours.n_y) == (theirs.n_x, theirs.n_y)
    assert ours.xr is (trainset.ur if user_based else trainset.ir)
    for attribute in ("bu", "bi", "means", "sigmas", "bx", "by"):
        if getattr(theirs, attribute, None) is None:
            assert getattr(ours, attribute, None) is None
        else:
            np.testing.assert_allclose(getattr(ours, attribute), getattr(theirs, attribute), rtol=1e-12, atol=1e-15)
    n_x = trainset.n_users if user_based else trainset.n_items
    for x in range(0, n_x, 7):
        assert ours.get_neighbors(x, k) == theirs.get_neighbors(x, k)


@pytest.mark.parametrize("bsl_options", [{}, {"method": "als", "n_epochs": 4, "reg_u": 3.5},
                                         {"method": "sgd", "reg": 0.1, "learning_rate": 0.02}])
def test_baseline_only_equals_surprise_on_random_ratings(bsl_options):
    data = _random_data(seed=3, rating_scale=(0, 10))
    trainset, testset = next(KFold(n_splits=3, random_state=2).split(data))
    testset = _with_unknowns(testset, trainset)
    theirs, ours = _both("BaselineOnly", bsl_options=bsl_options)
    theirs.fit(trainset)
    ours.fit(trainset)
    assert_same_predictions(ours.test(testset), theirs.test(testset))
    np.testing.assert_allclose(ours.bu, theirs.bu, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.bi, theirs.bi, rtol=1e-12, atol=1e-15)
    assert ours.compute_baselines() == (ours.bu, ours.bi)


def test_estimate_raises_prediction_impossible_where_surprise_does():
    data = _random_data(seed=4)
    trainset = data.build_full_trainset()
    pairs = [(u, i) for u in range(0, trainset.n_users, 5) for i in range(0, trainset.n_items, 3)]
    pairs += [(0, "UKN__ghost"), ("UKN__ghost", 0), ("UKN__a", "UKN__b")]
    for name in KNN_NAMES + ["BaselineOnly"]:
        theirs, ours = _both(name, k=3, min_k=2) if name != "BaselineOnly" else _both(name)
        theirs.fit(trainset)
        ours.fit(trainset)
        impossible = 0
        for u, i in pairs:
            try:
                expected = theirs.estimate(u, i)
            except surprise.PredictionImpossible as error:
                with pytest.raises(surprise.PredictionImpossible, match=str(error)):
                    ours.estimate(u, i)
                impossible += 1
                continue
            got = ours.estimate(u, i)
            assert isinstance(got, tuple) == isinstance(expected, tuple)
            if isinstance(expected, tuple):
                assert got[1] == expected[1] and got[0] == pytest.approx(expected[0], rel=1e-12)
            else:
                assert got == pytest.approx(expected, rel=1e-12)
        assert impossible >= (3 if name in ("KNNBasic", "KNNWithMeans", "KNNWithZScore") else 0)


def test_test_predicts_the_whole_testset_in_one_call(monkeypatch):
    data = _random_data(seed=5)
    trainset, testset = next(KFold(n_splits=3, random_state=0).split(data))
    algo = compat.KNNBaseline(verbose=False).fit(trainset)
    calls = []
    predict = algo.model.predict
    monkeypatch.setattr(algo.model, "predict", lambda *a, **kw: calls.append(len(a[0])) or predict(*a, **kw))
    predictions = algo.test(testset)
    assert calls == [len(testset)] and len(predictions) == len(testset)
    assert algo.test([]) == []


# surprise.dump.dump and load leave their files open (pickle.dump(obj, open(...))): Surprise's
# ResourceWarning, not ours.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_dump_round_trip(tmp_path):
    data = _random_data(seed=6)
    trainset, testset = next(KFold(n_splits=3, random_state=0).split(data))
    algo = compat.KNNWithZScore(k=5, sim_options={"name": "pearson_baseline", "user_based": False},
                                verbose=False).fit(trainset)
    predictions = algo.test(testset)
    surprise.dump.dump(str(tmp_path / "algo.pkl"), predictions=predictions, algo=algo)
    loaded_predictions, loaded = surprise.dump.load(str(tmp_path / "algo.pkl"))
    assert type(loaded) is compat.KNNWithZScore and loaded is not algo
    assert loaded_predictions == predictions
    assert loaded.test(testset) == predictions
    assert loaded.predict(*testset[0]) == predictions[0]
    assert loaded.get_neighbors(3, 4) == algo.get_neighbors(3, 4)
    np.testing.assert_array_equal(loaded.sim, algo.sim)


def test_compute_similarities_and_baselines_equal_surprise():
    trainset = _random_data(seed=7).build_full_trainset()
    options = {"sim_options": {"name": "pearson_baseline", "user_based": False}, "bsl_options": {"method": "sgd"}}
    theirs, ours = _both("KNNBasic", **options)
    theirs.fit(trainset)
    ours.fit(trainset)
    np.testing.assert_allclose(ours.compute_similarities(), theirs.compute_similarities(), rtol=1e-12, atol=1e-15)
    for got, expected in zip(ours.compute_baselines(), theirs.compute_baselines()):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    theirs, ours = _both("KNNWithMeans", sim_options={"name": "cosine"})  # no baselines at fit
    theirs.fit(trainset)
    ours.fit(trainset)
    assert ours.bu is None and theirs.bu is None
    for got, expected in zip(ours.compute_baselines(), theirs.compute_baselines()):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_grid_search_and_verbose_output_as_surprise(capsys):
    data = _random_data(seed=8, n=600)
    grid = {"k": [2, 10], "sim_options": {"name": ["msd", "cosine"]}}
    searches = [GridSearchCV(cls, grid, measures=["rmse"], cv=KFold(3, random_state=0)) for cls in
                (surprise.KNNWithMeans, compat.KNNWithMeans)]
    for search in searches:
        search.fit(data)
    capsys.readouterr()
    expected, got = (search.best_params["rmse"] for search in searches)
    # Surprise's own algorithms add "user_based" to the grid's dicts; the adapter copies them.
    assert got == {"k": expected["k"], "sim_options": {"name": expected["sim_options"]["name"]}}
    assert searches[1].best_score["rmse"] == pytest.approx(searches[0].best_score["rmse"], rel=1e-12)
    trainset = data.build_full_trainset()
    outputs = []
    for cls in (surprise.KNNBaseline, compat.KNNBaseline):
        cls(sim_options={"name": "pearson_baseline"}).fit(trainset)
        outputs.append(capsys.readouterr().out)
    assert outputs[1] == outputs[0] and "Estimating biases using als..." in outputs[0]


def test_options_are_copied_not_modified():
    sim_options, bsl_options = {"name": "cosine"}, {"method": "sgd"}
    algo = compat.KNNBaseline(sim_options=sim_options, bsl_options=bsl_options, verbose=False)
    algo.fit(_random_data(seed=9, n=300).build_full_trainset())
    assert sim_options == {"name": "cosine"} and bsl_options == {"method": "sgd"}
    assert algo.sim_options == {"name": "cosine", "user_based": True}  # as Surprise's AlgoBase completes it


def test_bad_parameters_give_surprises_errors():
    trainset = _random_data(seed=10, n=300).build_full_trainset()
    for name in KNN_NAMES:
        theirs, ours = _both(name, sim_options={"name": "jaccard"})
        with pytest.raises(NameError, match="(?i)wrong sim name"):
            theirs.fit(trainset)
        with pytest.raises(NameError, match=r"sim_options\['name'\]: wrong sim name 'jaccard'"):
            ours.fit(trainset)
    for name, params in [("BaselineOnly", {}), ("KNNBaseline", {})]:
        theirs, ours = _both(name, bsl_options={"method": "newton"}, **params)
        with pytest.raises(ValueError, match="(?i)invalid method newton"):
            theirs.fit(trainset)
        with pytest.raises(ValueError, match=r"bsl_options\['method'\]: invalid method 'newton'"):
            ours.fit(trainset)
    # turborec checks what Surprise lets through (documented): the error names the argument.
    with pytest.raises(ValueError, match="k: expected an int >= 1, got 0"):
        compat.KNNBasic(k=0, verbose=False).fit(trainset)
    with pytest.raises(ValueError, match=r"sim_options: unknown option\(s\) 'nmae'"):
        compat.KNNBasic(sim_options={"nmae": "msd"}, verbose=False).fit(trainset)
    with pytest.raises(TypeError, match="sim_options: expected a dict, got list"):
        compat.KNNBasic(sim_options=["msd"])
    with pytest.raises(TypeError, match="unexpected keyword argument 'kk'"):
        compat.KNNBasic(kk=3)
    with pytest.raises(ValueError, match="iid: expected an index"):
        compat.KNNBasic(verbose=False).fit(trainset).get_neighbors(10**6, 3)
    with pytest.raises(RuntimeError, match="KNNBasic is not fitted: call fit"):
        compat.KNNBasic(verbose=False).test([])
    algo = compat.KNNBasic(verbose=False).fit(trainset)
    algo.sim_options["name"] = "jaccard"
    with pytest.raises(NameError):
        algo.fit(trainset)
    with pytest.raises(RuntimeError, match="not fitted"):  # not the model of an earlier fit
        algo.estimate(0, 0)


def test_repeated_ratings_are_refused_by_the_knn_adapters():
    # Surprise's similarities count every repeat of a (user, item) pair, turborec's one rating
    # per pair: refused rather than answered differently. BaselineOnly treats repeats alike.
    df = pd.DataFrame({"u": ["a", "b", "a", "b", "a"], "i": ["x", "x", "y", "y", "x"], "r": [1.0, 2, 3, 4, 5]})
    trainset = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    for name in KNN_NAMES:
        with pytest.raises(ValueError, match=r"trainset: 1 \(user, item\) pairs are rated more than once "
                                             r"\(one: user 'a', item 'x'\)"):
            getattr(compat, name)(verbose=False).fit(trainset)
    theirs, ours = _both("BaselineOnly")
    assert_same_predictions(ours.fit(trainset).test(trainset.build_testset()),
                            theirs.fit(trainset).test(trainset.build_testset()))


def test_knnbasic_with_min_k_0_and_no_positive_neighbour_is_impossible():
    # Surprise divides 0 by 0 (ZeroDivisionError); the adapter says the prediction is impossible.
    df = pd.DataFrame({"u": ["a", "a", "b", "b", "b"], "i": ["x", "y", "x", "y", "z"], "r": [1.0, 5, 5, 1, 4]})
    trainset = surprise.Dataset.load_from_df(df, surprise.Reader(rating_scale=(1, 5))).build_full_trainset()
    theirs, ours = _both("KNNBasic", min_k=0, sim_options={"name": "pearson"})
    theirs.fit(trainset)
    ours.fit(trainset)
    u, i = trainset.to_inner_uid("a"), trainset.to_inner_iid("z")
    assert theirs.sim[0, 1] < 0
    with pytest.raises(ZeroDivisionError):
        theirs.estimate(u, i)
    with pytest.raises(surprise.PredictionImpossible, match="Not enough neighbors."):
        ours.estimate(u, i)
    prediction = ours.predict("a", "z")
    assert prediction.est == trainset.global_mean
    assert prediction.details == {"was_impossible": True, "reason": "Not enough neighbors."}


def test_import_without_surprise_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "surprise", None)  # `import surprise` now raises ImportError
    monkeypatch.delitem(sys.modules, "turborec.compat.surprise")
    with pytest.raises(ImportError, match=r'pip install "turborec\[surprise\]"'):
        importlib.import_module("turborec.compat.surprise")
    importlib.reload(importlib.import_module("turborec.compat"))  # the package itself needs no Surprise


def test_a_trainset_no_file_could_give_is_refused():
    def trainset(ur, ir):
        return surprise.Trainset(ur, ir, len(ur), len(ir), sum(map(len, ur.values())), (1, 5),
                                 {f"u{u}": u for u in ur}, {f"i{i}": i for i in ir})

    # Item 0 rated by user 1 before user 0, yet user 0 appeared first: no reading order.
    with pytest.raises(ValueError, match="trainset: no reading order gives its ur and ir lists"):
        compat.BaselineOnly(verbose=False).fit(trainset({0: [(0, 3.0)], 1: [(0, 4.0)]}, {0: [(1, 4.0), (0, 3.0)]}))
    with pytest.raises(ValueError, match=r"trainset: its ur and ir lists do not hold the same \(user, item\) pairs"):
        compat.BaselineOnly(verbose=False).fit(trainset({0: [(0, 3.0)], 1: [(1, 4.0)]}, {0: [(1, 4.0)], 1: [(0, 3.0)]}))
    good = trainset({0: [(0, 3.0)], 1: [(0, 4.0)]}, {0: [(0, 3.0), (1, 4.0)]})
    assert compat.KNNBasic(verbose=False).fit(good).predict("u0", "i0") == \
        surprise.KNNBasic(verbose=False).fit(good).predict("u0", "i0")


# ---- the matrix factorisations ----

FACTORISATION_CASES = [
    ("SVD", {"random_state": 0, "n_epochs": 5}),
    ("SVD", {"random_state": 1, "n_epochs": 3, "biased": False, "n_factors": 20}),
    ("NMF", {"random_state": 2, "n_epochs": 5, "biased": True}),
]


@pytest.mark.parametrize("name, params", FACTORISATION_CASES)
def test_factorisation_cross_validate_equals_surprise_on_movielens_100k(name, params):
    data = _ml100k()
    theirs, ours = _both(name, **params)
    cv = KFold(n_splits=2, random_state=0)
    expected = cross_validate(theirs, data, measures=["rmse", "mae"], cv=cv)
    got = cross_validate(ours, data, measures=["rmse", "mae"], cv=cv)
    for measure in ("test_rmse", "test_mae"):
        np.testing.assert_allclose(got[measure], expected[measure], rtol=1e-12, atol=0)
    assert 0.85 < got["test_rmse"].mean() < 2.5  # measured (an unbiased 3-epoch SVD is poor, as in Surprise)


@pytest.mark.parametrize("name, params", [("SVD", {"biased": False, "n_factors": 5}), ("SVDpp", {"n_factors": 5}),
                                          ("NMF", {"n_factors": 4})])
def test_factorisation_predictions_details_and_factors_equal_surprise(name, params):
    # Random data (Surprise's SVD++ is slow on MovieLens), with unknown users and items: an
    # unbiased model cannot estimate them and says so in Surprise's words.
    data = _random_data(seed=8)
    trainset, testset = next(KFold(n_splits=3, random_state=0).split(data))
    testset = _with_unknowns(testset, trainset)
    theirs, ours = _both(name, random_state=3, n_epochs=4, **params)
    theirs.fit(trainset)
    ours.fit(trainset)
    expected = theirs.test(testset)
    assert_same_predictions(ours.test(testset), expected)
    for p in expected[:50] + expected[-3:]:
        assert_same_predictions([ours.predict(p.uid, p.iid, p.r_ui)], [p])
    for factor in ("pu", "qi", "yj") if name == "SVDpp" else ("pu", "qi"):
        np.testing.assert_allclose(getattr(ours, factor), getattr(theirs, factor), rtol=1e-12, atol=1e-15)
    if name != "SVDpp":
        assert [p.details for p in expected[-3:]] == [{"was_impossible": True, "reason": "User and item are unknown."}] * 3


def test_svd_threads_opt_into_the_grid_reproducibly():
    """n_threads > 1: the block grid of 2 n_threads blocks a side (not Surprise's order, its RMSE
    band), the same refit after refit and for any thread count; n_blocks=1 keeps the exact mode."""
    data = _ml100k()
    cv = KFold(n_splits=2, random_state=0)
    runs = {t: cross_validate(compat.SVD(random_state=0, n_epochs=10, n_threads=t, **extra), data,
                              measures=["rmse"], cv=cv)["test_rmse"]
            for t, extra in ((2, {}), (4, {"n_blocks": 4}), (1, {}))}
    np.testing.assert_array_equal(runs[2], runs[4])  # 4 blocks a side both, on 2 and 4 threads
    again = cross_validate(compat.SVD(random_state=0, n_epochs=10, n_threads=2), data, measures=["rmse"], cv=cv)
    np.testing.assert_array_equal(again["test_rmse"], runs[2])
    assert not np.array_equal(runs[2], runs[1]) and np.abs(runs[2] - runs[1]).max() < 0.01
    assert compat.SVD(n_threads=3)._model().n_blocks == 6 and compat.SVD()._model().n_blocks == 1
    assert compat.SVD(n_threads=3, n_blocks=1)._model().n_blocks == 1
    every_core = resolve_n_threads(-1)
    assert compat.SVD(n_threads=-1)._model().n_blocks == (2 * every_core if every_core > 1 else 1)
    with pytest.raises(ValueError, match="n_threads"):
        compat.SVD(n_threads=0)._model()


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_factorisation_dump_round_trip(tmp_path):  # Surprise's dump leaves its files open, as above
    data = _random_data(seed=9)
    trainset, testset = next(KFold(n_splits=3, random_state=0).split(data))
    algo = compat.SVD(n_factors=8, n_epochs=3, random_state=0).fit(trainset)
    predictions = algo.test(testset)
    surprise.dump.dump(str(tmp_path / "svd.pkl"), predictions=predictions, algo=algo)
    _, loaded = surprise.dump.load(str(tmp_path / "svd.pkl"))
    assert type(loaded) is compat.SVD and loaded.test(testset) == predictions
    np.testing.assert_array_equal(loaded.pu, algo.pu)


def test_factorisation_parameters_as_surprise_validates_them():
    data = _random_data(seed=10)
    trainset = data.build_full_trainset()
    with pytest.raises(ValueError, match="init_low"):
        surprise.NMF(init_low=-1).fit(trainset)  # the peer's rule ...
    with pytest.raises(ValueError, match="init_low"):
        compat.NMF(init_low=-1).fit(trainset)  # ... is the adapter's
    with pytest.raises(ValueError, match="n_factors"):
        compat.SVD(n_factors=0).fit(trainset)
