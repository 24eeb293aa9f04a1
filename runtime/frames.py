"""`Frame`, one entry of an NPL stack trace (see runtime/errors.py, which
gives it out as `npl.runtime.errors.Frame`). A module of its own so that
`dataclasses` is imported only when an error is reported, not on the
start-up path of every `npl run`."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Frame:
    function: str
    file: str
    line: int
    text: str = field(default="", compare=False)     # the source line, when known

    def __str__(self) -> str:
        return f"in {self.function} ({self.file}:{self.line})"
