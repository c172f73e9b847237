"""Issue 7: a test set read separately is mapped with the training set's mappers (like=train),
unknown users and items dropped and counted in one DataWarning or refused; evaluate and
cross_validate refuse two tables whose mappings differ."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec.datasets import (DataWarning, IdMapper, Interactions, movielens, read_csv, read_movielens_file,
                               read_parquet, read_recbole)
from turborec.models import MostPopular

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k" / "u.data"


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def raw(data):
    return (data.user_mapper.inverse_transform(data.users).tolist(),
            data.item_mapper.inverse_transform(data.items).tolist())


# --------------------------------------------------------------------------------------------
# IdMapper: a per-call policy that leaves the mapper as it is


def test_same_ids_ignores_the_policy():
    a, b = IdMapper().fit(["x", "y"]), IdMapper("ignore").fit(["y", "x"])
    assert a.same_ids(b) and a != b
    assert not a.same_ids(IdMapper().fit(["x", "z"])) and not a.same_ids(IdMapper()) and not a.same_ids("x")
    assert not IdMapper().fit([1, 2]).same_ids(IdMapper().fit(["1", "2"]))


def test_transform_policy_for_one_call():
    mapper = IdMapper().fit(["a", "b"])
    assert mapper.transform(["b", "z"], unknown="ignore").tolist() == [1, -1]
    assert mapper.unknown == "error"
    with pytest.raises(KeyError, match=r"1 unknown id\(s\) not seen by fit, e.g. 'z'"):
        mapper.transform(["z"])
    lenient = IdMapper("ignore").fit([1, 2])
    with pytest.raises(KeyError, match="e.g. 7"):
        lenient.transform([7], unknown="error")
    with pytest.raises(ValueError, match="unknown: expected one of"):
        mapper.transform(["a"], unknown="drop")


# --------------------------------------------------------------------------------------------
# Interactions.from_raw(..., like=train)


@pytest.fixture
def train():
    return Interactions.from_raw(["ann", "bob", "cid"], ["x", "y", "z"], [1.0, 2.0, 3.0])


def test_from_raw_like_shares_mappers_and_shape(train):
    test = Interactions.from_raw(["cid", "ann"], ["x", "z"], [5.0, 4.0], [20, 10], like=train)
    assert test.user_mapper is train.user_mapper and test.item_mapper is train.item_mapper
    assert test.shape == train.shape
    assert raw(test) == (["cid", "ann"], ["x", "z"]) and test.ratings.tolist() == [5.0, 4.0]
    assert test.timestamps.tolist() == [20, 10]


def test_from_raw_like_drops_unknown_ids_in_one_warning(train):
    with pytest.warns(DataWarning) as caught:
        test = Interactions.from_raw(["ann", "dan", "eve", "bob", "dan"], ["x", "y", "q", "w", "x"],
                                     [1.0, 2.0, 3.0, 4.0, 5.0], like=train)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith("raw_users, raw_items: dropped 4 of 5 interactions whose user or item is unknown")
    assert "2 unknown user id(s), e.g. 'dan', 'eve'" in message and "2 unknown item id(s), e.g. 'q', 'w'" in message
    assert caught[0].filename == __file__
    assert raw(test) == (["ann"], ["x"]) and test.ratings.tolist() == [1.0] and test.shape == (3, 3)


def test_from_raw_like_error_names_an_unknown_id(train):
    with pytest.raises(ValueError, match=r"raw_users, raw_items: user id 'dan' is unknown to like= .*"
                                         r"unknown='error'; pass unknown='drop'"):
        Interactions.from_raw(["ann", "dan"], ["x", "y"], like=train, unknown="error")
    with pytest.raises(ValueError, match=r"item id 'q' is unknown"):
        Interactions.from_raw(["ann"], ["q"], like=train, unknown="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all known: no warning
        assert len(Interactions.from_raw(["ann"], ["y"], like=train, unknown="error")) == 1


def test_from_raw_like_all_unknown_is_an_error(train):
    with pytest.raises(ValueError, match=r"all 2 interactions have a user or item unknown to like="):
        Interactions.from_raw(["dan", "eve"], ["x", "y"], like=train)


def test_from_raw_like_argument_errors(train):
    with pytest.raises(TypeError, match="like: expected the training Interactions, got dict"):
        Interactions.from_raw(["ann"], ["x"], like={})
    with pytest.raises(ValueError, match="like: the training Interactions has no id mappers"):
        Interactions.from_raw([0], [0], like=Interactions([0, 1], [0, 1]))
    with pytest.raises(ValueError, match=r"unknown: expected one of \('drop', 'error'\) with like=, got 'ignore'"):
        Interactions.from_raw(["ann"], ["x"], like=train, unknown="ignore")
    with pytest.raises(ValueError, match="unknown: 'drop' needs like="):
        Interactions.from_raw(["ann"], ["x"], unknown="drop")
    with pytest.raises(TypeError, match="raw_ids: expected ids like the fitted ones"):
        Interactions.from_raw([1], ["x"], like=train)  # in memory, "7" is never guessed to mean 7
    with pytest.raises(ValueError, match="raw_items: expected 2 entries like raw_users, got 1"):
        Interactions.from_raw(["ann", "bob"], ["x"], like=train)
    assert Interactions.from_raw(["a"], ["b"], unknown="ignore").user_mapper.unknown == "ignore"


# --------------------------------------------------------------------------------------------
# The readers' like=


def test_every_reader_maps_with_like(tmp_path):
    train = read_csv(write(tmp_path / "train.csv", "u,i,r\nann,1,4\nbob,2,3\ncid,3,5\n"),
                     user_col="u", item_col="i", rating_col="r")
    test_csv = write(tmp_path / "test.csv", "u,i,r\ncid,1,2\ndan,2,1\nann,9,5\nbob,3,4\n")
    with pytest.warns(DataWarning) as caught:
        test = read_csv(test_csv, user_col="u", item_col="i", rating_col="r", like=train)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert message.startswith(f"{test_csv}: dropped 2 of 4 interactions")
    assert "1 unknown user id(s), e.g. 'dan'" in message and "1 unknown item id(s), e.g. 9" in message
    assert test.user_mapper is train.user_mapper and test.shape == train.shape
    assert raw(test) == (["cid", "bob"], [1, 3]) and test.ratings.tolist() == [2.0, 4.0]
    assert test.source["unknown_dropped"] == 2 and test.source["lines"] == 5
    with pytest.raises(ValueError, match=rf"{test_csv.name}: user id 'dan' is unknown to like="):
        read_csv(test_csv, user_col="u", item_col="i", like=train, unknown="error")

    inter = write(tmp_path / "t.inter", "user_id:token\titem_id:token\nann\t2\neve\t1\n")
    with pytest.warns(DataWarning, match=r"t.inter: dropped 1 of 2 interactions"):
        assert raw(read_recbole(inter, like=train)) == (["ann"], [2])

    import pyarrow as pa  # in the [test] extra
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"u": ["bob", "zed"], "i": [1, 1]}), tmp_path / "t.parquet")
    with pytest.warns(DataWarning, match=r"t.parquet: dropped 1 of 2 interactions"):
        assert raw(read_parquet(tmp_path / "t.parquet", user_col="u", item_col="i", like=train)) == (["bob"], [1])


def test_movielens_readers_map_with_like(tmp_path):
    train = read_movielens_file(write(tmp_path / "u1.base", "1\t10\t4\t100\n2\t20\t3\t200\n"))
    test_path = write(tmp_path / "u1.test", "2\t10\t5\t300\n3\t20\t1\t400\n1\t30\t2\t500\n")
    with pytest.warns(DataWarning, match=r"u1.test: dropped 2 of 3 interactions .*1 unknown user id\(s\), e.g. 3; "
                                         r"1 unknown item id\(s\), e.g. 30"):
        test = read_movielens_file(test_path, like=train)
    assert raw(test) == ([2], [10]) and test.shape == train.shape and test.item_mapper is train.item_mapper
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    write(folder / "u.data", "2\t20\t5\t300\n9\t20\t1\t400\n")
    with pytest.warns(DataWarning, match=r"u.data: dropped 1 of 2"):
        again = movielens("100k", path=folder, like=train)
    assert raw(again) == ([2], [20]) and again.source["variant"] == "100k"


def test_like_reconciles_ids_a_file_reads_as_int_or_str(tmp_path):
    # The training file has a non-integer item id, so its item ids are strings; the test file's
    # are all integers. "7" is the same text in both: the same item.
    train = read_csv(write(tmp_path / "a.csv", "u,i\n1,7\n2,b9\n"), user_col="u", item_col="i")
    test = read_csv(write(tmp_path / "b.csv", "u,i\n2,7\n"), user_col="u", item_col="i", like=train)
    assert raw(test) == ([2], ["7"])
    # And the other way round: integer training ids, a test file with "x" and "07" (not 7).
    train = read_csv(write(tmp_path / "c.csv", "u,i\n1,7\n2,8\n"), user_col="u", item_col="i")
    with pytest.warns(DataWarning, match=r"2 unknown item id\(s\), e.g. '07', 'x'"):
        test = read_csv(write(tmp_path / "d.csv", "u,i\n1,x\n2,8\n1,07\n"), user_col="u", item_col="i", like=train)
    assert raw(test) == ([2], [8])


def test_like_with_duplicates_and_bad_lines_names_the_right_lines(tmp_path):
    train = read_csv(write(tmp_path / "a.csv", "u,i\na,x\nb,y\n"), user_col="u", item_col="i")
    path = write(tmp_path / "b.csv", "u,i\nzz,x\na,x\nb,\nb,y\na,x\n")
    with pytest.raises(ValueError, match=r"duplicate \(user, item\) pair \('a', 'x'\) on lines 3 and 6"):
        read_csv(path, user_col="u", item_col="i", like=train, duplicates="error", on_bad_line="skip")
    with pytest.warns(DataWarning) as caught:
        test = read_csv(path, user_col="u", item_col="i", like=train, duplicates="sum", on_bad_line="skip")
    assert [str(w.message).split(": ")[1][:15] for w in caught] == ["skipped 1 bad l", "dropped 1 of 4 "]
    assert raw(test) == (["a", "b"], ["x", "y"]) and test.ratings.tolist() == [2.0, 1.0]
    assert test.source["unknown_dropped"] == 1 and test.source["duplicates_merged"] == 1


def test_reader_checks_like_before_reading(tmp_path):
    with pytest.raises(TypeError, match="like: expected the training Interactions"):
        read_csv(tmp_path / "missing.csv", user_col="u", item_col="i", like="train.csv")
    with pytest.raises(ValueError, match=r"unknown: expected one of \('drop', 'error'\)"):
        read_movielens_file(tmp_path / "missing", unknown="ignore")


# --------------------------------------------------------------------------------------------
# evaluate / cross_validate refuse two different mappings


def two_tables():
    """A train and a separately built test of the same shape whose indices mean other ids."""
    train = Interactions.from_raw(["ann", "bob", "bob"], ["x", "y", "x"])
    test = Interactions.from_raw(["bob", "cid"], ["y", "z"])
    return train, test


def test_evaluate_refuses_different_mappers():
    train, test = two_tables()
    assert train.shape == (2, 2) == test.shape  # before issue 7 this was scored index by index
    model = MostPopular().fit(train.to_csr())
    with pytest.raises(ValueError, match=r"train, test: their user ids are mapped differently .*like=train"):
        turborec.evaluate(model, train, test, k=1, show_progress=False)
    same_users = Interactions.from_raw(["ann", "bob"], ["z", "y"])
    same_users.user_mapper = train.user_mapper
    with pytest.raises(ValueError, match="train, test: their item ids are mapped differently"):
        turborec.evaluate(model, train, same_users, k=1, show_progress=False)


def test_evaluate_accepts_a_test_set_mapped_like_train():
    train, _ = two_tables()
    with pytest.warns(DataWarning):
        test = Interactions.from_raw(["ann", "cid"], ["y", "z"], like=train)
    model = MostPopular().fit(train.to_csr())
    out = turborec.evaluate(model, train, test, k=1, metrics=["hit_rate"], show_progress=False)
    assert out == {"hit_rate@1": 1.0}  # ann's one candidate left is y
    # Equal mappers (not the same objects) are the same mapping; tables without mappers, and
    # matrices, are compared by shape as before.
    copy = Interactions(test.users, test.items, user_mapper=IdMapper().fit(["ann", "bob"]),
                        item_mapper=IdMapper("ignore").fit(["x", "y"]))  # another policy, the same ids
    assert turborec.evaluate(model, train, copy, k=1, metrics=["hit_rate"], show_progress=False) == out
    bare = Interactions(test.users, test.items, n_users=2, n_items=2)
    assert turborec.evaluate(model, train, bare, k=1, metrics=["hit_rate"], show_progress=False) == out
    assert turborec.evaluate(model, train.to_csr(), test, k=1, metrics=["hit_rate"], show_progress=False) == out


def test_cross_validate_refuses_folds_with_different_mappers(monkeypatch):
    train, test = two_tables()
    monkeypatch.setattr(turborec.split, "kfold", lambda data, n_folds, seed: iter([(train, test)]))
    with pytest.raises(ValueError, match="train, test: their user ids are mapped differently"):
        turborec.cross_validate(MostPopular, train, n_folds=1, show_progress=False)


@pytest.mark.skipif(not ML100K.is_file(), reason=f"MovieLens 100K not found at {ML100K}")
def test_grouplens_u1_base_u1_test_workflow(tmp_path):
    """GroupLens's own split files: read u1.base, then u1.test with like=train, then evaluate."""
    lines = ML100K.read_text().splitlines()
    rows = np.array([line.split("\t") for line in lines], dtype=np.int64)
    order = np.lexsort((rows[:, 1], rows[:, 0]))
    in_test = np.zeros(len(rows), dtype=bool)
    in_test[np.random.default_rng(1).permutation(len(rows))[:20_000]] = True
    write(tmp_path / "u1.base", "".join(lines[k] + "\n" for k in order if not in_test[k]))
    write(tmp_path / "u1.test", "".join(lines[k] + "\n" for k in order if in_test[k]))
    train = read_movielens_file(tmp_path / "u1.base")
    alone = read_movielens_file(tmp_path / "u1.test")
    assert alone.shape != train.shape or alone.item_mapper != train.item_mapper
    model = MostPopular().fit(train.to_csr(values="ones"))
    with pytest.raises(ValueError, match="train, test: their .* ids are mapped differently"):
        turborec.evaluate(model, train, alone, show_progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        test = read_movielens_file(tmp_path / "u1.test", like=train)
    unknown = ~np.isin(rows[in_test, 1], rows[~in_test, 1]) | ~np.isin(rows[in_test, 0], rows[~in_test, 0])
    assert len(test) == 20_000 - unknown.sum() and test.source["unknown_dropped"] == unknown.sum()
    assert len(caught) == int(unknown.any())
    result = turborec.evaluate(model, train, test, k=10, show_progress=False)
    reference = turborec.evaluate(model, train.to_csr(values="ones"),
                                  sp.csr_matrix((np.ones(len(test)), (test.users, test.items)), shape=train.shape),
                                  k=10, show_progress=False)
    assert result == reference and 0.05 < result["ndcg@10"] < 0.5
