"""The README and the API reference, tried as a new user would (issue 7): the set-up commands,
every python block run top to bottom after a plain ``pip install .`` (without the numba and
cupy extras), and docs/api.md listing every public name with its real signature."""

import ast
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import turborec
from turborec import (als, attention, biases, bpr, datasets, exceptions, features, knn_rating, lmf, metrics,
                      models, sgd, similarity, split)
from turborec.compat import surprise as compat_surprise  # Surprise is a [test] peer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
API = ROOT / "docs" / "api.md"
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"  # holds ml-100k/

# Run before each block: the extras a plain `pip install .` lacks cannot be imported.
WITHOUT_EXTRAS = textwrap.dedent("""
    import sys
    for name in ("numba", "cupy"):
        sys.modules[name] = None  # `import numba` now raises ImportError
""")


def _python_blocks():
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)


def test_readme_has_the_two_setup_commands():
    text = README.read_text()
    assert "pip install . && turborec demo" in text
    assert 'pip install ".[test]" && pytest' in text


def test_readme_has_python_blocks():
    assert len(_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_block_runs_without_the_extras(index, tmp_path):
    block = _python_blocks()[index]
    cwd = tmp_path
    if "ml-100k/u.data" in block:
        if not (DATA / "ml-100k" / "u.data").exists():
            pytest.skip(f"MovieLens 100K not found at {DATA / 'ml-100k' / 'u.data'}")
        cwd = DATA
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(WITHOUT_EXTRAS + "\nimport turborec\nassert 'numba' not in turborec.available()\n"
                      + "del turborec\n" + block)
    done = subprocess.run([sys.executable, "-W", "error", str(script)], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"README python block {index} failed:\n{block}\n{done.stderr[-3000:]}"


def _public_names():
    """Every public name as ``(qualified name, object)``."""
    names = [(f"turborec.{name}", getattr(turborec, name)) for name in turborec.__all__]
    for module in (als, attention, biases, bpr, compat_surprise, datasets, features, knn_rating, lmf, metrics,
                   models, exceptions, sgd, similarity, split):
        names += [(f"{module.__name__}.{name}", getattr(module, name)) for name in module.__all__]
    names += [(f"turborec.split.{name}", function) for name, function in inspect.getmembers(split, inspect.isfunction)
              if function.__module__ == split.__name__ and not name.startswith("_")]
    return sorted(set(names), key=lambda pair: pair[0])


def _documented():
    """``[(name, signature text or None)]`` for every code span of docs/api.md that names something."""
    pattern = r"`((?:turborec|Interactions|RecommenderBase)(?:\.\w+)+)(\(.*?\))?`"
    return [(name, signature or None) for name, signature in re.findall(pattern, API.read_text())]


def _parameters(signature_text):
    """``[(name, kind, default)]`` of a documented signature; default is ... for none, and the
    literal value, or the source text when it is not a literal."""
    arguments = ast.parse(f"def f{signature_text}: pass").body[0].args
    positional = arguments.posonlyargs + arguments.args
    defaults = [None] * (len(positional) - len(arguments.defaults)) + arguments.defaults
    result = [(a.name if hasattr(a, "name") else a.arg, "positional", d) for a, d in zip(positional, defaults)]
    if arguments.vararg:
        result.append((arguments.vararg.arg, "*args", None))
    result += [(a.arg, "keyword", d) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults)]
    if arguments.kwarg:
        result.append((arguments.kwarg.arg, "**kwargs", None))

    def value(node):
        if node is None:
            return ...
        try:
            return ast.literal_eval(node)
        except ValueError:
            return ast.unparse(node)

    return [(name, kind, value(default)) for name, kind, default in result]


def _actual_parameters(obj):
    kinds = {inspect.Parameter.POSITIONAL_ONLY: "positional", inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
             inspect.Parameter.VAR_POSITIONAL: "*args", inspect.Parameter.KEYWORD_ONLY: "keyword",
             inspect.Parameter.VAR_KEYWORD: "**kwargs"}
    result = []
    for parameter in inspect.signature(obj).parameters.values():
        if parameter.name == "self":
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        if isinstance(default, type):  # e.g. dtype=numpy.float32, written as its dotted name
            default = f"{default.__module__.split('.')[0]}.{default.__name__}"
        result.append((parameter.name, kinds[parameter.kind], default))
    return result


def test_api_reference_names_every_public_name():
    documented = {name for name, _ in _documented()}
    missing = [name for name, _ in _public_names() if name not in documented]
    assert not missing, f"docs/api.md does not mention: {', '.join(missing)}"


def test_api_reference_signatures_are_the_real_ones():
    documented = _documented()
    objects = dict(_public_names())
    objects.update({f"Interactions.{name}": getattr(datasets.Interactions, name) for name in ("from_raw", "to_csr", "subset")})
    objects.update({f"RecommenderBase.{name}": getattr(models.RecommenderBase, name)
                    for name in ("recommend", "score", "get_params", "set_params")})
    checked = 0
    for name, signature in documented:
        if signature is None:
            continue
        assert name in objects, f"docs/api.md documents {name}{signature}, which is not public"
        assert _parameters(signature) == _actual_parameters(objects[name]), (
            f"docs/api.md: {name}{signature} is not the signature {inspect.signature(objects[name])}")
        checked += 1
    # Every public function and class (exceptions aside) is documented with its signature somewhere.
    with_signature = {id(objects[name]) for name, signature in documented if signature}
    undocumented = [name for name, obj in _public_names()
                    if callable(obj) and not (isinstance(obj, type) and issubclass(obj, BaseException))
                    and id(obj) not in with_signature]
    assert not undocumented, f"docs/api.md gives no signature for: {', '.join(undocumented)}"
    assert checked >= 30


def test_api_reference_is_linked_from_the_index_and_the_readme():
    assert "(api.md)" in (ROOT / "docs" / "index.md").read_text()
    assert "(docs/api.md)" in README.read_text()


def test_building_docs_name_the_setuptools_an_editable_install_needs():
    """`pip install -e . --no-build-isolation` uses the installed setuptools; pyproject needs >= 77."""
    text = (ROOT / "docs" / "building.md").read_text()
    assert "--no-build-isolation" in text and "setuptools>=77" in text
