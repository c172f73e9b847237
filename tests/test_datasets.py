"""turborec.datasets: IdMapper, Interactions, the readers and their messy-file policies,
MovieLens (never downloading), and the synthetic generators."""

import hashlib
import io
import pickle
import sys
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.linalg import svds

from turborec.datasets import (
    DataWarning,
    IdMapper,
    Interactions,
    movielens,
    read_csv,
    read_movielens_file,
    read_parquet,
    read_recbole,
    synthetic_factors,
    synthetic_implicit,
    synthetic_ratings,
    synthetic_sequences,
)
from turborec.datasets import _convert, _movielens, _source, _tokenizer

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"
needs_ml100k = pytest.mark.skipif(not (ML100K / "u.data").is_file(),
                                  reason=f"MovieLens 100K not found at {ML100K} (see shared/data/README.md)")


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def raw(data):
    """(raw users, raw items, ratings, timestamps) of interactions, in their order."""
    return (data.user_mapper.inverse_transform(data.users).tolist(),
            data.item_mapper.inverse_transform(data.items).tolist(),
            None if data.ratings is None else data.ratings.tolist(),
            None if data.timestamps is None else data.timestamps.tolist())


# --------------------------------------------------------------------------------------------
# IdMapper


def test_idmapper_fit_transform_inverse():
    mapper = IdMapper().fit(["b", "a", "c", "a"])
    assert mapper.classes_.tolist() == ["a", "b", "c"]
    assert len(mapper) == 3
    out = mapper.transform(["c", "a", "b"])
    assert out.dtype == np.int32 and out.tolist() == [2, 0, 1]
    assert mapper.inverse_transform(out).tolist() == ["c", "a", "b"]
    assert mapper.inverse_transform(np.array([[0, 1]])).shape == (1, 2)
    # order-independent
    assert IdMapper().fit(["a", "c", "b"]) == mapper
    assert IdMapper().fit_transform([30, 10, 20, 10]).tolist() == [2, 0, 1, 0]


def test_idmapper_integer_ids():
    mapper = IdMapper().fit(np.array([7, 3, 5], dtype=np.int32))
    assert mapper.classes_.dtype == np.int64
    assert mapper.transform(np.array([5, 3], dtype=np.uint16)).tolist() == [1, 0]
    ignoring = IdMapper("ignore").fit([3, 5])
    # A uint64 id above int64's range is unknown, not wrapped around onto a known id.
    huge = np.array([2 ** 64 - 3, 5], dtype=np.uint64)
    assert ignoring.transform(huge).tolist() == [-1, 1]
    with pytest.raises(ValueError, match="does not fit int64"):
        IdMapper().fit(np.array([2 ** 63], dtype=np.uint64))


def test_idmapper_unknown_policies():
    strict = IdMapper().fit(["a", "b"])
    with pytest.raises(KeyError, match=r"raw_ids: 2 unknown id\(s\) not seen by fit, e.g. 'x', 'z'"):
        strict.transform(["a", "z", "x", "z"])
    lenient = IdMapper(unknown="ignore").fit(["a", "b"])
    assert lenient.transform(["b", "zz", "a"]).tolist() == [1, -1, 0]
    with pytest.raises(IndexError, match=r"indices: -1 out of range \[0, 2\)"):
        lenient.inverse_transform(lenient.transform(["zz"]))
    empty = IdMapper(unknown="ignore").fit([])
    assert empty.transform(["q"]).tolist() == [-1]
    with pytest.raises(ValueError, match="unknown: expected one of"):
        IdMapper(unknown="drop")


def test_idmapper_kinds_never_mix():
    with pytest.raises(TypeError, match="expected ids like the fitted ones"):
        IdMapper().fit([1, 2]).transform(["1"])
    with pytest.raises(TypeError, match="expected ids like the fitted ones"):
        IdMapper().fit(["a"]).transform(np.array([b"a"]))
    # np.asarray(["a", 5]) would silently make "5"; even past the first thousand ids.
    with pytest.raises(TypeError, match=r"expected str or int ids, got \['int', 'str'\]"):
        IdMapper().fit(["a"] * 1500 + [5])
    with pytest.raises(TypeError, match=r"got \['float'\]"):
        IdMapper().fit([1.5, 2.0])
    with pytest.raises(TypeError, match="got dtype float64"):
        IdMapper().fit(np.array([1.5, 2.0]))
    with pytest.raises(TypeError, match="bool"):
        IdMapper().fit([True, 3])
    with pytest.raises(ValueError, match=r"expected a 1-D array of ids, got shape \(1, 2\)"):
        IdMapper().fit([[1, 2]])
    objects = np.array([np.str_("b"), "a"], dtype=object)
    assert IdMapper().fit(objects).classes_.tolist() == ["a", "b"]


def test_idmapper_empty_and_unfitted():
    mapper = IdMapper().fit([])
    assert len(mapper) == 0 and mapper.transform([]).tolist() == []
    assert IdMapper().fit(["a"]).inverse_transform([]).tolist() == []
    with pytest.raises(RuntimeError, match="not fitted"):
        IdMapper().transform([1])
    with pytest.raises(TypeError, match="indices: expected integers"):
        IdMapper().fit(["a"]).inverse_transform([0.0])


