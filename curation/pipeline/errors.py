"""A stage's setup failing at its turn stops the run naming the stage (a model path, a missing extra), as a failure
inside one of its workers does; the exception keeps its type, so a caller's handling (the CLI's ValueError ->
bad parameter) is unchanged, and carries the stage as a note."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curation.io.stage import Stage


def set_up(stage: Stage) -> None:
    try:
        stage.setup()
    except Exception as exc:
        note = f"in the setup of stage {stage.name!r}"
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        else:   # Python 3.10: the attribute add_note (3.11) writes
            exc.__notes__ = [*getattr(exc, "__notes__", []), note]
        raise


def described(exc: BaseException) -> str:
    """The exception's message with its notes (where it happened), for one-line reports."""
    return "; ".join([str(exc), *getattr(exc, "__notes__", ())])
