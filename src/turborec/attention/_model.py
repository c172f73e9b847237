"""SASRec and BERT4Rec inference from RecBole's weights, on the attention kernels.

RecBole's encoder (``recbole/model/layers.py``: ``TransformerEncoder``), in evaluation mode
(dropout is the identity), over right-padded sequences:

    x = LayerNorm(item_embedding[seq] + position_embedding[0..L-1])
    per block:  a = LayerNorm(dense(MultiHeadAttention(x)) + x)        (post-LN)
                x = LayerNorm(dense_2(act(dense_1(a))) + a)
    user = head(x[length - 1])     (the last real position)

Attention divides by sqrt(head size) and adds RecBole's -10000 key-padding mask, and for SASRec
its causal mask. SASRec's head is the identity and ``score(item) = user . item_embedding[item]``.
BERT4Rec first drops the oldest item and puts its [MASK] token (id ``n_items``) at position
``length - 1``; its head is ``output_ln(gelu(output_ffn(.)))`` and ``score(item) = user .
item_embedding[item] + output_bias[item]``. Item id 0 is RecBole's padding: never a valid input,
never recommended. The final block computes query, attention and feed-forward for the last real
position only (keys and values for all), which is exact for both masks.
"""

from functools import cached_property

import numpy as np

from .. import _validation as checks
from .._dispatch import dispatch
from ..selection import QUANTIZED_OVERSAMPLE, _dispatch_quantized, dot_plan, quantize_items, topk_dot
from . import ACTIVATIONS, _check_eps, _incremental, _layer_norm, _linear
from ._encoder import Settings
from ._sequences import Batch
from ._weights import EncoderWeights, check_settings, read_state

FORMAT = "turborec.attention/1"
ITEM_TABLES = ("float32", "int8")  # recommend's item_table: exact scoring, or int8 + exact re-rank


def _check_item_table(item_table):
    if not isinstance(item_table, str) or item_table not in ITEM_TABLES:
        raise ValueError(f"item_table: expected 'float32' or 'int8', got {item_table!r}")
    return item_table


