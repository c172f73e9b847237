"""Incremental serving: a user's state after a sequence, then one item at a time.

SASRec is causal and right-padded: appending item ``t`` changes no earlier position's output in
any block, so each block needs only the new row's query, key and value and the cached keys and
values of positions ``0 .. t-1`` (of that block's input). A step is then exact: the same
computation as a full pass, for one row. Two cases re-encode the whole window instead (counted in
``state.full_passes``): a sequence already ``max_len`` long (the window slides, every position
shifts), and BERT4Rec (bidirectional attention, and its [MASK] moves).
"""

import numpy as np

from .._dispatch import dispatch
from ._sequences import Batch, check_sequence


class SequenceState:
    """What :meth:`SASRec.start` returns and :meth:`SASRec.step` advances (opaque to callers).

    Attributes
    ----------
    items : int64 array
        Every item of the sequence so far (oldest first, truncated ones included).
    length : int
        Items inside the model's window (at most ``max_len``).
    user : float32 array of shape (hidden_size,)
        The user representation after the last item.
    full_passes : int
        Steps that re-encoded the window instead of using the cached keys and values.
    """

    def __init__(self, items, length, user, keys, values):
        self.items, self.length, self.user = items, length, user
        self._keys, self._values = keys, values
        self.full_passes = 0


def start(model, sequence, backend, n_threads):
    sequence = check_sequence(np.asarray(sequence), model.n_items, "sequence")
    batch = Batch([sequence], None, model.n_items, model.max_len)
    caches = []
    user = model._forward(batch, backend, n_threads, caches)[0]
    length, d = int(batch.lengths[0]), model.hidden_size
    keys = [np.zeros((model.max_len, d), np.float32) for _ in caches]
    values = [np.zeros((model.max_len, d), np.float32) for _ in caches]
    for (k, v), key, value in zip(caches, keys, values):
        key[:length], value[:length] = k[0, :length], v[0, :length]
    return SequenceState(sequence.astype(np.int64), length, user, keys, values)


def step(model, state, item, backend, n_threads):
    if not isinstance(state, SequenceState):
        raise TypeError(f"state: expected what start() returned, got {type(state).__name__}")
    item = check_sequence(np.asarray([item]), model.n_items, "item")
    items = np.concatenate([state.items, item.astype(np.int64)])
    if not model._CAUSAL or state.length == model.max_len:
        fresh = start(model, items, backend, n_threads)
        fresh.full_passes = state.full_passes + 1
        state.__dict__.update(fresh.__dict__)
        return
    s, t = model._state, state.length
    x = s["item_embedding.weight"][item] + s["position_embedding.weight"][t:t + 1]
    user = dispatch("attention", "encoder_step", inputs=(x,),
                    params=(t, state._keys, state._values, model._blocks, model._embedding_ln, model._settings),
                    outputs=[((1, model.hidden_size), np.float32)], backend=backend, n_threads=n_threads)
    state.user, state.items, state.length = model._head(user, dict(backend=backend, n_threads=n_threads))[0], items, t + 1
