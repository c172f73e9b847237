"""turborec.compat.implicit.approximate_als and .ann (issue 10): implicit 0.7's nmslib, annoy and
faiss ALS wrappers, answering exactly through turborec's ALS model (nmslib, annoy and faiss are
not needed): code written for implicit's approximate API runs unchanged, the answers equal the
exact model's, the constructors take implicit's arguments and refuse bad ones."""

import ast
import importlib.util
import inspect
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import implicit.approximate_als  # a peer: missing is a failure

import turborec
import turborec.compat.implicit as compat
from turborec.compat.implicit.ann.annoy import AnnoyModel
from turborec.compat.implicit.ann.faiss import FaissModel
from turborec.compat.implicit.ann.nmslib import NMSLibModel
from turborec.exceptions import ParameterWarning

FACTORIES = {  # implicit's test parameters for each (its tests/approximate_als_test.py)
    "NMSLibAlternatingLeastSquares": dict(index_params={"post": 2}),
    "AnnoyAlternatingLeastSquares": dict(n_trees=20, search_k=-1),
    "FaissAlternatingLeastSquares": dict(nlist=1, nprobe=1, use_gpu=False),
}
WRAPPERS = {"NMSLibAlternatingLeastSquares": NMSLibModel, "AnnoyAlternatingLeastSquares": AnnoyModel,
            "FaissAlternatingLeastSquares": FaissModel}


def user_items(seed=0, n_users=120, n_items=70):
    rng = np.random.default_rng(seed)
    matrix = sp.random(n_users, n_items, density=0.12, format="csr", random_state=rng, dtype=np.float32)
    matrix.data = rng.integers(1, 5, matrix.nnz).astype(np.float32)
    return matrix


def checker_board(n):
    """Even users like even items, odd users odd items; the diagonal withheld."""
    board = (np.add.outer(np.arange(n), np.arange(n)) % 2 == 0).astype(np.float64) - np.eye(n)
    return sp.csr_matrix(board)


def workflow(library, name, matrix):
    """Code as written for implicit's approximate ALS: only the module it gets differs."""
    factory = getattr(library.approximate_als, name)
    model = factory(16, 0.05, 2.0, iterations=6, random_state=3, **FACTORIES[name])
    model.fit(matrix, show_progress=False)
    return model, queries(library, model, matrix)


def queries(library, model, matrix):
    """What implicit's users ask a model, and its precision@10 on a split."""
    train, test = library.evaluation.train_test_split(matrix, 0.8, random_state=1)
    return [
        model.recommend(4, matrix[4], N=7),
        model.recommend(np.arange(10), matrix[:10], N=5),
        model.recommend(np.arange(5), matrix[:5], N=6, filter_items=[0, 1, 2]),
        model.recommend(np.arange(5), None, N=6, filter_already_liked_items=False),
        model.similar_items(3, N=6),
        model.similar_items(np.arange(8), N=4),
        model.similar_items(5, N=5, filter_items=[1, 2]),
        library.evaluation.precision_at_k(model, train, test, K=10, show_progress=False),
    ]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_implicit_code_runs_unchanged_with_the_exact_models_answers(name):
    matrix = user_items()
    model, answers = workflow(compat, name, matrix)
    assert isinstance(model, WRAPPERS[name]) and isinstance(model.model, turborec.models.AlternatingLeastSquares)
    exact = compat.als.AlternatingLeastSquares(16, 0.05, 2.0, iterations=6, random_state=3)
    exact.fit(matrix, show_progress=False)
    np.testing.assert_array_equal(model.model.item_factors, exact.item_factors)
    want = queries(compat, exact, matrix)
    for got, expected in zip(answers[:-1], want[:-1]):
        for array, expected_array in zip(got, expected):
            np.testing.assert_array_equal(array, expected_array)
    assert answers[-1] == want[-1] > 0
    assert not np.isin(answers[0][0], matrix[4].indices).any()  # liked items filtered
    assert not np.isin(answers[2][0], [0, 1, 2]).any()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_queries_implicits_indexes_cannot_answer_are_answered_exactly(name):
    matrix = user_items(1)
    model = getattr(compat.approximate_als, name)(factors=8, iterations=4, random_state=0)
    model.fit(matrix, show_progress=False)
    exact = model.model
    queries = [
        ("similar_users", (np.arange(6),), dict(N=4)),
        ("recommend", (2, matrix[2]), dict(N=5, items=np.arange(20))),
        ("recommend", (2, matrix[2]), dict(N=5, recalculate_user=True)),
        ("similar_items", (1,), dict(N=3, items=[1, 4, 9, 30])),
    ]
    pairs = [(getattr(model, method)(*args, **kwargs), getattr(exact, method)(*args, **kwargs))
             for method, args, kwargs in queries]
    for got, want in pairs:
        for array, expected in zip(got, want):
            np.testing.assert_array_equal(array, expected)
    assert pairs[0][0][0][0, 0] == 0  # the user itself first


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_implicits_own_checks_on_a_checker_board(name):
    """implicit's recommender tests on its approximate models: the withheld diagonal item comes
    first, similar items share the parity of the query."""
    board = checker_board(256)
    model = getattr(compat.approximate_als, name)(factors=32, regularization=0, random_state=23, **FACTORIES[name])
    model.fit(board, show_progress=False)
    ids, _ = model.recommend(np.arange(256), board, N=1)
    np.testing.assert_array_equal(ids[:, 0], np.arange(256))
    similar, _ = model.similar_items(np.arange(256), N=10)
    assert ((similar % 2) == (np.arange(256) % 2)[:, None]).all()
    assert 0 not in model.recommend(0, board[0], N=1, filter_items=[0])[0]
    assert len(model.recommend(0, board[0], N=10000)[0]) == 256


