"""What each lesson's exercises are, for the grader: from `exercises.json` (written by
`tools/build_notebooks.py` from the lesson sources) and, per exercise, the package's own
implementation of it, which a submitted exercise must not call.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REGISTRY_FILE = Path(__file__).with_name("exercises.json")

# Names whose use inside an exercise cell means the exercise calls the package (or a library) to do
# itself: imported from hrm_minimal under any alias, or reached as an attribute (`model.refill`).
# "call:NAME" forbids calling the argument NAME directly (`inner(carry, batch)` is the segment);
# "NAME.ATTR" forbids that attribute of the argument NAME (`inner.forward`).
REFERENCES: dict[str, tuple[str, ...]] = {
    "0.1": ("count_parameters",),
    "1.1": ("encode_sudoku",),
    "1.2": ("decode_sudoku",),
    "1.3": ("permute_digits", "augment_batch", "digit_token_map"),
    "1.4": ("exact_accuracy", "sequence_correct"),
    "2.1": ("rms_norm", "RMSNorm", "TransformerBlock"),
    "2.2": ("swiglu", "SwiGLU", "TransformerBlock"),
    "2.3": ("apply_rotary", "TransformerBlock", "Attention"),
    "2.4": ("post_norm_block", "TransformerBlock"),
    "3.1": ("_flat_segment",),
    "3.2": ("segment", "inner.forward", "call:inner"),
    "4.1": ("segment", "inner.forward", "call:inner"),
    "4.2": ("saved_tensor_bytes", "graph_saved_bytes"),
    "5.1": ("train_step",),
    "5.2": ("refill", "_refill", "reset_carry"),
    "6.1": ("halt_decision",),
    "6.2": ("q_continue_target", "sequence_correct", "act_loss"),
    "6.3": ("act_loss",),
    "7.1": ("solve",),
    "8.1": ("_trm_segment", "segment", "inner.forward", "call:inner"),
    "8.2": ("participation_ratio",),
    "9.1": ("settled_segments", "settled_segment", "trace_puzzles"),
    "9.2": ("Symmetry", "invert", "inverse", "tta_answers"),
    "9.3": ("cell_vote", "answer_vote", "score_votes"),
}


@dataclass(frozen=True)
class Exercise:
    id: str  # "1.3"
    lesson: str  # "01_puzzles_as_sequences"
    function: str  # the function the student writes
    checker: str  # its checker in hrm_minimal.checks
    references: tuple[str, ...]  # what it must not call (REFERENCES)


@lru_cache(maxsize=1)
def _data() -> dict:
    if not REGISTRY_FILE.exists():
        raise FileNotFoundError(f"{REGISTRY_FILE} is missing: run python tools/build_notebooks.py")
    return json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))["lessons"]


def lessons() -> list[str]:
    """The lessons' stems, e.g. "01_puzzles_as_sequences", in order."""
    return sorted(_data())


def exercises(lesson: str) -> list[Exercise]:
    """The exercises of `lesson` in order."""
    if lesson not in _data():
        raise ValueError(f"unknown lesson {lesson!r}; lessons: {', '.join(lessons())}")
    return [Exercise(e["id"], lesson, e["function"], e["checker"], REFERENCES.get(e["id"], ()))
            for e in _data()[lesson]["exercises"]]


def lesson_imports(lesson: str) -> list[str]:
    """The import statements of the lesson's other cells, which its exercise cells may rely on."""
    exercises(lesson)  # the lesson must exist
    return list(_data()[lesson]["imports"])


def lesson_of_exercise(exercise_id: str) -> str | None:
    """The lesson that defines exercise `exercise_id`, or None."""
    return next((name for name in lessons() if any(e.id == exercise_id for e in exercises(name))), None)
