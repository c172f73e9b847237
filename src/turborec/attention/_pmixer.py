"""SASRec served from SASRec.pytorch's weights (github.com/pmixer/SASRec.pytorch), on the
attention kernels. What ``SASRec.from_pmixer`` builds.

pmixer's ``SASRec.log2feats`` and ``predict``, in evaluation mode (dropout is the identity), over
sequences left-padded with 0 to the full window ``max_len`` (its ``evaluate`` and sampler):

    x = item_emb[seq] * sqrt(D) + pos_emb[positions]
        layout "2020": positions 0 .. max_len-1 for every slot (padding too); padded slots zeroed
                       (the timeline mask), and again after every block
        layout "2024": position j+1 for an item in slot j, 0 (pos_emb's padding_idx) for padding
    per block (``nn.MultiheadAttention``, causal mask only: padded slots are keys too), a
    ``variant`` (see ``_encoder._pmixer_block``), then ``user = last_layernorm(x)[last slot]``;
    ``score(item) = user . item_emb[item]``.

LayerNorm epsilon 1e-8, ReLU between the two kernel-1 Conv1d of the feed-forward. Item id 0 is the
padding: never a valid input, never recommended (as RecBole's, see ``_model.py``).
"""

import re

import numpy as np

from .. import _validation as checks
from .._dispatch import dispatch
from ._encoder import PmixerSettings
from ._incremental import SequenceState
from ._model import FORMAT, SASRec, _check_item_table
from ._sequences import Batch, check_sequence
from ._weights import CONFIG_KEY, _matrix_shape, take

VARIANTS = ("original", "post_ln", "pre_ln")
LAYOUTS = ("2024", "2020")
LAYER_NORM_EPS = 1e-8  # every nn.LayerNorm of SASRec.pytorch


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def _shapes(table_rows, position_rows, d, inner, n_layers):
    """SASRec.pytorch's parameter names and their shapes."""
    shapes = {"item_emb.weight": (table_rows, d), "pos_emb.weight": (position_rows, d),
              "last_layernorm.weight": (d,), "last_layernorm.bias": (d,)}
    for i in range(n_layers):
        attn, ffn = f"attention_layers.{i}.", f"forward_layers.{i}."
        shapes.update({f"attention_layernorms.{i}.weight": (d,), f"attention_layernorms.{i}.bias": (d,),
                       attn + "in_proj_weight": (3 * d, d), attn + "in_proj_bias": (3 * d,),
                       attn + "out_proj.weight": (d, d), attn + "out_proj.bias": (d,),
                       f"forward_layernorms.{i}.weight": (d,), f"forward_layernorms.{i}.bias": (d,),
                       ffn + "conv1.weight": (inner, d, 1), ffn + "conv1.bias": (inner,),
                       ffn + "conv2.weight": (d, inner, 1), ffn + "conv2.bias": (d,)})
    return shapes


def _block(state, i, d):
    """Block ``i``'s weights in the forward pass's layout: ``in_proj`` split into q and k|v (and
    kept whole for the fused projection), the Conv1d weights as (out, in) matrices."""
    attn, ffn = f"attention_layers.{i}.", f"forward_layers.{i}."
    w, b = state[attn + "in_proj_weight"], state[attn + "in_proj_bias"]
    return {"qkv": w, "qkv_bias": b, "q": np.ascontiguousarray(w[:d]), "q_bias": np.ascontiguousarray(b[:d]),
            "kv": np.ascontiguousarray(w[d:]), "kv_bias": np.ascontiguousarray(b[d:]),
            "out": state[attn + "out_proj.weight"], "out_bias": state[attn + "out_proj.bias"],
            "ln1": (state[f"attention_layernorms.{i}.weight"], state[f"attention_layernorms.{i}.bias"]),
            "ln2": (state[f"forward_layernorms.{i}.weight"], state[f"forward_layernorms.{i}.bias"]),
            "ff1": np.ascontiguousarray(state[ffn + "conv1.weight"][:, :, 0]), "ff1_bias": state[ffn + "conv1.bias"],
            "ff2": np.ascontiguousarray(state[ffn + "conv2.weight"][:, :, 0]), "ff2_bias": state[ffn + "conv2.bias"]}


