"""``implicit.cpu``: the CPU models."""

from . import als, bpr, lmf

__all__ = ["als", "bpr", "lmf"]
