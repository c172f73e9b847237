"""Item features (issue 8): multi_hot, tfidf_tokens (scikit-learn's TfidfVectorizer numbers
without scikit-learn), and read_item_features aligned with a training set's items."""

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec.datasets import Interactions, read_item_features, read_movielens_file
from turborec.exceptions import DataWarning
from turborec.features import multi_hot, tfidf_tokens

ML100K = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ml-100k"
ITEMS, RATINGS = ML100K / "items.tsv", ML100K / "u.data"
HEADER = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"


def _canonical(matrix):
    assert sp.isspmatrix_csr(matrix) and matrix.dtype == np.float32
    assert matrix.has_sorted_indices
    copy = matrix.copy()
    copy.sum_duplicates()
    assert copy.nnz == matrix.nnz  # no duplicate entries


# --------------------------------------------------------------------------------------------
# multi_hot


def test_multi_hot_hand_case():
    X, labels = multi_hot([["Drama", "Comedy", "Drama"], [], ("War",), np.array(["Comedy"])])
    assert labels.tolist() == ["Comedy", "Drama", "War"]
    _canonical(X)
    assert X.toarray().tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 1], [1, 0, 0]]


def test_multi_hot_int_labels_and_sets():
    X, labels = multi_hot([{3, 1}, [1], []])
    assert labels.dtype == np.int64 and labels.tolist() == [1, 3]
    assert X.toarray().tolist() == [[1, 1], [1, 0], [0, 0]]


def test_multi_hot_vocabulary_orders_the_columns():
    X, labels = multi_hot([["b"], ["a", "c"], []], vocabulary=["c", "a", "b", "d"])
    assert labels.tolist() == ["c", "a", "b", "d"]
    _canonical(X)
    assert X.toarray().tolist() == [[0, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]]


def test_multi_hot_unknown_label_names_the_item_or_is_ignored():
    with pytest.raises(ValueError, match=r"list_of_labels\[1\]: label 'z' is not in the vocabulary"):
        multi_hot([["a"], ["b", "z"]], vocabulary=["a", "b"])
    X, labels = multi_hot([["a"], ["b", "z"], ["z"]], vocabulary=["a", "b"], unknown="ignore")
    assert X.toarray().tolist() == [[1, 0], [0, 1], [0, 0]]


def test_multi_hot_empty_input():
    X, labels = multi_hot([])
    assert X.shape == (0, 0) and len(labels) == 0
    X, labels = multi_hot([[], []])
    assert X.shape == (2, 0) and X.nnz == 0
    X, labels = multi_hot([[], []], vocabulary=["a"])
    assert X.shape == (2, 1) and X.nnz == 0


