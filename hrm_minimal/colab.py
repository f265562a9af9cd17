"""Colab helpers: keep a run's folder on Google Drive, so that it outlives a disconnected runtime.

    from hrm_minimal.colab import drive_folder
    out = drive_folder("runs/sudoku-extreme-1k")    # mounts Drive (Colab asks once), makes the folder
    train(recipe_config("paper-sudoku-extreme-1k-1gpu", out_dir=out, resume=resume_wanted(out)))

Opt-in: nothing in the package calls these, and the tests never do (they need Colab and a Google
account). A run resumes from its last checkpoint (written every `checkpoint_every` steps and when
training stops), so a disconnect costs at most the steps since then.
"""
from __future__ import annotations

from pathlib import Path

MOUNT = "/content/drive"
ROOT = "MyDrive/hrm-course"  # under the mount point: the course's folder in the user's Drive


def drive_folder(name: str, mount: str = MOUNT) -> str:
    """Mount Google Drive at `mount` (if not yet) and return the folder `MyDrive/hrm-course/<name>` on
    it, created if missing. Raises RuntimeError off Colab."""
    try:
        from google.colab import drive
    except ImportError:
        raise RuntimeError("drive_folder works on Colab only (google.colab is not importable here); "
                           "elsewhere, pass a local folder as out_dir") from None
    if not Path(mount, "MyDrive").is_dir():
        drive.mount(mount)
    folder = Path(mount, ROOT, name)
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def resume_wanted(folder: str | Path) -> bool:
    """True when `folder` holds a run's checkpoint to continue (the session before was cut off)."""
    return Path(folder, "checkpoint.pt").is_file()
