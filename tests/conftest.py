import zlib

import numpy as np
import pytest

from turborec.backends import BACKENDS, GPU_BACKENDS, probe

# Backends checked against the numpy reference. native must always run (a build without it is
# broken, not skipped); numba skips only when numba is not installed; GPU backends skip with
# their probe's reason when no device is present.
COMPARED = [b for b in BACKENDS if b != "numpy"]


def require_backend(name):
    found = probe(name)
    if found.available:
        return name
    if name == "native":
        pytest.fail(f"the native backend must be available: {found.reason}")
    pytest.skip(f"backend {name!r} unavailable here: {found.reason}")


@pytest.fixture(params=COMPARED)
def backend(request):
    """Each non-reference backend in turn (skipped with its probe's reason when unavailable)."""
    return require_backend(request.param)


@pytest.fixture(params=[b for b in COMPARED if b not in GPU_BACKENDS])
def host_backend(request):
    return require_backend(request.param)


@pytest.fixture
def rng(request):
    """A fresh generator per test, seeded from the test's name so failures reproduce."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