@pytest.mark.parametrize("ids", [["u10", "u2", "ü"], [10, -2, 7]])
def test_idmapper_savez_round_trip_without_pickle(tmp_path, ids):
    users, items = IdMapper().fit(ids), IdMapper(unknown="ignore").fit(ids[:2])
    np.savez(tmp_path / "m.npz", **users.to_arrays("user_"), **items.to_arrays("item_"))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as stored:
        users2 = IdMapper.from_arrays(stored, "user_")
        items2 = IdMapper.from_arrays(stored, "item_")
    assert users2 == users and items2 == items and items2.unknown == "ignore"
    assert users2.transform(ids).tolist() == users.transform(ids).tolist()
    assert pickle.loads(pickle.dumps(users)) == users


def test_idmapper_from_arrays_checks_what_it_loads():
    with pytest.raises(KeyError, match="missing key 'classes'"):
        IdMapper.from_arrays({"unknown": np.array("error")})
    with pytest.raises(ValueError, match="sorted, distinct"):
        IdMapper.from_arrays({"classes": np.array([3, 1]), "unknown": np.array("error")})
    with pytest.raises(ValueError, match="unknown: expected one of"):
        IdMapper.from_arrays({"classes": np.array([1]), "unknown": np.array("drop")})
    with pytest.raises(TypeError, match="expected int or str ids"):
        IdMapper.from_arrays({"classes": np.array([1.0]), "unknown": np.array("error")})


# --------------------------------------------------------------------------------------------
# Interactions


def test_interactions_basics_and_from_raw():
    data = Interactions.from_raw(["u2", "u1", "u2"], [10, 30, 20], [4.0, 3.5, 1.0], [30, 10, 20])
    assert data.shape == (2, 3) and len(data) == 3
    assert data.users.dtype == np.int32 and data.ratings.dtype == np.float32
    assert data.timestamps.dtype == np.int64
    assert data.users.tolist() == [1, 0, 1] and data.items.tolist() == [0, 2, 1]
    assert data.source is None
    assert "3 interactions, 2 users x 3 items, with ratings and timestamps" in repr(data)


def test_to_csr_duplicates_sum_and_last():
    # (0, 1) three times: ratings 1, 2, 4 at times 5, 9, 1.
    data = Interactions([0, 0, 1, 0], [1, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], [5, 9, 7, 1], n_users=2, n_items=3)
    summed = data.to_csr()
    assert summed.shape == (2, 3) and summed.dtype == np.float32 and summed.has_sorted_indices
    assert summed.toarray().tolist() == [[0, 7, 0], [3, 0, 0]]
    assert data.to_csr(values="ones").toarray().tolist() == [[0, 3, 0], [1, 0, 0]]
    assert data.to_csr(duplicates="last").toarray().tolist() == [[0, 2, 0], [3, 0, 0]]  # latest is t=9
    positional = Interactions([0, 0, 0], [1, 1, 1], [1.0, 2.0, 4.0])
    assert positional.to_csr(duplicates="last").toarray().tolist() == [[0, 4]]
    tied = Interactions([0, 0], [0, 0], [1.0, 2.0], [3, 3])
    assert tied.to_csr(duplicates="last").toarray().tolist() == [[2]]  # ties: the later row
    with pytest.raises(ValueError, match="duplicates: expected 'sum' or 'last'"):
        data.to_csr(duplicates="first")
    with pytest.raises(ValueError, match="values: expected"):
        data.to_csr(values="counts")
    assert Interactions([], [], n_users=2, n_items=2).to_csr().nnz == 0


def test_subset_keeps_shape_and_mappers():
    data = Interactions.from_raw(["a", "b", "c"], ["x", "y", "z"], [1.0, 2.0, 3.0])
    part = data.subset(np.array([True, False, True]))
    assert part.shape == data.shape and part.user_mapper is data.user_mapper
    assert part.ratings.tolist() == [1.0, 3.0]
    assert data.subset([2, 0]).items.tolist() == [2, 0]
    assert len(data.subset([])) == 0
    with pytest.raises(ValueError, match="boolean mask of length 2 for 3 interactions"):
        data.subset(np.array([True, False]))
    with pytest.raises(TypeError, match="index: expected a boolean mask or integer positions"):
        data.subset([0.0])
    with pytest.raises(IndexError, match="position 3 out of range"):
        data.subset([3])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(users=[0, 1], items=[0]), ValueError, "items: expected 2 entries"),
    (dict(users=[-1], items=[0]), ValueError, "users: expected indices >= 0, got -1"),
    (dict(users=[0.0], items=[0]), TypeError, "users: expected integer indices"),
    (dict(users=[[0]], items=[0]), ValueError, "users: expected a 1-D array"),
    (dict(users=[0, 1], items=[0, 1], ratings=[1.0, np.nan]), ValueError,
     r"ratings: 1 value\(s\) are NaN, inf or beyond float32's range, e.g. ratings\[1\] = nan"),
    (dict(users=[0], items=[0], ratings=[1e39]), ValueError, r"e.g. ratings\[0\] = 1e\+39"),
    (dict(users=[0], items=[0], ratings=["5"]), TypeError, "ratings: expected real numbers"),
    (dict(users=[0], items=[0], ratings=[1.0, 2.0]), ValueError, r"ratings: expected shape \(1,\)"),
    (dict(users=[0, 0], items=[0, 0], timestamps=[1.0, 2.5]), ValueError,
     r"timestamps: expected whole numbers .*timestamps\[1\] = 2.5"),
    (dict(users=[0], items=[0], timestamps=[np.nan]), ValueError, "timestamps: expected whole numbers"),
    (dict(users=[3], items=[0], n_users=2), IndexError, "users: index 3 out of range for n_users=2"),
    (dict(users=[0], items=[0], n_users=-1), ValueError, "n_users: expected >= 0"),
    (dict(users=[0], items=[0], n_items=2.0), TypeError, "n_items: expected an int"),
])
def test_interactions_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        Interactions(**kwargs)


