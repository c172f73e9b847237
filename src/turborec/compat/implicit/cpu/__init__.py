"""``implicit.cpu``: the CPU models."""

from . import als

__all__ = ["als"]
