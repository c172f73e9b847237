"""The `turborec` command and the built-in synthetic data it runs on."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import turborec
from turborec import cli
from turborec.cli import build_parser, docs_url, main
from turborec.attention import SASRec
from turborec.datasets import synthetic_factors, synthetic_sequences

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
SMALL = ["--users", "300", "--items", "500", "--factors", "8", "--reference-users", "50",
         "--eval-users", "400", "--eval-items", "300", "--attention-users", "24", "--attention-items", "400"]


def _table(out):
    """The evaluation table: model name -> {column: value}."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    columns = lines[header].split()[1:]
    table = {}
    for line in lines[header + 1:]:
        if not line.strip():
            break
        name, values = line[:27].strip(), line[27:].split()
        table[name] = dict(zip(columns, map(float, values)))
    return table


def test_demo_runs_every_backend_and_agrees(capsys):
    assert main(["demo", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "native" in out and "numpy" in out and "DIFFER" not in out
    rows = _table(out)
    assert float(rows["MostPopular"]["ndcg@10"]) > float(rows["Random"]["ndcg@10"])


def test_demo_evaluates_item_knn_content_knn_and_their_hybrid(capsys):
    """The default-sized evaluation step (the first step made small): the neighbour rows are there
    and sane. Content carries part of the tastes, so ContentKNN beats Random; the blend keeps
    ItemKNN's strength."""
    assert main(["demo", "--users", "50", "--items", "50", "--factors", "4", "--reference-users", "10"]) == 0
    rows = _table(capsys.readouterr().out)
    assert list(rows) == ["Random", "MostPopular", "ItemKNN", "ContentKNN", "Hybrid(ItemKNN,ContentKNN)", "ALS", "BPR",
                          "true tastes (oracle)"]
    for row in rows.values():
        assert all(0 <= row[c] <= 1 for c in row if c != "seconds") and row["seconds"] >= 0
    assert rows["ContentKNN"]["precision@10"] > 2 * rows["Random"]["precision@10"]
    assert rows["ItemKNN"]["ndcg@10"] > rows["MostPopular"]["ndcg@10"]
    assert rows["Hybrid(ItemKNN,ContentKNN)"]["ndcg@10"] > 0.9 * rows["ItemKNN"]["ndcg@10"]
    assert rows["true tastes (oracle)"]["ndcg@10"] > rows["Hybrid(ItemKNN,ContentKNN)"]["ndcg@10"]
    for trained in ("ALS", "BPR"):  # factorisations belong between MostPopular and the oracle
        assert rows["MostPopular"]["ndcg@10"] < rows[trained]["ndcg@10"] < rows["true tastes (oracle)"]["ndcg@10"]


def test_demo_predicts_ratings_with_biases_and_svd(capsys):
    assert main(["demo", *SMALL]) == 0
    out = capsys.readouterr().out
    lines = out[out.index("\nRatings:"):].splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = {line[:27].strip(): [float(x) for x in line[27:].split()] for line in lines[header + 1:header + 5]}
    assert list(rows) == ["global mean", "BaselineOnly (ALS)", "SVD (Surprise's)", "SVD (grid, float32)"]
    rmse = {name: values[0] for name, values in rows.items()}
    # Biases and tastes generate the ratings: each model explains more of them than the last.
    assert rmse["SVD (Surprise's)"] < rmse["BaselineOnly (ALS)"] < rmse["global mean"]
    assert abs(rmse["SVD (grid, float32)"] - rmse["SVD (Surprise's)"]) < 0.02


def _attention_step(out):
    """The attention step's lines, from its heading on."""
    return out[out.index("\nAttention: "):].strip().splitlines()


def test_demo_serves_sasrec_with_generated_weights_and_says_so(capsys):
    """Issue 11: the demo's attention step times recommend and step on the engine, checks it
    against the numpy reference and a full pass, shows one user's top-k, and labels the weights
    as generated, not trained."""
    assert main(["demo", *SMALL, "--k", "7", "--seed", "3"]) == 0
    lines = _attention_step(capsys.readouterr().out)
    heading = lines[0]
    assert "top-7 for 24 synthetic sequences" in heading and "over 400 items" in heading
    assert "GENERATED at random (seeded), NOT TRAINED" in heading and "mean nothing" in heading
    assert "hidden 64, 2 blocks, 2 heads, inner 256, max_len 50" in heading
    header = lines.index(next(line for line in lines if line.startswith("call ")))
    assert lines[header].split() == ["call", "backend", "threads", "ms", "users/s"]
    table = {line[:27].strip(): line[27:].split() for line in lines[header + 1:header + 4]}
    assert list(table) == ["recommend, batch 1", "recommend, batch 24", "step (append one item)"]
    for backend, threads, ms, per_second in table.values():
        assert backend == turborec.available("attention")[0] and int(threads) >= 1
        assert float(ms) > 0 and float(per_second.replace(",", "")) > 0
    agreement = next(line for line in lines if line.startswith("Agreement: "))
    assert "ids 100% identical, scores match" in agreement and "a full pass: identical ids" in agreement

    # The printed top-k is the model's: rebuilt here from the same seeded data and weights.
    data = synthetic_sequences(24, 400, n_clusters=10, seed=3)
    first = data.items[data.users == 0].astype(np.int64) + 1
    model = SASRec.from_recbole(cli.generated_sasrec_weights(401, seed=3))
    ids, _ = model.recommend([first], k=7)
    user = next(line for line in lines if line.startswith("User 0 "))
    assert user == (f"User 0 ({len(first)} items, the last five {(first[-5:] - 1).tolist()}): top-7 "
                    f"{(ids[0] - 1).tolist()} (synthetic_sequences' item ids)")
    assert not set(ids[0]) & set(first) and len(set(ids[0])) == 7
    assert lines[-1] == f"Serving RecBole's SASRec and BERT4Rec, converting checkpoints: {docs_url()}/attention.md"


def test_generated_weights_are_seeded_and_recbole_shaped():
    weights = cli.generated_sasrec_weights(101, seed=5)
    again, other = cli.generated_sasrec_weights(101, seed=5), cli.generated_sasrec_weights(101, seed=6)
    assert weights.keys() == again.keys() and all(np.array_equal(weights[k], again[k]) for k in weights)
    assert not np.array_equal(weights["item_embedding.weight"], other["item_embedding.weight"])
    model = SASRec.from_recbole(weights)  # every RecBole key present, every shape right
    assert (model.n_items, model.hidden_size, model.n_layers, model.inner_size, model.max_len) == (101, 64, 2, 256, 50)
    assert all(value.dtype == np.float32 for value in weights.values())


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


def _documentation_url_in_pyproject():
    match = re.search(r'^Documentation\s*=\s*"([^"]+)"', PYPROJECT.read_text(), re.MULTILINE)
    assert match, "pyproject.toml: no Documentation URL under [project.urls]"
    return match.group(1).rstrip("/")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"turborec {turborec.__version__}"


@pytest.mark.parametrize("option, value, expected", [
    ("--threads", "0", "--threads: expected an int >= 1 or -1, got 0"),
    ("--threads", "-2", "--threads: expected an int >= 1 or -1, got -2"),
    ("--users", "0", "--users: expected an int >= 1, got 0"),
    ("--items", "-5", "--items: expected an int >= 1, got -5"),
    ("--factors", "0", "--factors: expected an int >= 1, got 0"),
    ("--k", "-1", "--k: expected an int >= 1, got -1"),
    ("--k", "ten", "--k: expected an int, got 'ten'"),
    ("--seen", "-1", "--seen: expected an int >= 0, got -1"),
    ("--reference-users", "0", "--reference-users: expected an int >= 1, got 0"),
    ("--eval-users", "0", "--eval-users: expected an int >= 1, got 0"),
    ("--eval-items", "1", "--eval-items: expected an int >= 2, got 1"),
    ("--seed", "-3", "--seed: expected an int >= 0, got -3"),
    ("--attention-users", "1", "--attention-users: expected an int >= 2, got 1"),
    ("--attention-items", "5", "--attention-items: expected an int >= 6, got 5"),
])
def test_bad_demo_options_are_usage_errors(capsys, option, value, expected):
    with pytest.raises(SystemExit) as exit_info:
        main(["demo", option, value])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: turborec demo")
    assert expected in err and "Traceback" not in err


def test_threads_accepts_minus_one_for_all_cores():
    assert build_parser().parse_args(["demo", "--threads", "-1"]).threads == -1
    assert build_parser().parse_args(["demo"]).threads is None


def _parsers(name, parser):
    """``parser`` and every parser below it, as ``(command, parser)``."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(f"{name} {sub_name}", sub)


def test_every_option_has_help_and_its_default_shown():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    parsers = dict(_parsers("turborec", parser))
    assert "turborec attention convert" in parsers
    for name, sub in parsers.items():
        assert sub.formatter_class is argparse.ArgumentDefaultsHelpFormatter, name
        text = sub.format_help()
        for action in sub._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                assert action.help, f"{name} {action.option_strings[0]}: no help text"
                assert f"(default: {action.default})" in " ".join(text.split()), f"{name} {action.option_strings[0]}"
    assert "(default: 20000)" in subparsers["demo"].format_help()


def test_the_docs_pointer_is_the_project_url(capsys):
    url = _documentation_url_in_pyproject()
    assert docs_url() == url and cli.DOCS_URL == url  # the fallback for a never-installed tree agrees
    assert main(["docs"]) == 0
    out = capsys.readouterr().out
    assert url in out and f"{url}/api.md" in out
    assert url.startswith("https://")


def test_demo_points_to_the_docs_by_url_not_by_a_repository_path(capsys):
    """Issue 7: the demo ended with "docs/metrics.md", which an installed package does not have."""
    assert main(["demo", *SMALL]) == 0
    last = capsys.readouterr().out.strip().splitlines()
    pointer = [line for line in last if "metrics.md" in line]
    assert pointer == [f"Metric definitions: {docs_url()}/metrics.md"]


def test_demo_evaluates_even_tiny_data(capsys):
    """The evaluation step always has test interactions (at least two per user), so no traceback."""
    assert main(["demo", "--users", "20", "--items", "30", "--factors", "4", "--reference-users", "5",
                 "--eval-users", "3", "--eval-items", "2"]) == 0
    assert set(_table(capsys.readouterr().out)) >= {"MostPopular", "ContentKNN", "Hybrid(ItemKNN,ContentKNN)"}


def test_command_line_entry_point_runs():
    done = subprocess.run([sys.executable, "-m", "turborec.cli", "demo", "--k", "0"], capture_output=True, text=True)
    assert done.returncode == 2 and "--k: expected an int >= 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr
