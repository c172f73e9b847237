"""Reading RecBole's Transformer weights: a mapping of parameter names to arrays (NumPy, or torch
tensors without importing torch) or an .npz path; every key checked for presence and shape, named
with the expected shape when wrong; the blocks' weights laid out for the forward pass.
(SASRec.pytorch's weights: ``_pmixer.py``, on the same helpers.)"""

import os
import re

import numpy as np

from .. import _validation as checks

CONFIG_KEY = "__config__"  # the JSON config save_npz adds next to the weights
BLOCK = "trm_encoder.layer.{}."


def block_shapes(d, inner):
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


def read_state(state_dict):
    """A dict of NumPy arrays from a mapping (NumPy arrays or torch tensors) or an .npz path."""
    if isinstance(state_dict, (str, os.PathLike)):
        with np.load(state_dict, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
        raise TypeError(f"state_dict: expected a mapping of parameter names to arrays or a path to .npz, "
                        f"got {type(state_dict).__name__}")
    return {str(key): _to_numpy(state_dict[key], key) for key in state_dict.keys()}


def take(state, key, shape):
    """``state[key]`` as C-contiguous float32, checked to have ``shape`` and finite values."""
    if key not in state:
        raise ValueError(f"state_dict: missing key {key!r} (expected shape {tuple(shape)})")
    value = state[key]
    if value.shape != tuple(shape):
        raise ValueError(f"state_dict[{key!r}]: expected shape {tuple(shape)}, got {value.shape}")
    if not np.issubdtype(value.dtype, np.floating):
        raise TypeError(f"state_dict[{key!r}]: expected a float array, got dtype {value.dtype}")
    value = np.ascontiguousarray(value, dtype=np.float32)
    if not np.isfinite(value).all():
        raise ValueError(f"state_dict[{key!r}]: contains NaN or inf")
    return value


def _matrix_shape(state, key, expected, ndim=2):
    """The shape of the ``ndim``-D ``state[key]`` (read before its other dimensions are known)."""
    value = state.get(key)
    if value is None or value.ndim != ndim:
        what = "missing" if value is None else f"malformed (shape {value.shape})"
        raise ValueError(f"state_dict: {what} key {key!r} (expected shape {expected})")
    return value.shape


class EncoderWeights:
    """The checked weights of RecBole's embedding + TransformerEncoder, float32.

    Attributes: ``table_rows`` (rows of ``item_embedding.weight``), ``hidden_size``,
    ``inner_size``, ``n_layers``, ``position_rows``; ``state`` (RecBole's names to arrays, the
    ``extra`` keys included) and ``blocks`` (each block's weights in the forward pass's layout).
    """

    def __init__(self, state, extra, model_name):
        """``extra(table_rows, d)``: the model's own keys beyond the encoder, to their shapes."""
        self.table_rows, d = _matrix_shape(state, "item_embedding.weight", "(n_items, hidden_size)")
        if self.table_rows < 2 or d < 1:
            raise ValueError(f"state_dict['item_embedding.weight']: expected at least 2 rows and 1 column, "
                             f"got shape {(self.table_rows, d)}")
        self.hidden_size = d
        self.position_rows = _matrix_shape(state, "position_embedding.weight", f"(max_len, {d})")[0]
        layers = {int(m.group(1)) for key in state if (m := re.match(r"trm_encoder\.layer\.(\d+)\.", key))}
        if not layers:
            raise ValueError("state_dict: no 'trm_encoder.layer.<i>.*' keys (expected at least one Transformer layer)")
        self.n_layers = max(layers) + 1
        self.inner_size = _matrix_shape(state, BLOCK.format(0) + "feed_forward.dense_1.weight", f"(inner_size, {d})")[0]
        shapes = {"item_embedding.weight": (self.table_rows, d), "position_embedding.weight": (self.position_rows, d),
                  "LayerNorm.weight": (d,), "LayerNorm.bias": (d,)}
        for i in range(self.n_layers):
            shapes.update({BLOCK.format(i) + name: shape for name, shape in block_shapes(d, self.inner_size).items()})
        shapes.update(extra(self.table_rows, d))
        self.state = {key: take(state, key, shape) for key, shape in shapes.items()}
        unexpected = sorted(set(state) - set(shapes) - {CONFIG_KEY})
        if unexpected:
            raise ValueError(f"state_dict: unexpected keys {unexpected[:5]} (is this RecBole's {model_name}?)")
        self.blocks = [self._fuse(i) for i in range(self.n_layers)]

    def _fuse(self, i):
        """One block's weights as the forward pass uses them: Q, K, V fused into one projection
        (and K, V alone for the final block, whose queries are the last real rows only)."""
        p = {name: self.state[BLOCK.format(i) + name] for name in block_shapes(1, 1)}
        attn, ffn = "multi_head_attention.", "feed_forward."
        qkv = [p[f"{attn}{part}.weight"] for part in ("query", "key", "value")]
        qkv_bias = [p[f"{attn}{part}.bias"] for part in ("query", "key", "value")]
        block = {"qkv": np.concatenate(qkv), "qkv_bias": np.concatenate(qkv_bias),
                 "q": qkv[0], "q_bias": qkv_bias[0], "kv": np.concatenate(qkv[1:]),
                 "kv_bias": np.concatenate(qkv_bias[1:]),
                 "out": p[attn + "dense.weight"], "out_bias": p[attn + "dense.bias"],
                 "ln1": (p[attn + "LayerNorm.weight"], p[attn + "LayerNorm.bias"]),
                 "ff1": p[ffn + "dense_1.weight"], "ff1_bias": p[ffn + "dense_1.bias"],
                 "ff2": p[ffn + "dense_2.weight"], "ff2_bias": p[ffn + "dense_2.bias"],
                 "ln2": (p[ffn + "LayerNorm.weight"], p[ffn + "LayerNorm.bias"])}
        # the native encoder_forward's order (attention.hpp's EncoderBlock), built once here
        block["packed"] = (block["qkv"], block["qkv_bias"], block["out"], block["out_bias"], *block["ln1"],
                           block["ff1"], block["ff1_bias"], block["ff2"], block["ff2_bias"], *block["ln2"])
        return block


def check_settings(n_heads, hidden_act, max_len, weights, hidden_acts):
    """The settings not recorded in the weights, checked against them."""
    d = weights.hidden_size
    n_heads = checks.as_int(n_heads, "n_heads", "an int")
    if n_heads < 1 or d % n_heads:
        raise ValueError(f"n_heads: expected a positive divisor of the hidden size {d}, got {n_heads}")
    if hidden_act not in hidden_acts:
        raise ValueError(f"hidden_act: expected one of {', '.join(hidden_acts)}, got {hidden_act!r}")
    rows = weights.position_rows
    max_len = rows if max_len is None else checks.as_int(max_len, "max_len", "an int or None")
    if not 1 <= max_len <= rows:
        raise ValueError(f"max_len: expected 1 to {rows} (rows of position_embedding.weight), got {max_len}")
    return n_heads, max_len