def test_wrappers_take_any_turborec_factor_model():
    matrix = user_items(2)
    bpr = turborec.models.BayesianPersonalizedRanking(factors=8, iterations=3, random_state=0)
    model = AnnoyModel(bpr, n_trees=10).fit(matrix, show_progress=False)
    np.testing.assert_array_equal(model.similar_items(2, N=5)[0], bpr.similar_items(2, N=5)[0])
    assert model.max_norm == pytest.approx(np.linalg.norm(bpr.item_factors, axis=1).max())


def test_fit_sets_what_implicit_sets_and_builds_no_index():
    matrix = user_items(3)
    nms = compat.approximate_als.NMSLibAlternatingLeastSquares(factors=6, iterations=2, random_state=0)
    faiss = compat.approximate_als.FaissAlternatingLeastSquares(factors=6, iterations=2, random_state=0,
                                                                approximate_recommend=False)
    calls = []
    for model in (nms, faiss):
        model.fit(matrix, show_progress=False, callback=lambda *args: calls.append(args))
        assert model.similar_items_index is None and model.recommend_index is None
    assert len(calls) == 4  # the callback reaches the model
    assert nms.max_norm == pytest.approx(np.linalg.norm(nms.model.item_factors, axis=1).max())
    assert nms.index_params == {"M": 16, "post": 0, "efConstruction": 400} and nms.query_params == {"ef": 90}
    assert faiss.factors == 6 and faiss.quantizer is None and faiss.use_gpu is False


def test_save_load_and_pickle_keep_the_answers(tmp_path):
    matrix = user_items(4)
    model = compat.approximate_als.FaissAlternatingLeastSquares(factors=8, iterations=3, random_state=0, nlist=7)
    model.fit(matrix, show_progress=False)
    model.save(tmp_path / "model.npz")
    loaded = FaissModel.load(tmp_path / "model.npz")
    copied = pickle.loads(pickle.dumps(model))
    assert copied.nlist == 7 and loaded.nlist == 400  # index parameters change no answer; not saved
    for other in (loaded, copied):
        want = model.recommend(np.arange(9), matrix[:9], N=4)
        for got, expected in zip(other.recommend(np.arange(9), matrix[:9], N=4), want):
            np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------ arguments


def _implicit_init_parameters(module, cls):
    """``{name: default source}`` of implicit's ``cls.__init__``, read from its source (importing it
    needs nmslib / annoy / faiss)."""
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
    init = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "__init__")
    args = init.args.args[1:]
    defaults = [None] * (len(args) - len(init.args.defaults)) + init.args.defaults
    names = {arg.arg: default and ast.unparse(default) for arg, default in zip(args, defaults)}
    if init.args.kwarg:
        names["**" + init.args.kwarg.arg] = None
    return names


@pytest.mark.parametrize("module, cls", [("implicit.ann.nmslib", NMSLibModel), ("implicit.ann.annoy", AnnoyModel),
                                         ("implicit.ann.faiss", FaissModel)])
def test_the_wrappers_take_implicits_constructor_arguments(module, cls):
    ours = {("**" + name if p.kind is p.VAR_KEYWORD else name): (None if p.default is p.empty else p.default)
            for name, p in list(inspect.signature(cls).parameters.items())}
    theirs = _implicit_init_parameters(module, cls)
    assert list(ours) == list(theirs)
    for name, default in theirs.items():
        if default is not None and "HAS_CUDA" not in default:
            assert ours[name] == ast.literal_eval(default), name


