"""PLACEHOLDER until the transforms helper lands."""

from __future__ import annotations

from typing import Any


def pipeline(*transforms: Any) -> Any:
    raise NotImplementedError
