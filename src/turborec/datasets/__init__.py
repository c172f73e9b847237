"""Data in: id mapping, interaction tables, readers, MovieLens, and built-in synthetic data."""

from ..exceptions import DataWarning
from ._idmap import IdMapper
from ._interactions import Interactions
from ._item_features import read_item_features
from ._movielens import movielens
from ._parquet import read_parquet
from ._readers import read_csv, read_movielens_file, read_recbole
from ._synthetic import (synthetic_factors, synthetic_implicit, synthetic_item_features, synthetic_ratings,
                         synthetic_sequences)

__all__ = [
    "DataWarning",
    "IdMapper",
    "Interactions",
    "movielens",
    "read_csv",
    "read_item_features",
    "read_movielens_file",
    "read_parquet",
    "read_recbole",
    "synthetic_factors",
    "synthetic_implicit",
    "synthetic_item_features",
    "synthetic_ratings",
    "synthetic_sequences",
]
