"""Bad input files (CSV data, checkpoints) get one clear line naming the file and the fault, never a
traceback: the loaders raise the project's own errors, and the command lines print them."""
from __future__ import annotations

import io
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from hrm_minimal import evaluate as evaluate_mod
from hrm_minimal.checkpoint import load_checkpoint, save_checkpoint
from hrm_minimal.config import HRMConfig
from hrm_minimal.data.csv_io import CSVFormatError, load_csv
from hrm_minimal.data.puzzle_set import PuzzleSet
from hrm_minimal.evaluate import load_model, load_pretrained, main as evaluate_main
from hrm_minimal.model import HRM
from hrm_minimal.train import TrainConfig, main as train_main, train

HEADER = "source,question,answer,rating\n"
SUDOKU = HEADER + "s,1...............,1234341221434321,0\ns,..24........32..,1324241341323241,3\n"
MAZE_Q = "#######" "#S    #" "# #####" "#   # #" "### # #" "#    G#" "#######"
MAZE_A = "#######" "#S    #" "#o#####" "#ooo# #" "###o# #" "#  ooG#" "#######"
MAZE = HEADER + f"m,{MAZE_Q},{MAZE_A},8\n"
# A model small enough to save, load and rebuild hundreds of times in a few seconds.
SMALL = HRMConfig(vocab_size=6, seq_len=16, hidden_size=16, num_heads=2, expansion=2.0, swiglu_multiple=8,
                  H_layers=1, L_layers=1, halt_max_steps=2)


def _write(path, content) -> str:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def _payload(**changes) -> dict:
    """A small model's checkpoint contents, with top-level entries replaced (None removes one)."""
    torch.manual_seed(0)
    payload = {"model_config": SMALL.to_dict(), "model": HRM(SMALL).state_dict(), "data": {"name": "sudoku-4x4"}}
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def _checkpoint(path, **changes) -> str:
    save_checkpoint(path, _payload(**changes))
    return str(path)