def test_interactions_whole_float_timestamps_and_mapper_size():
    assert Interactions([0], [0], timestamps=[1.6e9]).timestamps.tolist() == [1600000000]
    with pytest.raises(ValueError, match="n_items: 5 does not match the mapper's 2 ids"):
        Interactions([0], [0], item_mapper=IdMapper().fit(["a", "b"]), n_items=5)


# --------------------------------------------------------------------------------------------
# GroupLens formats

ROWS = [(196, 242, 3, 881250949), (186, 302, 3.5, 891717742), (22, 377, 1, 878887116), (196, 302, 5, 881251000)]


def grouplens_text(fmt, rows=ROWS):
    if fmt == "u.data":
        return "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows)
    if fmt == "ratings.dat":
        return "".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in rows)
    return "userId,movieId,rating,timestamp\n" + "".join(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)


@pytest.mark.parametrize("fmt", ["u.data", "ratings.dat", "ratings.csv"])
def test_read_movielens_file_formats(tmp_path, fmt):
    data = read_movielens_file(write(tmp_path / "whatever.txt", grouplens_text(fmt)))
    assert data.source["format"] == fmt
    assert data.shape == (3, 3) and data.user_mapper.classes_.dtype == np.int64
    assert raw(data) == ([196, 186, 22, 196], [242, 302, 377, 302], [3.0, 3.5, 1.0, 5.0],
                         [881250949, 891717742, 878887116, 881251000])


def test_read_movielens_file_rejects_other_files(tmp_path):
    with pytest.raises(ValueError, match=r"line 2: not a GroupLens ratings file .*'1 2 3 4'"):
        read_movielens_file(write(tmp_path / "x", "\n1 2 3 4\n"))
    with pytest.raises(ValueError, match="empty file"):
        read_movielens_file(write(tmp_path / "y", "\n \n"))


@needs_ml100k
def test_real_movielens_100k():
    data = read_movielens_file(ML100K / "u.data")
    assert len(data) == 100_000 and data.shape == (943, 1682)
    assert data.user_mapper.classes_.tolist() == list(range(1, 944))
    assert data.item_mapper.classes_.tolist() == list(range(1, 1683))
    assert data.users[:3].tolist() == [195, 185, 21] and data.timestamps[0] == 881250949
    assert sorted(set(data.ratings.tolist())) == [1, 2, 3, 4, 5]
    assert abs(float(data.ratings.mean()) - 3.52986) < 1e-5
    assert data.source["bad_lines"] == data.source["blank_lines"] == 0
    for path in (ML100K, ML100K / "u.data"):
        again = movielens("100k", path=path)
        assert again.source["variant"] == "100k"
        assert np.array_equal(again.users, data.users) and np.array_equal(again.ratings, data.ratings)
    generic = read_csv(ML100K / "u.data", user_col=0, item_col=1, rating_col=2, timestamp_col=3, header=False)
    assert raw(generic) == raw(data)
    items = read_recbole(ML100K / "items.tsv", user_col="item_id", item_col="release_year")
    assert len(items) == 1682 and items.source["format"] == "recbole"


# --------------------------------------------------------------------------------------------
# Messy files


def test_bom_blank_lines_crlf_and_trailing_separators(tmp_path):
    text = "\ufeffuserId,movieId,rating,timestamp\r\n\r\n1,10,4.0,100,\r\n   \r\n2,20,3.0,200\r\n\n"
    data = read_movielens_file(write(tmp_path / "ratings.csv", text))
    assert raw(data) == ([1, 2], [10, 20], [4.0, 3.0], [100, 200])
    assert data.source == {"path": str(tmp_path / "ratings.csv"), "format": "ratings.csv", "lines": 6,
                           "blank_lines": 3, "bad_lines": 0, "trailing_separators": 1,
                           "duplicates": "keep", "duplicates_merged": 0}
    tsv = read_csv(write(tmp_path / "b.tsv", "\ufeffu\ti\tr\t\nx\ty\t2\t\n"), user_col="u", item_col="i",
                   rating_col="r")
    assert raw(tsv) == (["x"], ["y"], [2.0], None) and tsv.source["trailing_separators"] == 2


