"""The one root of errors an operator should read: a line in claimsops' own words and, where
there is one, what to do about it. Anything else reaching an interface is a bug, described as
"unexpected …" without library text."""

from __future__ import annotations


class OperatorError(Exception):
    """A refusal or failure an operator can act on. `str(exc)` is the message; `hint` is what
    to do next (may be empty)."""

    hint: str = ""

    def __init__(self, message: str = "", hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""
