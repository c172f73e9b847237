"""Build the compiled extensions; all metadata lives in pyproject.toml.

``turborec._native``: C++17 kernels, OpenMP when the compiler can compile AND link it.
``turborec._cuda``: CUDA kernels, built when nvcc is found. ``TURBOREC_CUDA=0`` skips it,
``TURBOREC_CUDA=1`` makes any failure to build it an error. ``TURBOREC_CUDA_ARCHS``
("75;80;90" by default) picks the GPU architectures.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from glob import glob
from pathlib import Path

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup

HERE = Path(__file__).parent.resolve()
HEADERS = sorted(glob("csrc/include/turborec/*.hpp") + glob("csrc/bindings/*.hpp"))

# Recompile every object of an extension whose sources or headers changed; the extension's
# `depends` decides whether it is stale. (pybind11's `naive_recompile` would skip objects whose
# own .cpp is unchanged even though a header they include was edited.)
ParallelCompile("NPY_NUM_BUILD_JOBS").install()


def _cuda_mode():
    value = os.environ.get("TURBOREC_CUDA", "").strip()
    if value not in ("", "0", "1"):
        raise ValueError(f"TURBOREC_CUDA must be 0, 1 or unset, got {value!r}")
    return {"": "auto", "0": "off", "1": "required"}[value]


def _find_nvcc():
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if home and (Path(home) / "bin" / "nvcc").exists():
        return str(Path(home) / "bin" / "nvcc")
    return shutil.which("nvcc") or (
        "/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None
    )


def _cuda_home(nvcc):
    """The toolkit root holding include/cuda_runtime_api.h: nvcc may be a wrapper script or a
    symlink outside it (e.g. /usr/local/bin/nvcc running /usr/local/cuda-13.0/bin/nvcc)."""
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"),
                  Path(nvcc).resolve().parent.parent, "/usr/local/cuda"]
    for home in filter(None, candidates):
        if (Path(home) / "include" / "cuda_runtime_api.h").exists():
            return Path(home)
    raise RuntimeError(f"CUDA headers not found near {nvcc} (set CUDA_HOME)")


class BuildExt(build_ext):
    """OpenMP probe (compile and link) for _native; an nvcc step for _cuda."""

    def build_extensions(self):
        self.openmp_flags = self._probe_openmp()
        super().build_extensions()

    def _probe_openmp(self):
        if sys.platform == "darwin":
            candidates = [["-Xpreprocessor", "-fopenmp"], ["-fopenmp"]]
            link_extra = ["-lomp"]
        else:
            candidates = [["-fopenmp"]]
            link_extra = []
        src = "#include <omp.h>\nint main(){int n=0;\n#pragma omp parallel reduction(+:n)\nn+=1;\nreturn n>0?0:1;}\n"
        for flags in candidates:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "omp_probe.cpp"
                path.write_text(src)
                try:
                    objs = self.compiler.compile([str(path)], output_dir=tmp, extra_postargs=flags)
                    self.compiler.link_executable(
                        objs, "omp_probe", output_dir=tmp, extra_postargs=flags + link_extra
                    )
                except Exception:  # noqa: BLE001 - any compile or link failure means "no OpenMP"
                    continue
            print(f"turborec: OpenMP found ({' '.join(flags)})")
            return flags, flags + link_extra
        print("turborec: WARNING OpenMP not found; _native builds single-threaded")
        return None

    def build_extension(self, ext):
        if ext.name == "turborec._native":
            if self.openmp_flags:
                compile_flags, link_flags = self.openmp_flags
                ext.extra_compile_args += compile_flags
                ext.extra_link_args += link_flags
            return super().build_extension(ext)
        if ext.name == "turborec._cuda":
            try:
                self._build_cuda(ext)
            except Exception as exc:  # noqa: BLE001
                if _cuda_mode() == "required":
                    raise
                print(f"turborec: WARNING skipping turborec._cuda ({exc}); set TURBOREC_CUDA=1 to fail")
            return None
        return super().build_extension(ext)

    def _build_cuda(self, ext):
        nvcc = _find_nvcc()
        if nvcc is None:
            raise RuntimeError("nvcc not found (set CUDA_HOME)")
        cuda_home = _cuda_home(nvcc)
        archs = os.environ.get("TURBOREC_CUDA_ARCHS", "75;80;90").replace(",", ";").split(";")
        gencode = []
        for arch in filter(None, (a.strip() for a in archs)):
            gencode += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
        last = [a for a in archs if a.strip()][-1].strip()
        gencode += ["-gencode", f"arch=compute_{last},code=compute_{last}"]  # PTX for newer GPUs
        build_temp = Path(self.build_temp) / "cuda"
        build_temp.mkdir(parents=True, exist_ok=True)
        objects = []
        for src in (s for s in ext.sources if s.endswith(".cu")):
            obj = build_temp / (Path(src).stem + ".o")
            cmd = [nvcc, "-c", src, "-o", str(obj), "-O3", "-std=c++17", "-Xcompiler", "-fPIC",
                   "-Icsrc/include", "-Icsrc/cuda", f"-DTR_CUDA_ARCHS=\"{';'.join(archs)}\"",
                   *gencode]
            print(" ".join(cmd))
            subprocess.check_call(cmd, cwd=HERE)
            objects.append(str(obj))
        ext.sources = [s for s in ext.sources if not s.endswith(".cu")]
        ext.extra_objects += objects
        ext.include_dirs += [str(cuda_home / "include")]
        ext.library_dirs += [str(cuda_home / "lib64")]
        ext.define_macros.append(("TR_CUDA_ARCHS", f"\"{';'.join(archs)}\""))
        super().build_extension(ext)


def _native_ext():
    return Pybind11Extension(
        "turborec._native",
        sorted(glob("csrc/bindings/*.cpp")),
        include_dirs=["csrc/include"],
        depends=HEADERS,
        cxx_std=17,
        # No multiply-add fused unless the source spells it: the SIMD clones picked at run time
        # (AVX2, AVX-512) then round as the baseline build, numba and numpy do.
        extra_compile_args=["-O3", "-ffp-contract=off"],
    )


def _cuda_ext():
    cu_sources = sorted(glob("csrc/cuda/*.cu"))
    return Pybind11Extension(
        "turborec._cuda",
        cu_sources + sorted(glob("csrc/cuda/*.cpp")),
        include_dirs=["csrc/include", "csrc/cuda"],
        depends=HEADERS + sorted(glob("csrc/cuda/*.cuh") + glob("csrc/cuda/*.hpp")) + cu_sources,
        cxx_std=17,
        extra_compile_args=["-O3"],
        libraries=["cudart_static", "rt", "pthread", "dl"],
    )


ext_modules = [_native_ext()]
if _cuda_mode() != "off" and Path("csrc/cuda/module.cpp").exists() and (
    _find_nvcc() or _cuda_mode() == "required"
):
    ext_modules.append(_cuda_ext())

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildExt})
