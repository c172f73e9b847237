"""``turborec.show_config()``: what was compiled in, what runs here, and with how many threads."""

import platform
import sys


def config_info():
    """The facts :func:`show_config` prints, as a dict (for bug reports and tests)."""
    import numpy
    import scipy

    from . import __version__
    from ._threads import cpu_count, resolve_n_threads
    from .backends import BACKENDS, FAMILIES, available, probe, requested_backend

    info = {
        "turborec": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "cpu_count": cpu_count(),
        "n_threads": resolve_n_threads(None),
        "requested_backend": requested_backend(None),
        "backends": {name: (probe(name).available, probe(name).reason) for name in BACKENDS},
        "families": {family: {"implemented_by": names, "runs_here_on": available(family)}
                     for family, names in FAMILIES.items()},
    }
    try:
        from . import _native

        info["native_build"] = dict(_native.build_info())
    except ImportError as exc:
        info["native_build"] = {"error": str(exc)}
    try:
        from . import _cuda

        info["cuda_build"] = dict(_cuda.build_info())
    except ImportError as exc:
        info["cuda_build"] = {"error": str(exc)}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: lib.get(k) for k in ("user_api", "internal_api", "version", "num_threads", "filepath")}
            for lib in threadpool_info()
        ]
    except Exception as exc:  # noqa: BLE001 - reporting only
        info["threadpools"] = [{"error": str(exc)}]
    return info


def show_config(file=None):
    """Print versions, build facts, each backend's availability with its reason, and threads.

    Parameters
    ----------
    file : file-like, optional
        Where to print (default ``sys.stdout``). :func:`config_info` returns the same facts as
        a dict.
    """
    info = config_info()
    out = []
    out.append("turborec " + info["turborec"])
    for key in ("python", "platform", "numpy", "scipy"):
        out.append(f"  {key:<18}{info[key]}")
    out.append("build (_native):")
    out += [f"  {k:<18}{val}" for k, val in info["native_build"].items()]
    out.append("build (_cuda):")
    out += [f"  {k:<18}{val}" for k, val in info["cuda_build"].items()]
    out.append("backends (auto order for host arrays: native, numba, numpy; GPU arrays: cuda, cupy):")
    for name, (ok, reason) in info["backends"].items():
        out.append(f"  {name:<8}{'yes' if ok else 'no ':<5}{reason}")
    out.append("kernel families (backends that implement each; * runs here):")
    for family, where in info["families"].items():
        names = ", ".join(n + ("*" if n in where["runs_here_on"] else "") for n in where["implemented_by"])
        out.append(f"  {family:<18}{names}")
    out.append("threads:")
    out.append(f"  {'cpu_count':<18}{info['cpu_count']}")
    out.append(f"  {'n_threads (None)':<18}{info['n_threads']}")
    out.append(f"  {'backend in force':<18}{info['requested_backend']}")
    out.append("threadpools (threadpoolctl):")
    for lib in info["threadpools"]:
        out.append("  " + ", ".join(f"{k}={val}" for k, val in lib.items()))
    print("\n".join(out), file=file or sys.stdout)
