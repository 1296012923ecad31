"""The API's rules, checked offline. INTERFACE SKELETON: the types below are the contract."""

from __future__ import annotations

from typing import Literal

from attrs import field, frozen

__all__ = ["Report", "Violation"]

Severity = Literal["error", "warning"]


@frozen
class Violation:
    """One broken rule: a stable id, severity, ``$.path``, message and a fix hint."""

    rule: str
    severity: Severity
    path: str
    message: str
    hint: str = ""


@frozen
class Report:
    """The outcome of :func:`validate`: ``.ok``, ``.errors``, ``.warnings``."""

    violations: tuple[Violation, ...] = field(default=(), converter=tuple)

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "error")

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(conversation: object, *, profile: object = None, api_version: str = "2026-10-21") -> Report:
    """PLACEHOLDER until the rules helper lands."""
    raise NotImplementedError


def check(conversation: object, *, profile: object = None, api_version: str = "2026-10-21") -> None:
    """PLACEHOLDER until the rules helper lands."""
    raise NotImplementedError