@pytest.mark.parametrize("args, kwargs, error, match", [
    (("Comedy",), {}, TypeError, r"list_of_labels: expected a sequence"),
    ((["Comedy"],), {}, TypeError, r"list_of_labels\[0\]: expected a sequence of labels, got str"),
    (([["a"], None],), {}, TypeError, r"list_of_labels\[1\]: expected a sequence of labels, got NoneType"),
    (([["a"], [], ["b", 3]],), {}, TypeError, r"list_of_labels\[2\]: expected labels that are all str or all int"),
    (([[1.5]],), {}, TypeError, r"list_of_labels\[0\]: expected labels that are all str or all int"),
    (([["a"]],), {"vocabulary": ["a", "a"]}, ValueError, r"vocabulary: label 'a' appears more than once"),
    (([["a"]],), {"vocabulary": [1, 2]}, TypeError, r"vocabulary: expected labels of the items' kind \(str\)"),
    (([["a"]],), {"unknown": "drop"}, ValueError, r"unknown: expected one of"),
    ((np.zeros((2, 2)),), {}, ValueError, r"list_of_labels: expected a 1-D sequence"),
])
def test_multi_hot_bad_arguments_are_named(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        multi_hot(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# tfidf_tokens


def test_tfidf_hand_case():
    texts = ["The cat sat", "the dog", "a cat, a cat!"]
    X, terms = tfidf_tokens(texts)
    assert terms.tolist() == ["cat", "dog", "sat", "the"]  # "a" is one character: not a token
    _canonical(X)
    n = 3
    idf = {t: math.log((1 + n) / (1 + df)) + 1 for t, df in {"cat": 2, "dog": 1, "sat": 1, "the": 2}.items()}
    rows = [{"cat": idf["cat"], "sat": idf["sat"], "the": idf["the"]},
            {"dog": idf["dog"], "the": idf["the"]},
            {"cat": 2 * idf["cat"]}]
    expected = np.zeros((3, 4))
    for i, row in enumerate(rows):
        norm = math.sqrt(sum(w * w for w in row.values()))
        for term, w in row.items():
            expected[i, terms.tolist().index(term)] = w / norm
    np.testing.assert_allclose(X.toarray(), expected, rtol=1e-6)


def test_tfidf_options_hand_case():
    texts = ["aa aa bb", "bb"]
    X, terms = tfidf_tokens(texts, norm=None, smooth_idf=False, sublinear_tf=True)
    # idf = ln(n / df) + 1: aa -> ln 2 + 1, bb -> 1; tf 2 -> 1 + ln 2.
    np.testing.assert_allclose(X.toarray(), [[(1 + math.log(2)) * (math.log(2) + 1), 1], [0, 1]], rtol=1e-6)
    X, _ = tfidf_tokens(texts, norm="l1", smooth_idf=False)
    np.testing.assert_allclose(X.sum(axis=1).A1, [1, 1], rtol=1e-6)


def test_tfidf_min_max_df_and_case():
    texts = ["Apple apple pear", "apple fig", "apple pear"]
    _, terms = tfidf_tokens(texts, min_df=2)
    assert terms.tolist() == ["apple", "pear"]
    _, terms = tfidf_tokens(texts, max_df=0.7)
    assert terms.tolist() == ["fig", "pear"]
    _, terms = tfidf_tokens(texts, max_df=1)
    assert terms.tolist() == ["fig"]
    _, terms = tfidf_tokens(texts, lowercase=False)
    assert terms.tolist() == ["Apple", "apple", "fig", "pear"]
    X, terms = tfidf_tokens(["x yy", "!!"], token_pattern=r"(\w+)")
    assert terms.tolist() == ["x", "yy"] and X[1].nnz == 0  # a text without tokens: an empty row


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(list_of_texts="abc"), TypeError, r"list_of_texts: expected a sequence"),
    (dict(list_of_texts=["ab", None]), TypeError, r"list_of_texts\[1\]: expected str"),
    (dict(list_of_texts=["a b", "!"]), ValueError, r"list_of_texts: no text has a token"),
    (dict(list_of_texts=["aa bb"], min_df=0), ValueError, r"min_df: expected a float in \[0, 1\] or an int >= 1"),
    (dict(list_of_texts=["aa bb"], max_df=1.5), ValueError, r"max_df: expected"),
    (dict(list_of_texts=["aa bb"], max_df="1"), TypeError, r"max_df: expected"),
    (dict(list_of_texts=["aa", "bb"], min_df=2, max_df=1), ValueError, r"max_df: 1 comes to 1 texts, fewer than"),
    (dict(list_of_texts=["aa", "bb"], min_df=2), ValueError, r"min_df and max_df: no term is left"),
    (dict(list_of_texts=["aa"], norm="l3"), ValueError, r"norm: expected one of"),
    (dict(list_of_texts=["aa"], lowercase=1), TypeError, r"lowercase: expected a bool"),
    (dict(list_of_texts=["aa"], token_pattern="("), ValueError, r"token_pattern: not a regular expression"),
    (dict(list_of_texts=["aa"], token_pattern=r"(a)(a)"), ValueError, r"token_pattern: at most one capturing"),
])
def test_tfidf_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        tfidf_tokens(**kwargs)


