"""``GET /v1/models`` for the emulator: a ``ModelInfo`` object per model profile (facts §2.4).

Layer: testing. The figures come from :mod:`convo.profiles` (the built-in profiles, or a registry
given to the emulator), so a client that reads them back with
:func:`convo.profiles.profiles_from_models_response` gets the same limits and capabilities.
Release dates are not in the profiles: ``created_at`` is the epoch, which the spec allows ("may be
set to an epoch value if the release date is unknown").
"""

from __future__ import annotations

import re
from typing import Any

from convo.profiles import Profile, ProfileRegistry

__all__ = ["display_name", "model_info", "model_infos"]

EPOCH = "1970-01-01T00:00:00Z"
_DATE_SUFFIX = re.compile(r"-\d{8}$")
_EFFORTS = ("low", "medium", "high", "xhigh", "max")


def display_name(model_id: str) -> str:
    """A human-readable name from a model id.

    >>> display_name("claude-opus-4-8"), display_name("claude-haiku-4-5-20251001")
    ('Claude Opus 4.8', 'Claude Haiku 4.5')
    >>> display_name("claude-mythos-preview")
    'Claude Mythos Preview'
    """
    words: list[str] = []
    for part in _DATE_SUFFIX.sub("", model_id).split("-"):
        if part.isdigit() and words and words[-1][-1:].isdigit():
            words[-1] += "." + part  # "4", "8" -> "4.8"
        else:
            words.append(part if part.isdigit() else part.capitalize())
    return " ".join(words)


def _supported(flag: bool) -> dict[str, bool]:
    return {"supported": flag}


def model_info(profile: Profile, model_id: str | None = None) -> dict[str, Any]:
    """The ``ModelInfo`` object of a profile (under *model_id*, for an alias).

    >>> from convo.profiles import get_profile
    >>> info = model_info(get_profile("claude-opus-4-8"))
    >>> info["type"], info["display_name"], info["capabilities"]["thinking"]["types"]["adaptive"]
    ('model', 'Claude Opus 4.8', {'supported': True})
    """
    mid = model_id or profile.model
    modes, levels = profile.thinking_modes, profile.effort_levels
    return {
        "type": "model",
        "id": mid,
        "display_name": display_name(mid),
        "created_at": EPOCH,
        "max_input_tokens": profile.context_window,
        "max_tokens": profile.max_output,
        "lifecycle": profile.lifecycle,  # SDK 2.17 ModelInfo.lifecycle (facts §11)
        "capabilities": {
            "batch": _supported(True),
            "citations": _supported(True),
            "code_execution": _supported(True),
            "context_management": {
                "supported": False,
                "clear_thinking_20251015": None,
                "clear_tool_uses_20250919": None,
                "compact_20260112": None,
            },
            "effort": {
                "supported": bool(levels),
                **{level: _supported(level in levels) for level in _EFFORTS},
            },
            "image_input": _supported(profile.max_images > 0),
            "pdf_input": _supported(True),
            "structured_outputs": _supported(True),
            "thinking": {
                "supported": "enabled" in modes or "adaptive" in modes,
                "types": {
                    "adaptive": _supported("adaptive" in modes),
                    "enabled": _supported("enabled" in modes),
                    # the open set of newer types (SDK 2.17: between_tools), as the profile lists
                    **{mode: _supported(True) for mode in modes
                       if mode not in ("adaptive", "enabled", "disabled")},
                },
            },
        },
    }


def model_infos(registry: ProfileRegistry) -> list[dict[str, Any]]:
    """A ``ModelInfo`` for every canonical model of *registry*, in the registry's order.

    >>> from convo.profiles import builtin_profiles
    >>> "claude-opus-4-8" in [m["id"] for m in model_infos(builtin_profiles())]
    True
    """
    return [model_info(registry[mid]) for mid in registry]
