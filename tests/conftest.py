"""Shared fixtures. Backends come from the registry, never from hand-kept lists.

A test module (or class) names its kernel family in ``FAMILY``; a test that takes ``backend``
then runs on every backend the registry lists for that family except the numpy reference (the
oracle it is compared with); ``host_backend`` on the host ones only, ``gpu_backend`` on the GPU ones,
``every_backend`` on all of them, the reference too (hostile inputs: it must refuse them as well). Host backends must run:
native is the point of the package and numba is in ``[test]``, so either missing is a failure.
GPU backends skip with their probe's reason where they cannot run. Every backend the registry
lists for a family implements every kernel of it (tests/test_backends.py checks), so no test
narrows the list.
"""

import zlib

import numpy as np
import pytest

from turborec.backends import FAMILIES, GPU_BACKENDS, probe


def require_backend(name):
    found = probe(name)
    if found.available:
        return name
    if name not in GPU_BACKENDS:
        pytest.fail(f"backend {name!r} must be available wherever the tests run: {found.reason}")
    pytest.skip(f"backend {name!r} unavailable here: {found.reason}")


# fixture name -> which of a family's backends it runs on (the numpy reference only where it must
# refuse or survive what the others do: elsewhere it is the oracle)
_KINDS = {
    "backend": lambda name: name != "numpy",
    "host_backend": lambda name: name != "numpy" and name not in GPU_BACKENDS,
    "gpu_backend": lambda name: name in GPU_BACKENDS,
    "every_backend": lambda name: True,
}


def pytest_generate_tests(metafunc):
    for fixture, keep in _KINDS.items():
        if fixture in metafunc.fixturenames:
            family = getattr(metafunc.cls, "FAMILY", None) or getattr(metafunc.module, "FAMILY", None)
            if family is None:
                raise pytest.UsageError(f"{metafunc.definition.nodeid}: uses '{fixture}' without a FAMILY")
            metafunc.parametrize(fixture, [b for b in FAMILIES[family] if keep(b)], indirect=True)


@pytest.fixture
def backend(request):
    """Each non-reference backend of the test's FAMILY (skipped with its probe's reason when a
    GPU backend cannot run)."""
    return require_backend(request.param)


@pytest.fixture
def host_backend(request):
    return require_backend(request.param)


@pytest.fixture
def gpu_backend(request):
    return require_backend(request.param)


@pytest.fixture
def every_backend(request):
    return require_backend(request.param)


@pytest.fixture
def rng(request):
    """A fresh generator per test, seeded from the test's name so failures reproduce."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
