"""Public Hypothesis strategies for convo values, for your own property tests and for convo's.

Layer: above the model and profiles (it reads :func:`convo.profiles.get_profile` to know what a
model accepts, and nothing of rules or transforms). This package imports Hypothesis, so
``import convo`` never imports it; import ``convo.strategies`` yourself, with Hypothesis
installed (``pip install 'convo[strategies]'``).

- :func:`conversations` generates requests that the named model accepts under the named API
  version: roles alternate starting with ``user``; text is non-empty, never whitespace only, and
  mixes scripts (latin, CJK, kana, Arabic, Hebrew, emoji); tool_use/tool_result pairs have unique
  ids with the results first in the next user turn; thinking blocks carry signatures; images are
  real tiny PNG and GIF files (their headers read back) or URLs; mid-conversation system messages
  sit only where facts §1.5 allows them; at most four cache breakpoints with 1h TTLs before 5m
  ones; sampling parameters only where the profile and API version take them (facts §2.3, §10).
- :func:`responses` generates Messages API responses for every ``stop_reason`` (facts §4).
- :func:`invalid_conversations` starts from a valid conversation and breaks one named rule of
  :mod:`convo.rules` (:func:`rule_ids` lists them), so a test can check that the rule fires.
- :func:`texts` and :func:`images` are the building blocks, public because they are handy alone.

Every strategy takes keyword arguments only, generates valid data by default, and raises
:class:`hypothesis.errors.InvalidArgument` when asked for something impossible (STYLE.md).

Where each lives (the modules are private; import from ``convo.strategies``):

- ``_values``: :func:`texts`, :func:`images` and the small pieces the others draw from;
- ``_conversations``: :func:`conversations`, its argument checks and the drawing of each turn;
- ``_responses``: :func:`responses`, :data:`STOP_REASONS`, :data:`REFUSAL_CATEGORIES`;
- ``_invalid``: :func:`invalid_conversations`, :func:`rule_ids` and one breaker per rule id.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401  # imported first only to name the extra when it is missing
except ImportError as exc:
    raise ImportError(
        "convo.strategies needs Hypothesis, which is not installed: pip install 'convo[strategies]'",
        name=exc.name,
    ) from exc

from convo.strategies._conversations import conversations
from convo.strategies._invalid import invalid_conversations, rule_ids
from convo.strategies._responses import REFUSAL_CATEGORIES, STOP_REASONS, responses
from convo.strategies._values import images, texts

__all__ = [
    "conversations",
    "responses",
    "invalid_conversations",
    "rule_ids",
    "texts",
    "images",
    "STOP_REASONS",
    "REFUSAL_CATEGORIES",
]
