"""Adapters that plug turborec's models into other libraries' own APIs.

``turborec.compat.surprise``: Surprise 1.1 ``AlgoBase`` subclasses (needs scikit-surprise,
``pip install "turborec[surprise]"``). Nothing here is imported with ``turborec``: import the
adapter module you need.
"""
