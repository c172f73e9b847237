"""Evaluate any implicit-style recommender: ``evaluate`` on one split, ``cross_validate`` over folds."""

import copy
import math
import time

import numpy as np

from ._validation import check_k
from .datasets import Interactions
from ._progress import progress_bar
from .metrics import (RANKING_METRICS, as_relevance, catalog_coverage, check_cutoffs, check_metric_names,
                      intra_list_diversity, novelty, ranking_metrics, summarize)
from .models._base import as_user_items

BEYOND_ACCURACY = ("coverage", "novelty", "diversity")
# Default batches: about 25 per evaluation, so a progress bar moves, of at most 10,000 users.
# Fewer users per batch cost speed: 1,000-user batches of 64-factor top-10 over 50,000 items ran
# 20% slower than 4,000 (smaller score blocks re-pack the item factors more often).
_BATCH_STEPS = 25
_BATCH_MIN, _BATCH_MAX = 256, 10_000


def _as_matrix(data, name):
    if isinstance(data, Interactions):
        return data.to_csr(values="ones")
    return as_user_items(data, name)


def evaluate(model, train, test, k=(10,), metrics=None, *, batch_size=None, item_vectors=None, as_frame=False,
             show_progress=True, backend=None, n_threads=None):
    """Rank the full catalogue for every test user (training items excluded) and score it.

    Parameters
    ----------
    model : fitted recommender with the implicit-style ``recommend`` (see turborec.models)
    train, test : scipy.sparse matrix (users x items) or Interactions, same shape
        Training interactions (excluded from the rankings) and held-out relevant items. Two
        Interactions must share their id mappings: a test set read from its own file is read
        with ``like=train`` (e.g. ``read_movielens_file("u1.test", like=train)``).
    k : int or sequence of int
        Cutoffs; ``max(k)`` items are requested per user.
    metrics : sequence of str, optional
        From ``turborec.metrics.RANKING_METRICS`` and ``"coverage"`` (catalogue coverage),
        ``"novelty"`` (bits, from training popularity), ``"diversity"`` (intra-list, needs
        ``item_vectors``). Default: every ranking metric.
    batch_size : int, optional
        Users per ``recommend`` call. Default: a 25th of the test users, within
        [256, 10000]. Results do not depend on it.
    item_vectors : array of shape (n_items, d), optional
        For ``"diversity"``.
    as_frame : bool
        Return a one-row pandas DataFrame instead of a dict (needs pandas).
    show_progress : bool, default True
        A tqdm progress bar over the test users, drawn once the ranking takes over ~1 s.
    backend, n_threads
        For the metrics kernel.

    Returns
    -------
    dict
        ``{"<metric>@<k>": value}``, averaged over test users with at least one relevant item.

    Raises
    ------
    ValueError
        ``train`` and ``test`` are Interactions whose user or item mappers differ (their
        indices mean different ids), their shapes differ, or no test user has a held-out item.
    """
    cutoffs = check_cutoffs(k)
    metrics = check_metric_names(RANKING_METRICS if metrics is None else metrics, RANKING_METRICS + BEYOND_ACCURACY)
    if "diversity" in metrics and item_vectors is None:
        raise ValueError("item_vectors: needed for the 'diversity' metric")
    _check_same_ids(train, test)
    # Canonical copies (sorted, no duplicates, no stored zeros): a stored zero is no interaction.
    train = as_relevance(_as_matrix(train, "train"), "train")
    test = as_relevance(_as_matrix(test, "test"), "test")
    if train.shape != test.shape:
        raise ValueError(f"test: expected shape {train.shape} like train, got {test.shape}")
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
    if len(users) == 0:
        raise ValueError("test: no user has a held-out interaction; nothing to evaluate")
    if batch_size is None:
        batch_size = min(_BATCH_MAX, max(_BATCH_MIN, math.ceil(len(users) / _BATCH_STEPS)))
    batch_size = check_k(batch_size, "batch_size")
    width = int(cutoffs[-1])
    recs = np.empty((len(users), width), dtype=np.int32)
    with progress_bar(show_progress, total=len(users), desc="evaluate", unit="users") as bar:
        for start in range(0, len(users), batch_size):
            batch = users[start:start + batch_size]
            ids, _ = model.recommend(batch, train[batch], N=width, filter_already_liked_items=True)
            ids = np.asarray(ids).reshape(len(batch), -1)[:, :width]
            recs[start:start + len(batch)] = -1
            recs[start:start + len(batch), : ids.shape[1]] = ids
            bar.update(len(batch))
    relevant = test[users]
    # Negatives for auc: items neither relevant nor in training (they were never ranked).
    seen = train[users]
    overlap = np.asarray(seen.multiply(relevant).getnnz(axis=1))
    n_negatives = train.shape[1] - np.diff(seen.indptr) - np.diff(relevant.indptr) + overlap
    ranking = [m for m in metrics if m in RANKING_METRICS]
    result = {}
    if ranking:
        _, values = ranking_metrics(recs, relevant, cutoffs, n_negatives=n_negatives, per_user=True,
                                    backend=backend, n_threads=n_threads)
        result.update(summarize(values, cutoffs, ranking))
    for c in cutoffs:
        top = recs[:, :c]
        if "coverage" in metrics:
            result[f"coverage@{c}"] = catalog_coverage(top, train.shape[1])
        if "novelty" in metrics:
            popularity = np.bincount(train.indices[: train.nnz], minlength=train.shape[1])
            result[f"novelty@{c}"] = novelty(top, popularity, train.shape[0])
        if "diversity" in metrics:
            result[f"diversity@{c}"] = intra_list_diversity(top, item_vectors)
    if as_frame:
        return _pandas().DataFrame([result])
    return result


