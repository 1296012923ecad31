"""convo: Claude Messages API conversations as data.

Immutable conversation values built with pure transforms, the API's rules checked before
sending, a lossless codec, pluggable executors, and a ``convo`` command for JSONL at scale.
``import convo`` never imports httpx or hypothesis: executors and strategies load on demand.

>>> import convo
>>> conv = convo.Conversation(model="claude-opus-4-8", max_tokens=1024).user("Hello, Claude")
>>> convo.loads(convo.dumps(conv)) == conv
True
"""

from __future__ import annotations

from convo import errors, transforms
from convo._json import UNSET, FrozenDict
from convo.codec import dumps, dumps_response, loads, loads_response
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
from convo.profiles import Profile, UnknownModelWarning, get_profile
from convo.rules import Report, Violation, check, validate
from convo.transforms import pipeline

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
