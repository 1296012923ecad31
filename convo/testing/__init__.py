"""Testing aids: the local Messages API emulator and the pytest plugin (layer: top).

The emulator loads on first use, so the pytest plugin (registered for every pytest run where
convo is installed) does not pay for importing it.

>>> from convo.testing import Emulator
>>> Emulator.__module__
'convo.testing.emulator'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convo.testing.emulator import (
        Emulator,
        Fault,
        FaultSchedule,
        LoggedRequest,
        RateLimits,
        serve,
    )

__all__ = ["Emulator", "Fault", "FaultSchedule", "LoggedRequest", "RateLimits", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from convo.testing import emulator

        return getattr(emulator, name)
    raise AttributeError(f"module 'convo.testing' has no attribute {name!r}")
