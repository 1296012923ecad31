"""convo: Claude Messages API conversations as data.

Immutable conversation values built with pure transforms, the API's rules checked before
sending, a lossless codec, pluggable executors, and a ``convo`` command for JSONL at scale.
``import convo`` loads the values only (not even attrs: :mod:`convo._frozen` makes the same attrs
classes from code generated at build time): the rules, transforms and codec load on first use,
and it never imports httpx, cattrs or hypothesis (``tests/test_public_api.py``).

>>> import convo
>>> conv = convo.Conversation(model="claude-opus-4-8", max_tokens=1024).user("Hello, Claude")
>>> convo.loads(convo.dumps(conv)) == conv
True

The package, one layer per line; each imports only from the lines above it (side-by-side layers
not from each other), which ``tests/test_layers.py`` checks on every module::

    convo.errors, convo._json        the exception tree; frozen JSON values, UNSET
    convo._frozen(_code)             attrs classes built without attrs (code generated at build time)
    convo._gencode(_data)            generated hooks and checks as bytecode made at install
    convo.model                      content blocks, Message, Conversation, Response (attrs, frozen)
    convo.profiles, convo.pricing    what each model accepts; what its tokens cost (profiles.json)
    convo.rules                      validate() -> Report
    convo.transforms                 pure transforms, pipeline(), the registry the command parses
    convo.codec                      JSON in and out, losslessly (a lazy check in C where built); JSONL lines; foreign formats
    convo.strategies                 Hypothesis strategies (needs hypothesis)
    convo.executor | arrow, hf | view   sending conversations: HTTP, retry, SSE, mock, replay, batch API |
                                     Arrow tables, Parquet and ``datasets`` (needs pyarrow, datasets) |
                                     pages and terminal views of conversations, diff, charts
    convo.jobs | convo.stream        resumable file runs and batch jobs | the chunked, parallel line engine
    convo.testing                    the local API emulator, the pytest plugin, seeded fixtures
    convo.dask                       the line engine on a Dask cluster (needs dask)
    convo.cli                        the ``convo`` command: one module per command

Here, at the top: the values (:class:`Conversation`, :class:`Message`, the blocks), the rules
(:func:`validate`, :func:`check`), :func:`pipeline` and :mod:`convo.transforms`, the codec
(:func:`dumps`, :func:`loads`, :func:`loads_response`, :func:`dumps_response`) and the errors.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convo import errors, model
from convo._json import UNSET, FrozenDict
from convo.errors import ConvoError, DecodeError, TransformError, ValidationError
from convo.model import (
    Base64Source,
    BatchRequest,
    BatchResult,
    Block,
    ContainerUpload,
    ContentSource,
    Conversation,
    Document,
    Exchange,
    FileSource,
    Image,
    Message,
    MidConvSystem,
    RedactedThinking,
    Response,
    SearchResult,
    ServerToolResult,
    ServerToolUse,
    StopDetails,
    Text,
    TextSource,
    Thinking,
    ToolReference,
    ToolResult,
    ToolUse,
    UnknownBlock,
    UnknownSource,
    URLSource,
    Usage,
)

if TYPE_CHECKING:
    from convo import transforms
    from convo.codec import dumps, dumps_response, loads, loads_response
    from convo.profiles import Profile, UnknownModelWarning, get_profile
    from convo.rules import Report, Violation, check, validate
    from convo.transforms import pipeline

# The rest of the face loads on first use (PEP 562), so that ``import convo`` costs the values
# only: the rules, profiles, transforms and the codec each generate code or read data on import.
_LAZY = {
    "dumps": "convo.codec", "dumps_response": "convo.codec", "loads": "convo.codec",
    "loads_response": "convo.codec",
    "Profile": "convo.profiles", "UnknownModelWarning": "convo.profiles", "get_profile": "convo.profiles",
    "Report": "convo.rules", "Violation": "convo.rules", "check": "convo.rules", "validate": "convo.rules",
    "pipeline": "convo.transforms",
}
_SUBMODULES = ("codec", "profiles", "rules", "transforms")


def __getattr__(name: str) -> Any:
    where = _LAZY.get(name)
    if where is not None:
        value = getattr(importlib.import_module(where), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"convo.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *_SUBMODULES})


# Conversation's fluent methods are the builders of convo.transforms: loaded when first called.
model._BUILDERS_LOADER.append(lambda: importlib.import_module("convo.transforms.build"))

__all__ = [
    # values
    "Conversation",
    "Message",
    "Response",
    "Usage",
    "StopDetails",
    "Block",
    "Text",
    "Image",
    "Document",
    "SearchResult",
    "ToolUse",
    "ToolResult",
    "Thinking",
    "RedactedThinking",
    "ServerToolUse",
    "ServerToolResult",
    "ContainerUpload",
    "ToolReference",
    "MidConvSystem",
    "UnknownBlock",
    "Base64Source",
    "URLSource",
    "FileSource",
    "TextSource",
    "ContentSource",
    "UnknownSource",
    "BatchRequest",
    "BatchResult",
    "Exchange",
    "UNSET",
    "FrozenDict",
    # rules and profiles
    "validate",
    "check",
    "Report",
    "Violation",
    "Profile",
    "get_profile",
    "UnknownModelWarning",
    # transforms
    "pipeline",
    "transforms",
    # codec
    "dumps",
    "loads",
    "dumps_response",
    "loads_response",
    # errors
    "errors",
    "ConvoError",
    "DecodeError",
    "ValidationError",
    "TransformError",
]