class _SequenceModel:
    """What SASRec and BERT4Rec share: weights, sequences, the encoder, recommend and scores."""

    _CAUSAL = True
    _HIDDEN_ACTS = ("gelu", "relu")

    def __init__(self, state, *, n_heads, hidden_act, layer_norm_eps, max_len):
        weights = EncoderWeights(state, self._extra_shapes, type(self).__name__)
        self.n_heads, self.max_len = check_settings(n_heads, hidden_act, max_len, weights, self._HIDDEN_ACTS)
        self.hidden_act = hidden_act
        self.layer_norm_eps = _check_eps(layer_norm_eps)
        self.n_items = self._n_items(weights.table_rows)
        self.hidden_size, self.inner_size, self.n_layers = weights.hidden_size, weights.inner_size, weights.n_layers
        self._state, self._blocks = weights.state, weights.blocks
        self._embedding_ln = (self._state["LayerNorm.weight"], self._state["LayerNorm.bias"])
        self._embeddings = (self._state["item_embedding.weight"], self._state["position_embedding.weight"])
        self._settings = Settings(self.n_heads, self._CAUSAL, self.layer_norm_eps, ACTIVATIONS.index(hidden_act))
        self._items = np.ascontiguousarray(self._state["item_embedding.weight"][:self.n_items])  # scored rows

    @classmethod
    def from_recbole(cls, state_dict, *, n_heads=2, hidden_act="gelu", layer_norm_eps=1e-12, max_len=None):
        """A model from RecBole's weights.

        Parameters
        ----------
        state_dict : mapping or path
            RecBole's parameter names (``item_embedding.weight``, ``position_embedding.weight``,
            ``LayerNorm.*``, ``trm_encoder.layer.<i>.multi_head_attention.{query,key,value,dense,
            LayerNorm}.*``, ``trm_encoder.layer.<i>.feed_forward.{dense_1,dense_2,LayerNorm}.*``;
            BERT4Rec's ``output_ffn.*``, ``output_ln.*``, ``output_bias``) to NumPy arrays or torch
            tensors (``model.state_dict()``, or ``torch.load(path)["state_dict"]`` of a RecBole
            checkpoint), or the path of an .npz holding them. Weights are used as float32.
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
        return cls(read_state(state_dict), n_heads=n_heads, hidden_act=hidden_act,
                   layer_norm_eps=layer_norm_eps, max_len=max_len)

    def config(self):
        """The settings not recorded in the weights (what :func:`save_npz` stores as JSON)."""
        return {"format": FORMAT, "model": type(self).__name__, "n_heads": self.n_heads,
                "hidden_act": self.hidden_act, "layer_norm_eps": self.layer_norm_eps, "max_len": self.max_len}

    def state_dict(self):
        """RecBole's parameter names to float32 arrays (copies)."""
        return {key: value.copy() for key, value in self._state.items()}

    # ---- what a model defines ----

    def _extra_shapes(self, table_rows, d):
        return {}

    def _n_items(self, table_rows):
        return table_rows

    def _inputs(self, batch):
        return batch.padded

    def _head(self, x, run):
        return x

    def _queries(self, users):
        return users

    # ---- the forward pass ----

    def _forward(self, batch, backend, n_threads, caches=None):
        """User representations (n, d) of a batch: one ``encoder`` dispatch (``_encoder.forward``)
        then the model's head; ``caches``: a list that gets each block's (keys, values)."""
        n = len(batch)
        users = dispatch("attention", "encoder", inputs=(self._inputs(batch), batch.lengths),
                         params=(self._embeddings, self._blocks, self._embedding_ln, self._settings, caches),
                         outputs=[((n, self.hidden_size), np.float32)], backend=backend, n_threads=n_threads)
        return self._head(users, dict(backend=backend, n_threads=n_threads))

    # ---- the public methods ----

    def encode(self, sequences, *, lengths=None, backend=None, n_threads=None):
        """The user representation after the last real item of each sequence: what is dotted
        with the item embeddings to score the next item.

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
        return self._forward(Batch(sequences, lengths, self.n_items, self.max_len), backend, n_threads)

    def recommend(self, sequences, k=10, exclude_seen=True, candidates=None, *, lengths=None, item_table="float32",
                  backend=None, n_threads=None):
        """Top-k next items per sequence by score, computed with :func:`turborec.topk_dot` (tiles,
        never an n x n_items matrix).

        Parameters
        ----------
        sequences, lengths
            As in :meth:`encode`.
        k : int, default 10
        exclude_seen : bool, default True
            Never return an item of the sequence (all of it, truncated part included). The padding
            id 0 is never returned.
        candidates : 1-D int array, optional
            Rank only these item ids (always scored exactly, whatever ``item_table``).
        item_table : {"float32", "int8"}, default "float32"
            "float32": every item scored exactly. "int8": every item scored over an int8 copy of
            the table (built once, on first use), the best ``k * 4`` re-scored exactly, the best
            ``k`` of those returned (:func:`turborec.topk_dot_quantized`): a quarter of the bytes
            read per request; docs/attention.md gives the share of the exact top-k it keeps.
        backend, n_threads
            As in :func:`turborec.topk`.

        Returns
        -------
        ids : int32 array of shape (n_sequences, min(k, n_eligible))
            Best first; slots left when fewer items are eligible than ``k`` hold -1.
        scores : float32 array of the same shape
            -inf in the slots of id -1.
        """
        exclude_seen = checks.as_bool(exclude_seen, "exclude_seen")
        item_table = _check_item_table(item_table)
        batch = Batch(sequences, lengths, self.n_items, self.max_len)
        if candidates is None and self._plain_encoder:
            return self._encode_top(batch, k, exclude_seen, item_table, backend, n_threads)
        return self._top(self._forward(batch, backend, n_threads), batch, k, exclude_seen, candidates, backend,
                         n_threads, item_table)

    @cached_property
    def _plain_encoder(self):
        """Whether this model's user representation is the encoder's output over the batch's ids and
        scores are plain dot products with the item table (RecBole's SASRec; not BERT4Rec's head,
        nor SASRec.pytorch's architecture): then one ``encoder_topk`` dispatch serves a request."""
        return all(getattr(type(self), name) is getattr(_SequenceModel, name)
                   for name in ("_forward", "_inputs", "_head", "_queries"))

    def _encode_top(self, batch, k, exclude_seen, item_table, backend, n_threads):
        """``recommend`` without candidates, in one ``encoder_topk`` dispatch: the forward pass, the
        exclusion, and ``_top``'s selection kernel with ``_top``'s plan (so its results), which the
        native backend runs as one C++ call."""
        k = min(checks.check_k(k), self.n_items)
        if item_table == "int8":
            table, n_candidates = self._int8_items, min(k * QUANTIZED_OVERSAMPLE, self.n_items)
        else:
            table, n_candidates = self._items, k
        n = len(batch)
        return dispatch("attention", "encoder_topk", inputs=(batch.padded, batch.lengths, batch.seen_csr()),
                        params=(self._embeddings, self._blocks, self._embedding_ln, self._settings, table,
                                exclude_seen, k, n_candidates, dot_plan(n, n_candidates, np.float32)),
                        outputs=[((n, k), np.int32), ((n, k), np.float32)], backend=backend, n_threads=n_threads)

    @cached_property
    def _int8_items(self):
        """The scored item table quantised to int8 (selection.quantize_items), built on first use."""
        return quantize_items(self._items)

    def _top(self, users, batch, k, exclude_seen, candidates, backend, n_threads, item_table="float32"):
        """Top-k of ``users`` over the items, ``batch``'s exclusions applied. Without candidates,
        straight to the selection family's ``topk_dot`` kernel: the item table was checked once at
        load and the exclusion CSR is built canonical here, so ``turborec.topk_dot``'s checks
        (a scan of the whole table per call) are skipped."""
        queries = self._queries(users)
        if candidates is not None:
            return topk_dot(queries, self._items, k, exclude=batch.exclusion_matrix(self.n_items, exclude_seen),
                            candidates=candidates, backend=backend, n_threads=n_threads)
        k = min(checks.check_k(k), self.n_items)
        n = len(queries)
        if item_table == "int8":
            table = self._int8_items
            return _dispatch_quantized(queries, table.codes, table.scales, table.items,
                                       batch.exclusion(self.n_items, exclude_seen), k,
                                       min(k * QUANTIZED_OVERSAMPLE, self.n_items), backend, n_threads)
        return dispatch("selection", "topk_dot", inputs=(queries, self._items, batch.exclusion(self.n_items, exclude_seen),
                                                         None, None),
                        params=(k, dot_plan(n, k, queries.dtype)), outputs=[((n, k), np.int32), ((n, k), np.float32)],
                        backend=backend, n_threads=n_threads)

    def start(self, sequence, *, backend=None, n_threads=None):
        """The serving state after ``sequence`` (one user), for :meth:`step`.

        Parameters
        ----------
        sequence : 1-D int array
            Item ids oldest first, as one sequence of :meth:`encode`.
        backend, n_threads
            As in :func:`turborec.topk`.

        Returns
        -------
        state
            Holds the items, the user representation (``state.user``) and each block's cached
            keys and values.
        """
        return _incremental.start(self, sequence, backend, n_threads)

    def step(self, state, item, k=10, exclude_seen=True, candidates=None, *, item_table="float32", backend=None,
             n_threads=None):
        """Append ``item`` to the user's ``state`` (in place) and return the new top-k.

        SASRec reuses the cached keys and values: one row per block, exactly the full pass's
        result, while the sequence is shorter than ``max_len``. Once it is ``max_len`` long the
        window slides and every step re-encodes it, as does every BERT4Rec step (bidirectional
        attention); ``state.full_passes`` counts those steps.

        Parameters
        ----------
        state
            What :meth:`start` returned.
        item : int
            The new item id, in ``[1, n_items)``.
        k, exclude_seen, candidates, item_table, backend, n_threads
            As in :meth:`recommend`.

        Returns
        -------
        ids : int32 array of shape (min(k, n_eligible),)
        scores : float32 array of the same shape
        """
        exclude_seen = checks.as_bool(exclude_seen, "exclude_seen")
        item_table = _check_item_table(item_table)
        _incremental.step(self, state, item, backend, n_threads)
        one = Batch([state.items], None, self.n_items, self.max_len)
        ids, scores = self._top(state.user[None, :], one, k, exclude_seen, candidates, backend, n_threads,
                                item_table)
        return ids[0], scores[0]

    def scores(self, sequences, items, *, lengths=None, backend=None, n_threads=None):
        """Scores of given items (sampled-candidate evaluation).

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
        batch = Batch(sequences, lengths, self.n_items, self.max_len)
        if items.ndim == 2 and items.shape[0] != len(batch):
            raise ValueError(f"items: expected {len(batch)} rows (one per sequence), got shape {items.shape}")
        users = self._queries(self._forward(batch, backend, n_threads))
        if items.ndim == 1:
            return _linear(users, np.ascontiguousarray(self._items[items]), None, 0, backend, n_threads)
        return np.einsum("nd,nmd->nm", users, self._items[items]).astype(np.float32)


class SASRec(_SequenceModel):
    """SASRec next-item recommendation from pretrained RecBole weights, without torch.

    Build one with :meth:`from_recbole` or :func:`load_npz`. Sequences are lists of RecBole's
    internal item ids (``1 .. n_items - 1``; 0 is the padding id), oldest first. A sequence
    longer than ``max_len`` keeps its ``max_len`` most recent items (RecBole's own truncation).
    Causal attention; the user representation is the last block's output at the last item.

    Attributes
    ----------
    n_items : int
        Rows of the item embedding, padding row 0 included.
    hidden_size, inner_size, n_layers, n_heads, max_len : int
    hidden_act : str
    layer_norm_eps : float
    """

    @classmethod
    def from_pmixer(cls, state_dict, *, variant="original", n_heads=1, layout="2024", max_len=None):
        """A model from SASRec.pytorch's weights (github.com/pmixer/SASRec.pytorch; docs/attention.md).

        Parameters
        ----------
        state_dict : mapping or path
            pmixer's parameter names (``item_emb.weight``, ``pos_emb.weight``,
            ``attention_layernorms.<i>.*``, ``attention_layers.<i>.{in_proj_weight, in_proj_bias,
            out_proj.*}``, ``forward_layernorms.<i>.*``, ``forward_layers.<i>.{conv1, conv2}.*``,
            ``last_layernorm.*``) to NumPy arrays or torch tensors, or the path of an .npz.
        variant : {"original", "post_ln", "pre_ln"}, default "original"
            The block: the 2020 code's (LayerNorm on the query only), or the newer code's
            ``norm_first`` False / True.
        n_heads : int, default 1
            pmixer's ``num_heads`` (not recorded in the weights).
        layout : {"2024", "2020"}, default "2024"
            Positions 1..max_len with 0 for padding (``pos_emb`` has ``max_len + 1`` rows), or
            0..max_len-1 for every slot with the padded slots zeroed after every block.
        max_len : int, optional
            pmixer's ``maxlen``: the window every sequence is left-padded to. Default: the rows of
            ``pos_emb.weight`` (minus the padding row in layout "2024").

        Raises
        ------
        ValueError
            An unknown variant or layout; a missing, mis-shaped or unexpected key (named, with the
            expected shape).
        """
        from ._pmixer import PmixerSASRec  # here, not at the top: _pmixer builds on this module

        return PmixerSASRec(read_state(state_dict), variant=variant, n_heads=n_heads, layout=layout, max_len=max_len)


class BERT4Rec(_SequenceModel):
    """BERT4Rec next-item recommendation from pretrained RecBole weights, without torch.

    As :class:`SASRec`, with RecBole's BERT4Rec: bidirectional attention (key padding masked);
    the input is the kept sequence with its oldest item dropped and the [MASK] token (id
    ``n_items``, the last row of ``item_embedding.weight``) appended, RecBole's
    ``reconstruct_test_data``; the user representation is ``output_ln(gelu(output_ffn(.)))`` of
    the output at [MASK]; ``score(item) = user . item_embedding[item] + output_bias[item]``.

    Attributes
    ----------
    n_items : int
        Items including the padding id 0 (``item_embedding.weight`` has one more row: [MASK]).
    hidden_size, inner_size, n_layers, n_heads, max_len : int
    hidden_act : str
    layer_norm_eps : float
    """

    _CAUSAL = False

    def __init__(self, state, *, n_heads, hidden_act, layer_norm_eps, max_len):
        super().__init__(state, n_heads=n_heads, hidden_act=hidden_act, layer_norm_eps=layer_norm_eps,
                         max_len=max_len)
        self._items = np.ascontiguousarray(np.hstack([self._items, self._state["output_bias"][:, None]]))

    def _extra_shapes(self, table_rows, d):
        return {"output_ffn.weight": (d, d), "output_ffn.bias": (d,), "output_ln.weight": (d,),
                "output_ln.bias": (d,), "output_bias": (table_rows - 1,)}

    def _n_items(self, table_rows):
        return table_rows - 1

    def _inputs(self, batch):
        """RecBole's reconstruct_test_data: oldest item dropped, [MASK] at position length - 1."""
        shifted = np.zeros_like(batch.padded)
        shifted[:, :-1] = batch.padded[:, 1:]
        shifted[np.arange(len(batch)), batch.lengths - 1] = self.n_items
        return shifted

    def _head(self, x, run):
        s = self._state
        hidden = _linear(x, s["output_ffn.weight"], s["output_ffn.bias"], ACTIVATIONS.index("gelu"), **run)
        return _layer_norm(hidden, None, s["output_ln.weight"], s["output_ln.bias"], self.layer_norm_eps, **run)

    def _queries(self, users):
        """[user, 1], so that a dot product with [item, bias] adds the item's output_bias."""
        return np.ascontiguousarray(np.hstack([users, np.ones((len(users), 1), users.dtype)]))