@pytest.mark.parametrize("line, match", [
    ("3\t30\tgood\t300", r"line 3: rating 'good' is not a number"),
    ("3\t30\tnan\t300", r"line 3: rating 'nan' is not a finite float32 number"),
    ("3\t30\t-inf\t300", r"line 3: rating '-inf' is not a finite float32 number"),
    ("3\t30\t1e40\t300", r"line 3: rating '1e40' is not a finite float32 number"),
    ("3\t30\t4", r"line 3: expected 4 fields separated by '\\t', got 3: '3\\t30\\t4'"),
    ("3\t30\t4\t300\t7", r"line 3: expected 4 fields separated by '\\t', got 5"),
    ("\t30\t4\t300", r"line 3: empty user id"),
    ("3\t30\t4\t300.5", r"line 3: timestamp '300.5' is not a whole number"),
    ("3\t30\t4\tnoon", r"line 3: timestamp 'noon' is not a whole number"),
])
def test_bad_line_error_names_file_line_and_value(tmp_path, line, match):
    path = write(tmp_path / "u.data", f"1\t10\t4\t100\n\n{line}\n2\t20\t5\t200\n")
    with pytest.raises(ValueError, match=match) as info:
        read_movielens_file(path)
    assert str(path) in str(info.value) and "on_bad_line='skip'" in str(info.value)
    with pytest.warns(DataWarning, match=r"skipped 1 bad line\(s\) of 4 \(on_bad_line='skip'\); first: line 3"):
        data = read_movielens_file(path, on_bad_line="skip")
    assert raw(data) == ([1, 2], [10, 20], [4.0, 5.0], [100, 200])
    assert data.source["bad_lines"] == 1 and data.source["blank_lines"] == 1


def test_multi_character_separator_never_misaligns(tmp_path):
    path = write(tmp_path / "ratings.dat", "1::10::4::100\n2::20::5:\n3::30::4::300\n")
    with pytest.raises(ValueError, match=r"line 2: expected 4 fields separated by '::', got 3"):
        read_movielens_file(path)
    path = write(tmp_path / "r2.dat", "1::10::4::100:\n:2::20::5::200\n")
    with pytest.raises(ValueError, match=r"line 1: timestamp '100:' is not a whole number"):
        read_movielens_file(path)


def test_skip_counts_every_bad_line_and_quotes_the_first(tmp_path):
    lines = ["u,i,r", "a,x,1", "b,y,oops", "c", "d,z,2", "e,w,", ",v,3"]
    with pytest.warns(DataWarning) as caught:
        data = read_csv(write(tmp_path / "f.csv", "\n".join(lines)), user_col="u", item_col="i",
                        rating_col="r", on_bad_line="skip")
    message = str(caught[0].message)
    assert "skipped 4 bad line(s) of 7" in message
    assert "line 3: rating 'oops' is not a number; line 4: expected 3 fields" in message
    assert "line 6" in message and "line 7" not in message  # three examples
    assert raw(data) == (["a", "d"], ["x", "z"], [1.0, 2.0], None)
    assert caught[0].filename == __file__  # points at the caller