def test_the_factories_take_implicits_arguments():
    for name in FACTORIES:
        ours = inspect.signature(getattr(compat.approximate_als, name)).parameters
        theirs = inspect.signature(getattr(implicit.approximate_als, name)).parameters
        assert list(ours) == list(theirs)
        for parameter in theirs.values():
            assert ours[parameter.name].kind == parameter.kind
            assert ours[parameter.name].default == parameter.default, parameter.name
    assert sorted(compat.approximate_als.__all__) == sorted(
        name for name in vars(implicit.approximate_als) if name.endswith("AlternatingLeastSquares"))


@pytest.mark.parametrize("name", ["AnnoyAlternatingLeastSquares", "FaissAlternatingLeastSquares"])
@pytest.mark.parametrize("args, kwargs", [((), {"bogus": 1}), (tuple(range(1, 13)), {})])
def test_arguments_implicits_factories_refuse_are_refused_alike(name, args, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # implicit's BLAS-threads advice
        with pytest.raises(TypeError) as theirs:
            getattr(implicit.approximate_als, name)(*args, **kwargs)
    with pytest.raises(TypeError) as ours:
        getattr(compat.approximate_als, name)(*args, **kwargs)
    assert str(ours.value).split("()")[-1] == str(theirs.value).split("()")[-1]


@pytest.mark.parametrize("name, kwargs", [
    ("NMSLibAlternatingLeastSquares", {"factors": 0}),
    ("AnnoyAlternatingLeastSquares", {"regularization": -1.0}),
    ("FaissAlternatingLeastSquares", {"dtype": np.float16}),
])
def test_bad_model_arguments_are_refused_by_fit_naming_them(name, kwargs):
    model = getattr(compat.approximate_als, name)(**kwargs)  # checked by fit, as the model's own
    with pytest.raises((ValueError, TypeError), match=next(iter(kwargs))):
        model.fit(user_items(), show_progress=False)


@pytest.mark.parametrize("name, kwargs, error, words", [
    ("FaissAlternatingLeastSquares", {"use_gpu": True}, NotImplementedError, "use_gpu"),
    ("FaissAlternatingLeastSquares", {"nlist": 0}, ValueError, "nlist: expected an int >= 1"),
    ("FaissAlternatingLeastSquares", {"nprobe": 1.5}, TypeError, "nprobe: expected an int >= 1"),
    ("AnnoyAlternatingLeastSquares", {"n_trees": 0}, ValueError, "n_trees: expected an int >= 1 or -1"),
    ("AnnoyAlternatingLeastSquares", {"search_k": -2}, ValueError, "search_k: expected an int >= 1 or -1"),
    ("NMSLibAlternatingLeastSquares", {"method": 3}, TypeError, "method: expected an nmslib method name"),
    ("NMSLibAlternatingLeastSquares", {"index_params": [("M", 8)]}, TypeError, "index_params: expected a dict"),
    ("NMSLibAlternatingLeastSquares", {"query_params": "ef=9"}, TypeError, "query_params: expected a dict"),
    ("AnnoyAlternatingLeastSquares", {"approximate_recommend": "yes"}, TypeError, "approximate_recommend"),
])
def test_bad_arguments_name_themselves(name, kwargs, error, words):
    with pytest.raises(error, match=words):
        getattr(compat.approximate_als, name)(**kwargs)


def test_wrappers_refuse_what_is_not_a_model_and_warn_about_ignored_keywords():
    with pytest.raises(TypeError, match="model: expected a factor model"):
        FaissModel("als")
    with pytest.warns(ParameterWarning, match=r"ignored keyword arguments \['space'\]"):
        NMSLibModel(compat.als.AlternatingLeastSquares(), space="l2")


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_recommend_wants_a_csr_matrix_as_implicits_wrappers(name):
    matrix = user_items(5)
    model = getattr(compat.approximate_als, name)(factors=4, iterations=1, random_state=0)
    model.fit(matrix, show_progress=False)
    for rows in (matrix[:3].tocoo(), sp.csr_array(matrix[:3]), matrix[:3].toarray()):
        with pytest.raises(ValueError, match="user_items needs to be a CSR sparse matrix"):
            model.recommend(np.arange(3), rows)
        with pytest.raises(ValueError, match="user_items needs to be a CSR sparse matrix"):
            model.recommend(np.arange(3), rows, filter_already_liked_items=False, recalculate_user=True)
