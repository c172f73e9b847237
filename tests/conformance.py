"""The conformance suite every kernel inherits: one subclass per public kernel function.

A family's test module subclasses :class:`KernelConformance` once per kernel, names the
family, and says how to draw a problem and how to call the kernel; it inherits tests that run
on every backend the registry lists for the family (``backend`` / ``host_backend`` fixtures,
tests/conftest.py) against the numpy reference:

- fresh random problems of several shapes, in every dtype the kernel takes;
- empty inputs (no rows, no columns, neither): results of the reference's shape and dtype, or
  the reference's clear error;
- ``k`` of 1, equal to the number of columns, and above it (likewise);
- thread counts 1 and 2 giving identical results (host backends);
- non-contiguous and read-only inputs, which must work and give the same answer;
- the caller's inputs unchanged afterwards (arrays and every array of a sparse matrix).

Example (tests/test_topk.py)::

    class TestTopk(KernelConformance):
        FAMILY = "selection"

        def make(self, rng, dtype, n, m, k=10):
            return dict(scores=rng.standard_normal((n, m)).astype(dtype), k=k, exclude=...)

        def call(self, inputs, backend, n_threads=None):
            return turborec.topk(**inputs, backend=backend, n_threads=n_threads)
"""

import numpy as np
import pytest
import scipy.sparse as sp


class KernelConformance:
    FAMILY = None
    DTYPES = (np.float32, np.float64)
    SHAPES = ((37, 300), (5, 2000), (1, 1), (20, 64))
    EMPTY_SHAPES = ((0, 5), (4, 0), (0, 0))
    THREADS_SHAPE = (300, 2000)
    RTOL = 0.0  # 0: results must equal the reference bit for bit

    # ---- what a subclass provides ----

    def make(self, rng, dtype, n, m, k=10):
        """Keyword arguments of one problem with ``n`` rows over ``m`` columns and size ``k``."""
        raise NotImplementedError

    def call(self, inputs, backend, n_threads=None):
        """Run the kernel on ``inputs``; a tuple of arrays."""
        raise NotImplementedError

    # ---- parametrisation from the class attributes, so subclasses can change them ----

    def pytest_generate_tests(self, metafunc):
        for fixture, values in (("dtype", self.DTYPES), ("shape", self.SHAPES), ("empty_shape", self.EMPTY_SHAPES)):
            if fixture in metafunc.fixturenames:
                metafunc.parametrize(fixture, values, ids=[str(getattr(x, "__name__", x)) for x in values])

    # ---- helpers ----

    def assert_same(self, got, want):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert isinstance(g, np.ndarray) and g.dtype == w.dtype and g.shape == w.shape
            if self.RTOL:
                np.testing.assert_allclose(g, w, rtol=self.RTOL, equal_nan=True)
            else:
                np.testing.assert_array_equal(g, w)

    def reference(self, inputs):
        return self.call(inputs, "numpy")

    def assert_same_outcome(self, inputs, backend):
        """Same results as the reference, or the same clear error (type and message)."""
        try:
            want = self.reference(inputs)
        except (ValueError, TypeError, IndexError) as error:
            with pytest.raises(type(error)) as got:
                self.call(inputs, backend)
            assert str(got.value) == str(error)
            return
        self.assert_same(self.call(inputs, backend), want)

    # ---- the suite ----

    def test_matches_reference(self, backend, rng, dtype, shape):
        inputs = self.make(rng, dtype, *shape)
        self.assert_same(self.call(inputs, backend), self.reference(inputs))

    def test_empty_inputs(self, backend, rng, dtype, empty_shape):
        self.assert_same_outcome(self.make(rng, dtype, *empty_shape), backend)

    @pytest.mark.parametrize("k_of_m", ["one", "all", "above"])
    def test_k_edges(self, backend, rng, k_of_m):
        m = 50
        k = {"one": 1, "all": m, "above": m + 7}[k_of_m]
        self.assert_same_outcome(self.make(rng, self.DTYPES[0], 9, m, k=k), backend)

    def test_thread_count_does_not_change_results(self, host_backend, rng):
        inputs = self.make(rng, self.DTYPES[0], *self.THREADS_SHAPE)
        one = self.call(inputs, host_backend, n_threads=1)
        two = self.call(inputs, host_backend, n_threads=2)
        for a, b in zip(one, two):
            np.testing.assert_array_equal(a, b)

    def test_non_contiguous_and_read_only_inputs(self, backend, rng):
        inputs = self.make(rng, self.DTYPES[-1], 23, 140)
        awkward = {name: _awkward(value) for name, value in inputs.items()}
        assert any(isinstance(v, np.ndarray) and not v.flags.c_contiguous for v in awkward.values())
        self.assert_same(self.call(awkward, backend), self.reference(inputs))

    def test_inputs_are_unchanged(self, backend, rng):
        inputs = self.make(rng, self.DTYPES[0], 17, 90)
        before = {name: _snapshot(value) for name, value in inputs.items()}
        self.call(inputs, backend)
        for name, value in inputs.items():
            _assert_unchanged(before[name], value, name)


def _awkward(value):
    """The same values in a non-contiguous (2-D: Fortran order; 1-D: strided) read-only array."""
    if not isinstance(value, np.ndarray) or value.ndim == 0:
        return value
    if value.ndim == 2:
        out = np.asfortranarray(value) if value.shape[0] > 1 and value.shape[1] > 1 else value.copy()
    else:
        out = np.repeat(value, 2)[::2]
    out.flags.writeable = False
    return out


def _snapshot(value):
    if sp.issparse(value):
        return {part: getattr(value, part).copy() for part in ("data", "indices", "indptr") if hasattr(value, part)}
    return value.copy() if isinstance(value, np.ndarray) else value


def _assert_unchanged(before, value, name):
    if sp.issparse(value):
        for part, saved in before.items():
            np.testing.assert_array_equal(getattr(value, part), saved, err_msg=f"{name}.{part} was modified")
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(value, before, err_msg=f"{name} was modified")


def simd_levels():
    """The instruction-set clones of the native kernels this CPU runs ("sse2", "avx2",
    "avx512f"; "scalar" in a build without x86 dispatch): a kernel that takes ``simd=`` must
    give the same bits on each."""
    from turborec import _native

    here = _native.build_info()["simd_selected"]
    order = ["sse2", "avx2", "avx512f"]
    return order[: order.index(here) + 1] if here in order else [here]
