"""A gallery of student notebooks and the grade each must get, built from the committed notebooks.

Each entry: (name, a function that writes the notebook into a folder and returns its path, the status
each exercise must get, {exercise: a phrase its hint must contain}). Every lesson joins with its
untouched student copy (all "not done") and its solved copy (all "passed"); lesson 01 adds the cheats
and mistakes a grader must see through.
"""
from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from hrm_minimal.checks.registry import exercises, lessons

ROOT = Path(__file__).resolve().parents[1]
L01 = "01_puzzles_as_sequences"


def _read(folder: str, lesson: str):
    return nbformat.read(ROOT / folder / f"{lesson}.ipynb", as_version=4)


def _write(nb, folder: Path, name: str) -> Path:
    path = Path(folder) / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def _exercise_cell(nb, exercise_id: str):
    return next(c for c in nb.cells if c.cell_type == "code" and c.metadata.get("exercise") == exercise_id)


def _checker_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "from hrm_minimal.checks import check_" in c.source]


def _solved(lesson=L01, **replace):
    """The solved notebook with some exercise cells' sources replaced."""
    nb = copy.deepcopy(_read("solutions", lesson))
    for exercise_id, source in replace.items():
        _exercise_cell(nb, exercise_id.replace("_", ".").lstrip("e")).source = source
    return nb


def untouched(lesson):
    return lambda folder: _write(_read("lessons", lesson), folder, lesson)


def solved(lesson):
    return lambda folder: _write(_read("solutions", lesson), folder, lesson)


def one_wrong(folder):  # 1.2 forgets the - 1
    src = "def decode_sudoku(tokens):\n    return ''.join('.' if int(t) == 1 else str(int(t)) for t in tokens)\n"
    return _write(_solved(e1_2=src), folder, L01)


def calls_the_package(folder):  # 1.1 hands the work to the package
    src = ("import numpy as np\nfrom hrm_minimal.data.sudoku import encode_sudoku as enc, parse_grid\n\n"
           "def encode_sudoku(text):\n    return enc(parse_grid(text))\n")
    return _write(_solved(e1_1=src), folder, L01)


def calls_the_lessons_alias(folder):  # lesson 01 imports decode_sudoku as token_grid; 1.2 uses it
    src = ("def decode_sudoku(tokens):\n    grid = token_grid(np.asarray(tokens))\n"
           "    return ''.join('.' if v == 0 else str(v) for v in grid.ravel())\n")
    return _write(_solved(e1_2=src), folder, L01)


def reports_itself(folder):  # stubs left open, every checker cell replaced by a fake report
    nb = copy.deepcopy(_read("lessons", L01))
    for cell, exercise in zip(_checker_cells(nb), exercises(L01)):
        cell.source = f"from hrm_minimal.checks import report\nreport('{exercise.id}', 'passed')"
    return _write(nb, folder, L01)


def reports_inside_an_exercise(folder):  # the fake report moved into the exercise cell
    src = ("from hrm_minimal.checks.core import report\nreport('1.4', 'passed')\n\n"
           "def exact_accuracy(pred, labels):\n    raise NotImplementedError\n")
    return _write(_solved(e1_4=src), folder, L01)


def breaks_later_cells(folder):  # passes a lax check, but shifts the caller's array in place
    src = ("def decode_sudoku(tokens):\n    tokens = np.asarray(tokens)\n    tokens -= 1\n"
           "    return ''.join('.' if t == 0 else str(int(t)) for t in tokens)\n")
    return _write(_solved(e1_2=src), folder, L01)


def checker_cells_deleted(folder):
    nb = _solved()
    nb.cells = [c for c in nb.cells if c not in _checker_cells(nb)]
    return _write(nb, folder, L01)


def no_metadata(folder):  # lesson 00 without its course metadata and checker cell, renamed
    nb = copy.deepcopy(_read("solutions", "00_setup"))
    nb.metadata.pop("hrm_course", None)
    nb.cells = [c for c in nb.cells if c not in _checker_cells(nb)]
    return _write(nb, folder, "my_homework")


def metadata_claims_another_lesson(folder):  # lesson 01, its metadata says lesson 00
    nb = _solved()
    nb.metadata["hrm_course"] = {"lesson": "00_setup", "exercises": ["0.1"]}
    return _write(nb, folder, "homework")


def crashing_cell(folder):  # a cell outside the exercises raises
    nb = _solved()
    nb.cells.insert(5, nbformat.v4.new_code_cell("1 / 0"))
    return _write(nb, folder, L01)


def infinite_loop(folder):  # 1.4 never returns
    src = "def exact_accuracy(pred, labels):\n    while True:\n        pass\n"
    return _write(_solved(e1_4=src), folder, L01)


def exercise_cell_raises(folder):
    src = "undefined_helper()\n\ndef encode_sudoku(text):\n    return None\n"
    return _write(_solved(e1_1=src), folder, L01)


def kills_the_process(folder):  # the grading process dies inside 1.3
    src = ("import os\nimport signal as s\n\n"
           "def permute_digits(tokens, perm):\n    os.kill(os.getpid(), 9)\n")
    return _write(_solved(e1_3=src), folder, L01)