SKLEARN_OPTIONS = [{}, dict(min_df=2, max_df=0.5), dict(sublinear_tf=True, norm="l1", smooth_idf=False),
                   dict(lowercase=False, norm=None), dict(max_df=90, token_pattern=r"(?u)\b\w+\b")]


def _compare_with_sklearn(texts, options):
    import sklearn.feature_extraction.text as text  # the reference, in [test]: missing is a failure
    X, terms = tfidf_tokens(texts, **options)
    vectorizer = text.TfidfVectorizer(**options)
    expected = vectorizer.fit_transform(texts)
    assert terms.tolist() == vectorizer.get_feature_names_out().tolist()
    assert X.shape == expected.shape
    np.testing.assert_allclose(X.toarray(), expected.toarray(), atol=1e-6, rtol=0)
    assert (X != 0).nnz == (expected != 0).nnz


@pytest.mark.parametrize("options", SKLEARN_OPTIONS)
def test_tfidf_equals_sklearn_on_random_texts(options):
    rng = np.random.default_rng(8)
    words = np.array(["Alpha", "beta", "gamma", "delta", "eps", "x", "Zeta", "eta", "theta", "iota", "Éclair",
                      "naïve", "straße", "日本語", "l'été"])
    texts = [" ".join(rng.choice(words, rng.integers(0, 12))) + rng.choice(["", ".", ", 42!"])
             for _ in range(200)]
    _compare_with_sklearn(texts, options)


@pytest.mark.parametrize("options", SKLEARN_OPTIONS)
def test_tfidf_equals_sklearn_on_movielens_titles(options):
    if not ITEMS.exists():
        pytest.skip(f"MovieLens 100K item table not found at {ITEMS}")
    titles = [line.split("\t")[1] for line in ITEMS.read_text(encoding="utf-8").splitlines()[1:]]
    _compare_with_sklearn(titles, options)


def test_features_is_a_submodule_attribute():
    assert turborec.features.multi_hot is multi_hot


# --------------------------------------------------------------------------------------------
# read_item_features


def _write(tmp_path, body, header=HEADER):
    path = tmp_path / "items.tsv"
    path.write_text(header + body)
    return path


def test_read_item_features_without_like(tmp_path):
    path = _write(tmp_path, "10\tB\t1990\tDrama Comedy\n2\tA\t1991\t\n7\tC\t1992\tWar\n")
    X, labels, mapper = read_item_features(path)
    assert labels.tolist() == ["Comedy", "Drama", "War"]
    assert mapper.classes_.tolist() == [2, 7, 10]  # rows in sorted raw-id order
    _canonical(X)
    assert X.toarray().tolist() == [[0, 0, 0], [0, 0, 1], [1, 1, 0]]


def test_read_item_features_aligned_with_like(tmp_path):
    train = Interactions.from_raw([1, 1, 2, 3], [7, 10, 99, 7])  # items 7, 10, 99
    path = _write(tmp_path, "10\tB\t1990\tDrama Comedy\n2\tA\t1991\tHorror\n5\tD\t1991\tWestern\n7\tC\t1992\tWar\n")
    with pytest.warns(DataWarning, match=r"items.tsv: dropped the features of 2 of 4 item\(s\) .* e.g. 2, 5"):
        X, labels, mapper = read_item_features(path, like=train)
    assert mapper is train.item_mapper
    assert labels.tolist() == ["Comedy", "Drama", "War"]  # labels of dropped items are not columns
    assert X.shape == (3, 3)
    assert X.toarray().tolist() == [[0, 0, 1], [1, 1, 0], [0, 0, 0]]  # item 99 has no features
    with pytest.raises(ValueError, match=r"items.tsv, line 3: item 2 is not in the training data"):
        read_item_features(path, like=train, unknown="error")