def _one_line_error(stderr: str, path: str) -> str:
    """The whole of stderr: one 'error: ...' line naming the file."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and path in lines[0], stderr
    return lines[0]


# ---------------------------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------------------------
def test_an_over_long_field_is_named_with_file_and_line(tmp_path):
    path = _write(tmp_path / "long.csv", SUDOKU + "s," + "1" * 140_000 + ",1,1\n")
    for kind in (None, "sudoku", "maze"):
        with pytest.raises(CSVFormatError, match="line 4: a field is over 131,072 characters") as info:
            load_csv(path, kind=kind)
        assert info.value.path == path and info.value.line == 4


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path):
    latin1 = (SUDOKU + "caf\u00e9,1...............,1234341221434321,0\n").encode("latin-1")
    path = _write(tmp_path / "latin1.csv", latin1)
    for kind in (None, "sudoku"):
        with pytest.raises(CSVFormatError, match=r"line 4: not UTF-8 text \(byte 0xe9") as info:
            load_csv(path, kind=kind)
        assert str(info.value).startswith(path)


def test_a_byte_order_mark_is_accepted(tmp_path):
    plain = load_csv(_write(tmp_path / "plain.csv", SUDOKU))
    marked = load_csv(_write(tmp_path / "marked.csv", b"\xef\xbb\xbf" + SUDOKU.encode()))
    assert marked.kind == "sudoku" and (marked.inputs == plain.inputs).all() and (marked.labels == plain.labels).all()
    assert load_csv(_write(tmp_path / "maze.csv", b"\xef\xbb\xbf" + MAZE.encode())).kind == "maze"


def test_empty_and_header_only_files_say_so_whether_or_not_kind_is_given(tmp_path):
    empty, header = _write(tmp_path / "empty.csv", ""), _write(tmp_path / "header.csv", HEADER)
    for kind in (None, "sudoku", "maze"):
        with pytest.raises(CSVFormatError, match="line 1: the file is empty") as info:
            load_csv(empty, kind=kind)
        assert "kind=" not in str(info.value)
        with pytest.raises(CSVFormatError, match="line 2: no data rows after the header") as info:
            load_csv(header, kind=kind)
        assert "kind=" not in str(info.value)


def test_the_command_lines_report_bad_csv_files_in_one_line(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / "model.pt")
    bad = {"long.csv": HEADER + "s," + "1" * 140_000 + ",1,1\n", "empty.csv": "",
           "latin1.csv": (HEADER + "s,caf\u00e9,1,1\n").encode("latin-1")}
    for name, content in bad.items():
        path = _write(tmp_path / name, content)
        assert evaluate_main([ckpt, "--data", path, "--device", "cpu"]) == 2
        _one_line_error(capsys.readouterr().err, path)
        assert train_main(["--data", path, "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
        _one_line_error(capsys.readouterr().err, path)
    assert not (tmp_path / "run").exists()


def test_a_csv_the_system_refuses_to_open_is_named_in_one_line(tmp_path, monkeypatch, capsys):
    from hrm_minimal.data import csv_io

    ckpt = _checkpoint(tmp_path / "model.pt")
    path = _write(tmp_path / "locked.csv", HEADER + "s,1,1,0\n")

    def refuse(file, *args, **kwargs):  # as for a file without read permission (root reads every file)
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(csv_io, "open", refuse, raising=False)
    with pytest.raises(ValueError, match=f"cannot read {path}: Permission denied$"):
        load_csv(path)
    assert evaluate_main([ckpt, "--data", path, "--device", "cpu"]) == 2
    _one_line_error(capsys.readouterr().err, path)
    assert train_main(["--data", path, "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    _one_line_error(capsys.readouterr().err, path)


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def test_a_good_small_checkpoint_loads(tmp_path):
    model, ckpt = load_model(_checkpoint(tmp_path / "model.pt"))
    assert model.config == SMALL and ckpt["data"] == {"name": "sudoku-4x4"}


BAD_CONFIGS = [
    (dict(model_config=None), "incomplete hrm_minimal checkpoint: it has no model_config"),
    (dict(model_config=[1, 2]), "model_config of type list, not a mapping"),
    (dict(model_config="paper"), "model_config of type str, not a mapping"),
    (dict(model_config={**SMALL.to_dict(), "hidden_size": "16"}), "invalid model_config: .*hidden_size must be an int"),
    (dict(model_config={**SMALL.to_dict(), "halt_max_steps": 0}), "invalid model_config: .*halt_max_steps must be"),
    (dict(model_config={**SMALL.to_dict(), 7: 1}), r"invalid model_config: .*unknown field\(s\) \[7\]"),
    (dict(model_config={"seq_len": 16}), r"invalid model_config: .*missing field\(s\) \['vocab_size'\]"),
]


@pytest.mark.parametrize("changes, message", BAD_CONFIGS)
def test_a_bad_model_config_is_named_by_every_loader(tmp_path, monkeypatch, changes, message):
    path = _checkpoint(tmp_path / "bad.pt", **changes)
    with pytest.raises(ValueError, match=message) as info:
        load_model(path)
    assert path in str(info.value)
    monkeypatch.setattr(evaluate_mod, "shipped_checkpoint", lambda name: path)
    with pytest.raises(ValueError, match=message):
        load_pretrained("sudoku-4x4")
    tiny = dict(task="sudoku-4x4", preset="cpu-tiny", progress=False, device="cpu")
    with pytest.raises(ValueError, match=message):  # --init-from
        train(TrainConfig(**tiny, out_dir=str(tmp_path / "new"), init_from=path))
    _checkpoint(tmp_path / "run" / "checkpoint.pt", optimizer={}, train_config={}, **changes)
    with pytest.raises(ValueError, match=message):  # --resume
        train(TrainConfig(**tiny, out_dir=str(tmp_path / "run"), resume=True))


def test_the_command_lines_report_a_bad_model_config_in_one_line(tmp_path, capsys):
    path = _checkpoint(tmp_path / "bad.pt", model_config=None)
    assert evaluate_main([path, "--device", "cpu"]) == 2
    assert "no model_config" in _one_line_error(capsys.readouterr().err, path)
    args = ["--task", "sudoku-4x4", "--preset", "cpu-tiny", "--device", "cpu", "--out", str(tmp_path / "new")]
    assert train_main(args + ["--init-from", path]) == 2
    assert "no model_config" in _one_line_error(capsys.readouterr().err, path)
    _checkpoint(tmp_path / "run" / "checkpoint.pt", model_config=[1])
    args[-1] = str(tmp_path / "run")
    assert train_main(args + ["--resume"]) == 2
    assert "not a mapping" in _one_line_error(capsys.readouterr().err, str(tmp_path / "run"))


def _truncated(path) -> None:
    save_checkpoint(path, _payload())
    path.write_bytes(path.read_bytes()[:1000])


UNREADABLE = [
    (lambda p: p.write_bytes(b""), "the file is empty"),
    (lambda p: p.write_text("epoch,loss\n1,0.5\n"), r"not a PyTorch file \(a text file\?\)"),
    (lambda p: p.write_bytes(bytes(range(256))), "not a PyTorch file$"),
    (_truncated, "the file is damaged or cut short"),
    (lambda p: torch.save(torch.nn.Linear(2, 2), p), "not loaded, for safety"),  # a pickled module
    (lambda p: p.write_bytes(pickle.dumps({"a": 1})), "not loaded, for safety"),  # a bare pickle
]


@pytest.mark.parametrize("make, reason", UNREADABLE)
def test_a_file_torch_refuses_gets_a_one_line_reason(tmp_path, capsys, make, reason):
    path = tmp_path / "model.pt"
    make(path)
    with pytest.raises(ValueError, match=f"is not a checkpoint of this course: .*{reason}") as info:
        load_checkpoint(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message and "weights_only" not in message
    assert evaluate_main([str(path), "--device", "cpu"]) == 2
    _one_line_error(capsys.readouterr().err, str(path))


@pytest.mark.slow  # starts a Python process: not in `pytest -m fast`
@pytest.mark.parametrize("args", [["CKPT"], ["GOOD", "--data", "CSV"]])
def test_python_dash_m_evaluate_prints_one_line_and_no_traceback(tmp_path, args):
    names = {"CKPT": _write(tmp_path / "notes.pt", "epoch,loss\n"), "GOOD": _checkpoint(tmp_path / "good.pt"),
             "CSV": _write(tmp_path / "long.csv", HEADER + "s," + "1" * 140_000 + ",1,1\n")}
    done = subprocess.run([sys.executable, "-m", "hrm_minimal.evaluate", *[names.get(a, a) for a in args],
                           "--device", "cpu"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    _one_line_error(done.stderr, names[args[-1]])


# ---------------------------------------------------------------------------------------------
# Random input: every file either loads or gets the project's own one-line error naming it
# ---------------------------------------------------------------------------------------------
CSV_BYTES = b',"\n\r.#SGo 0123456789x'
ODD_BYTES = b"\xe9\xef\xbb\xbf\x00"  # not UTF-8, a byte-order mark, NUL
JUNK = [None, 0, -1, 2.5, float("nan"), "x", "", [], {}, [1, 2], {"a": 1}, True, torch.zeros(3)]


def _edit(rng: np.random.Generator, data: bytes, alphabet: bytes, start: int = 0) -> bytes:
    """`data` with 1-4 random edits, mostly from byte `start` on: bytes replaced, inserted or deleted,
    lines doubled or dropped."""
    for _ in range(rng.integers(1, 5)):
        i = int(rng.integers(0 if rng.random() < 0.1 else min(start, len(data)), len(data) + 1))
        op = rng.integers(0, 5)
        piece = bytes(rng.choice(list(alphabet), size=int(rng.integers(1, 4))))
        if op == 0:
            data = data[:i] + piece + data[i + 1:]
        elif op == 1:
            data = data[:i] + piece + data[i:]
        elif op == 2:
            data = data[:i] + data[i + int(rng.integers(1, 40)):]
        else:
            lines = data.split(b"\n")
            k = int(rng.integers(0, len(lines)))
            lines[k:k + 1] = [lines[k]] * 2 if op == 3 else []
            data = b"\n".join(lines)
    return data


def _loads_or_says_where(load, path) -> None:
    """`load(path)` returns, or raises the project's own error, in one line naming the file."""
    try:
        load(path)
    except (CSVFormatError, ValueError, FileNotFoundError) as exc:
        assert str(path) in str(exc) and "\n" not in str(exc), f"{type(exc).__name__}: {exc}"


