"""``implicit.gpu``: turborec has no GPU models yet, so ``HAS_CUDA`` is False (implicit's code
then takes its CPU paths)."""

HAS_CUDA = False
HAS_RMM = False

__all__ = ["HAS_CUDA", "HAS_RMM"]