def kills_without_importing_signal(folder):
    src = "import os\n\ndef permute_digits(tokens, perm):\n    os.kill(os.getpid(), 9)\n"
    return _write(_solved(e1_3=src), folder, L01)


def exits(folder):
    src = "import sys\n\ndef exact_accuracy(pred, labels):\n    sys.exit(0)\n"
    return _write(_solved(e1_4=src), folder, L01)


def syntax_error(folder):
    return _write(_solved(e1_1="def encode_sudoku(text)\n    return text\n"), folder, L01)


def exercise_deleted(folder):
    nb = _solved()
    nb.cells = [c for c in nb.cells if c.metadata.get("exercise") != "1.3"]
    return _write(nb, folder, L01)


def _with(src_by_exercise, *, stub=False):
    """Lesson 01 (solved, or stubs) with some exercise cells replaced."""
    nb = copy.deepcopy(_read("lessons" if stub else "solutions", L01))
    for exercise_id, source in src_by_exercise.items():
        _exercise_cell(nb, exercise_id).source = source
    return nb


# Cheats that reach the reference or the checkers by routes a name scan alone would miss.
CHEATS = {
    "getattr with a built name": ("1.2", "import hrm_minimal.data.sudoku as S\n\ndef decode_sudoku(tokens):\n"
                                  "    return S.grid_to_string(getattr(S, 'decode_' + 'sudoku')(np.asarray(tokens)))\n"),
    "vars of a module": ("1.1", "import hrm_minimal.data.sudoku as S\n\ndef encode_sudoku(text):\n"
                         "    return vars(S)['encode_sudoku'](S.parse_grid(text))\n"),
    "exec of a string": ("1.4", "exec('from hrm_minimal.metrics import exact' + '_accuracy as _e')\n\n"
                         "def exact_accuracy(pred, labels):\n    return _e(pred, labels)\n"),
    "sys.modules by from-import": ("1.4", "from sys import modules\nmodules['hrm_minimal.checks.core'].run_check"
                                   ".__defaults__ = (0,)\n\ndef exact_accuracy(pred, labels):\n    raise NotImplementedError\n"),
    "the checkers through the package": ("1.2", "import hrm_minimal as h\nh.checks.check_decode_sudoku = lambda fn: fn"
                                         "\n\ndef decode_sudoku(tokens):\n    return ''\n"),
    "an alias rebound": ("1.2", "token_grid = token_grid\n\ndef decode_sudoku(tokens):\n"
                         "    grid = token_grid(np.asarray(tokens))\n"
                         "    return ''.join('.' if v == 0 else str(v) for v in grid.ravel())\n"),
    "code behind a magic-looking line": ("1.4", "_e = (0\n% 1 or __import__('hrm_minimal.metrics', fromlist=['x'])"
                                         ".exact_accuracy\n)\n\ndef exact_accuracy(pred, labels):\n    return _e(pred, labels)\n"),
    "numpy patched": ("1.3", "np.array_equal = lambda *a, **k: True\n\ndef permute_digits(tokens, perm):\n"
                      "    return np.asarray(tokens).copy()\n"),
    "a frame reached through a dunder": ("1.4", "def exact_accuracy(pred, labels):\n"
                                         "    return (lambda: 0).__code__.co_consts and 0.5\n"),
    "the reference's helper": ("1.3", "from hrm_minimal.data.augment import digit_token_map\n\n"
                               "def permute_digits(tokens, perm):\n    return digit_token_map(perm)[np.asarray(tokens)]\n"),
}
CHEAT_STATUS = {"getattr with a built name": "tampering", "vars of a module": "tampering",
                "exec of a string": "tampering", "sys.modules by from-import": "tampering",
                "the checkers through the package": "tampering", "an alias rebound": "uses the reference",
                "code behind a magic-looking line": "uses the reference", "numpy patched": "tampering",
                "a frame reached through a dunder": "tampering", "the reference's helper": "uses the reference"}


def cheat(name):
    exercise_id, source = CHEATS[name]
    return lambda folder: _write(_with({exercise_id: source}, stub=True), folder, L01)


def answer_in_a_new_cell(folder):  # the stub left as it was, the answer in a new cell below it
    nb = copy.deepcopy(_read("lessons", L01))
    solved = _exercise_cell(_read("solutions", L01), "1.1")
    at = nb.cells.index(_exercise_cell(nb, "1.1"))
    answer = "\n".join(line for line in solved.source.split("\n") if "### " not in line)
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(answer))
    return _write(nb, folder, L01)


def split_cell(folder):  # a helper in its own cell, both cells marked
    nb = _solved()
    cell = _exercise_cell(nb, "1.4")
    helper = nbformat.v4.new_code_cell("def _rows_right(pred, labels):\n    return ((pred == labels) | "
                                       "(labels == IGNORE_LABEL_ID)).all(-1)\n", metadata={"exercise": "1.4"})
    cell.source = ("import torch\nfrom hrm_minimal.data import IGNORE_LABEL_ID\n\n"
                   "def exact_accuracy(pred, labels):\n    return _rows_right(pred, labels).float().mean().item()\n")
    nb.cells.insert(nb.cells.index(cell), helper)
    return _write(nb, folder, L01)


