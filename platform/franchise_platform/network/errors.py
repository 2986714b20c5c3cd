"""What the network services refuse. The API maps these to 422 / 409; the panel to form errors."""

from __future__ import annotations

from dataclasses import dataclass


class NetworkServiceError(Exception):
    """Base of everything network services raise on purpose."""

    code = "network_error"


@dataclass(frozen=True)
class Problem:
    """One broken rule: the field (dotted for nested input, e.g. `robokassa.password1`), a message a
    person understands, and a machine code for API clients."""

    field: str
    message: str
    code: str


class InputRejected(NetworkServiceError):
    """Input breaks business rules. Every broken field is reported at once, so a form can show each
    message beside its field; the API answers with all of them and the first one's code."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems
        self.code = problems[0].code if problems else "invalid"

    @property
    def errors(self) -> dict[str, str]:
        return {p.field: p.message for p in self.problems}

    @property
    def detail(self) -> str:
        return str(self)


class DeleteRefused(NetworkServiceError):
    """The object still has something attached; deactivating it is the way out."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


def reject_if_any(problems: list[Problem]) -> None:
    """Raise InputRejected with every problem found, or nothing when there are none."""
    if problems:
        raise InputRejected(problems)
