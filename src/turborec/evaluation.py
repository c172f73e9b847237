"""Evaluate any implicit-style recommender: ``evaluate`` on one split, ``cross_validate`` over folds."""

import copy

import numpy as np

from .datasets import Interactions
from ._validation import check_k
from .metrics import (RANKING_METRICS, as_relevance, catalog_coverage, check_cutoffs, check_metric_names,
                      intra_list_diversity, novelty, ranking_metrics, summarize)
from .models._base import as_user_items

BEYOND_ACCURACY = ("coverage", "novelty", "diversity")


def _as_matrix(data, name):
    if isinstance(data, Interactions):
        return data.to_csr(values="ones")
    return as_user_items(data, name)


def evaluate(model, train, test, k=(10,), metrics=None, *, batch_size=10_000, item_vectors=None, as_frame=False,
             show_progress=False, backend=None, n_threads=None):
    """Rank the full catalogue for every test user (training items excluded) and score it.

    Parameters
    ----------
    model : fitted recommender with the implicit-style ``recommend`` (see turborec.models)
    train, test : scipy.sparse matrix (users x items) or Interactions, same shape
        Training interactions (excluded from the rankings) and held-out relevant items.
    k : int or sequence of int
        Cutoffs; ``max(k)`` items are requested per user.
    metrics : sequence of str, optional
        From ``turborec.metrics.RANKING_METRICS`` and ``"coverage"`` (catalogue coverage),
        ``"novelty"`` (bits, from training popularity), ``"diversity"`` (intra-list, needs
        ``item_vectors``). Default: every ranking metric.
    batch_size : int
        Users per ``recommend`` call.
    item_vectors : array of shape (n_items, d), optional
        For ``"diversity"``.
    as_frame : bool
        Return a one-row pandas DataFrame instead of a dict (needs pandas).
    show_progress : bool
        A tqdm progress bar over batches (when tqdm is installed).
    backend, n_threads
        For the metrics kernel.

    Returns
    -------
    dict
        ``{"<metric>@<k>": value}``, averaged over test users with at least one relevant item.
    """
    cutoffs = check_cutoffs(k)
    metrics = check_metric_names(RANKING_METRICS if metrics is None else metrics, RANKING_METRICS + BEYOND_ACCURACY)
    if "diversity" in metrics and item_vectors is None:
        raise ValueError("item_vectors: needed for the 'diversity' metric")
    # Canonical copies (sorted, no duplicates, no stored zeros): a stored zero is no interaction.
    train = as_relevance(_as_matrix(train, "train"), "train")
    test = as_relevance(_as_matrix(test, "test"), "test")
    if train.shape != test.shape:
        raise ValueError(f"test: expected shape {train.shape} like train, got {test.shape}")
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
    if len(users) == 0:
        raise ValueError("test: no user has a held-out interaction; nothing to evaluate")
    batch_size = check_k(batch_size, "batch_size")
    width = int(cutoffs[-1])
    recs = np.empty((len(users), width), dtype=np.int32)
    batches = range(0, len(users), batch_size)
    for start in _progress(batches, show_progress, "evaluate"):
        batch = users[start:start + batch_size]
        ids, _ = model.recommend(batch, train[batch], N=width, filter_already_liked_items=True)
        ids = np.asarray(ids).reshape(len(batch), -1)[:, :width]
        recs[start:start + len(batch)] = -1
        recs[start:start + len(batch), : ids.shape[1]] = ids
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
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("as_frame=True needs pandas: pip install pandas") from None
        return pd.DataFrame([result])
    return result


def cross_validate(model, data, n_folds=5, k=(10,), metrics=None, *, seed=0, show_progress=True, **evaluate_kwargs):
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
    show_progress : bool
        A tqdm progress bar over folds (when tqdm is installed).

    Returns
    -------
    dict
        ``{"mean": {...}, "std": {...}, "folds": [{...}, ...]}``, keyed like :func:`evaluate`;
        std is the population standard deviation over folds.
    """
    from .split import kfold

    if not isinstance(data, Interactions):
        raise TypeError(f"data: expected turborec.datasets.Interactions, got {type(data).__name__}")
    if evaluate_kwargs.get("as_frame"):
        raise ValueError("as_frame: not supported by cross_validate; build a DataFrame from the returned 'folds'")
    is_factory = isinstance(model, type) or (callable(model) and not hasattr(model, "fit"))
    make = model if is_factory else (lambda: copy.deepcopy(model))
    folds = []
    for train, test in _progress(kfold(data, n_folds=n_folds, seed=seed), show_progress, "cross_validate", n_folds):
        fitted = make()
        train_matrix = train.to_csr(values="ones")
        fitted.fit(train_matrix, show_progress=False)
        folds.append(evaluate(fitted, train_matrix, test, k, metrics, **evaluate_kwargs))
    keys = list(folds[0])
    table = np.array([[fold[key] for key in keys] for fold in folds])
    return {"mean": dict(zip(keys, table.mean(0).tolist())), "std": dict(zip(keys, table.std(0).tolist())),
            "folds": folds}


def _progress(iterable, show, description, total=None):
    if not show:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=description, total=total)
