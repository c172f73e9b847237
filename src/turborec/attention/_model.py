"""SASRec inference from RecBole's weights, on the attention kernels.

RecBole's SASRec (``recbole/model/sequential_recommender/sasrec.py`` with the
``TransformerEncoder`` of ``recbole/model/layers.py``), in evaluation mode (dropout is the
identity):

    x = LayerNorm(item_embedding[seq] + position_embedding[0..L-1])
    per block:  a = LayerNorm(dense(MultiHeadAttention(x)) + x)        (post-LN)
                x = LayerNorm(dense_2(act(dense_1(a))) + a)
    user = x[length - 1]           (right padding; the last real position is gathered)
    score(item) = user . item_embedding[item]

Attention divides by sqrt(head size) and adds RecBole's -10000 key-padding + causal mask. Item
id 0 is RecBole's padding: never a valid input, never recommended. The final block computes its
query, attention and feed-forward for the last real position only (keys and values for all).
"""

import json
import os
import re

import numpy as np
import scipy.sparse as sp

from .. import _validation as checks
from ..selection import topk_dot
from . import ACTIVATIONS, _attention, _check_eps, _check_lengths, _layer_norm, _linear

_FORMAT = "turborec.attention/1"
_CONFIG_KEY = "__config__"
_BLOCK = "trm_encoder.layer.{}."
_HIDDEN_ACTS = ("gelu", "relu")


def _block_shapes(d, inner):
    """RecBole's parameter names of one TransformerLayer and their shapes."""
    shapes = {}
    for part in ("query", "key", "value", "dense"):
        shapes[f"multi_head_attention.{part}.weight"] = (d, d)
        shapes[f"multi_head_attention.{part}.bias"] = (d,)
    shapes["multi_head_attention.LayerNorm.weight"] = shapes["multi_head_attention.LayerNorm.bias"] = (d,)
    shapes["feed_forward.dense_1.weight"], shapes["feed_forward.dense_1.bias"] = (inner, d), (inner,)
    shapes["feed_forward.dense_2.weight"], shapes["feed_forward.dense_2.bias"] = (d, inner), (d,)
    shapes["feed_forward.LayerNorm.weight"] = shapes["feed_forward.LayerNorm.bias"] = (d,)
    return shapes


def _to_numpy(value, key):
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor; torch itself is not imported
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"state_dict[{key!r}]: expected a NumPy array or torch tensor, got {type(value).__name__}")
    return value


def _read_state(state_dict):
    """A dict of NumPy arrays from a mapping (NumPy arrays or torch tensors) or an .npz path."""
    if isinstance(state_dict, (str, os.PathLike)):
        with np.load(state_dict, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"state_dict: expected a mapping of parameter names to arrays or a path to .npz, "
                        f"got {type(state_dict).__name__}")
    return {str(key): _to_numpy(state_dict[key], key) for key in state_dict.keys()}


