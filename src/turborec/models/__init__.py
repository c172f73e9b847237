"""Recommender models with the implicit 0.7 ``fit`` / ``recommend`` API."""

from ._base import ParameterWarning, RecommenderBase
from .baselines import MostPopular, Random
from .factors import FactorModel

__all__ = ["FactorModel", "MostPopular", "ParameterWarning", "Random", "RecommenderBase"]
