"""Issue 7 ("never a silent wrong answer") in the text readers: columns nobody asked for and
unnamed header columns are ignored as pandas.read_csv ignores them, and a reader that skips
every row raises instead of returning an empty data set."""

import io

import numpy as np
import pytest

from turborec.datasets import DataWarning, read_csv, read_movielens_file, read_parquet, read_recbole


def write(path, text):
    path.write_bytes(text.encode("utf-8"))
    return path


def ours(path, **columns):
    data = read_csv(path, **columns)
    return {"user": data.user_mapper.inverse_transform(data.users).tolist(),
            "item": data.item_mapper.inverse_transform(data.items).tolist(),
            **({} if data.ratings is None else {"rating": data.ratings.tolist()})}


def theirs(text, **columns):
    import pandas as pd  # in the [test] extra
    frame = pd.read_csv(io.StringIO(text))
    out = {"user": frame[columns["user_col"]].tolist(), "item": frame[columns["item_col"]].tolist()}
    if "rating_col" in columns:
        out["rating"] = frame[columns["rating_col"]].astype(float).tolist()
    return out


@pytest.mark.parametrize("text", [
    # a trailing separator on the header: an unnamed column, whose values are no bad rows
    "user,item,rating,\n1,10,4,note\n2,20,5,\n3,30,1,x\n",
    # the index column pandas' own to_csv writes, under an empty name
    ",user,item,rating\n0,1,10,4\n1,2,20,5\n",
    # an unnamed column between named ones
    "user,,item,rating\n1,junk,10,4\n2,,20,5\n",
    # two unnamed trailing columns (a spreadsheet export)
    "user,item,rating,,\n1,10,4,a,b\n2,20,5,,\n",
    # columns nobody asked for, with anything in them, and rows that lack them
    "user,item,rating,comment,extra\n1,10,4,\"hi, there\",x\n2,20,5\n3,30,1,yo\n",
])
def test_unnamed_and_unasked_columns_are_ignored_as_pandas_does(tmp_path, text):
    columns = dict(user_col="user", item_col="item", rating_col="rating")
    assert ours(write(tmp_path / "f.csv", text), **columns) == theirs(text, **columns)


def test_a_value_past_the_unnamed_columns_is_still_a_bad_row(tmp_path):
    # pandas refuses a row longer than the header (ParserError); so do we, naming the line.
    import pandas as pd
    text = "user,item\n1,10\n2,20,3\n"
    with pytest.raises(pd.errors.ParserError):
        pd.read_csv(io.StringIO(text))
    with pytest.raises(ValueError, match=r"line 3: expected 2 fields separated by ',', got 3"):
        read_csv(write(tmp_path / "a.csv", text), user_col="user", item_col="item")
    text = "user,item,\n1,10,a\n2,20,a,b\n"  # the unnamed column allows 3 fields, not 4
    with pytest.raises(ValueError, match=r"line 3: expected 2 to 3 fields separated by ',', got 4"):
        read_csv(write(tmp_path / "b.csv", text), user_col="user", item_col="item")


def test_a_row_missing_an_asked_column_is_bad(tmp_path):
    text = "user,item,rating,comment\n1,10,4,a\n2,20\n"
    with pytest.raises(ValueError, match=r"line 3: expected 3 to 4 fields separated by ',', got 2"):
        read_csv(write(tmp_path / "a.csv", text), user_col="user", item_col="item", rating_col="rating")
    # Without the rating, the short row has every column asked for.
    data = read_csv(tmp_path / "a.csv", user_col="user", item_col="item")
    assert data.user_mapper.inverse_transform(data.users).tolist() == [1, 2]


def test_trailing_separators_still_counted_beside_unnamed_values(tmp_path):
    data = read_csv(write(tmp_path / "a.tsv", "u\ti\t\nx\ty\t\nz\tw\tnote\n"), user_col="u", item_col="i")
    assert len(data) == 2 and data.source["trailing_separators"] == 2  # the header and line 2, not line 3
    assert data.source["bad_lines"] == 0


# --------------------------------------------------------------------------------------------
# Every row skipped: an error, not an empty data set


def test_skipping_every_line_is_an_error(tmp_path):
    prose = write(tmp_path / "notes.csv", "title,body,mood\nhello,world,fine\nfoo,bar,ok\n")
    with pytest.raises(ValueError, match=r"notes.csv: every line was bad \(2 of 3 skipped with on_bad_line='skip'\)"
                                         r", nothing is left; first: line 2: rating 'fine' is not a number"):
        read_csv(prose, user_col="title", item_col="body", rating_col="mood", on_bad_line="skip")
    table = write(tmp_path / "u.item", "1\tToy Story (1995)\t01-Jan-1995\n2\tGoldenEye (1995)\t01-Jan-1995\n")
    with pytest.raises(ValueError, match=r"every line was bad .*Is this an interactions file"):
        read_movielens_file(table, on_bad_line="skip")
    recbole = write(tmp_path / "x.inter", "user_id:token\titem_id:token\trating:float\na\tb\tgood\n")
    with pytest.raises(ValueError, match="every line was bad"):
        read_recbole(recbole, on_bad_line="skip")


def test_skipping_some_lines_still_warns_and_returns_the_rest(tmp_path):
    path = write(tmp_path / "a.csv", "u,i,r\na,x,1\nb,y,oops\n")
    with pytest.warns(DataWarning, match=r"skipped 1 bad line"):
        assert len(read_csv(path, user_col="u", item_col="i", rating_col="r", on_bad_line="skip")) == 1
    # Nothing to skip: a file with a header and no rows is empty interactions, as before.
    assert len(read_csv(write(tmp_path / "b.csv", "u,i\n"), user_col="u", item_col="i", on_bad_line="skip")) == 0


def test_skipping_every_parquet_row_is_an_error(tmp_path):
    import pyarrow as pa  # in the [test] extra
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"u": ["a", "b"], "i": [1, 2], "r": [np.nan, np.inf]}), tmp_path / "r.parquet")
    with pytest.raises(ValueError, match=r"r.parquet: every row was bad \(2 of 2 skipped"):
        read_parquet(tmp_path / "r.parquet", user_col="u", item_col="i", rating_col="r", on_bad_line="skip")
