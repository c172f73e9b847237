"""`turborec attention convert` (issue 11): RecBole checkpoints into turborec's .npz, read without
running code from the file. The paths that need torch skip with the reason where it is absent;
torch's absence itself is simulated, so that path is tested everywhere."""

import enum
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from turborec.attention import BERT4Rec, SASRec, load_npz
from turborec.attention._convert import convert
from turborec.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
NEEDS_TORCH = "torch is not installed (pip install '.[torch]'); the no-torch path is tested without it"


def _weights(case):
    with np.load(FIXTURES / f"attention_{case}_weights.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _sequences(n_items, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(1, n_items, size=int(n)) for n in (1, 4, 10, 13)]


def _tensors(torch, state):
    return {key: torch.from_numpy(value) for key, value in state.items()}


def _run(capsys, *argv):
    status = main(["attention", "convert", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


@pytest.fixture
def fake_recbole(monkeypatch):
    """Classes pickled under recbole's module names, as RecBole's trainer pickles its Config (with
    enum settings) into every checkpoint; recbole itself is not needed to write or read them."""
    modules = {name: types.ModuleType(name) for name in
               ("recbole", "recbole.config", "recbole.config.configurator", "recbole.utils", "recbole.utils.enum_type")}
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)

    class Config:
        def __init__(self, settings):
            self.final_config_dict = dict(settings)

    class ModelType(enum.Enum):
        SEQUENTIAL = 2

    Config.__module__, ModelType.__module__ = "recbole.config.configurator", "recbole.utils.enum_type"
    Config.__qualname__, ModelType.__qualname__ = "Config", "ModelType"
    modules["recbole.config.configurator"].Config = Config
    modules["recbole.utils.enum_type"].ModelType = ModelType
    return Config, ModelType


def _recbole_checkpoint(torch, path, state, config, **extra):
    """What RecBole's Trainer._save_checkpoint writes."""
    Config, ModelType = config
    settings = {"model": "SASRec", "n_heads": 4, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
                "MAX_ITEM_LIST_LENGTH": 10, "MODEL_TYPE": ModelType.SEQUENTIAL, "device": torch.device("cpu")}
    torch.save({"config": Config(settings), "epoch": 7, "cur_step": 0, "best_valid_score": 0.25,
                "state_dict": _tensors(torch, state), "other_parameter": None,
                "optimizer": {"state": {}, "param_groups": [{"lr": 0.001}]}, **extra}, path)


def test_a_saved_state_dict_converts_and_serves_the_same_encodings(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    state = _weights("sasrec_small")
    torch.save(_tensors(torch, state), tmp_path / "sasrec.pth")
    status, out, _ = _run(capsys, tmp_path / "sasrec.pth", tmp_path / "sasrec.npz", "--n-heads", "2")
    assert status == 0 and f"wrote {tmp_path / 'sasrec.npz'}: SASRec" in out
    assert "n_heads 2 (given)" in out and "RecBole's default, not recorded in the checkpoint" in out
    served, reference = load_npz(tmp_path / "sasrec.npz"), SASRec.from_recbole(state, n_heads=2)
    assert served.config() == reference.config()
    sequences = _sequences(reference.n_items)
    np.testing.assert_array_equal(served.encode(sequences), reference.encode(sequences))
    np.testing.assert_array_equal(served.recommend(sequences)[0], reference.recommend(sequences)[0])


def test_the_options_reach_the_model(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    state = _weights("sasrec_relu")  # 3 heads, ReLU, max_len 7
    torch.save({"state_dict": _tensors(torch, state)}, tmp_path / "relu.pth")
    status, out, _ = _run(capsys, tmp_path / "relu.pth", tmp_path / "relu.npz", "--n-heads", "3",
                          "--hidden-act", "relu", "--layer-norm-eps", "1e-5", "--max-len", "5", "--model", "SASRec")
    assert status == 0 and "max_len 5" in out and "layer_norm_eps 1e-05 (given)" in out
    served = load_npz(tmp_path / "relu.npz")
    reference = SASRec.from_recbole(state, n_heads=3, hidden_act="relu", layer_norm_eps=1e-5, max_len=5)
    assert served.config() == reference.config()
    sequences = _sequences(reference.n_items)
    np.testing.assert_array_equal(served.encode(sequences), reference.encode(sequences))
    status, _, err = _run(capsys, tmp_path / "relu.pth", tmp_path / "bad.npz", "--n-heads", "3", "--hidden-act", "tanh")
    assert status == 1 and "hidden_act: expected one of gelu, relu, got 'tanh'" in err


def test_a_recbole_checkpoint_gives_its_settings_and_nothing_in_it_runs(tmp_path, capsys, monkeypatch, fake_recbole):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)

    class Payload:  # what a hostile file would hold: unpickling it normally would create `evidence`
        def __reduce__(self):
            return subprocess.check_call, (["touch", str(tmp_path / "evidence")],)

    state = _weights("sasrec_small")
    _recbole_checkpoint(torch, tmp_path / "SASRec.pth", state, fake_recbole, payload=Payload())
    for name in [name for name in sys.modules if name.startswith("recbole")]:
        monkeypatch.delitem(sys.modules, name)  # as on a machine without recbole
    status, out, _ = _run(capsys, tmp_path / "SASRec.pth", tmp_path / "model.npz")
    assert status == 0 and not (tmp_path / "evidence").exists()
    assert "n_heads 4 (checkpoint config)" in out and "hidden_act 'gelu' (checkpoint config)" in out
    served = load_npz(tmp_path / "model.npz")
    reference = SASRec.from_recbole(state, n_heads=4)
    assert served.n_heads == 4 and served.max_len == reference.max_len
    sequences = _sequences(reference.n_items)
    np.testing.assert_array_equal(served.encode(sequences), reference.encode(sequences))


def test_an_option_the_checkpoint_config_contradicts_is_refused(tmp_path, capsys, fake_recbole):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    _recbole_checkpoint(torch, tmp_path / "SASRec.pth", _weights("sasrec_small"), fake_recbole)
    status, _, err = _run(capsys, tmp_path / "SASRec.pth", tmp_path / "model.npz", "--n-heads", "2")
    assert status == 1 and "--n-heads 2 contradicts the checkpoint's config (n_heads=4)" in err
    status, _, err = _run(capsys, tmp_path / "SASRec.pth", tmp_path / "model.npz", "--model", "BERT4Rec")
    assert status == 1 and "--model 'BERT4Rec' contradicts the checkpoint's config (model='SASRec')" in err
    assert not (tmp_path / "model.npz").exists()


def test_bert4rec_is_recognised_by_its_head(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    state = _weights("bert4rec_small")
    torch.save({"state_dict": _tensors(torch, state), "epoch": 3}, tmp_path / "BERT4Rec.pth")
    status, out, _ = _run(capsys, tmp_path / "BERT4Rec.pth", tmp_path / "bert.npz")
    assert status == 0 and "BERT4Rec" in out
    served, reference = load_npz(tmp_path / "bert.npz"), BERT4Rec.from_recbole(state)
    assert isinstance(served, BERT4Rec)
    sequences = _sequences(reference.n_items)
    np.testing.assert_array_equal(served.encode(sequences), reference.encode(sequences))


def test_every_key_and_shape_is_checked(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    state = _tensors(torch, _weights("sasrec_small"))
    del state["LayerNorm.bias"]
    torch.save(state, tmp_path / "incomplete.pth")
    status, _, err = _run(capsys, tmp_path / "incomplete.pth", tmp_path / "out.npz")
    assert status == 1 and "missing key 'LayerNorm.bias' (expected shape (16,))" in err
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("saved, expected", [
    (lambda torch: torch.nn.Linear(2, 2), "a pickled torch.nn.modules.linear.Linear object (save model.state_dict()"),
    (lambda torch: {"model": torch.zeros(2), "epoch": 1}, "got a dict with keys ['epoch', 'model']"),
    (lambda torch: [1, 2], "got list"),
])
def test_a_checkpoint_without_a_state_dict_is_refused(tmp_path, capsys, saved, expected):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.save(saved(torch), tmp_path / "odd.pth")
    status, _, err = _run(capsys, tmp_path / "odd.pth", tmp_path / "out.npz")
    assert status == 1 and "expected a RecBole checkpoint (a dict with a 'state_dict' entry)" in err and expected in err


def test_a_file_naming_os_is_refused_unread(tmp_path, capsys):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'evidence'}",)

    torch.save({"state_dict": _tensors(torch, _weights("sasrec_small")), "payload": Payload()}, tmp_path / "bad.pth")
    status, _, err = _run(capsys, tmp_path / "bad.pth", tmp_path / "out.npz")
    assert status == 1 and "is not a torch checkpoint that can be read without running code from it" in err
    assert "blocked" in err and "weights_only" not in err  # torch's reason, not its advice to unpickle unsafely
    assert not (tmp_path / "evidence").exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint\n", None])
def test_a_file_that_is_no_checkpoint_is_refused(tmp_path, capsys, content):
    pytest.importorskip("torch", reason=NEEDS_TORCH)
    path = tmp_path / "in.pth"
    if content is None:
        np.savez(path, a=np.zeros(3))  # a zip archive, but numpy's
        path = path.with_name("in.pth.npz")
    else:
        path.write_bytes(content)
    status, _, err = _run(capsys, path, tmp_path / "out.npz")
    assert status == 1 and f"IN: {str(path)!r} is not a torch checkpoint" in err


def test_without_the_checkpoint_scan_of_torch_2_6_a_plain_state_dict_still_converts(tmp_path, capsys, monkeypatch,
                                                                                     fake_recbole):
    """Older torch has no get_unsafe_globals_in_checkpoint: no placeholders, so a RecBole
    checkpoint (its Config) is refused clearly, and a bare state_dict converts."""
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    monkeypatch.delattr(torch.serialization, "get_unsafe_globals_in_checkpoint")
    state = _weights("sasrec_small")
    torch.save(_tensors(torch, state), tmp_path / "bare.pth")
    assert _run(capsys, tmp_path / "bare.pth", tmp_path / "bare.npz")[0] == 0
    _recbole_checkpoint(torch, tmp_path / "SASRec.pth", state, fake_recbole)
    status, _, err = _run(capsys, tmp_path / "SASRec.pth", tmp_path / "model.npz")
    assert status == 1 and "recbole.config.configurator.Config" in err


def test_without_torch_the_error_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    (tmp_path / "SASRec.pth").write_bytes(b"anything")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` raises ImportError
    status, out, err = _run(capsys, tmp_path / "SASRec.pth", tmp_path / "model.npz")
    assert status == 1 and out == ""
    assert err.startswith("turborec attention convert: error: reading a RecBole checkpoint needs torch")
    assert "pip install 'turborec[torch]'" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "model.npz").exists()


def test_without_torch_the_command_exits_non_zero_without_a_traceback(tmp_path):
    (tmp_path / "SASRec.pth").write_bytes(b"anything")
    code = ("import sys; sys.modules['torch'] = None\nfrom turborec.cli import main\n"
            f"sys.exit(main(['attention', 'convert', {str(tmp_path / 'SASRec.pth')!r}, 'out.npz']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'turborec[torch]'" in done.stderr


@pytest.mark.parametrize("source, target, expected", [
    ("missing.pth", "out.npz", "IN: no such file: '{tmp}/missing.pth'"),
    ("", "out.npz", "IN: no such file: '{tmp}'"),  # a directory
    ("in.pth", "out.bin", "OUT: expected a path ending in .npz (numpy would add the suffix), got '{tmp}/out.bin'"),
    ("in.pth", "no/such/dir/out.npz", None),  # an OSError from writing (torch needed to get that far)
])
def test_bad_paths_are_one_line_errors(tmp_path, capsys, source, target, expected):
    if expected is None:
        torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
        torch.save(_tensors(torch, _weights("sasrec_small")), tmp_path / "in.pth")
    else:
        (tmp_path / "in.pth").write_bytes(b"anything")
    status, out, err = _run(capsys, tmp_path / source, tmp_path / target)
    assert status == 1 and out == "" and err.startswith("turborec attention convert: error: ")
    assert len(err.strip().splitlines()) == 1
    if expected is not None:
        assert expected.format(tmp=tmp_path) in err
    else:
        assert "No such file or directory" in err


@pytest.mark.parametrize("argv, expected", [
    (["--format", "onnx"], "argument --format: invalid choice: 'onnx' (choose from recbole, pmixer)"),
    (["--layout", "2023"], "argument --layout: invalid choice: '2023'"),
    (["--model", "GRU4Rec"], "argument --model: invalid choice: 'GRU4Rec'"),
    (["--n-heads", "0"], "--n-heads: expected an int >= 1, got 0"),
    (["--max-len", "x"], "--max-len: expected an int, got 'x'"),
])
def test_bad_options_are_usage_errors(tmp_path, capsys, argv, expected):
    with pytest.raises(SystemExit) as exit_info:
        main(["attention", "convert", str(tmp_path / "in.pth"), str(tmp_path / "out.npz"), *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    err = err.replace("'recbole'", "recbole").replace("'pmixer'", "pmixer")
    assert err.startswith("usage: turborec attention convert") and expected in err


def test_the_attention_command_needs_a_task(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["attention"])
    assert exit_info.value.code == 2 and "usage: turborec attention" in capsys.readouterr().err


def test_convert_refuses_an_unknown_format_and_model_when_called_directly(tmp_path):
    with pytest.raises(ValueError, match="--format: expected one of recbole, pmixer, got 'onnx'"):
        convert(tmp_path / "in.pth", tmp_path / "out.npz", fmt="onnx")
    with pytest.raises(ValueError, match="--hidden-act: not a setting of the pmixer format"):
        convert(tmp_path / "in.pth", tmp_path / "out.npz", fmt="pmixer", hidden_act="relu")
    with pytest.raises(ValueError, match="--variant, --layout: not a setting of the recbole format"):
        convert(tmp_path / "in.pth", tmp_path / "out.npz", variant="pre_ln", layout="2020")
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    torch.save(_tensors(torch, _weights("sasrec_small")), tmp_path / "in.pth")
    with pytest.raises(ValueError, match="turborec serves RecBole's SASRec and BERT4Rec, got 'GRU4Rec'"):
        convert(tmp_path / "in.pth", tmp_path / "out.npz", model="GRU4Rec")


@pytest.mark.parametrize("case, options", [
    ("pmixer_original_2020", ["--layout", "2020"]),
    ("pmixer_pre_ln_2024", ["--variant", "pre_ln"]),
])
def test_a_pmixer_state_dict_converts_and_serves_the_same_encodings(tmp_path, capsys, case, options):
    torch = pytest.importorskip("torch", reason=NEEDS_TORCH)
    with np.load(FIXTURES / f"attention_{case}_io.npz", allow_pickle=False) as io:
        config = json.loads(str(io["config"]))
    state = _weights(case)
    torch.save(_tensors(torch, state), tmp_path / "pmixer.pth")  # SASRec.pytorch saves its state_dict
    argv = [tmp_path / "pmixer.pth", tmp_path / "out.npz", "--format", "pmixer", *options,
            "--n-heads", config["n_heads"], "--max-len", config["max_len"]]
    status, out, err = _run(capsys, *argv)
    assert status == 0, err
    assert "variant" in out and "from_pmixer's default, not recorded in the file" in out
    served, direct = load_npz(tmp_path / "out.npz"), SASRec.from_pmixer(state, **config)
    assert (served.variant, served.layout) == (config["variant"], config["layout"])
    sequences = _sequences(direct.n_items)
    np.testing.assert_array_equal(served.encode(sequences), direct.encode(sequences))
