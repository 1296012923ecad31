"""Pure transforms over conversations, ``pipeline``, and the registry of named transforms.

Layer: above the model and profiles, below the codec. Every transform is built by a factory
(``drop_images()``, ``keep_last_turns(n=8)``) whose repr is the call that made it and parses back
(:func:`parse`), so logs, ``--dry-run`` and the CLI's ``-t`` speak the same text. A transform is a
callable ``Conversation -> Conversation``; it never mutates anything, returns its input itself
when it changes nothing, and :meth:`Transform.explain` returns the list of changes it made.

Each submodule (``build``, ``transcript``, ``repair``, ``secrets``, ``unknown``, ``tokens``) is
imported the first time one of its names is read, here or from :data:`REGISTRY`, so a command
running ``drop_images()`` loads neither the secrets' detectors, the repairs nor the rules.

>>> from convo import Conversation
>>> from convo import transforms as t
>>> conv = Conversation(model="claude-opus-4-8", max_tokens=64, temperature=0.2).user("Hi")
>>> p = t.pipeline(t.drop_sampling_params(), t.inject_system("Be terse.", where="top"))
>>> out = p(conv)
>>> out.temperature, out.system
(UNSET, 'Be terse.')
>>> t.parse(repr(p)) == p
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convo.transforms import _base
from convo.transforms._base import REGISTRY, Change, ChangeLog, Transform, pipeline, register
from convo.transforms.parse import (  # (eager: the module's name is the function's)
    parse,
    parse_pipeline,
)

if TYPE_CHECKING:  # (loaded on first use: see __getattr__)
    from convo.transforms.build import (
        append_assistant,
        append_user,
        attach_image,
        inject_system,
        prefill,
        set_model,
        with_params,
    )
    from convo.transforms.repair import CONTINUED, INTERRUPTED, migrate, normalize
    from convo.transforms.secrets import find_secrets, scrub_secrets, scrub_text
    from convo.transforms.tokens import estimate_tokens, image_tokens
    from convo.transforms.transcript import (
        drop_images,
        drop_sampling_params,
        keep_last_turns,
        map_text,
        merge_adjacent_roles,
        redact,
        strip_prefill,
        strip_thinking,
        trim_to_tokens,
    )
    from convo.transforms.unknown import drop_unknown_fields


def __getattr__(name: str) -> Any:
    """A transform's name, from its submodule (:data:`convo.transforms._base.HOMES`), read once."""
    home = _base.HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_base.load_home(home), name)
    globals()[name] = value  # (read once)
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_base.HOMES})


__all__ = [
    # the machinery
    "Transform",
    "Change",
    "ChangeLog",
    "pipeline",
    "REGISTRY",
    "register",
    "parse",
    "parse_pipeline",
    # builders
    "append_user",
    "append_assistant",
    "inject_system",
    "attach_image",
    "prefill",
    "with_params",
    "set_model",
    # stored transcripts
    "drop_images",
    "strip_thinking",
    "merge_adjacent_roles",
    "keep_last_turns",
    "trim_to_tokens",
    "redact",
    "map_text",
    "drop_sampling_params",
    "strip_prefill",
    "scrub_secrets",
    "drop_unknown_fields",
    # secrets
    "find_secrets",
    "scrub_text",
    # repairs
    "normalize",
    "migrate",
    "INTERRUPTED",
    "CONTINUED",
    # tokens
    "estimate_tokens",
    "image_tokens",
]
