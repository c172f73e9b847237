"""The README, tried as a new user would (issue 7): its set-up commands, and every python block
run top to bottom after a plain ``pip install .``, i.e. without the numba and cupy extras."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
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
