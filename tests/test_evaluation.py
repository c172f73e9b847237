"""evaluate / cross_validate with the baselines; agreement with implicit on MovieLens 100K."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec import _progress
from turborec.datasets import Interactions, synthetic_factors
from turborec.metrics import ranking_metrics
from turborec.models import FactorModel, MostPopular, Random

ML100K = Path(__file__).resolve().parents[2] / "shared" / "data" / "ml-100k" / "u.data"


def split(matrix, fraction=0.2, seed=0):
    coo = matrix.tocoo()
    test = np.random.default_rng(seed).random(coo.nnz) < fraction
    part = lambda m: sp.csr_matrix((coo.data[m], (coo.row[m], coo.col[m])), shape=matrix.shape)  # noqa: E731
    return part(~test), part(test)


@pytest.fixture(scope="module")
def ml100k():
    if not ML100K.exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    users, items, ratings, _ = np.loadtxt(ML100K, dtype=np.int64, unpack=True)
    matrix = sp.csr_matrix((np.ones(len(users), np.float32), (users - 1, items - 1)))
    return split(matrix, seed=42)


def test_evaluate_matches_metrics_of_the_model_lists(rng):
    users, items, seen = synthetic_factors(300, 400, 8, 20, seed=1)
    train, test = split(seen)
    model = FactorModel(users, items)
    result = turborec.evaluate(model, train, test, k=(3, 10), metrics=["ndcg", "precision", "auc"])
    assert list(result) == ["ndcg@3", "ndcg@10", "precision@3", "precision@10", "auc@3", "auc@10"]
    test_users = np.flatnonzero(test.getnnz(axis=1))
    ids, _ = model.recommend(test_users, train[test_users], N=10)
    negatives = 400 - train[test_users].getnnz(axis=1) - test[test_users].getnnz(axis=1) + np.asarray(
        train[test_users].multiply(test[test_users]).getnnz(axis=1))
    direct = ranking_metrics(ids, test[test_users], (3, 10), n_negatives=negatives)
    for key, value in result.items():
        assert value == pytest.approx(direct[key])
    assert not np.isin(ids, -1).any()


def test_evaluate_accepts_interactions_and_batches(rng):
    data = Interactions(rng.integers(0, 50, 2000), rng.integers(0, 80, 2000))
    train, test = turborec.split.random_split(data, 0.2, seed=1)
    a = turborec.evaluate(MostPopular().fit(train.to_csr()), train, test, k=5)
    b = turborec.evaluate(MostPopular().fit(train.to_csr()), train.to_csr(), test.to_csr(), k=5, batch_size=7)
    assert a == b


def test_popularity_beats_random_on_movielens(ml100k):
    train, test = ml100k
    popular = turborec.evaluate(MostPopular().fit(train), train, test, k=10)
    random = turborec.evaluate(Random(seed=1).fit(train), train, test, k=10)
    assert popular["ndcg@10"] > 5 * random["ndcg@10"]
    assert random["auc@10"] == pytest.approx(0.5, abs=0.02)
    assert 0.5 < popular["auc@10"] < 1


def test_agrees_with_implicit_on_movielens(ml100k):
    """Same model, same split: ndcg and map coincide; precision and auc are defined differently."""
    import implicit  # in the [test] extra: a missing install fails, not skips
    from implicit.evaluation import ranking_metrics_at_k
    from threadpoolctl import threadpool_limits

    train, test = ml100k
    with threadpool_limits(1, "blas"):
        model = implicit.cpu.als.AlternatingLeastSquares(factors=32, iterations=5, random_state=0, num_threads=1)
        model.fit(train, show_progress=False)
        theirs = ranking_metrics_at_k(model, train, test, K=10, show_progress=False)
        ours, per_user = None, None
        ours = turborec.evaluate(model, train, test, k=10)
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg"], rel=1e-9)
    assert ours["map@10"] == pytest.approx(theirs["map"], rel=1e-9)
    # implicit's precision divides all hits by the sum of min(K, |R|) over users; ours is the
    # mean of hits / K. Its auc counts training items as negatives; ours leaves them out.
    users = np.flatnonzero(test.getnnz(axis=1))
    ids, _ = model.recommend(users, train[users], N=10)
    relevant = test[users]
    _, per_user = ranking_metrics(ids, relevant, 10, per_user=True, n_negatives=test.shape[1] - relevant.getnnz(axis=1))
    hits = per_user[:, 0, 0] * 10
    assert hits.sum() / np.minimum(10, relevant.getnnz(axis=1)).sum() == pytest.approx(theirs["precision"], rel=1e-9)
    assert np.nanmean(per_user[:, 0, 6]) == pytest.approx(theirs["auc"], rel=1e-9)
    assert ours["precision@10"] != pytest.approx(theirs["precision"], rel=1e-3)


def test_cross_validate_reports_mean_and_std(rng):
    data = Interactions(rng.integers(0, 60, 3000), rng.integers(0, 90, 3000))
    out = turborec.cross_validate(MostPopular(), data, n_folds=3, k=(5, 10), metrics=["ndcg", "recall"],
                                  show_progress=False)
    assert len(out["folds"]) == 3 and list(out["mean"]) == ["ndcg@5", "ndcg@10", "recall@5", "recall@10"]
    folds = np.array([f["ndcg@10"] for f in out["folds"]])
    assert out["mean"]["ndcg@10"] == pytest.approx(folds.mean()) and out["std"]["ndcg@10"] == pytest.approx(folds.std())
    for factory in (lambda: MostPopular(), MostPopular):
        again = turborec.cross_validate(factory, data, n_folds=3, k=(5, 10), metrics=["ndcg", "recall"],
                                        show_progress=False)
        assert again["mean"] == out["mean"]


def test_stored_zeros_and_duplicates_are_not_interactions():
    """A stored zero in train is no training item; duplicates count once (auc stays in [0, 1])."""
    train = sp.csr_matrix((np.array([0.0, 1.0, 1.0]), np.array([0, 1, 1]), np.array([0, 3])), shape=(1, 6))
    test = sp.csr_matrix((np.array([1.0]), np.array([0]), np.array([0, 1])), shape=(1, 6))
    model = MostPopular().fit(train)
    out = turborec.evaluate(model, train, test, k=3, metrics=["auc", "hit_rate"])
    assert 0 <= out["auc@3"] <= 1 and out["hit_rate@3"] == 1.0


def test_evaluate_bad_input():
    train = sp.csr_matrix(np.eye(4, 6))
    model = MostPopular().fit(train)
    with pytest.raises(ValueError, match="test: expected shape \\(4, 6\\) like train, got \\(4, 5\\)"):
        turborec.evaluate(model, train, sp.csr_matrix((4, 5)))
    with pytest.raises(ValueError, match="test: no user has a held-out interaction"):
        turborec.evaluate(model, train, sp.csr_matrix((4, 6)))
    with pytest.raises(ValueError, match="k: expected a positive int, got 0"):
        turborec.evaluate(model, train, train, k=0)
    with pytest.raises(ValueError, match="item_vectors: needed"):
        turborec.evaluate(model, train, train, metrics=["diversity"])
    with pytest.raises(TypeError, match="data: expected turborec.datasets.Interactions"):
        turborec.cross_validate(model, train)


def test_beyond_accuracy_in_evaluate():
    users, items, seen = synthetic_factors(100, 200, 8, 10, seed=2)
    train, test = split(seen)
    out = turborec.evaluate(MostPopular().fit(train), train, test, k=5, metrics=["coverage", "novelty", "diversity"],
                            item_vectors=items)
    assert 0 < out["coverage@5"] < 0.2 and out["novelty@5"] > 0 and 0 < out["diversity@5"] < 2


def test_as_frame_returns_one_row():
    import pandas as pd  # in the [test] extra
    train = sp.csr_matrix(np.eye(4, 6))
    test = sp.csr_matrix(np.roll(np.eye(4, 6), 1, axis=1))
    frame = turborec.evaluate(MostPopular().fit(train), train, test, k=2, metrics=["ndcg"], as_frame=True)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["ndcg@2"] and len(frame) == 1


def test_evaluate_and_cross_validate_argument_errors(rng):
    train = sp.csr_matrix(np.eye(4, 6))
    model = MostPopular().fit(train)
    with pytest.raises(ValueError, match="batch_size: expected a positive int, got 0"):
        turborec.evaluate(model, train, train, batch_size=0)
    with pytest.raises(TypeError, match="show_progress: expected a bool, got str"):
        turborec.evaluate(model, train, train, show_progress="yes")


# --------------------------------------------------------------------------------------------
# Progress bars, batches, and cross_validate's frame and summary (issue 7)


class FakeBar:
    """Records the tqdm bars made and what they counted."""

    made = []

    def __init__(self, total=None, desc=None, unit=None, delay=None, **options):
        self.total, self.desc, self.unit, self.delay, self.counted = total, desc, unit, delay, []
        FakeBar.made.append(self)

    def update(self, n=1):
        self.counted.append(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.fixture
def fake_bar(monkeypatch):
    FakeBar.made = []
    monkeypatch.setattr(_progress, "_tqdm", FakeBar)
    return FakeBar


class CountingModel(MostPopular):
    def recommend(self, userid, user_items, **kwargs):
        self.batches = getattr(self, "batches", []) + [len(userid)]
        return super().recommend(userid, user_items, **kwargs)


def test_evaluate_shows_progress_by_default_in_moving_steps(fake_bar, rng):
    data = Interactions(rng.integers(0, 3000, 30_000), rng.integers(0, 200, 30_000))
    train, test = turborec.split.random_split(data, 0.2, seed=0)
    model = CountingModel().fit(train.to_csr())
    result = turborec.evaluate(model, train, test, k=5)
    n_users = int((np.diff(test.to_csr().indptr) > 0).sum())
    (bar,) = fake_bar.made
    assert (bar.total, bar.desc, bar.unit, bar.delay) == (n_users, "evaluate", "users", 1.0)
    assert sum(bar.counted) == n_users and len(bar.counted) >= 10  # the bar moves
    assert model.batches == bar.counted and max(model.batches) == 256
    one_batch = turborec.evaluate(MostPopular().fit(train.to_csr()), train, test, k=5, batch_size=10_000,
                                  show_progress=False)
    assert one_batch == result and len(fake_bar.made) == 1


def test_progress_bar_is_drawn_only_for_work_over_its_delay(capsys, monkeypatch):
    train = sp.csr_matrix(np.eye(4, 6))
    test = sp.csr_matrix(np.roll(np.eye(4, 6), 1, axis=1))
    model = MostPopular().fit(train)
    turborec.evaluate(model, train, test, k=2)
    assert capsys.readouterr().err == ""  # fast work: nothing drawn
    monkeypatch.setattr(_progress, "_DELAY_S", 0)
    turborec.evaluate(model, train, test, k=2)
    err = capsys.readouterr().err
    assert "evaluate" in err and "4/4" in err and "users" in err


def test_cross_validate_progress_over_folds(fake_bar, rng):
    data = Interactions(rng.integers(0, 60, 3000), rng.integers(0, 90, 3000))
    turborec.cross_validate(MostPopular, data, n_folds=3, k=5)
    (bar,) = fake_bar.made  # evaluate draws none of its own inside
    assert (bar.total, bar.desc, bar.unit, bar.counted) == (3, "cross_validate", "folds", [1, 1, 1])
    turborec.cross_validate(MostPopular, data, n_folds=3, k=5, show_progress=False)
    assert len(fake_bar.made) == 1


def test_cross_validate_times_frame_and_summary(rng, capsys):
    import pandas as pd  # in the [test] extra
    data = Interactions(rng.integers(0, 60, 3000), rng.integers(0, 90, 3000))
    kwargs = dict(n_folds=3, k=(5, 10), metrics=["ndcg"], show_progress=False)
    out = turborec.cross_validate(MostPopular, data, **kwargs)
    assert len(out["fit_time"]) == len(out["test_time"]) == 3 and min(out["fit_time"] + out["test_time"]) >= 0
    assert capsys.readouterr().out == ""
    frame = turborec.cross_validate(MostPopular, data, as_frame=True, verbose=True, **kwargs)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == ["fold 1", "fold 2", "fold 3", "mean", "std"]
    assert list(frame.columns) == ["ndcg@5", "ndcg@10", "fit_time", "test_time"]
    assert frame["ndcg@10"].iloc[:3].tolist() == pytest.approx([f["ndcg@10"] for f in out["folds"]])
    assert frame.loc["mean", "ndcg@10"] == pytest.approx(out["mean"]["ndcg@10"])
    assert frame.loc["std", "ndcg@10"] == pytest.approx(out["std"]["ndcg@10"])
    assert frame.loc["mean", "fit_time"] == pytest.approx(frame["fit_time"].iloc[:3].mean())
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Evaluating ndcg@5, ndcg@10 of MostPopular on 3 folds."
    assert lines[2].split() == ["Fold", "1", "Fold", "2", "Fold", "3", "Mean", "Std"]
    rows = {line[:14].strip(): line[14:].split() for line in lines[3:]}
    assert list(rows) == ["ndcg@5", "ndcg@10", "fit time (s)", "test time (s)"]
    expected = [f"{v:.4f}" for v in frame["ndcg@10"]]
    assert rows["ndcg@10"] == expected and all(len(cell.split(".")[1]) == 4 for row in rows.values() for cell in row)


def test_cross_validate_as_frame_without_pandas_fails_first(rng, monkeypatch):
    import sys
    data = Interactions(rng.integers(0, 20, 300), rng.integers(0, 30, 300))
    monkeypatch.setitem(sys.modules, "pandas", None)
    fitted = []
    monkeypatch.setattr(MostPopular, "fit", lambda self, *a, **kw: fitted.append(1) or self)
    with pytest.raises(ImportError, match="as_frame=True needs pandas: pip install pandas"):
        turborec.cross_validate(MostPopular, data, n_folds=2, as_frame=True, show_progress=False)
    assert fitted == []
