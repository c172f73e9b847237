"""Backend selection rules (DESIGN.md section 3) and show_config."""

import io
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import turborec
from turborec import backends
from turborec.backends import BackendUnavailableError, PerformanceWarning, Probe


class FakeGpuArray:
    """Looks like a device array to the registry (only the interface attribute matters)."""

    __cuda_array_interface__ = {"shape": (1, 1), "typestr": "<f4", "data": (0, False), "version": 3}


@pytest.fixture
def no_native(monkeypatch):
    """Pretend the native module failed to build; reset the once-only warning flag."""
    real = backends.probe

    def fake(name):
        return Probe(name, False, "not built (test)") if name == "native" else real(name)

    monkeypatch.setattr(backends, "probe", fake)
    monkeypatch.setattr(backends, "_warned_slow", False)


def test_native_is_available_and_numpy_always():
    assert "native" in turborec.available() and "numpy" in turborec.available()
    assert backends.probe("native").available


def test_priority_argument_over_context_over_env(monkeypatch):
    monkeypatch.setenv("TURBOREC_BACKEND", "numpy")
    assert backends.resolve("selection", None, (np.zeros(1),)).name == "numpy"
    with turborec.config_context(backend="native"):
        assert backends.resolve("selection", None, (np.zeros(1),)).name == "native"
        assert backends.resolve("selection", "numpy", (np.zeros(1),)).name == "numpy"
    monkeypatch.delenv("TURBOREC_BACKEND")
    assert backends.resolve("selection", None, (np.zeros(1),)).name == "native"  # auto on host data


def test_config_context_restores_and_validates():
    before = turborec.get_config()
    with turborec.config_context(backend="numpy", n_threads=1):
        assert turborec.get_config() == {"backend": "numpy", "n_threads": 1}
    assert turborec.get_config() == before
    with pytest.raises(ValueError, match="backend"):
        with turborec.config_context(backend="tpu"):
            pass
    with pytest.raises(ValueError, match="n_threads"):
        with turborec.config_context(n_threads=0):
            pass


def test_unknown_backend_names_the_choices(monkeypatch):
    with pytest.raises(ValueError, match="expected one of auto, native"):
        turborec.topk(np.zeros((1, 1)), 1, backend="fast")
    monkeypatch.setenv("TURBOREC_BACKEND", "gpu")
    with pytest.raises(ValueError, match="'gpu'"):
        turborec.topk(np.zeros((1, 1)), 1)


def test_explicit_unavailable_backend_raises_with_reason(no_native):
    with pytest.raises(BackendUnavailableError, match="not built \\(test\\)"):
        turborec.topk(np.zeros((2, 3)), 1, backend="native")


def test_explicit_gpu_backend_without_device_raises_with_reason():
    missing = [name for name in backends.GPU_BACKENDS if not backends.probe(name).available]
    if not missing:
        pytest.skip("every GPU backend is available on this machine")
    for name in missing:
        with pytest.raises(BackendUnavailableError, match=f"{name}.*{re.escape(backends.probe(name).reason)}"):
            turborec.topk(np.zeros((2, 3)), 1, backend=name)


