"""Exercise checkers: each compares a student's function with the package's own on fresh random inputs.

A checker prints exactly one line and returns the function later cells should use:

    Exercise 1.1: passed                                   -> returns the student's function
    Exercise 1.1: failed - <hint>                          -> returns the reference
    Exercise 1.1: not done yet - using the reference implementation

So a lesson runs top to bottom before any exercise is done. Graders set HRM_STRICT=1: then an
unfinished or wrong exercise raises AssertionError. If HRM_RESULTS_FILE names a file, every result is
appended to it as one JSON line (the grading command `python -m hrm_minimal.grade` reads it).
Checkers never print expected values.
"""

from .core import (FAILED, NOT_DONE, PASSED, RESULTS_ENV, STRICT_ENV, Mismatch, expect_same_array, report,
                   run_check, strict_mode)
from .lesson00 import *  # noqa: F401,F403  (each lesson's checkers: one module per lesson)
from .lesson01 import *  # noqa: F401,F403
from .lesson02 import *  # noqa: F401,F403
from .lesson03 import *  # noqa: F401,F403
from .lesson04 import *  # noqa: F401,F403
from .lesson05 import *  # noqa: F401,F403
from .lesson06 import *  # noqa: F401,F403
from .lesson07 import *  # noqa: F401,F403
from .lesson08 import *  # noqa: F401,F403
from .lesson09 import *  # noqa: F401,F403
