"""``implicit.ann``: implicit 0.7's wrappers that answer a factor model's queries through an
approximate nearest-neighbours index (``nmslib.NMSLibModel``, ``annoy.AnnoyModel``,
``faiss.FaissModel``). Here they answer EXACTLY, through the wrapped turborec model's own fused
top-k: the index parameters are accepted (and checked) but change nothing, and neither nmslib,
annoy nor faiss is needed. See :mod:`turborec.compat.implicit.ann._exact` and docs/implicit.md.
"""

from . import annoy, faiss, nmslib

__all__ = ["annoy", "faiss", "nmslib"]