def _take(state, key, shape):
    """``state[key]`` as float32, checked to have ``shape`` (names the key and the expected shape)."""
    if key not in state:
        raise ValueError(f"state_dict: missing key {key!r} (expected shape {shape})")
    value = state[key]
    if value.shape != tuple(shape):
        raise ValueError(f"state_dict[{key!r}]: expected shape {tuple(shape)}, got {value.shape}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"state_dict[{key!r}]: expected a float array, got dtype {value.dtype}")
    value = np.ascontiguousarray(value, dtype=np.float32)
    if not np.isfinite(value).all():
        raise ValueError(f"state_dict[{key!r}]: contains NaN or inf")
    return value


class SASRec:
    """SASRec next-item recommendation from pretrained RecBole weights, without torch.

    Build one with :meth:`from_recbole` or :func:`load_npz`. Sequences are lists of RecBole's
    internal item ids (``1 .. n_items - 1``; 0 is the padding id), oldest first. A sequence
    longer than ``max_len`` keeps its ``max_len`` most recent items (RecBole's own truncation).

    Attributes
    ----------
    n_items : int
        Rows of the item embedding, padding row 0 included.
    hidden_size, inner_size, n_layers, n_heads, max_len : int
    hidden_act : str
    layer_norm_eps : float
    """

    def __init__(self, state, *, n_heads, hidden_act, layer_norm_eps, max_len):
        self.n_heads = checks.as_int(n_heads, "n_heads", "an int")
        if hidden_act not in _HIDDEN_ACTS:
            raise ValueError(f"hidden_act: expected one of {', '.join(_HIDDEN_ACTS)}, got {hidden_act!r}")
        self.hidden_act = hidden_act
        self.layer_norm_eps = _check_eps(layer_norm_eps)
        if "item_embedding.weight" not in state:
            raise ValueError("state_dict: missing key 'item_embedding.weight' (expected shape (n_items, hidden_size))")
        table = state["item_embedding.weight"]
        if table.ndim != 2 or table.shape[0] < 2 or table.shape[1] < 1:
            raise ValueError(f"state_dict['item_embedding.weight']: expected shape (n_items >= 2, hidden_size), "
                             f"got {table.shape}")
        self.n_items, d = table.shape
        self.hidden_size = d
        if self.n_heads < 1 or d % self.n_heads:
            raise ValueError(f"n_heads: expected a positive divisor of the hidden size {d}, got {n_heads}")
        positions = state.get("position_embedding.weight")
        if positions is None or positions.ndim != 2:
            raise ValueError(f"state_dict: missing or malformed key 'position_embedding.weight' "
                             f"(expected shape (max_len, {d}))")
        table_len = positions.shape[0]
        self.max_len = table_len if max_len is None else checks.as_int(max_len, "max_len", "an int or None")
        if not 1 <= self.max_len <= table_len:
            raise ValueError(f"max_len: expected 1 to {table_len} (rows of position_embedding.weight), "
                             f"got {self.max_len}")
        layers = sorted({int(m.group(1)) for key in state if (m := re.match(r"trm_encoder\.layer\.(\d+)\.", key))})
        if not layers:
            raise ValueError("state_dict: no 'trm_encoder.layer.<i>.*' keys (expected at least one Transformer layer)")
        self.n_layers = layers[-1] + 1
        inner_key = _BLOCK.format(0) + "feed_forward.dense_1.weight"
        inner = state[inner_key].shape[0] if inner_key in state and state[inner_key].ndim == 2 else None
        if inner is None:
            raise ValueError(f"state_dict: missing or malformed key {inner_key!r} (expected shape (inner_size, {d}))")
        self.inner_size = inner
        self._state = {"item_embedding.weight": _take(state, "item_embedding.weight", (self.n_items, d)),
                       "position_embedding.weight": _take(state, "position_embedding.weight", (table_len, d)),
                       "LayerNorm.weight": _take(state, "LayerNorm.weight", (d,)),
                       "LayerNorm.bias": _take(state, "LayerNorm.bias", (d,))}
        for i in range(self.n_layers):
            for name, shape in _block_shapes(d, inner).items():
                key = _BLOCK.format(i) + name
                self._state[key] = _take(state, key, shape)
        unexpected = sorted(set(state) - set(self._state) - {_CONFIG_KEY})
        if unexpected:
            raise ValueError(f"state_dict: unexpected keys {unexpected[:5]} (is this RecBole's SASRec?)")
        self._blocks = [self._fuse(i) for i in range(self.n_layers)]

    def _fuse(self, i):
        """One block's weights in the layout the forward pass uses: Q, K, V fused into one
        projection (and K, V alone for the final block, whose queries are the last rows only)."""
        p = {name: self._state[_BLOCK.format(i) + name] for name in _block_shapes(1, 1)}
        attn, ffn = "multi_head_attention.", "feed_forward."
        qkv = [p[f"{attn}{part}.weight"] for part in ("query", "key", "value")]
        qkv_bias = [p[f"{attn}{part}.bias"] for part in ("query", "key", "value")]
        return {"qkv": np.concatenate(qkv), "qkv_bias": np.concatenate(qkv_bias),
                "q": qkv[0], "q_bias": qkv_bias[0], "kv": np.concatenate(qkv[1:]),
                "kv_bias": np.concatenate(qkv_bias[1:]),
                "out": p[attn + "dense.weight"], "out_bias": p[attn + "dense.bias"],
                "ln1": (p[attn + "LayerNorm.weight"], p[attn + "LayerNorm.bias"]),
                "ff1": p[ffn + "dense_1.weight"], "ff1_bias": p[ffn + "dense_1.bias"],
                "ff2": p[ffn + "dense_2.weight"], "ff2_bias": p[ffn + "dense_2.bias"],
                "ln2": (p[ffn + "LayerNorm.weight"], p[ffn + "LayerNorm.bias"])}

    @classmethod
    def from_recbole(cls, state_dict, *, n_heads=2, hidden_act="gelu", layer_norm_eps=1e-12, max_len=None):
        """A model from RecBole's SASRec weights.

        Parameters
        ----------
        state_dict : mapping or path
            RecBole's parameter names (``item_embedding.weight``, ``position_embedding.weight``,
            ``LayerNorm.*``, ``trm_encoder.layer.<i>.multi_head_attention.{query,key,value,dense,
            LayerNorm}.*``, ``trm_encoder.layer.<i>.feed_forward.{dense_1,dense_2,LayerNorm}.*``)
            to NumPy arrays or torch tensors (``model.state_dict()``, or
            ``torch.load(path)["state_dict"]`` of a RecBole checkpoint), or the path of an .npz
            holding them. Weights are used as float32.
        n_heads : int, default 2
            RecBole's ``n_heads`` (not recorded in the weights).
        hidden_act : {"gelu", "relu"}, default "gelu"
            RecBole's ``hidden_act``; GELU is the exact erf form.
        layer_norm_eps : float, default 1e-12
        max_len : int, optional
            Most recent items kept per sequence; default (and at most) the rows of
            ``position_embedding.weight`` (RecBole's ``MAX_ITEM_LIST_LENGTH``).

        Raises
        ------
        ValueError
            A missing, mis-shaped or unexpected key (named, with the expected shape).
        """
        return cls(_read_state(state_dict), n_heads=n_heads, hidden_act=hidden_act,
                   layer_norm_eps=layer_norm_eps, max_len=max_len)

    def config(self):
        """The settings not recorded in the weights (what :func:`save_npz` stores as JSON)."""
        return {"format": _FORMAT, "model": "SASRec", "n_heads": self.n_heads, "hidden_act": self.hidden_act,
                "layer_norm_eps": self.layer_norm_eps, "max_len": self.max_len}

    def state_dict(self):
        """RecBole's parameter names to float32 arrays (copies)."""
        return {key: value.copy() for key, value in self._state.items()}

    # ---- sequences ----

    def _batch(self, sequences, lengths):
        """Right-padded int32 ids (n, width) and int32 lengths, each truncated to the most recent
        ``max_len`` items; plus the CSR (indptr, indices) of every item the user passed."""
        if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
            rows = sequences
            if lengths is None:
                lengths = np.full(len(rows), rows.shape[1])
            full = _check_lengths(lengths, len(rows), rows.shape[1], "lengths")
            seqs = [rows[b, :full[b]] for b in range(len(rows))]
        else:
            if lengths is not None:
                raise ValueError("lengths: give it only with a padded 2-D array of sequences")
            if isinstance(sequences, np.ndarray) or not hasattr(sequences, "__len__"):
                raise TypeError("sequences: expected a list of 1-D int arrays or a padded 2-D int array, got "
                                f"{type(sequences).__name__}" + (f" of shape {sequences.shape}"
                                                                 if isinstance(sequences, np.ndarray) else ""))
            seqs = [checks.as_array(s, f"sequences[{b}]") for b, s in enumerate(sequences)]
        for b, s in enumerate(seqs):
            if s.ndim != 1:
                raise ValueError(f"sequences[{b}]: expected a 1-D array of item ids, got shape {s.shape}")
            if s.size == 0:
                raise ValueError(f"sequences[{b}]: empty sequence (at least one item is needed)")
            if not np.issubdtype(s.dtype, np.integer):
                raise TypeError(f"sequences[{b}]: expected integer item ids, got dtype {s.dtype}")
            low, high = int(s.min()), int(s.max())
            if low < 1 or high >= self.n_items:
                bad = low if low < 1 else high
                raise IndexError(f"sequences[{b}]: item id {bad} out of range [1, {self.n_items})"
                                 + (" (0 is RecBole's padding id)" if bad == 0 else ""))
        n = len(seqs)
        kept = np.array([min(len(s), self.max_len) for s in seqs], dtype=np.int32)
        width = int(kept.max()) if n else 1
        padded = np.zeros((n, width), dtype=np.int32)
        for b, s in enumerate(seqs):
            padded[b, :kept[b]] = s[len(s) - kept[b]:]
        seen = (np.cumsum([0] + [len(s) for s in seqs]), np.concatenate(seqs) if n else np.zeros(0, np.int64))
        return padded, kept, seen

    def encode(self, sequences, *, lengths=None, backend=None, n_threads=None):
        """The user representation after the last real item of each sequence (RecBole's
        ``forward``): what is dotted with the item embeddings to score the next item.

        Parameters
        ----------
        sequences : list of 1-D int arrays, or a 2-D int array
            Item ids oldest first, each in ``[1, n_items)``; at least one per sequence. A 2-D
            array is right-padded when ``lengths`` is given, else every row is a full sequence.
            Only the ``max_len`` most recent items of a sequence are used.
        lengths : 1-D int array, optional
            Real items per row of a 2-D ``sequences``.
        backend, n_threads
            As in :func:`turborec.topk`.

        Returns
        -------
        float32 array of shape (n_sequences, hidden_size)
        """
        padded, kept, _ = self._batch(sequences, lengths)
        return self._forward(padded, kept, backend, n_threads)

    def _forward(self, padded, lengths, backend, n_threads):
        n, width = padded.shape
        d = self.hidden_size
        if n == 0:
            return np.zeros((0, d), np.float32)
        s = self._state
        x = s["item_embedding.weight"][padded] + s["position_embedding.weight"][:width]
        x = _layer_norm(x.reshape(n * width, d), None, s["LayerNorm.weight"], s["LayerNorm.bias"],
                        self.layer_norm_eps, backend, n_threads)
        run = dict(backend=backend, n_threads=n_threads)
        for i, p in enumerate(self._blocks):
            last = i == self.n_layers - 1
            if last:  # keys and values of every position; query, attention and FFN of the last real one
                kv = _linear(x, p["kv"], p["kv_bias"], 0, **run).reshape(n, width, 2 * d)
                k, v = np.ascontiguousarray(kv[..., :d]), np.ascontiguousarray(kv[..., d:])
                x = np.ascontiguousarray(x.reshape(n, width, d)[np.arange(n), lengths - 1])
                q = _linear(x, p["q"], p["q_bias"], 0, **run).reshape(n, 1, d)
            else:
                qkv = _linear(x, p["qkv"], p["qkv_bias"], 0, **run).reshape(n, width, 3 * d)
                q, k, v = (np.ascontiguousarray(qkv[..., j * d:(j + 1) * d]) for j in range(3))
            context = _attention(q, k, v, lengths, self.n_heads, True, last, **run).reshape(-1, d)
            x = _layer_norm(_linear(context, p["out"], p["out_bias"], 0, **run), x, *p["ln1"],
                            self.layer_norm_eps, **run)
            hidden = _linear(x, p["ff1"], p["ff1_bias"], ACTIVATIONS.index(self.hidden_act), **run)
            x = _layer_norm(_linear(hidden, p["ff2"], p["ff2_bias"], 0, **run), x, *p["ln2"],
                            self.layer_norm_eps, **run)
        return x

    def recommend(self, sequences, k=10, exclude_seen=True, candidates=None, *, lengths=None, backend=None,
                  n_threads=None):
        """Top-k next items per sequence, by ``encode(sequences) @ item_embedding.T``, computed with
        :func:`turborec.topk_dot` (tiles, never an n x n_items matrix).

        Parameters
        ----------
        sequences, lengths
            As in :meth:`encode`.
        k : int, default 10
        exclude_seen : bool, default True
            Never return an item of the sequence (all of it, truncated part included). The padding
            id 0 is never returned.
        candidates : 1-D int array, optional
            Rank only these item ids.
        backend, n_threads
            As in :func:`turborec.topk`.

        Returns
        -------
        ids : int32 array of shape (n_sequences, min(k, n_eligible))
        scores : float32 array of the same shape
            Excluded slots, when fewer items than ``k`` are eligible, follow :func:`turborec.topk_dot`.
        """
        exclude_seen = checks.as_bool(exclude_seen, "exclude_seen")
        padded, kept, (indptr, seen) = self._batch(sequences, lengths)
        users = self._forward(padded, kept, backend, n_threads)
        n = len(users)
        if exclude_seen:
            rows = np.repeat(np.arange(n), np.diff(indptr))
            rows, cols = np.concatenate([rows, np.arange(n)]), np.concatenate([seen, np.zeros(n, seen.dtype)])
        else:
            rows, cols = np.arange(n), np.zeros(n, np.int64)
        exclude = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, self.n_items))
        exclude.sum_duplicates()
        return topk_dot(users, self._state["item_embedding.weight"], k, exclude=exclude, candidates=candidates,
                        backend=backend, n_threads=n_threads)

    def scores(self, sequences, items, *, lengths=None, backend=None, n_threads=None):
        """Scores of given items (sampled-candidate evaluation): ``encode(sequences) . item``.

        Parameters
        ----------
        sequences, lengths
            As in :meth:`encode`.
        items : 1-D int array of shape (m,), or 2-D of shape (n_sequences, m)
            Item ids in ``[0, n_items)``: the same for every sequence, or one row per sequence.
        backend, n_threads
            As in :func:`turborec.topk`.

        Returns
        -------
        float32 array of shape (n_sequences, m)
        """
        items = checks.as_array(items, "items")
        if items.ndim not in (1, 2) or (items.size and not np.issubdtype(items.dtype, np.integer)):
            raise TypeError(f"items: expected a 1-D or 2-D int array, got shape {items.shape} dtype {items.dtype}")
        if items.size and (items.min() < 0 or items.max() >= self.n_items):
            bad = items.min() if items.min() < 0 else items.max()
            raise IndexError(f"items: item id {bad} out of range [0, {self.n_items})")
        padded, kept, _ = self._batch(sequences, lengths)
        if items.ndim == 2 and items.shape[0] != len(padded):
            raise ValueError(f"items: expected {len(padded)} rows (one per sequence), got shape {items.shape}")
        users = self._forward(padded, kept, backend, n_threads)
        table = self._state["item_embedding.weight"]
        if items.ndim == 1:
            return _linear(users, np.ascontiguousarray(table[items]), None, 0, backend, n_threads)
        return np.einsum("nd,nmd->nm", users, table[items]).astype(np.float32)


