"""The `turborec` command and the built-in synthetic data it runs on."""

import numpy as np

from turborec.cli import main
from turborec.datasets import synthetic_factors


def test_demo_runs_every_backend_and_agrees(capsys):
    assert main(["demo", "--users", "300", "--items", "500", "--factors", "8", "--reference-users", "50",
                 "--eval-users", "400", "--eval-items", "300"]) == 0
    out = capsys.readouterr().out
    assert "native" in out and "numpy" in out and "DIFFER" not in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("Random", "MostPopular"))}
    assert float(rows["MostPopular"][3]) > float(rows["Random"][3])  # ndcg@10


def test_info_prints_config(capsys):
    assert main(["info"]) == 0
    assert "backends" in capsys.readouterr().out


def test_synthetic_factors_are_seeded_and_skewed():
    users, items, seen = synthetic_factors(200, 1000, 16, 20, seed=3)
    again = synthetic_factors(200, 1000, 16, 20, seed=3)
    np.testing.assert_array_equal(users, again[0])
    assert users.shape == (200, 16) and items.shape == (1000, 16) and users.dtype == np.float32
    assert seen.shape == (200, 1000) and seen.has_canonical_format and (seen.data == 1).all()
    counts = np.sort(np.asarray(seen.sum(0)).ravel())[::-1]
    assert counts[:10].sum() > 10 * counts[500:510].sum()  # popular items are seen far more often