def stub_copied_to_the_end(folder):  # a leftover stub after the checker does not undo the answer
    nb = _solved()
    leftover = copy.deepcopy(_exercise_cell(_read("lessons", L01), "1.2"))
    leftover.id = "leftover-stub"
    nb.cells.append(leftover)
    return _write(nb, folder, L01)


def checker_cell_marked(folder):  # the student copied the exercise metadata onto the checker cell
    nb = _solved()
    checker = next(c for c in _checker_cells(nb) if "check_exact_accuracy" in c.source)
    checker.metadata["exercise"] = "1.4"
    return _write(nb, folder, L01)


def honest_quirks(folder):  # %%time, prints, a variable named exit, .modules(), odd spacing, no metadata
    nb = _solved()
    cell = _exercise_cell(nb, "1.1")
    cell.metadata.pop("exercise")
    cell.source = ("%%time\nimport torch\nexit = '.'\nprint('encoding', len(list(torch.nn.Linear(2, 2).modules())))\n"
                   "\ndef  encode_sudoku (text):\n"
                   "    print(text)\n    return np.array([1 if ch == exit else int(ch) + 1 for ch in text], dtype=np.int64)\n")
    return _write(nb, folder, L01)


def claims_lesson_00(folder):  # an easy exercise of lesson 00 added to a lesson 01 notebook
    nb = copy.deepcopy(_read("lessons", L01))
    nb.cells.append(copy.deepcopy(_exercise_cell(_read("solutions", "00_setup"), "0.1")))
    nb.cells.append(nbformat.v4.new_code_cell(copy.deepcopy(_exercise_cell(_read("solutions", "00_setup"),
                                                                            "0.1")).source, metadata={"exercise": "0.1"}))
    return _write(nb, folder, L01)


def _all(lesson, status):
    return {e.id: status for e in exercises(lesson)}


PASS = {"1.1": "passed", "1.2": "passed", "1.3": "passed", "1.4": "passed"}
GALLERY = [(f"untouched {lesson}", untouched(lesson), _all(lesson, "not done"), {}) for lesson in lessons()]
GALLERY += [(f"solved {lesson}", solved(lesson), _all(lesson, "passed"), {}) for lesson in lessons()]
GALLERY += [
    ("one wrong", one_wrong, {**PASS, "1.2": "failed"}, {"1.2": "digit t - 1"}),
    ("calls the package", calls_the_package, {**PASS, "1.1": "uses the reference"}, {"1.1": "encode_sudoku"}),
    ("calls the lesson's alias", calls_the_lessons_alias, {**PASS, "1.2": "uses the reference"},
     {"1.2": "token_grid"}),
    ("reports itself", reports_itself, _all(L01, "not done"), {}),
    ("reports inside an exercise", reports_inside_an_exercise, {**PASS, "1.4": "tampering"},
     {"1.4": "hrm_minimal.checks"}),
    ("breaks later cells", breaks_later_cells, {**PASS, "1.2": "failed"}, {"1.2": "in place"}),
    ("checker cells deleted", checker_cells_deleted, PASS, {}),
    ("no metadata", no_metadata, {"0.1": "passed"}, {}),
    ("metadata claims another lesson", metadata_claims_another_lesson, PASS, {}),
    ("crashing cell", crashing_cell, PASS, {}),
    ("infinite loop", infinite_loop, {**PASS, "1.4": "timed out"}, {"1.4": "did not finish"}),
    ("exercise cell raises", exercise_cell_raises, {**PASS, "1.1": "failed"}, {"1.1": "NameError"}),
    ("kills the process", kills_the_process, {**PASS, "1.3": "tampering"}, {"1.3": "imports os"}),
    ("kills without importing signal", kills_without_importing_signal, {**PASS, "1.3": "tampering"}, {"1.3": "os"}),
    ("exits", exits, {**PASS, "1.4": "tampering"}, {"1.4": "sys"}),
    ("syntax error", syntax_error, {**PASS, "1.1": "failed"}, {"1.1": "syntax error"}),
    ("exercise deleted", exercise_deleted, {**PASS, "1.3": "missing"}, {"1.3": "permute_digits"}),
    ("answer in a new cell", answer_in_a_new_cell, {**_all(L01, "not done"), "1.1": "passed"}, {}),
    ("split cell", split_cell, PASS, {}),
    ("stub copied to the end", stub_copied_to_the_end, PASS, {}),
    ("checker cell marked", checker_cell_marked, PASS, {}),
    ("honest quirks", honest_quirks, PASS, {}),
    ("claims lesson 00", claims_lesson_00, _all(L01, "not done"), {}),
]
GALLERY += [(f"cheat: {name}", cheat(name), {**_all(L01, "not done"), CHEATS[name][0]: CHEAT_STATUS[name]}, {})
            for name in CHEATS]