def cross_validate(model, data, n_folds=5, k=(10,), metrics=None, *, seed=0, show_progress=True, as_frame=False,
                   verbose=False, **evaluate_kwargs):
    """Fit and evaluate a fresh copy of ``model`` on each of ``n_folds`` interaction folds.

    Parameters
    ----------
    model : unfitted recommender, or a zero-argument callable (e.g. a class) returning one
        An instance is deep-copied before every fit, so folds never share state.
    data : Interactions
        Split with :func:`turborec.split.kfold` (each interaction in exactly one test fold).
    n_folds, seed
        Passed to ``kfold``.
    k, metrics, **evaluate_kwargs
        Passed to :func:`evaluate`.
    show_progress : bool, default True
        A tqdm progress bar over folds, drawn once the work takes over ~1 s.
    as_frame : bool, default False
        Return a pandas DataFrame (needs pandas): one row per fold (index ``"fold 1"`` ...),
        then a ``"mean"`` and a ``"std"`` row; one column per metric, then ``fit_time`` and
        ``test_time`` (seconds).
    verbose : bool, default False
        Print a table of the per-fold values, their mean and std, and the fit and test time of
        each fold, rounded to 4 decimal places.

    Returns
    -------
    dict
        ``{"mean": {...}, "std": {...}, "folds": [{...}, ...], "fit_time": [...],
        "test_time": [...]}``: ``mean``, ``std`` and each fold keyed like :func:`evaluate`
        (std is the population standard deviation over folds); the fit and test (evaluate)
        seconds of each fold. A DataFrame with ``as_frame=True``.

    Raises
    ------
    ValueError
        A fold's train and test do not share their id mappers (see :func:`evaluate`).
    """
    from .split import kfold

    if not isinstance(data, Interactions):
        raise TypeError(f"data: expected turborec.datasets.Interactions, got {type(data).__name__}")
    if as_frame:
        _pandas()  # missing pandas is an error before the folds run, not after
    is_factory = isinstance(model, type) or (callable(model) and not hasattr(model, "fit"))
    make = model if is_factory else (lambda: copy.deepcopy(model))
    folds, fit_time, test_time = [], [], []
    name = None
    with progress_bar(show_progress, total=n_folds, desc="cross_validate", unit="folds") as bar:
        for train, test in kfold(data, n_folds=n_folds, seed=seed):
            _check_same_ids(train, test)
            fitted = make()
            name = type(fitted).__name__
            start = time.perf_counter()
            train_matrix = train.to_csr(values="ones")
            fitted.fit(train_matrix, show_progress=False)
            fit_time.append(time.perf_counter() - start)
            start = time.perf_counter()
            folds.append(evaluate(fitted, train_matrix, test, k, metrics, show_progress=False, **evaluate_kwargs))
            test_time.append(time.perf_counter() - start)
            bar.update(1)
    keys = list(folds[0])
    table = np.array([[fold[key] for key in keys] for fold in folds])
    out = {"mean": dict(zip(keys, table.mean(0).tolist())), "std": dict(zip(keys, table.std(0).tolist())),
           "folds": folds, "fit_time": fit_time, "test_time": test_time}
    if verbose:
        print(_summary(out, name))
    if as_frame:
        return _folds_frame(out)
    return out


def _check_same_ids(train, test):
    """ValueError when two Interactions index users or items by different mappings."""
    if not (isinstance(train, Interactions) and isinstance(test, Interactions)):
        return  # matrices, and Interactions beside a matrix, are compared by shape
    for side in ("user", "item"):
        ours, theirs = getattr(train, f"{side}_mapper"), getattr(test, f"{side}_mapper")
        if ours is None or theirs is None or ours is theirs or ours.same_ids(theirs):
            continue
        raise ValueError(f"train, test: their {side} ids are mapped differently (train's {side}_mapper is {ours!r}, "
                         f"test's is {theirs!r}), so one index means two different {side}s. Read the test set "
                         "with like=train (e.g. read_movielens_file('u1.test', like=train)), or build it with "
                         "Interactions.from_raw(..., like=train)")


def _columns(out):
    """Column name -> per-fold values: the metrics, then the fit and test seconds."""
    columns = {key: [fold[key] for fold in out["folds"]] for key in out["folds"][0]}
    columns["fit_time"], columns["test_time"] = out["fit_time"], out["test_time"]
    return columns


def _folds_frame(out):
    columns = _columns(out)
    n = len(out["folds"])
    rows = {name: values + [float(np.mean(values)), float(np.std(values))] for name, values in columns.items()}
    frame = _pandas().DataFrame(rows, index=[f"fold {i + 1}" for i in range(n)] + ["mean", "std"])
    frame.index.name = "fold"
    return frame


def _summary(out, name):
    """A text table: one row per metric (and fit / test time), one column per fold, mean and std."""
    columns = _columns(out)
    n = len(out["folds"])
    labels = {key: key for key in columns}
    labels.update(fit_time="fit time (s)", test_time="test time (s)")
    header = [f"Fold {i + 1}" for i in range(n)] + ["Mean", "Std"]
    cells = {key: [f"{v:.4f}" for v in values + [float(np.mean(values)), float(np.std(values))]]
             for key, values in columns.items()}
    first = max(len(label) for label in labels.values()) + 2
    width = max(len(text) for text in header + [c for row in cells.values() for c in row]) + 2
    metrics = [key for key in columns if key not in ("fit_time", "test_time")]
    lines = [f"Evaluating {', '.join(metrics)} of {name} on {n} folds.", "",
             " " * first + "".join(text.rjust(width) for text in header)]
    lines += [labels[key].ljust(first) + "".join(text.rjust(width) for text in row) for key, row in cells.items()]
    return "\n".join(lines)


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("as_frame=True needs pandas: pip install pandas") from None
    return pd
