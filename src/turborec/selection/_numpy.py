"""NumPy reference of the selection family: slow, obviously correct, the test oracle.

The contract every backend of this family meets (the public functions in ``__init__.py`` have
validated and coerced everything before the call):

- arrays are C-contiguous float32 or float64 on the backend's device, ``n >= 1``, ``m >= 1``,
  ``1 <= k <= m``; ``topk_dot``'s ``queries`` and ``items`` are finite;
- ``exclude`` is None or ``(indptr, indices)`` of a checked CSR with one row per score row,
  column ids in range and sorted within each row, duplicates allowed;
- ``query_scale`` / ``item_scale`` are None, or both given (cosine): each score is multiplied
  by ``query_scale[i] * item_scale[j]`` after the product;
- ``topk_dot_quantized`` takes float32 ``queries`` and their int16 codes ``qcodes``
  (``quantize_queries``), the int8 ``codes`` (panel layout, see ``QuantizedItems``), float32
  ``scales`` and ``items``, and ``1 <= k <= n_candidates <= m``;
- ``plan`` is the host blocking plan (GPU backends ignore it), ``n_threads`` a resolved
  positive int (GPU backends ignore it), and ``ids`` / ``values`` the (n, k) outputs.

Selection order: best score first, ties to the lower id. NaN scores and scores equal to the
padding value (-inf when ``largest``, +inf otherwise) are never selected; rows with fewer
than ``k`` eligible entries are padded with id -1 and the padding value.
"""

import numpy as np


def masked_keys(scores, exclude, largest):
    """Keys to rank by (larger first): the scores or their negation, with NaN and excluded
    entries set to -inf. A copy: ``scores`` is never written."""
    keys = np.array(scores, copy=True) if largest else -scores
    keys[np.isnan(keys)] = -np.inf
    if exclude is not None:
        indptr, indices = exclude
        rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        keys[rows, indices[: indptr[-1]]] = -np.inf
    return keys


def topk(scores, exclude, k, largest, plan, n_threads, ids, values):
    keys = masked_keys(scores, exclude, largest)
    columns = np.arange(keys.shape[1])
    for r in range(keys.shape[0]):
        # lexsort sorts by the last key first: descending key, then ascending id.
        order = np.lexsort((columns, -keys[r]))[:k]
        eligible = keys[r, order] > -np.inf
        ids[r] = np.where(eligible, order, -1)
        values[r] = np.where(eligible, scores[r, order], -np.inf if largest else np.inf)


def topk_dot(queries, items, exclude, query_scale, item_scale, k, plan, n_threads, ids, values):
    scores = queries @ items.T
    if query_scale is not None:
        scores *= query_scale[:, None] * item_scale[None, :]
    topk(scores, exclude, k, True, plan, n_threads, ids, values)


def approximate_scores(qcodes, codes, scales):
    """(n, m) float32 approximate scores over the int8 table: ``float(sum_f g_f * code_jf) *
    scale_j``, the sum exact in integers (every backend's bits)."""
    n_panels, pairs, width, _ = codes.shape
    m = scales.shape[0]
    flat = codes.transpose(0, 2, 1, 3).reshape(n_panels * width, 2 * pairs)[:m]  # item j's codes in row j
    return (qcodes.astype(np.int64) @ flat.astype(np.int64).T).astype(np.float32) * scales


def exact_scores(query, items, ids):
    """float32 of the float64 sums, in order of f, of ``query * items[ids]`` (products of float32
    are exact in float64)."""
    acc = np.zeros(len(ids), np.float64)
    for f in range(items.shape[1]):
        acc += np.float64(query[f]) * items[ids, f].astype(np.float64)
    return acc.astype(np.float32)


def topk_dot_quantized(queries, qcodes, codes, scales, items, exclude, k, n_candidates, plan, n_threads, ids,
                       values):
    n = queries.shape[0]
    candidates = np.empty((n, n_candidates), np.int32)
    topk(approximate_scores(qcodes, codes, scales), exclude, n_candidates, True, plan, n_threads, candidates,
         np.empty((n, n_candidates), np.float32))
    for r in range(n):
        kept = candidates[r][candidates[r] >= 0]
        exact = exact_scores(queries[r], items, kept)
        order = np.lexsort((kept, -exact))[:k]
        ids[r] = -1
        values[r] = -np.inf
        ids[r, :len(order)] = kept[order]
        values[r, :len(order)] = exact[order]