def test_random_csv_files_load_or_get_a_csv_format_error(tmp_path):
    rng = np.random.default_rng(1)
    valid = [SUDOKU.encode(), MAZE.encode(), (SUDOKU + SUDOKU[len(HEADER):]).encode()]
    for case in range(400):
        alphabet = CSV_BYTES + ODD_BYTES if case % 5 == 0 else CSV_BYTES
        if case % 10 == 1:
            data = rng.bytes(int(rng.integers(0, 200)))
        elif case % 10 == 2:
            data = HEADER.encode() + bytes(rng.choice(list(alphabet), size=int(rng.integers(0, 200))))
        else:
            data = _edit(rng, valid[case % len(valid)], alphabet, start=len(HEADER))
        path = _write(tmp_path / f"{case}.csv", data)
        for kind in (None, "sudoku", "maze"):
            try:
                assert isinstance(load_csv(path, kind=kind), PuzzleSet)
            except CSVFormatError as exc:  # a CSV fault: the file, the line, one line of text
                assert str(exc).startswith(f"{path}, line {exc.line}: ") and "\n" not in str(exc), str(exc)


def _edit_payload(rng: np.random.Generator) -> dict:
    """A valid checkpoint's contents with one entry removed or replaced by something else."""
    payload = _payload()
    if rng.random() < 0.5:
        payload["ema"] = {"average": dict(payload["model"])}
    sections = [*payload, None]  # None: a top-level entry
    section = sections[rng.integers(0, len(sections))]
    junk = JUNK[rng.integers(0, len(JUNK))]
    if section is None:
        key = list(payload)[rng.integers(0, len(payload))]
        payload[key] = junk
        if rng.random() < 0.5:
            del payload[key]
        return payload
    table = payload[section]["average"] if section == "ema" else payload[section]
    key = list(table)[rng.integers(0, len(table))]
    if section != "model_config" and rng.random() < 0.5:
        junk = torch.zeros(int(rng.integers(0, 4)), 2)  # a tensor of the wrong shape
    table[key] = junk
    if rng.random() < 0.3:
        del table[key]
    return payload


