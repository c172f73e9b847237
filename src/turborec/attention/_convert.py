"""``turborec attention convert``: a RecBole checkpoint (``torch.save``) into turborec's .npz.

A checkpoint is a pickle, and unpickling can call any function the file names. So the file is
read with torch's restricted unpickler (``torch.load(weights_only=True)``), which rebuilds
tensors and plain containers only. A RecBole checkpoint also pickles its training ``Config``
(a recbole class), and a file may name other classes: each class or function outside torch's
allow-list becomes an inert :class:`Placeholder` that keeps the arguments and state the file
gives it. Nothing the file names is imported or called, so converting needs neither recbole
nor trust in the file; torch still refuses outright a file naming ``os``, ``sys``, ``posix``.
The placeholder of RecBole's ``Config`` still holds its settings (``final_config_dict``): they
fill in what the weights do not record (``n_heads``, ``hidden_act``, ``layer_norm_eps``).
"""

import contextlib
import inspect
import os

from ._files import save_npz
from ._model import BERT4Rec, SASRec

FORMATS = ("recbole", "pmixer")
MODELS = {"SASRec": SASRec, "BERT4Rec": BERT4Rec}
# The settings the weights do not record, by RecBole's config key (also from_recbole's argument):
# the CLI option and RecBole's default.
SETTINGS = {"n_heads": ("--n-heads", 2), "hidden_act": ("--hidden-act", "gelu"),
            "layer_norm_eps": ("--layer-norm-eps", 1e-12)}
INSTALL = "pip install 'turborec[torch]' (or: pip install torch)"


class Placeholder:
    """What an object of a class (or the result of a function) outside torch's allow-list
    becomes: ``pickled_as`` names it, ``args`` and ``state`` hold what the file gave it; no code
    of the named class or function runs."""

    pickled_as = "?"

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self.args, self.state = args, None
        return self

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"<placeholder of {self.pickled_as}>"


def import_torch():
    """torch, or an ImportError saying how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"reading a RecBole checkpoint needs torch, which is not importable ({error}): "
                          f"{INSTALL}. Serving the converted .npz does not.") from None
    return torch


def load_checkpoint(path):
    """The object ``torch.save`` wrote to ``path``, read without running code it names (above)."""
    torch = import_torch()
    serialization = torch.serialization
    find = getattr(serialization, "get_unsafe_globals_in_checkpoint", None)  # torch >= 2.6
    try:
        try:
            unknown = find(path) if find else []
        except ValueError:  # not a zip archive: a legacy torch.save file, or no checkpoint at all
            unknown = []
        placeholders = [(type(name, (Placeholder,), {"pickled_as": name}), name) for name in unknown]
        with serialization.safe_globals(placeholders) if placeholders else contextlib.nullcontext():
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError, RuntimeError, EOFError, KeyError ...: whatever torch met
        raise ValueError(f"IN: {path!r} is not a torch checkpoint that can be read without running code from it "
                         f"({type(error).__name__}: {_reason(error)}); where you trust the file, export its "
                         "state_dict with torch yourself (docs/attention.md, 'Converting checkpoints')") from None


def _reason(error):
    """What torch says is wrong: the line naming the refused global where there is one (not torch's
    advice to unpickle unsafely or to allow-list what the file names)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if "GLOBAL" in line]
    line = (named or lines or ["no message"])[0]
    return line.removeprefix("WeightsUnpickler error: ").split(" Please use ")[0]


def recbole_config(checkpoint):
    """The settings of the RecBole ``Config`` pickled in ``checkpoint["config"]`` (a dict; empty
    when there is none)."""
    config = checkpoint.get("config")
    if isinstance(config, Placeholder) and isinstance(config.state, dict):
        config = config.state.get("final_config_dict")  # RecBole's Config keeps its settings there
    return config if isinstance(config, dict) else {}


def _state_dict(checkpoint, path):
    if isinstance(checkpoint, dict) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    tensors = isinstance(checkpoint, dict) and all(hasattr(v, "is_floating_point") for v in checkpoint.values())
    if tensors and checkpoint:
        return {key: value.detach().float() if value.is_floating_point() else value
                for key, value in checkpoint.items()}  # bfloat16 has no NumPy dtype; float32 is used anyway
    what = (f"a pickled {checkpoint.pickled_as} object (save model.state_dict(), not the model)"
            if isinstance(checkpoint, Placeholder) else
            f"a dict with keys {sorted(map(str, checkpoint))[:5]}" if isinstance(checkpoint, dict) else
            type(checkpoint).__name__)
    raise ValueError(f"IN: {path!r}: expected a RecBole checkpoint (a dict with a 'state_dict' entry) or a "
                     f"state_dict (parameter names to tensors), got {what}")


