"""Recommender models with the implicit 0.7 ``fit`` / ``recommend`` API, and rating predictors
with Surprise 1.1's definitions."""

from ._base import ParameterWarning, RecommenderBase
from .als import AlternatingLeastSquares
from .alswr import ALSWR
from .baseline_only import BaselineOnly
from .baselines import MostPopular, Random
from .bpr import BayesianPersonalizedRanking
from .content import ContentKNN
from .factors import FactorModel
from .hybrid import Hybrid
from .knn_rating import KNNBaseline, KNNBasic, KNNWithMeans, KNNWithZScore
from .lmf import LogisticMatrixFactorization
from .implicit_knn import BM25Recommender, CosineRecommender, ItemItemRecommender, TFIDFRecommender
from .neighbours import ItemKNN, UserKNN
from .nmf import NMF
from .svd import SVD, SVDpp

__all__ = ["ALSWR", "AlternatingLeastSquares", "BM25Recommender", "BaselineOnly", "BayesianPersonalizedRanking",
           "ContentKNN", "CosineRecommender", "FactorModel", "Hybrid", "ItemItemRecommender", "ItemKNN", "KNNBaseline",
           "KNNBasic", "KNNWithMeans", "KNNWithZScore", "LogisticMatrixFactorization", "MostPopular", "NMF",
           "ParameterWarning", "Random", "RecommenderBase", "SVD", "SVDpp", "TFIDFRecommender", "UserKNN"]