def test_read_item_features_options_and_errors(tmp_path):
    path = _write(tmp_path, "a\tx\tComedy|Drama\nb\ty\tWar\n", header="item:token\ttitle:token_seq\ttags:token_seq\n")
    X, labels, mapper = read_item_features(path, item_col="item", label_col="tags:token_seq", label_sep="|")
    assert mapper.classes_.tolist() == ["a", "b"] and labels.tolist() == ["Comedy", "Drama", "War"]
    X, labels, _ = read_item_features(path, item_col="item", label_col="tags", label_sep="|",
                                      vocabulary=["War", "Drama", "Comedy", "Horror"])
    assert X.toarray().tolist() == [[0, 1, 1, 0], [1, 0, 0, 0]]
    with pytest.raises(ValueError, match=r"items.tsv, line 2: label 'Comedy' is not in the vocabulary"):
        read_item_features(path, item_col="item", label_col="tags", label_sep="|", vocabulary=["War", "Drama"])
    with pytest.raises(ValueError, match=r"no column 'class' for label_col"):
        read_item_features(path, item_col="item")
    with pytest.raises(ValueError, match=r"label_col: 'item:token' is also item_col"):
        read_item_features(path, item_col="item", label_col="item:token")
    with pytest.raises(TypeError, match=r"item_col: expected a RecBole field name"):
        read_item_features(path, item_col=0)
    with pytest.raises(ValueError, match=r"unknown: expected one of \('drop', 'error'\), got 'ignore'"):
        read_item_features(path, unknown="ignore")
    with pytest.raises(ValueError, match=r"label_sep: expected a non-empty str"):
        read_item_features(path, label_sep="")
    with pytest.raises(TypeError, match=r"like: expected the training Interactions"):
        read_item_features(path, like=np.zeros(3))
    dup = _write(tmp_path, "1\tA\t1990\tDrama\n\n1\tB\t1990\tWar\n")
    with pytest.raises(ValueError, match=r"item 1 is described on lines 2 and 4"):
        read_item_features(dup)
    bad = _write(tmp_path, "1\tA\t1990\tDrama\n2\tB\n3\tC\t1990\tWar\n")
    with pytest.raises(ValueError, match=r"items.tsv, line 3: expected"):
        read_item_features(bad)
    with pytest.warns(DataWarning, match=r"skipped 1 bad line"):
        X, _, mapper = read_item_features(bad, on_bad_line="skip")
    assert mapper.classes_.tolist() == [1, 3]


def test_read_item_features_on_movielens_aligned_with_u_data():
    if not (ITEMS.exists() and RATINGS.exists()):
        pytest.skip(f"MovieLens 100K (items.tsv and u.data) not found at {ML100K}")
    train = read_movielens_file(RATINGS)
    genres, labels, mapper = read_item_features(ITEMS, like=train)
    assert mapper is train.item_mapper and genres.shape == (train.n_items, 19)
    _canonical(genres)
    assert "Film-Noir" in labels.tolist() and "Children's" in labels.tolist()
    # Check rows against the file, line by line: row i describes raw item mapper.classes_[i].
    table = {}
    for line in ITEMS.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        table[int(fields[0])] = set(fields[3].split())
    for i in (0, 1, 49, 256, train.n_items - 1):
        raw = int(mapper.classes_[i])
        assert set(labels[genres[i].indices]) == table[raw]
    # A training set without some items: their features are dropped and counted; the rows follow it.
    part = Interactions.from_raw(*train.item_mapper.inverse_transform(train.items[:2])[None].repeat(2, 0))
    assert part.n_items <= 2
    with pytest.warns(DataWarning, match=r"dropped the features of \d+ of 1682 item"):
        small, small_labels, _ = read_item_features(ITEMS, like=part)
    assert small.shape[0] == part.n_items
    for i, raw in enumerate(part.item_mapper.classes_.tolist()):
        assert set(small_labels[small[i].indices]) == table[raw]
