"""Data in: id mapping, interaction tables, readers, and built-in synthetic data."""

from ._idmap import IdMapper
from ._interactions import Interactions
from ._synthetic import synthetic_factors

__all__ = ["IdMapper", "Interactions", "synthetic_factors"]