def save_npz(model, path):
    """Write ``model`` (its RecBole weights and its config as a JSON string) to an .npz file, which
    :func:`load_npz` reads back with ``allow_pickle=False``."""
    if not isinstance(model, SASRec):
        raise TypeError(f"model: expected a turborec.attention.SASRec, got {type(model).__name__}")
    np.savez(path, **model.state_dict(), **{_CONFIG_KEY: np.array(json.dumps(model.config()))})


def load_npz(path):
    """The model :func:`save_npz` wrote to ``path`` (read with ``allow_pickle=False``)."""
    state = _read_state(os.fspath(path) if isinstance(path, os.PathLike) else path)
    if _CONFIG_KEY not in state:
        raise ValueError(f"{path}: no {_CONFIG_KEY!r} entry; not written by turborec.attention.save_npz "
                         "(for RecBole weights use SASRec.from_recbole)")
    config = json.loads(str(state.pop(_CONFIG_KEY)))
    if config.get("format") != _FORMAT or config.get("model") != "SASRec":
        raise ValueError(f"{path}: unsupported model file {config.get('format')!r} / {config.get('model')!r}")
    return SASRec(state, n_heads=config["n_heads"], hidden_act=config["hidden_act"],
                  layer_norm_eps=config["layer_norm_eps"], max_len=config["max_len"])