def test_auto_below_native_warns_once(no_native):
    with pytest.warns(PerformanceWarning, match="not built"):
        first = backends.resolve("selection", "auto", (np.zeros(1),))
    assert first.name in ("numba", "numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert backends.resolve("selection", "auto", (np.zeros(1),)) is first
        assert backends.resolve("metrics", "auto", ()).name == first.name


def test_auto_never_sends_host_data_to_gpu():
    assert backends.resolve("selection", "auto", (np.zeros(1),)).on_gpu is False


def test_auto_with_gpu_arrays_uses_only_gpu_backends():
    if any(backends.probe(b).available for b in backends.GPU_BACKENDS):
        assert backends.resolve("selection", "auto", (FakeGpuArray(),)).on_gpu
    else:
        with pytest.raises(BackendUnavailableError, match="cuda: .*cupy: "):
            backends.resolve("selection", "auto", (FakeGpuArray(),))


def test_host_backend_refuses_gpu_arrays():
    with pytest.raises(TypeError, match="GPU array"):
        backends.resolve("selection", "native", (FakeGpuArray(),))


def test_a_backend_without_the_family_is_refused_by_name_and_skipped_by_auto(monkeypatch):
    with pytest.raises(BackendUnavailableError, match="backend 'cuda' does not implement the 'metrics' kernels"):
        backends.resolve("metrics", "cuda")
    with pytest.raises(BackendUnavailableError, match="does not implement the 'metrics' kernels"):
        turborec.metrics.ranking_metrics(np.zeros((1, 1), np.int32), sp.eye(1, format="csr"), 1, backend="cupy")
    monkeypatch.setitem(backends.FAMILIES, "metrics", ("numba", "numpy"))
    monkeypatch.setattr(backends, "_warned_slow", False)
    with warnings.catch_warnings():  # numba is this family's fastest backend: nothing to warn about
        warnings.simplefilter("error")
        assert backends.resolve("metrics", "auto", (np.zeros(1),)).name == "numba"
    real = backends.probe
    monkeypatch.setattr(backends, "probe", lambda n: Probe(n, False, "not installed (test)") if n == "numba" else real(n))
    with pytest.warns(PerformanceWarning, match="backend 'numba' is unavailable: not installed \\(test\\)"):
        assert backends.resolve("metrics", "auto", (np.zeros(1),)).name == "numpy"


def test_every_family_has_one_module_per_listed_backend():
    """The registry and the folders agree: turborec/<family>/_<backend>.py for each listed backend."""
    from pathlib import Path

    root = Path(turborec.__file__).parent
    for family, names in backends.FAMILIES.items():
        present = {p.stem[1:] for p in (root / family).glob("_*.py") if p.stem[1:] in backends.BACKENDS}
        assert present == set(names), family
        assert "numpy" in names, f"{family} has no numpy reference"


def test_backend_objects_carry_the_family_implementation():
    chosen = backends.resolve("selection", "numpy")
    assert chosen.name == "numpy" and chosen.xp is np and not chosen.on_gpu
    assert chosen.impl.__name__ == "turborec.selection._numpy"
    assert turborec.available("metrics") == tuple(b for b in ("native", "numba", "numpy") if backends.probe(b).available)
    with pytest.raises(ValueError, match=f"family: expected one of {', '.join(backends.FAMILIES)}; got 'no_such_family'"):
        backends.resolve("no_such_family")


def test_show_config_reports_build_backends_and_threads():
    out = io.StringIO()
    turborec.show_config(file=out)
    text = out.getvalue()
    for needle in ("openmp", "simd_selected", "native  yes", "numpy   yes", "n_threads", "blas",
                   "selection         native*, cuda", "metrics           native*, numba*, numpy*"):
        assert needle in text, needle
    info = turborec._show.config_info()
    assert info["native_build"]["openmp"] is True  # CI builds with gcc, which has OpenMP
    assert info["native_build"]["simd_selected"] in ("avx512f", "avx2", "sse2", "scalar")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_simd_level_this_cpu_runs_matches_the_scalar_scan(dtype):
    from turborec import _native

    here = _native.build_info()["simd_selected"]
    order = ["scalar", "sse2", "avx2", "avx512f"]
    levels = order[: order.index(here) + 1]
    scan = _native._next_greater_f32 if dtype == np.float32 else _native._next_greater_f64
    rng = np.random.default_rng(7)
    for n in (0, 1, 15, 16, 17, 33, 100, 1000):
        values = rng.standard_normal(n).astype(dtype)
        values[rng.random(n) < 0.1] = np.nan
        for threshold in (-np.inf, 0.0, 1.5, 3.0, np.inf):
            for start in {0, n // 3, n}:
                above = np.flatnonzero(values[start:] > threshold)
                want = start + above[0] if len(above) else n
                for level in levels:
                    assert scan(values, start, threshold, level) == want, (level, n, threshold, start)
    with pytest.raises(ValueError, match="not supported by this CPU|not compiled"):
        scan(np.zeros(3, dtype), 0, 0.0, "avx512f" if here != "avx512f" else "neon")


def test_probes_of_missing_optional_backends_say_how_to_install_them(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    monkeypatch.setitem(sys.modules, "cupy", None)
    problem, _ = backends._probe_numba()
    assert "pip install 'turborec[numba]'" in problem
    problem, _ = backends._probe_cupy()
    assert "pip install 'turborec[cupy]'" in problem


def test_every_backend_of_a_family_implements_every_kernel_it_dispatches():
    """The rule the fixtures rely on: each ``dispatch("<family>", "<kernel>", ...)`` in the package
    has ``<kernel>`` in every backend module the registry lists for the family (those whose
    runtime is here to import; the others are checked where they run)."""
    import ast
    import importlib
    from pathlib import Path

    dispatched = set()
    for path in Path(turborec.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dispatch"
                    and len(node.args) >= 2 and all(isinstance(a, ast.Constant) for a in node.args[:2])):
                dispatched.add((node.args[0].value, node.args[1].value))
    assert {family for family, _ in dispatched} == set(backends.FAMILIES)
    for family, kernel in sorted(dispatched):
        for name in backends.FAMILIES[family]:
            if backends.probe(name).available:
                module = importlib.import_module(f"turborec.{family}._{name}")
                assert callable(getattr(module, kernel, None)), f"{family}._{name} lacks {kernel}"
