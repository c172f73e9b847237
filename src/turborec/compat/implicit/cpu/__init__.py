"""``implicit.cpu``: the CPU models."""

from . import als, bpr

__all__ = ["als", "bpr"]