def test_random_checkpoint_files_load_or_get_a_value_error_naming_them(tmp_path):
    rng = np.random.default_rng(2)
    buffer = io.BytesIO()
    torch.save(_payload() | {"format": "hrm_minimal-checkpoint-v1"}, buffer)
    valid = buffer.getvalue()
    for case in range(160):
        path = tmp_path / f"{case}.pt"
        kind = case % 4
        if kind == 0:
            path.write_bytes(rng.bytes(int(rng.integers(0, 300))))
        elif kind == 1:
            path.write_bytes(valid[:int(rng.integers(0, len(valid)))])
        elif kind == 2:  # flips near the start (the pickled dict) and the end (the zip's directory)
            data = bytearray(valid)
            for _ in range(rng.integers(1, 4)):
                i = int(rng.integers(0, 1500)) if rng.random() < 0.6 else len(data) - 1 - int(rng.integers(0, 1000))
                data[i] = int(rng.integers(0, 256))
            path.write_bytes(bytes(data))
        else:
            save_checkpoint(path, _edit_payload(rng))
        _loads_or_says_where(load_checkpoint, path)
        _loads_or_says_where(load_model, path)


def test_an_unknown_device_is_named_in_one_line(tmp_path, capsys):
    assert evaluate_main(["sudoku-6x6", "--device", "tpu"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown device 'tpu': use auto, cpu, cuda (or cuda:N) or mps"
    assert train_main(["--task", "sudoku-4x4", "--device", "tpu", "--out", str(tmp_path / "run")]) == 2
    assert "unknown device 'tpu'" in capsys.readouterr().err