def test_clean_and_careful_paths_agree(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    rows = [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in zip(rng.integers(1, 50, 300), rng.integers(1, 80, 300),
                                                        rng.integers(1, 6, 300), rng.integers(0, 10 ** 9, 300))]
    path = write(tmp_path / "u.data", "\n".join(rows) + "\n")
    fast = read_movielens_file(path)
    monkeypatch.setattr(_tokenizer, "_parse_clean_chunk", lambda *args: False)
    careful = read_movielens_file(path)
    assert raw(fast) == raw(careful)


def test_fast_integer_parser_matches_python_int():
    # The clean path reads integer columns with NumPy's text parser; it must accept exactly the
    # tokens that Python writes back unchanged (str(int(t)) == t), and read them as int() does.
    tokens = ["0", "-0", "00", "+5", " 5", "5 ", "5_0", "\u0663", "1e3", "5.0", "0x10", "", "-", "+", "--5",
              "5-", "1-2", "12a", "nan", "1 2", "007", "-9", "10", "-10", "2147483648", "999999999999999999",
              "-99999999999999999", "1000000000000000000", "9999999999999999999"]
    for combo in [[t] for t in tokens] + [[a, b] for a in tokens for b in tokens]:
        try:
            expected = [int(t) for t in combo] if all(str(int(t)) == t and len(t) <= 18 for t in combo) else None
        except ValueError:
            expected = None
        got = _convert._plain_ints(combo)
        assert (got is None and expected is None) or got.tolist() == expected, combo


@pytest.mark.parametrize("chunk", [64, 1 << 22])
def test_chunking_does_not_change_results(tmp_path, monkeypatch, chunk):
    # Integer ids in the first lines, a string id much later: every id becomes a string, exactly
    # as written, whatever the chunk boundaries.
    lines = ["user,item,t"] + [f"{k},{k % 7},{k}" for k in range(200)] + ["", "u9,007,5", "7,7,6"]
    path = write(tmp_path / "c.csv", "\n".join(lines) + "\n")
    monkeypatch.setattr(_source, "_CHUNK_CHARS", chunk)
    data = read_csv(path, user_col="user", item_col="item", timestamp_col="t")
    users, items, _, stamps = raw(data)
    assert users[:3] == ["0", "1", "2"] and users[-2:] == ["u9", "7"]
    assert items[-2:] == ["007", "7"] and data.item_mapper.transform(["007"]) != data.item_mapper.transform(["7"])
    assert stamps[-1] == 6 and data.source["blank_lines"] == 1 and data.source["lines"] == 204


def test_read_csv_options(tmp_path):
    semi = read_csv(write(tmp_path / "a.txt", "who;what\nann;book\n"), user_col="who", item_col="what", sep=";")
    assert raw(semi) == (["ann"], ["book"], None, None) and semi.source["format"] == "delimited"
    positional = read_csv(write(tmp_path / "b.txt", "1\t5\t2.5\n2\t6\t3"), user_col=1, item_col=0,
                          rating_col=2, header=False)
    assert raw(positional) == ([5, 6], [1, 2], [2.5, 3.0], None) and positional.source["format"] == "tsv"
    quoted = read_csv(write(tmp_path / "c.csv", 'user,item\n"Doe, J.","say ""hi"""\n  spaced , x\n'),
                      user_col="user", item_col="item")
    assert raw(quoted) == (["Doe, J.", "spaced"], ['say "hi"', "x"], None, None)
    with pytest.raises(ValueError, match=r"line 2: broken quoting"):
        read_csv(write(tmp_path / "d.csv", 'user,item\n"open,x\n'), user_col="user", item_col="item")


def test_read_csv_argument_errors(tmp_path):
    path = write(tmp_path / "a.csv", "user,item,user\n1,2,3\n")
    with pytest.raises(ValueError, match=r"line 1: no column 'rating' for rating_col in the header; "
                                         r"columns are \['user', 'item', 'user'\]"):
        read_csv(path, user_col="item", item_col=0, rating_col="rating")
    with pytest.raises(ValueError, match="column 'user' for user_col appears 2 times"):
        read_csv(path, user_col="user", item_col="item")
    with pytest.raises(ValueError, match="user_col and item_col: both name column 1"):
        read_csv(path, user_col=1, item_col="item")
    with pytest.raises(ValueError, match="user_col: 'user' is a column name, but header=False"):
        read_csv(path, user_col="user", item_col=1, header=False)
    with pytest.raises(ValueError, match="rating_col: position 9 is beyond the 3 fields"):
        read_csv(path, user_col=0, item_col=1, rating_col=9, header=False)
    with pytest.raises(TypeError, match="item_col: expected a column name"):
        read_csv(path, user_col=0, item_col=1.0)
    with pytest.raises(ValueError, match="duplicates: expected one of"):
        read_csv(path, user_col=0, item_col=1, duplicates="first")
    with pytest.raises(ValueError, match="on_bad_line: expected one of"):
        read_csv(path, user_col=0, item_col=1, on_bad_line="warn")
    with pytest.raises(ValueError, match="cannot detect the separator"):
        read_csv(write(tmp_path / "b.csv", "user item\n"), user_col="user", item_col="item")
    with pytest.raises(ValueError, match="empty file, expected a header line"):
        read_csv(write(tmp_path / "c.csv", "\n"), user_col="u", item_col="i")
    assert len(read_csv(write(tmp_path / "d.csv", ""), user_col=0, item_col=1, header=False)) == 0
    assert len(read_csv(write(tmp_path / "e.csv", "u,i\n"), user_col="u", item_col="i")) == 0


def test_encoding_errors_name_the_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("user,item\nann,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.csv, line 2: not valid utf-8 text .*b'\\xe9'.*encoding="):
        read_csv(path, user_col="user", item_col="item")
    data = read_csv(path, user_col="user", item_col="item", encoding="latin-1")
    assert raw(data)[1] == ["caf\u00e9"]


def test_duplicates_policies(tmp_path):
    text = "u,i,r,t\na,x,1,10\nb,y,2,10\na,x,4,30\na,x,8,20\n"
    path = write(tmp_path / "d.csv", text)
    kwargs = dict(user_col="u", item_col="i", rating_col="r", timestamp_col="t")
    assert len(read_csv(path, **kwargs)) == 4  # "keep" is the default
    summed = read_csv(path, duplicates="sum", **kwargs)
    assert raw(summed) == (["a", "b"], ["x", "y"], [13.0, 2.0], [30, 10])
    assert summed.source["duplicates_merged"] == 2
    last = read_csv(path, duplicates="last", **kwargs)
    assert raw(last) == (["b", "a"], ["y", "x"], [2.0, 4.0], [10, 30])  # latest timestamp wins
    no_time = read_csv(path, duplicates="last", user_col="u", item_col="i", rating_col="r")
    assert raw(no_time)[2] == [2.0, 8.0]  # without timestamps: the last line
    counts = read_csv(path, duplicates="sum", user_col="u", item_col="i")
    assert raw(counts)[2] == [3.0, 1.0]  # no rating column: occurrences
    with pytest.raises(ValueError, match=r"duplicate \(user, item\) pair \('a', 'x'\) on lines 2 and 4"):
        read_csv(path, duplicates="error", **kwargs)


def test_read_recbole(tmp_path):
    text = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n7\t3\t4\t881250949.0\n8\t3\t2\t5\n"
    data = read_recbole(write(tmp_path / "ml.inter", text))
    assert raw(data) == ([7, 8], [3, 3], [4.0, 2.0], [881250949, 5]) and data.source["format"] == "recbole"
    implicit = read_recbole(write(tmp_path / "b.inter", "session_id:token\titem_id:token\ns1\ti9\n"),
                            user_col="session_id:token")
    assert raw(implicit) == (["s1"], ["i9"], None, None)
    assert read_recbole(tmp_path / "ml.inter", rating_col=None).ratings is None
    with pytest.raises(ValueError, match="no column 'rating' for rating_col"):
        read_recbole(tmp_path / "b.inter", user_col="session_id", rating_col="rating")
    with pytest.raises(ValueError, match="line 1: not a RecBole atomic header: field 'user_id'"):
        read_recbole(write(tmp_path / "c.inter", "user_id\titem_id:token\n1\t2\n"))


def test_read_parquet(tmp_path):
    import pyarrow as pa  # in the [test] extra: a missing install fails, not skips
    import pyarrow.parquet as pq
    table = pa.table({"user": ["a", "b", None, "a"], "item": [1, 2, 3, 1],
                      "rating": [4.0, float("nan"), 3.0, 2.0], "t": [10, 20, 30, 40]})
    pq.write_table(table, tmp_path / "r.parquet")
    kwargs = dict(user_col="user", item_col="item", rating_col="rating", timestamp_col="t")
    with pytest.raises(ValueError, match=r"r.parquet, row 2: rating \(column 'rating'\) nan is not a finite"):
        read_parquet(tmp_path / "r.parquet", **kwargs)
    with pytest.warns(DataWarning, match=r"skipped 2 bad row\(s\) of 4 .*row 3: user id \(column 'user'\) is null"):
        data = read_parquet(tmp_path / "r.parquet", on_bad_line="skip", **kwargs)
    assert raw(data) == (["a", "a"], [1, 1], [4.0, 2.0], [10, 40])
    with pytest.warns(DataWarning):
        assert len(read_parquet(tmp_path / "r.parquet", on_bad_line="skip", duplicates="last", **kwargs)) == 1
    moments = pa.array(np.array([1_600_000_000, 1_600_000_001], dtype="datetime64[s]"))
    typed = pa.table({"user": pa.array(["p", "q"]).dictionary_encode(), "item": pa.array(["i", "j"]),
                      "when": moments})
    pq.write_table(typed, tmp_path / "typed.parquet")
    data = read_parquet(tmp_path / "typed.parquet", user_col="user", item_col="item", timestamp_col="when")
    assert raw(data) == (["p", "q"], ["i", "j"], None, [1_600_000_000, 1_600_000_001])
    fractional = pa.table({"u": [1], "i": [2], "t": pa.array(np.array([1500], dtype="datetime64[ms]"))})
    pq.write_table(fractional, tmp_path / "ms.parquet")
    with pytest.raises(ValueError, match="row 1: timestamp .* has a fraction of a second"):
        read_parquet(tmp_path / "ms.parquet", user_col="u", item_col="i", timestamp_col="t")
    with pytest.raises(ValueError, match=r"no column 'score' for rating_col; columns are"):
        read_parquet(tmp_path / "r.parquet", user_col="user", item_col="item", rating_col="score")


def test_read_parquet_without_pyarrow(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ImportError, match="read_parquet needs pyarrow, which is not installed: pip install pyarrow"):
        read_parquet(tmp_path / "r.parquet", user_col="u", item_col="i")


# --------------------------------------------------------------------------------------------
# movielens(): local copies, the cache, and downloads (always faked: tests never download)


def fake_archive(folder="ml-100k", member="u.data", text=None):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{folder}/{member}", text if text is not None else grouplens_text(member))
        archive.writestr(f"{folder}/README", "fake")
    return buffer.getvalue()


@pytest.fixture
def no_network(monkeypatch):
    calls = []

    def refuse(url, timeout=None):
        calls.append(url)
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(_movielens, "urlopen", refuse)
    return calls


def test_movielens_offline_error_says_where_to_put_the_archive(tmp_path, no_network):
    with pytest.raises(OSError, match="could not download MovieLens 100k from https://files.grouplens.org/"
                                      "datasets/movielens/ml-100k.zip") as info:
        movielens("100k", cache_dir=tmp_path)
    assert str(tmp_path / "ml-100k.zip") in str(info.value) and "path=" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
    with pytest.raises(FileNotFoundError, match="download=False"):
        movielens("1m", cache_dir=tmp_path, download=False)
    assert len(no_network) == 1


def test_movielens_uses_env_cache_dir(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TURBOREC_DATA", str(tmp_path / "env"))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "env" / "ml-25m.zip")):
        movielens("25m", download=False)


def test_movielens_fake_download_then_cache(tmp_path, monkeypatch):
    payload = fake_archive()
    archive, folder, ratings, _ = _movielens._VARIANTS["100k"]
    monkeypatch.setitem(_movielens._VARIANTS, "100k", (archive, folder, ratings, hashlib.md5(payload).hexdigest()))
    monkeypatch.setattr(_movielens, "urlopen", lambda url, timeout=None: io.BytesIO(payload))
    data = movielens("100k", cache_dir=tmp_path / "cache")
    assert raw(data)[0] == [196, 186, 22, 196] and data.source["variant"] == "100k"
    assert (tmp_path / "cache" / "ml-100k.zip").read_bytes() == payload
    assert data.source["path"].endswith("ml-100k.zip:ml-100k/u.data")

    def refuse(url, timeout=None):
        raise AssertionError("downloaded again")

    monkeypatch.setattr(_movielens, "urlopen", refuse)
    assert len(movielens("100k", cache_dir=tmp_path / "cache")) == 4  # from the cache


class FakeResponse(io.BytesIO):
    """An HTTP response: the bytes, and a Content-Length header."""

    def __init__(self, payload):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def test_movielens_download_shows_a_byte_progress_bar(tmp_path, monkeypatch):
    from turborec import _progress

    bars = []

    class Bar:
        def __init__(self, **options):
            self.options, self.counted = options, []
            bars.append(self)

        def update(self, n):
            self.counted.append(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    payload = fake_archive(text=grouplens_text("u.data") * 60_000)  # over 1 MiB: several blocks
    archive, folder, ratings, _ = _movielens._VARIANTS["100k"]
    monkeypatch.setitem(_movielens._VARIANTS, "100k", (archive, folder, ratings, hashlib.md5(payload).hexdigest()))
    monkeypatch.setattr(_movielens, "urlopen", lambda url, timeout=None: FakeResponse(payload))
    monkeypatch.setattr(_progress, "_tqdm", Bar)
    data = movielens("100k", cache_dir=tmp_path / "a")
    assert len(data) == 240_000
    (bar,) = bars
    assert bar.options["total"] == len(payload) and bar.options["unit"] == "B" and bar.options["desc"] == archive
    assert sum(bar.counted) == len(payload) and len(bar.counted) > 1
    movielens("100k", cache_dir=tmp_path / "b", show_progress=False)
    assert len(bars) == 1
    monkeypatch.setattr(_movielens, "urlopen", lambda url, timeout=None: io.BytesIO(payload))  # no headers
    movielens("100k", cache_dir=tmp_path / "c")
    assert bars[1].options["total"] is None and sum(bars[1].counted) == len(payload)


def test_movielens_checksum_mismatch(tmp_path, monkeypatch):
    payload = fake_archive()
    monkeypatch.setattr(_movielens, "urlopen", lambda url, timeout=None: io.BytesIO(payload))
    with pytest.raises(ValueError, match="downloaded MD5 .* does not match 0e33842e24a9c977be4e0107933c0723"):
        movielens("100k", cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "ml-100k.zip").write_bytes(payload)  # a wrong archive put there by hand
    with pytest.raises(ValueError, match="does not match GroupLens's 0e33842e24a9c977be4e0107933c0723 .*delete it"):
        movielens("100k", cache_dir=tmp_path)


def test_movielens_latest_without_published_checksum(tmp_path, monkeypatch):
    payload = fake_archive("ml-latest-small", "ratings.csv")

    def fetch(url, timeout=None):
        if url.endswith(".md5"):
            raise urllib.error.URLError("no checksum file (test)")
        return io.BytesIO(payload)

    monkeypatch.setattr(_movielens, "urlopen", fetch)
    assert raw(movielens("latest-small", cache_dir=tmp_path))[2] == [3.0, 3.5, 1.0, 5.0]
    published = hashlib.md5(payload).hexdigest()
    monkeypatch.setattr(_movielens, "urlopen", lambda url, timeout=None: io.BytesIO(
        f"{published}  ml-latest.zip\n".encode() if url.endswith(".md5") else payload[:-1] + b"!"))
    with pytest.raises(ValueError, match=f"does not match {published}"):
        movielens("latest", cache_dir=tmp_path)


def test_movielens_local_paths(tmp_path, no_network):
    (tmp_path / "ml-1m").mkdir()
    write(tmp_path / "ml-1m" / "ratings.dat", grouplens_text("ratings.dat"))
    for path in (tmp_path, tmp_path / "ml-1m", tmp_path / "ml-1m" / "ratings.dat"):
        assert raw(movielens("1m", path=path))[0] == [196, 186, 22, 196]
    (tmp_path / "mine.zip").write_bytes(fake_archive("ml-10M100K", "ratings.dat"))
    assert len(movielens("10m", path=tmp_path / "mine.zip")) == 4
    with pytest.raises(ValueError, match="MovieLens 100k ratings come as u.data, but this file is in the ratings.dat"):
        movielens("100k", path=tmp_path / "ml-1m" / "ratings.dat")
    with pytest.raises(FileNotFoundError, match="no MovieLens 20m ratings in"):
        movielens("20m", path=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        movielens("20m", path=tmp_path / "nowhere")
    with pytest.raises(ValueError, match="variant: expected one of"):
        movielens("50m", path=tmp_path)
    assert no_network == []


# --------------------------------------------------------------------------------------------
# Synthetic data


def test_synthetic_factors_unchanged_contract():
    users, items, seen = synthetic_factors(50, 40, 8, 5, seed=1)
    assert users.shape == (50, 8) and items.shape == (40, 8) and users.dtype == np.float32
    assert seen.shape == (50, 40) and seen.has_sorted_indices and (seen.data == 1).all()


@pytest.mark.parametrize("make", [synthetic_implicit, synthetic_ratings, synthetic_sequences])
def test_synthetic_seeded(make):
    a, b, c = make(seed=4), make(seed=4), make(seed=5)
    for name in ("users", "items", "ratings", "timestamps"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or np.array_equal(x, y)
    assert not (len(a) == len(c) and np.array_equal(a.items, c.items))


def test_synthetic_implicit_shapes_and_skew():
    data = synthetic_implicit(300, 200, n_interactions=6000, seed=2)
    assert data.shape == (300, 200) and len(data) == 6000
    assert data.users.dtype == np.int32 and data.ratings is None and data.timestamps is None
    assert data.to_csr().max() == 1.0  # distinct pairs
    assert np.bincount(data.users, minlength=300).min() >= 1
    assert (np.diff(data.users) >= 0).all()
    assert len(synthetic_implicit(100, 50, density=0.1)) == 500

    def top_share(d):
        counts = np.sort(np.bincount(d.items, minlength=d.n_items))[::-1]
        return counts[:d.n_items // 10].sum() / counts.sum()

    skewed = top_share(synthetic_implicit(600, 400))
    flat = top_share(synthetic_implicit(600, 400, popularity_exponent=0))
    assert skewed > 0.3 and flat < 0.25 and skewed > flat + 0.1


def test_synthetic_implicit_structure_is_learnable():
    data, truth = synthetic_implicit(600, 400, density=0.05, seed=3, return_truth=True)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    _, first = np.unique(data.users[order], return_index=True)
    held = np.zeros(len(data), dtype=bool)
    held[order[first]] = True  # one random interaction per user
    train, test = data.subset(~held), data.subset(held)
    seen = train.to_csr(values="ones")

    def hit_rate(scores, k=10):
        scores = np.array(scores, dtype=np.float64)
        scores[seen.nonzero()] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        return np.mean((top[test.users] == test.items[:, None]).any(axis=1))

    popularity = hit_rate(np.broadcast_to(np.asarray(seen.sum(axis=0)), seen.shape))
    oracle = hit_rate(truth["user_factors"] @ truth["item_factors"].T + truth["item_bias"])
    u, s, vt = svds(seen.astype(np.float64), k=8, random_state=0)
    factor_model = hit_rate((u * s) @ vt)
    assert oracle > popularity + 0.15
    assert factor_model > popularity + 0.05


def test_synthetic_ratings_scale_and_signal():
    data, truth = synthetic_ratings(400, 300, rating_scale=(1, 5), seed=1, return_truth=True)
    assert data.ratings.dtype == np.float32
    assert set(np.unique(data.ratings).tolist()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert 3.0 < data.ratings.mean() < 4.2 and data.ratings.std() > 0.7
    expected = (truth["global_mean"] + truth["user_bias"][data.users] + truth["item_bias"][data.items]
                + np.einsum("ij,ij->i", truth["user_factors"][data.users], truth["item_factors"][data.items]))
    rmse = np.sqrt(np.mean((np.clip(expected, 1, 5) - data.ratings) ** 2))
    assert rmse < 0.75 * data.ratings.std()
    tens = synthetic_ratings(50, 40, rating_scale=(0, 10), noise=0.0)
    assert tens.ratings.min() >= 0 and tens.ratings.max() <= 10


def test_synthetic_sequences_are_markov():
    data, truth = synthetic_sequences(400, 200, mean_length=15, n_clusters=10, seed=1, return_truth=True)
    assert data.timestamps.dtype == np.int64 and data.ratings is None
    same_user = data.users[1:] == data.users[:-1]
    assert (np.diff(data.users) >= 0).all() and (np.diff(data.timestamps)[same_user] > 0).all()
    assert np.bincount(data.users).min() >= 3
    keys = data.users.astype(np.int64) * data.n_items + data.items
    assert len(np.unique(keys)) == len(data)  # no repeats within a user
    assert np.allclose(truth["transitions"].sum(axis=1), 1)
    clusters = truth["item_cluster"][data.items]
    prev, nxt = clusters[:-1][same_user], clusters[1:][same_user]
    fit = data.users[:-1][same_user] < 200  # estimate transitions on half the users
    counts = np.zeros((10, 10))
    np.add.at(counts, (prev[fit], nxt[fit]), 1)
    accuracy = np.mean(counts.argmax(axis=1)[prev[~fit]] == nxt[~fit])
    majority = np.bincount(nxt[fit]).max() / fit.sum()
    assert accuracy > majority + 0.2


@pytest.mark.parametrize("call, error, match", [
    (lambda: synthetic_implicit(10, 10, density=0.1, n_interactions=5), ValueError, "give at most one"),
    (lambda: synthetic_implicit(10, 10, density=1.5), ValueError, r"density: expected a fraction in \(0, 1\]"),
    (lambda: synthetic_implicit(10, 10, n_interactions=101), ValueError, "n_interactions: expected 0 .. "),
    (lambda: synthetic_implicit(0, 10), ValueError, "n_users: expected a positive int"),
    (lambda: synthetic_implicit(10.0, 10), TypeError, "n_users: expected an int"),
    (lambda: synthetic_implicit(10, 10, popularity_exponent=-1), ValueError, "popularity_exponent"),
    (lambda: synthetic_ratings(10, 10, rating_scale=(5, 1)), ValueError, "rating_scale: expected low < high"),
    (lambda: synthetic_sequences(10, 10, n_clusters=11), ValueError, "n_clusters: expected at most"),
    (lambda: synthetic_sequences(10, 10, mean_length=2), ValueError, "mean_length: expected >= 3"),
])
def test_synthetic_argument_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