def _settings(given, config):
    """from_recbole's settings: given on the command line, else from the checkpoint's config, else
    RecBole's defaults; and where each came from. A given value the config contradicts is an
    error: the weights were trained with the config's."""
    settings, sources = {}, {}
    for key, (option, default) in SETTINGS.items():
        value = given.get(key)
        if key in config and value is not None and value != config[key]:
            raise ValueError(f"{option} {value!r} contradicts the checkpoint's config ({key}={config[key]!r}), "
                             "which the weights were trained with; leave the option out")
        if value is not None:
            settings[key], sources[key] = value, "given"
        elif key in config:
            settings[key], sources[key] = config[key], "checkpoint config"
        else:
            settings[key], sources[key] = default, "RecBole's default, not recorded in the checkpoint"
    return settings, sources


def convert(source, target, *, fmt="recbole", model=None, n_heads=None, hidden_act=None, layer_norm_eps=None,
            max_len=None, variant=None, layout=None):
    """Convert the checkpoint at ``source`` into a :func:`turborec.attention.save_npz` file at
    ``target``, through ``from_recbole`` or, with ``fmt="pmixer"``, ``SASRec.from_pmixer`` (so
    every key and shape is checked).

    RecBole: ``model`` (``"SASRec"`` or ``"BERT4Rec"``) and the settings default to the
    checkpoint's RecBole config where it has one; the model, else, to BERT4Rec when the weights
    have its ``output_bias``. pmixer (a ``torch.save``'d ``state_dict`` of SASRec.pytorch):
    ``variant``, ``layout`` and ``n_heads`` default to from_pmixer's (the file records none of
    them). Returns ``(model, sources)``: the model written, and where each setting came from.
    """
    if fmt not in FORMATS:
        raise ValueError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    recbole_only = {"--model": model, "--hidden-act": hidden_act, "--layer-norm-eps": layer_norm_eps}
    pmixer_only = {"--variant": variant, "--layout": layout}
    wrong = [option for option, value in (recbole_only if fmt == "pmixer" else pmixer_only).items()
             if value is not None and not (option == "--model" and value == "SASRec")]
    if wrong:
        raise ValueError(f"{', '.join(wrong)}: not a setting of the {fmt} format")
    source, target = os.fspath(source), os.fspath(target)
    if not target.endswith(".npz"):
        raise ValueError(f"OUT: expected a path ending in .npz (numpy would add the suffix), got {target!r}")
    if not os.path.isfile(source):
        raise FileNotFoundError(f"IN: no such file: {source!r}")
    checkpoint = load_checkpoint(source)
    if fmt == "pmixer":
        return _convert_pmixer(_state_dict(checkpoint, source), target, n_heads=n_heads, max_len=max_len,
                               variant=variant, layout=layout)
    config = recbole_config(checkpoint) if isinstance(checkpoint, dict) else {}
    state = _state_dict(checkpoint, source)
    named = config.get("model")
    if model is None:
        model = named if isinstance(named, str) else "BERT4Rec" if "output_bias" in state else "SASRec"
    elif isinstance(named, str) and named != model:
        raise ValueError(f"--model {model!r} contradicts the checkpoint's config (model={named!r})")
    if model not in MODELS:
        raise ValueError(f"model: turborec serves RecBole's {' and '.join(MODELS)}, got {model!r}")
    settings, sources = _settings(dict(n_heads=n_heads, hidden_act=hidden_act, layer_norm_eps=layer_norm_eps),
                                  config)
    built = MODELS[model].from_recbole(state, max_len=max_len, **settings)
    save_npz(built, target)
    return built, sources


def _convert_pmixer(state, target, **given):
    defaults = {name: parameter.default for name, parameter in
                inspect.signature(SASRec.from_pmixer).parameters.items() if name in given}
    settings = {name: defaults[name] if value is None else value for name, value in given.items()}
    built = SASRec.from_pmixer(state, **settings)
    save_npz(built, target)
    sources = {name: "given" if given[name] is not None else "from_pmixer's default, not recorded in the file"
               for name in ("variant", "layout", "n_heads")}
    return built, sources
