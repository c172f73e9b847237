"""Model files: RecBole's weights and the config (as a JSON string) in one .npz, read back with
``allow_pickle=False``."""

import json
import os

import numpy as np

from ._model import FORMAT, BERT4Rec, SASRec
from ._weights import CONFIG_KEY, read_state

_MODELS = {"SASRec": SASRec, "BERT4Rec": BERT4Rec}


def save_npz(model, path):
    """Write ``model`` (a :class:`SASRec` or :class:`BERT4Rec`: its RecBole weights and its
    config as a JSON string) to the .npz file ``path``, which :func:`load_npz` reads back."""
    if not isinstance(model, tuple(_MODELS.values())):
        raise TypeError(f"model: expected a turborec.attention.SASRec or BERT4Rec, got {type(model).__name__}")
    np.savez(path, **model.state_dict(), **{CONFIG_KEY: np.array(json.dumps(model.config()))})


def load_npz(path):
    """The model :func:`save_npz` wrote to ``path`` (read with ``allow_pickle=False``)."""
    state = read_state(os.fspath(path) if isinstance(path, os.PathLike) else path)
    if CONFIG_KEY not in state:
        raise ValueError(f"{path}: no {CONFIG_KEY!r} entry; not written by turborec.attention.save_npz "
                         "(for RecBole weights use SASRec.from_recbole or BERT4Rec.from_recbole)")
    config = json.loads(str(state.pop(CONFIG_KEY)))
    if config.get("format") != FORMAT or config.get("model") not in _MODELS:
        raise ValueError(f"{path}: unsupported model file {config.get('format')!r} / {config.get('model')!r}")
    if config.get("weights") == "pmixer":  # SASRec from SASRec.pytorch's weights
        return SASRec.from_pmixer(state, variant=config["variant"], n_heads=config["n_heads"],
                                  layout=config["layout"], max_len=config["max_len"])
    return _MODELS[config["model"]](state, n_heads=config["n_heads"], hidden_act=config["hidden_act"],
                                    layer_norm_eps=config["layer_norm_eps"], max_len=config["max_len"])
