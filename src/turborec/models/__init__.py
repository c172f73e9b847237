"""Recommender models with the implicit 0.7 ``fit`` / ``recommend`` API."""

from ._base import ParameterWarning, RecommenderBase
from .baselines import MostPopular, Random
from .factors import FactorModel
from .hybrid import Hybrid

__all__ = ["FactorModel", "Hybrid", "MostPopular", "ParameterWarning", "Random", "RecommenderBase"]
