"""``save`` / ``load`` of :class:`~turborec.models.AlternatingLeastSquares`: implicit 0.7's
``.npz`` layout (the factors and each parameter under its own name), read without pickle."""

import warnings

import numpy as np

from ..exceptions import ParameterWarning

FACTORS = ("user_factors", "item_factors")
# implicit's keys (so either library loads the other's files), then turborec's own
PARAMETERS = ("regularization", "factors", "num_threads", "iterations", "use_native", "use_cg", "cg_steps",
              "calculate_training_loss", "dtype", "random_state", "alpha", "backend", "n_threads")


def save_npz(model, file):
    """Write ``model``'s factors (when fitted) and parameters (None ones left out) to ``file``."""
    arrays = {name: getattr(model, name) for name in FACTORS if getattr(model, name) is not None}
    for name in PARAMETERS:
        value = getattr(model, name)
        if name == "dtype":
            value = np.dtype(value).name
        elif name == "random_state" and value is not None and not isinstance(value, (int, np.integer)):
            warnings.warn(f"random_state: a {type(value).__name__} cannot be saved without pickling; not saved",
                          ParameterWarning, stacklevel=3)
            value = None
        if value is not None:
            arrays[name] = np.asarray(value)
    np.savez(file, **arrays)


def load_npz(model, file):
    """``model`` (a fresh instance) with every entry of ``file`` set on it; returns it."""
    if isinstance(file, str) and not file.endswith(".npz"):
        file += ".npz"
    with np.load(file, allow_pickle=False) as data:
        for key in data.files:
            if key not in PARAMETERS and key not in FACTORS:
                raise ValueError(f"file: unexpected entry {key!r} (not a saved {type(model).__name__})")
            value = data[key]
            if key == "dtype":
                value = np.dtype(str(value)).type
            elif value.shape == ():
                value = value.item()
            setattr(model, key, value)
    return model