class PmixerSASRec(SASRec):
    """:class:`SASRec` with SASRec.pytorch's architecture (what :meth:`SASRec.from_pmixer`
    returns); the methods are SASRec's, with ``step`` always a full pass (left padding)."""

    def __init__(self, state, *, variant, n_heads, layout, max_len):
        self.variant = _check_choice(variant, "variant", VARIANTS)
        self.layout = _check_choice(layout, "layout", LAYOUTS)
        table_rows, d = _matrix_shape(state, "item_emb.weight", "(n_items + 1, hidden_units)")
        if table_rows < 2 or d < 1:
            raise ValueError(f"state_dict['item_emb.weight']: expected at least 2 rows and 1 column, got shape "
                             f"{(table_rows, d)}")
        extra = int(self.layout == "2024")  # the 2024 code's pos_emb has a padding row 0
        position_rows = _matrix_shape(state, "pos_emb.weight", f"(max_len{' + 1' * extra}, {d})")[0]
        if position_rows < 1 + extra:
            raise ValueError(f"state_dict['pos_emb.weight']: expected at least {1 + extra} rows for layout "
                             f"{self.layout!r}, got {position_rows}")
        layers = {int(m.group(1)) for key in state if (m := re.match(r"attention_layers\.(\d+)\.", key))}
        if not layers:
            raise ValueError("state_dict: no 'attention_layers.<i>.*' keys (expected at least one block)")
        inner = _matrix_shape(state, "forward_layers.0.conv1.weight", f"(inner, {d}, 1)", ndim=3)[0]
        shapes = _shapes(table_rows, position_rows, d, inner, max(layers) + 1)
        unexpected = sorted(set(state) - set(shapes) - {CONFIG_KEY})
        if unexpected:
            raise ValueError(f"state_dict: unexpected keys {unexpected[:5]} (is this SASRec.pytorch's SASRec?)")
        self._state = {key: take(state, key, shape) for key, shape in shapes.items()}
        self.n_heads = checks.as_int(n_heads, "n_heads", "an int")
        if self.n_heads < 1 or d % self.n_heads:
            raise ValueError(f"n_heads: expected a positive divisor of the hidden size {d}, got {n_heads}")
        rows = position_rows - extra
        self.max_len = rows if max_len is None else checks.as_int(max_len, "max_len", "an int or None")
        if not 1 <= self.max_len <= rows:
            raise ValueError(f"max_len: expected 1 to {rows} (rows of pos_emb.weight{' - 1' * extra}), "
                             f"got {max_len}")
        self.hidden_act, self.layer_norm_eps = "relu", LAYER_NORM_EPS
        self.n_items, self.hidden_size, self.inner_size, self.n_layers = table_rows, d, inner, max(layers) + 1
        self._blocks = [_block(self._state, i, d) for i in range(self.n_layers)]
        self._last_ln = (self._state["last_layernorm.weight"], self._state["last_layernorm.bias"])
        self._settings = PmixerSettings(self.n_heads, self.variant, LAYER_NORM_EPS, self.layout == "2020")
        self._items = self._state["item_emb.weight"]
        self._scale = np.float32(d ** 0.5)

    def config(self):
        return {"format": FORMAT, "model": "SASRec", "weights": "pmixer", "variant": self.variant,
                "layout": self.layout, "n_heads": self.n_heads, "max_len": self.max_len}

    def _forward(self, batch, backend, n_threads, caches=None):
        """User representations (n, d): the kept items left-padded to ``max_len`` (pmixer's
        evaluate), embedded as the layout says, then one ``pmixer_encoder`` dispatch. No caches:
        a step re-encodes (see :meth:`step`)."""
        n, width = len(batch), self.max_len
        slots = np.arange(width)
        offset = slots[None, :] - (width - batch.lengths)[:, None]  # column of batch.padded (right-padded)
        real = offset >= 0
        seq = np.where(real, np.take_along_axis(batch.padded, np.clip(offset, 0, batch.padded.shape[1] - 1), 1), 0)
        positions = np.broadcast_to(slots, seq.shape) if self.layout == "2020" else (slots + 1) * real
        x = self._state["item_emb.weight"][seq] * self._scale + self._state["pos_emb.weight"][positions]
        keep = real.astype(np.float32) if self._settings.timeline_mask else None
        if keep is not None:
            x *= keep[..., None]
        return dispatch("attention", "pmixer_encoder", inputs=(x, keep),
                        params=(self._blocks, self._last_ln, self._settings),
                        outputs=[((n, self.hidden_size), np.float32)], backend=backend, n_threads=n_threads)

    def step(self, state, item, k=10, exclude_seen=True, candidates=None, *, item_table="float32", backend=None,
             n_threads=None):
        """As :meth:`SASRec.step`, but every step is a full pass over the window (counted in
        ``state.full_passes``): the sequence is left-padded to ``max_len``, so appending an item
        moves every earlier item to another slot (another position, other padding before it) and
        no cached key or value stays valid."""
        exclude_seen = checks.as_bool(exclude_seen, "exclude_seen")
        item_table = _check_item_table(item_table)
        if not isinstance(state, SequenceState):
            raise TypeError(f"state: expected what start() returned, got {type(state).__name__}")
        item = check_sequence(np.asarray([item]), self.n_items, "item")
        fresh = self.start(np.concatenate([state.items, item.astype(np.int64)]), backend=backend, n_threads=n_threads)
        fresh.full_passes = state.full_passes + 1
        state.__dict__.update(fresh.__dict__)
        one = Batch([state.items], None, self.n_items, self.max_len)
        ids, scores = self._top(state.user[None, :], one, k, exclude_seen, candidates, backend, n_threads,
                                item_table)
        return ids[0], scores[0]
