"""``implicit.nearest_neighbours``: implicit's item-item recommenders and weightings, turborec's."""

from ...models.implicit_knn import BM25Recommender, CosineRecommender, ItemItemRecommender, TFIDFRecommender
from ...similarity import bm25_weight, tfidf_weight

__all__ = ["BM25Recommender", "CosineRecommender", "ItemItemRecommender", "TFIDFRecommender", "bm25_weight",
           "tfidf_weight"]
