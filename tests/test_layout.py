"""House rules of the layout (DESIGN section 1, issue 7) that a change could quietly break."""

import ast
import re
from pathlib import Path

import turborec

PACKAGE = Path(turborec.__file__).parent
MAX_LINES = 500


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield (".".join(parts[:-1]) if parts[-1] == "__init__" else ".".join(parts)), path


def test_no_python_file_is_over_the_limit():
    long = {str(path.relative_to(PACKAGE)): n for _, path in _modules()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these (over {MAX_LINES} lines): {long}"


def _imports(name, path):
    """Modules of turborec that ``name`` imports when it is imported (top level, not in functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("turborec")}
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            module = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
            if module.startswith("turborec"):
                # `from . import x` may name a submodule: count it as an import of that module.
                found |= {f"{module}.{alias.name}" for alias in node.names} | {module}
    return found


def test_no_import_cycle_among_the_private_modules():
    modules = dict(_modules())
    graph = {name: {m for m in _imports(name, path) if m in modules and m != name} for name, path in modules.items()}
    private = {name for name in graph if any(part.startswith("_") for part in name.split(".")[1:])}

    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    return trail + [start]
                if nxt not in seen and nxt in private:
                    seen.add(nxt)
                    stack.append((nxt, trail + [nxt]))
        return None

    cycles = [c for c in map(cycle_from, sorted(private)) if c]
    assert not cycles, f"import cycles: {cycles[0]}"


def test_every_public_error_and_warning_class_lives_in_exceptions():
    pattern = re.compile(r"^class (\w+)\((\w*(?:Error|Warning|Exception))\)", re.M)
    elsewhere = [f"{path.relative_to(PACKAGE)}: {m.group(1)}" for name, path in _modules()
                 if name != "turborec.exceptions" for m in pattern.finditer(path.read_text())]
    assert not elsewhere, elsewhere
    from turborec import exceptions

    for cls in map(lambda n: getattr(exceptions, n), exceptions.__all__):
        assert cls.__module__ == "turborec.exceptions"
    assert turborec.models.ParameterWarning is exceptions.ParameterWarning
    assert turborec.datasets.DataWarning is exceptions.DataWarning
    assert turborec.BackendUnavailableError is exceptions.BackendUnavailableError


def test_backends_folder_holds_only_the_registry():
    assert sorted(p.name for p in (PACKAGE / "backends").glob("*.py")) == ["__init__.py"]
