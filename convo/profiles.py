"""Model profiles: what each model accepts. Data lives in ``profiles.json``; this is its reader.

Layer: above the model. INTERFACE SKELETON — the helper implementing issue 2's profiles fills in
the loading logic and the data file; the field names below are a contract (transforms, rules,
strategies and the emulator read them).
"""

from __future__ import annotations

from typing import Literal

from attrs import frozen

__all__ = ["DEFAULT_API_VERSION", "API_VERSIONS", "Profile"]

API_VERSIONS = ("2023-06-01", "2026-10-21")
DEFAULT_API_VERSION = "2026-10-21"


@frozen(kw_only=True)
class Profile:
    """What one model accepts (facts §2, §3.3)."""

    model: str
    known: bool = True  # False for the permissive default given to unknown models
    prefill: bool = True  # a final assistant turn is accepted
    sampling: Literal["any", "default_only"] = "any"  # default_only: temperature 1.0, top_p >= 0.99, no top_k
    mid_conversation_system: bool = False
    thinking_modes: tuple[str, ...] = ("enabled", "disabled")  # of enabled / adaptive / disabled
    forced_tool_choice: bool = True  # tool_choice any / tool accepted
    effort_levels: tuple[str, ...] = ()
    default_effort: str | None = None
    context_window: int = 200_000
    max_output: int = 64_000
    max_images: int = 100
    max_image_bytes: int = 10 * 1024 * 1024  # base64 length, Claude API (facts §3.3)
    max_image_px: int = 8000
    many_images_px: int = 2000
    many_images_threshold: int = 20
    image_long_edge: int = 1568  # downscale limit; 2576 on Claude 4.7 and later
    cache_min_tokens: int | None = None


def get_profile(model: str | None) -> Profile:
    """PLACEHOLDER until the profiles helper lands: the permissive default."""
    return Profile(model=model or "", known=False)
