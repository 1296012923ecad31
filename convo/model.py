"""The data model: content blocks, messages, conversations and responses as frozen attrs values.

Layer: above ``errors`` and ``_json``; below everything else. One class per content block type the
Messages API documents (facts §3.1), ``UnknownBlock`` for any other type, and on every object an
``extra`` mapping that keeps the keys convo does not model, so a field the API adds next month
survives a round trip. A field that was absent is :data:`~convo._json.UNSET` (written back as
absent); ``None`` is JSON ``null``. Collections are tuples and JSON objects are
:class:`~convo._json.FrozenDict`, so nothing can change after construction: "changing" a value
means ``attrs.evolve`` or a transform, which returns a new value.

A message's ``content`` is what the API took: a plain string, or a tuple of blocks. A string is
written back as a string; :attr:`Message.blocks` always gives blocks.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

from convo import _frozen
from convo._images import base64_image_size, sniff_media_type
from convo._json import EMPTY, UNSET, FrozenDict, Json, Unset, freeze, nested_repr
from convo.errors import ImageError

if TYPE_CHECKING:  # for mypy's attrs plugin: the classes are attrs classes (convo._frozen makes them)
    from attrs import field, frozen
else:  # the same classes without importing attrs at start-up (``import convo``)
    from convo._frozen import field, frozen

__all__ = [
    "Base64Source",
    "BatchRequest",
    "BatchResult",
    "Exchange",
    "BashCodeExecutionToolResult",
    "Block",
    "CodeExecutionToolResult",
    "ContainerUpload",
    "ContentSource",
    "Conversation",
    "Document",
    "FileSource",
    "Image",
    "Message",
    "MidConvSystem",
    "NO_CONTENT",
    "NO_MESSAGES",
    "RedactedThinking",
    "Response",
    "Role",
    "SearchResult",
    "ServerToolResult",
    "ServerToolUse",
    "Source",
    "StopDetails",
    "Text",
    "TextEditorCodeExecutionToolResult",
    "TextSource",
    "Thinking",
    "ToolReference",
    "ToolResult",
    "ToolSearchToolResult",
    "ToolUse",
    "URLSource",
    "UnknownBlock",
    "UnknownSource",
    "Usage",
    "WebFetchToolResult",
    "WebSearchToolResult",
    "SAMPLING_PARAMS",
    "LAZY_BITS",
    "builder",
    "is_built",
    "lazy_blocks",
    "lazy_mask",
    "lazy_turns",
    "with_lazy_blocks",
]

Role: TypeAlias = Literal["user", "assistant", "system"]
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")


def _frozen_extra(value: Mapping[str, Any] | None) -> FrozenDict:
    if not value:
        return EMPTY
    if type(value) is FrozenDict:
        return value
    frozen_value: FrozenDict = freeze(dict(value))
    return frozen_value


def _json_field(value: Any) -> Json:
    return freeze(value)


def _extra() -> Any:
    return field(default=EMPTY, kw_only=True, converter=_frozen_extra, repr=_repr_extra)


def _repr_extra(value: FrozenDict) -> str:
    return repr(dict(value)) if value else "{}"


def _opt(**kwargs: Any) -> Any:
    """An optional JSON-valued field: absent by default, frozen when given."""
    return field(default=UNSET, kw_only=True, converter=_json_field, **kwargs)


# --------------------------------------------------------------------------- sources


@frozen
class Base64Source:
    """``{"type": "base64", "media_type", "data"}``: inline bytes, base64-encoded."""

    media_type: str
    data: str
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "base64"

    def __repr__(self) -> str:
        return f"Base64Source(media_type={self.media_type!r}, data=<{len(self.data)} chars>)"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # Hypothesis and IPython pretty-print attrs classes field by field; keep the data short.
        p.text(repr(self))


@frozen
class URLSource:
    """``{"type": "url", "url"}``: an image or PDF the API fetches."""

    url: str
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "url"


@frozen
class FileSource:
    """``{"type": "file", "file_id"}``: a file uploaded through the Files API (beta)."""

    file_id: str
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "file"


@frozen
class TextSource:
    """``{"type": "text", "media_type": "text/plain", "data"}``: a plain-text document."""

    data: str
    media_type: str | Unset = field(default="text/plain", kw_only=True)
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "text"


@frozen
class ContentSource:
    """``{"type": "content", "content"}``: a custom-content document (string or blocks)."""

    content: str | tuple[Block, ...]
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "content"


@frozen
class UnknownSource:
    """A source of a type convo does not know, kept verbatim."""

    type: str
    extra: FrozenDict = _extra()


Source: TypeAlias = Base64Source | URLSource | FileSource | TextSource | ContentSource | UnknownSource

# --------------------------------------------------------------------------- blocks


@frozen
class Text:
    """A ``text`` block.

    >>> Text("Hello")
    Text(text='Hello')
    """

    text: str
    cache_control: Json | Unset = _opt()
    citations: tuple[Json, ...] | Unset | None = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "text"


@frozen
class Image:
    """An ``image`` block; build one with :meth:`from_path`, :meth:`from_bytes`, :meth:`from_url`
    or :meth:`from_file_id`.

    >>> Image.from_url("https://example.com/ant.jpg").source
    URLSource(url='https://example.com/ant.jpg')
    """

    source: Source
    cache_control: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "image"

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "<bytes>") -> Image:
        """An inline image; the media type is read from the bytes' magic number.

        >>> Image.from_bytes(b"GIF89a" + bytes(10)).source.media_type
        'image/gif'
        >>> Image.from_bytes(b"%PDF-1.4", name="x.pdf")
        Traceback (most recent call last):
        ...
        convo.errors.ImageError: x.pdf is not a jpeg, png, gif or webp image (starts with b'%PDF-1.4')
        """
        media_type = sniff_media_type(data)
        if media_type is None:
            raise ImageError(
                f"{name} is not a jpeg, png, gif or webp image (starts with {data[:8]!r})"
            )
        return cls(Base64Source(media_type, base64.b64encode(data).decode("ascii")))

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> Image:
        """An inline image read from a file (media type from its bytes, not its name)."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data, name=os.fspath(path))

    @classmethod
    def from_url(cls, url: str) -> Image:
        """An image the API fetches from *url*."""
        return cls(URLSource(url))

    @classmethod
    def from_file_id(cls, file_id: str) -> Image:
        """An image uploaded through the Files API (needs the ``files-api-2025-04-14`` beta)."""
        return cls(FileSource(file_id))

    @property
    def media_type(self) -> str | None:
        """The declared media type of an inline image, else None."""
        src = self.source
        return src.media_type if isinstance(src, Base64Source) else None

    def decoded(self) -> bytes | None:
        """The raw bytes of an inline (base64) image, or None for url/file sources."""
        src = self.source
        if not isinstance(src, Base64Source):
            return None
        return base64.b64decode(src.data)

    def size(self) -> tuple[int, int] | None:
        """(width, height) from the image header of an inline image, or None if unknown."""
        src = self.source
        if not isinstance(src, Base64Source):
            return None
        return base64_image_size(src.data)


@frozen
class Document:
    """A ``document`` block (PDF, plain text, custom content, URL or file)."""

    source: Source
    cache_control: Json | Unset = _opt()
    citations: Json | Unset = _opt()
    context: str | Unset | None = field(default=UNSET, kw_only=True)
    title: str | Unset | None = field(default=UNSET, kw_only=True)
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "document"


@frozen
class SearchResult:
    """A ``search_result`` block: a source string, a title and text blocks."""

    source: str
    title: str
    content: tuple[Text, ...] = field(converter=tuple)
    cache_control: Json | Unset = _opt()
    citations: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "search_result"


@frozen
class _ToolCall:
    """The fields a tool call has, client or server. Private: ToolUse and ServerToolUse are
    siblings, so ``isinstance(server_block, ToolUse)`` stays False and the pairing rules, which
    concern client calls only, cannot mistake one for the other."""

    id: str
    name: str
    input: Json = field(converter=_json_field)
    cache_control: Json | Unset = _opt()
    caller: Json | Unset = _opt()
    extra: FrozenDict = _extra()


@frozen
class ToolUse(_ToolCall):
    """A client ``tool_use`` block in an assistant turn."""

    type: ClassVar[str] = "tool_use"


@frozen
class ServerToolUse(_ToolCall):
    """A ``server_tool_use`` block (web search, web fetch, code execution, ...)."""

    type: ClassVar[str] = "server_tool_use"


def _content_value(value: Any) -> Any:
    if type(value) is str or type(value) is tuple or value is UNSET:
        return value
    if isinstance(value, str):
        return str(value)
    return tuple(value)


@frozen
class ToolResult:
    """A ``tool_result`` block in a user turn, answering the ``tool_use`` with ``tool_use_id``."""

    tool_use_id: str
    content: str | tuple[Block, ...] | Unset = field(
        default=UNSET, kw_only=True, converter=_content_value
    )
    is_error: bool | Unset = field(default=UNSET, kw_only=True)
    cache_control: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "tool_result"

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The content as blocks (a string becomes one ``Text``; absent becomes none)."""
        c = self.content
        if c is UNSET:
            return ()
        if isinstance(c, str):
            return (Text(c),) if c else ()
        return c


@frozen
class Thinking:
    """A ``thinking`` block; must be sent back byte for byte."""

    thinking: str
    signature: str
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "thinking"


@frozen
class RedactedThinking:
    """A ``redacted_thinking`` block: opaque ``data``, sent back unchanged."""

    data: str
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "redacted_thinking"


@frozen
class ServerToolResult:
    """The result of a server tool; one subclass per documented ``*_tool_result`` type."""

    tool_use_id: str
    content: Json = field(converter=_json_field)
    cache_control: Json | Unset = _opt()
    caller: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "server_tool_result"


@frozen
class WebSearchToolResult(ServerToolResult):
    """``web_search_tool_result``."""

    type: ClassVar[str] = "web_search_tool_result"


@frozen
class WebFetchToolResult(ServerToolResult):
    """``web_fetch_tool_result``."""

    type: ClassVar[str] = "web_fetch_tool_result"


@frozen
class CodeExecutionToolResult(ServerToolResult):
    """``code_execution_tool_result``."""

    type: ClassVar[str] = "code_execution_tool_result"


@frozen
class BashCodeExecutionToolResult(ServerToolResult):
    """``bash_code_execution_tool_result``."""

    type: ClassVar[str] = "bash_code_execution_tool_result"


@frozen
class TextEditorCodeExecutionToolResult(ServerToolResult):
    """``text_editor_code_execution_tool_result``."""

    type: ClassVar[str] = "text_editor_code_execution_tool_result"


@frozen
class ToolSearchToolResult(ServerToolResult):
    """``tool_search_tool_result``."""

    type: ClassVar[str] = "tool_search_tool_result"


@frozen
class ContainerUpload:
    """``container_upload``: a Files API file placed in the code-execution container."""

    file_id: str
    cache_control: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "container_upload"


@frozen
class ToolReference:
    """``tool_reference`` (tool search), found inside ``tool_result`` content."""

    tool_name: str
    cache_control: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "tool_reference"


@frozen
class MidConvSystem:
    """``mid_conv_system`` (SDK block type; where the API accepts it is unconfirmed, facts §1.5)."""

    content: tuple[Block, ...] = field(converter=tuple)
    cache_control: Json | Unset = _opt()
    extra: FrozenDict = _extra()
    type: ClassVar[str] = "mid_conv_system"


@frozen
class UnknownBlock:
    """A block of a type convo does not know: its ``type`` and every other key, verbatim.

    >>> UnknownBlock("compaction", extra={"content": "summary"}).extra["content"]
    'summary'
    """

    type: str
    extra: FrozenDict = _extra()


SERVER_TOOL_RESULTS: tuple[type[ServerToolResult], ...] = (
    WebSearchToolResult,
    WebFetchToolResult,
    CodeExecutionToolResult,
    BashCodeExecutionToolResult,
    TextEditorCodeExecutionToolResult,
    ToolSearchToolResult,
)

Block: TypeAlias = Text | Image | Document | SearchResult | ToolUse | ServerToolUse | ToolResult | Thinking | RedactedThinking | ServerToolResult | ContainerUpload | ToolReference | MidConvSystem | UnknownBlock

# --------------------------------------------------------------------------- messages


def _to_block(item: Any) -> Block:
    if isinstance(item, str):
        return Text(item)
    if isinstance(item, Block.__args__):
        return item  # type: ignore[no-any-return]
    raise TypeError(f"expected a string or a content block, got {type(item).__name__}")


def _message_content(value: Any) -> str | tuple[Block, ...]:
    if type(value) is str or type(value) is tuple:
        return value
    if isinstance(value, str):
        return str(value)
    return tuple(value)


LAZY_BITS: dict[str, int] = {
    "text": 1, "image": 2, "tool_use": 4, "tool_result": 8, "thinking": 16, "redacted_thinking": 32,
}
"""The block types a message decoded lazily may hold, each a bit of :func:`lazy_mask`."""

_LAZY_BUILD: list[Callable[[list[Any]], tuple[Block, ...]]] = []
"""The codec's function that builds blocks from parsed JSON (it registers it on import; only the
codec makes lazy messages, so it is loaded whenever one exists)."""


class _Parsed:
    """The hidden slot of a message decoded lazily: ``(parsed content, type bits, parsed message
    or None)``, or None. The parsed message object is kept where it is exactly what the codec
    would write for the message (``{"role": ..., "content": ...}`` in that order).

    A message that :mod:`convo.codec` decodes keeps the parsed JSON array of its content and builds
    the blocks when ``content`` is first read (then keeps them: the value never changes). The
    codec takes a turn lazily only after a structural check that it would decode without error,
    and with its keys in the order convo writes them, so the parsed array is exactly what
    ``convo.dumps`` would write for the built blocks: an untouched turn is written as it was read.
    """

    __slots__ = ("_lazy",)
    _lazy: tuple[list[Any], int, dict[str, Any] | None] | None


_SET_LAZY: Callable[[Any, Any], None] = _Parsed.__dict__["_lazy"].__set__


@frozen
class Message(_Parsed):
    """One entry of ``messages``: a role and content (a string, or a tuple of blocks).

    >>> Message("user", "Hi").blocks
    (Text(text='Hi'),)
    """

    role: str
    content: str | tuple[Block, ...] = field(converter=_message_content)
    extra: FrozenDict = _extra()

    def __attrs_post_init__(self) -> None:
        _SET_LAZY(self, None)

    if not TYPE_CHECKING:  # for mypy, Message has no attributes beyond its fields

        def __getattr__(self, name: str) -> Any:
            # Only reached when a slot is empty: the content of a message decoded lazily.
            if name == "content":
                lazy = getattr(self, "_lazy", None)
                if lazy is not None:
                    content = _LAZY_BUILD[0](lazy[0])
                    _SET_CONTENT(self, content)
                    return content
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @classmethod
    def of(cls, role: str, *parts: str | Block) -> Message:
        """A message from strings and blocks: one string alone stays a plain string.

        >>> Message.of("user", "Hi").content
        'Hi'
        >>> len(Message.of("user", "Look:", Image.from_url("https://x/a.png")).content)
        2
        """
        if len(parts) == 1 and isinstance(parts[0], str):
            return cls(role, parts[0])
        return cls(role, tuple(_to_block(p) for p in parts))

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The content as blocks; a plain string becomes one ``Text`` (none if empty)."""
        c = self.content
        if isinstance(c, str):
            return (Text(c),) if c else ()
        return c

    @property
    def text(self) -> str:
        """The text of every ``Text`` block, joined (the string itself for string content)."""
        c = self.content
        if isinstance(c, str):
            return c
        return "".join(b.text for b in c if isinstance(b, Text))

    def with_blocks(self, blocks: Iterable[Block]) -> Message:
        """The same message with *blocks* as content."""
        return _frozen.evolve(self, content=tuple(blocks))


_SET_CONTENT: Callable[[Any, Any], None] = Message.__dict__["content"].__set__
_SET_ROLE: Callable[[Any, Any], None] = Message.__dict__["role"].__set__
_SET_EXTRA: Callable[[Any, Any], None] = Message.__dict__["extra"].__set__


def lazy_mask(message: Message) -> int:
    """The :data:`LAZY_BITS` of every block type in *message*'s content (at any depth), known
    without building it for a message decoded lazily; -1 when not known (look at the blocks).

    Transforms look here first, so that a turn they would leave alone is never built.

    >>> import convo
    >>> conv = convo.loads(b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}')
    >>> lazy_mask(conv.messages[0]) == LAZY_BITS["text"], lazy_mask(Message("user", "hi"))
    (True, -1)
    """
    lazy = getattr(message, "_lazy", None)
    return -1 if lazy is None else lazy[1]


_CONTENT_SLOT = Message.__dict__["content"]  # empty while a lazily decoded message is unbuilt


def is_built(message: Message) -> bool:
    """Whether *message*'s content is built (blocks or a string), not parsed JSON waiting.

    >>> import convo
    >>> msg = convo.loads(b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}').messages[0]
    >>> is_built(msg), msg.content and is_built(msg), is_built(Message("user", "hi"))
    (False, True, True)
    """
    try:
        _CONTENT_SLOT.__get__(message)
    except AttributeError:
        return False
    return True


def lazy_blocks(message: Message) -> list[Any] | None:
    """The parsed JSON blocks of a message decoded lazily (read only: never change them), or None.

    >>> import convo
    >>> conv = convo.loads(b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}')
    >>> lazy_blocks(conv.messages[0]), lazy_blocks(Message("user", "hi"))
    ([{'type': 'text', 'text': 'hi'}], None)
    """
    lazy = getattr(message, "_lazy", None)
    return None if lazy is None else lazy[0]


def with_lazy_blocks(message: Message, blocks: list[Any], mask: int) -> Message:
    """*message* with content *blocks*, some of the parsed blocks of a message decoded lazily (in
    their order), kept parsed; *mask* holds at least the :data:`LAZY_BITS` of their types.

    >>> import convo
    >>> conv = convo.loads(b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, '
    ...                    b'{"type": "text", "text": "b"}]}]}')
    >>> with_lazy_blocks(conv.messages[0], lazy_blocks(conv.messages[0])[1:], LAZY_BITS["text"])
    Message(role='user', content=(Text(text='b'),))
    """
    o = object.__new__(Message)
    _SET_ROLE(o, message.role)
    _SET_EXTRA(o, message.extra)
    _SET_LAZY(o, (blocks, mask, None))
    return o


# --------------------------------------------------------------------------- conversation


class _AbsentTuple(tuple):  # type: ignore[type-arg]
    """An empty tuple that stands for a JSON array that was absent (see :data:`NO_MESSAGES`)."""

    __slots__ = ()
    _name = ""

    def __repr__(self) -> str:
        return self._name

    # absent is not empty: equal to itself only, as UNSET is
    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    def __hash__(self) -> int:
        return hash(self._name)

    def __reduce__(self) -> str:
        return self._name  # the module's singleton, in every process that unpickles it


class _NoMessages(_AbsentTuple):
    __slots__ = ()
    _name = "NO_MESSAGES"


class _NoContent(_AbsentTuple):
    __slots__ = ()
    _name = "NO_CONTENT"


NO_MESSAGES: tuple[Message, ...] = _NoMessages()
"""The ``messages`` of a request that had no ``messages`` key: an empty tuple, so every transform
and count treats it as no turns, that is written back as absent (``Conversation(messages=UNSET)``
gives it too). A transform that adds a turn makes a real tuple, which is written.

>>> import convo
>>> conv = convo.loads(b'{"model": "m"}')
>>> conv.messages is NO_MESSAGES, len(conv.messages), convo.dumps(conv)
(True, 0, b'{"model":"m"}')
>>> convo.dumps(conv.user("Hi"))
b'{"model":"m","messages":[{"role":"user","content":"Hi"}]}'
"""

NO_CONTENT: tuple[Block, ...] = _NoContent()
"""The ``content`` of a response that had no ``content`` key: as :data:`NO_MESSAGES` is for a
request's ``messages``.

>>> import convo
>>> convo.loads_response(b'{"id": "msg_1"}').content is NO_CONTENT
True
"""


def _messages(value: Any) -> tuple[Message, ...]:
    if type(value) is tuple or value is NO_MESSAGES:
        return value
    if value is UNSET:
        return NO_MESSAGES
    return tuple(value)


def _system_value(value: Any) -> Any:
    if value is UNSET or type(value) is str or type(value) is tuple:
        return value
    if isinstance(value, str):
        return str(value)
    return tuple(value)


_BUILDERS: dict[str, Callable[..., Conversation]] = {}
"""The implementations of :class:`Conversation`'s fluent methods, by method name. The builders
of :mod:`convo.transforms` register them when it is imported (see :data:`_BUILDERS_LOADER`), so
that the model layer never imports the layer above it."""


_BUILDERS_LOADER: list[Callable[[], object]] = []
"""What loads the builders when a fluent method is first called: ``import convo`` registers the
import of :mod:`convo.transforms` here, so that the package does not load it at start-up."""


def _builder(name: str) -> Callable[..., Conversation]:
    fn = _BUILDERS.get(name)
    if fn is None:
        for load in _BUILDERS_LOADER:
            load()
        fn = _BUILDERS[name]
    return fn


def builder(name: str) -> Callable[[Callable[..., Conversation]], Callable[..., Conversation]]:
    """Register the implementation of the fluent method *name* (used by :mod:`convo.transforms`).

    >>> import convo.transforms.build
    >>> sorted(_BUILDERS)
    ['assistant', 'prefill', 'system_message', 'user', 'with_image', 'with_params', 'with_system']
    """

    def register(fn: Callable[..., Conversation]) -> Callable[..., Conversation]:
        _BUILDERS[name] = fn
        return fn

    return register


class _ParsedRoot:
    """The hidden slot of a conversation that :mod:`convo.codec` decoded from JSON it parsed itself
    (``convo.loads``, the line engine): ``(root, order, turns, masks)``. *root* is the parsed
    request object where writing it back (keys in *order*, or as they are where *order* is None)
    gives exactly what ``convo.dumps`` would write for the value (every turn written as read: see
    :func:`convo.codec._converter.structure_conversation_lazy`), else None. *turns* is the parsed
    ``messages`` array and *masks* the :data:`LAZY_BITS` of each turn, while the ``messages`` slot
    is empty: the turns are made from them when first read (block content still parsed,
    :class:`_Parsed`), and a transform's copy may carry them on (:func:`lazy_turns`); once they
    are built, *turns* and *masks* are None. Each turn of *turns* is written back as it is. Unset
    (or None) for a conversation built any other way.

    A conversation never changes, so an untouched one is written back from it at no cost; a
    changed copy (``attrs.evolve``, a transform) is a new object, which does not have it.
    """

    __slots__ = ("_lazy",)
    _lazy: tuple[dict[str, Any] | None, tuple[str, ...] | None, list[Any] | None, list[int] | None] | None


_SET_ROOT: Callable[[Any, Any], None] = _ParsedRoot.__dict__["_lazy"].__set__
_GET_ROOT: Callable[[Any], Any] = _ParsedRoot.__dict__["_lazy"].__get__

_LAZY_MESSAGES: list[Callable[[list[Any], list[int]], tuple[Message, ...]]] = []
"""The codec's function that builds the turns of a request kept parsed (registered on import)."""


@frozen(kw_only=True)
class Conversation(_ParsedRoot):
    """A Messages API request: model, max_tokens, system, messages and every other parameter.

    Built fluently; every method returns a new conversation.

    >>> conv = (Conversation(model="claude-opus-4-8", max_tokens=1024)
    ...         .with_system("You answer briefly.").user("Hello, Claude").assistant("Hello!"))
    >>> [m.role for m in conv.messages]
    ['user', 'assistant']
    """

    model: str | Unset = UNSET
    max_tokens: int | Unset = UNSET
    messages: tuple[Message, ...] = field(default=(), converter=_messages)
    system: str | tuple[Text, ...] | Unset = field(default=UNSET, converter=_system_value)
    tools: tuple[Json, ...] | Unset = _opt()
    tool_choice: Json | Unset = _opt()
    thinking: Json | Unset = _opt()
    output_config: Json | Unset = _opt()
    stop_sequences: tuple[str, ...] | Unset = _opt()
    metadata: Json | Unset = _opt()
    temperature: float | Unset | None = UNSET
    top_p: float | Unset | None = UNSET
    top_k: int | Unset | None = UNSET
    stream: bool | Unset = UNSET
    cache_control: Json | Unset = _opt()
    service_tier: str | Unset = UNSET
    container: Json | Unset = _opt()
    inference_geo: str | Unset | None = UNSET  # the spec allows null here
    extra: FrozenDict = _extra()

    if not TYPE_CHECKING:  # for mypy, Conversation has no attributes beyond its fields

        def __getattr__(self, name: str) -> Any:
            # Only reached when a slot is empty: the turns of a request kept parsed, or _lazy.
            if name == "messages":
                try:
                    root = _GET_ROOT(self)
                except AttributeError:
                    root = None
                if root is not None and root[3] is not None:
                    messages = _LAZY_MESSAGES[0](root[2], root[3])
                    _SET_MESSAGES(self, messages)
                    _SET_ROOT(self, (root[0], root[1], None, None))  # the turns are built now
                    return messages
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # The fluent API: sugar over the builders of convo.transforms, which register themselves
    # here (:func:`builder`): this layer knows nothing of the layers above it.

    def apply(self, *transforms: Callable[[Conversation], Conversation]) -> Conversation:
        """Apply transforms left to right."""
        conv = self
        for t in transforms:
            conv = t(conv)
        return conv

    def user(self, *parts: str | Block) -> Conversation:
        """Append a user turn (strings and blocks, in order)."""
        return _builder("user")(self, *parts)

    def assistant(self, *parts: str | Block) -> Conversation:
        """Append an assistant turn (a synthetic one, written by you)."""
        return _builder("assistant")(self, *parts)

    def with_system(self, system: str | Iterable[Text]) -> Conversation:
        """Set the top-level ``system`` field."""
        return _builder("with_system")(self, system)

    def system_message(self, text: str) -> Conversation:
        """Append a mid-conversation ``role: "system"`` message (placement rules apply)."""
        return _builder("system_message")(self, text)

    def with_image(self, image: Image | str | os.PathLike[str]) -> Conversation:
        """Attach an image to the last user turn (or a new one): an Image, a path or a URL."""
        return _builder("with_image")(self, image)

    def prefill(self, text: str) -> Conversation:
        """End with an assistant turn that the model continues (only on models that allow it)."""
        return _builder("prefill")(self, text)

    def with_params(self, **params: Any) -> Conversation:
        """Set request parameters (``temperature=0.2``, ``tools=[...]``, any other key)."""
        return _builder("with_params")(self, **params)

    def with_response(self, response: Response) -> Conversation:
        """The conversation with *response* appended as an assistant turn."""
        return _frozen.evolve(self, messages=(*self.messages, response.as_message()))


_SET_MESSAGES: Callable[[Any, Any], None] = Conversation.__dict__["messages"].__set__


def lazy_turns(conv: Conversation) -> tuple[list[Any], list[int]] | None:
    """The parsed turns of a conversation whose ``messages`` are not built yet, with the
    :data:`LAZY_BITS` of each (0 for string content), or None (read ``conv.messages``). Read only:
    never change them. Transforms look here first, so that a request they leave alone, or can edit
    as parsed JSON, never has its turns built.

    >>> import convo
    >>> conv = convo.loads(b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}')
    >>> lazy_turns(conv)
    ([{'role': 'user', 'content': [{'type': 'text', 'text': 'hi'}]}], [1])
    >>> len(conv.messages), lazy_turns(conv)
    (1, None)
    """
    try:
        root = _GET_ROOT(conv)
    except AttributeError:  # (a conversation not decoded from JSON)
        return None
    if root is None or root[3] is None:
        return None
    return root[2], root[3]


# --------------------------------------------------------------------------- response


@frozen
class StopDetails:
    """Why the model stopped, beyond ``stop_reason`` (a refusal's category and explanation)."""

    type: str
    category: str | Unset | None = field(default=UNSET, kw_only=True)
    explanation: str | Unset | None = field(default=UNSET, kw_only=True)
    extra: FrozenDict = _extra()


@frozen(kw_only=True)
class Usage:
    """Token usage of one response."""

    input_tokens: int | Unset = UNSET
    output_tokens: int | Unset = UNSET
    cache_creation_input_tokens: int | Unset | None = UNSET
    cache_read_input_tokens: int | Unset | None = UNSET
    cache_creation: Json | Unset = _opt()
    server_tool_use: Json | Unset = _opt()
    service_tier: str | Unset | None = UNSET
    inference_geo: str | Unset | None = UNSET
    output_tokens_details: Json | Unset = _opt()
    extra: FrozenDict = _extra()

    @property
    def total_input_tokens(self) -> int:
        """input + cache creation + cache read tokens (absent and null count as 0)."""
        return sum(
            v
            for v in (
                self.input_tokens,
                self.cache_creation_input_tokens,
                self.cache_read_input_tokens,
            )
            if isinstance(v, int)
        )


def _response_content(value: Any) -> tuple[Block, ...]:
    if type(value) is tuple or value is NO_CONTENT:
        return value
    if value is UNSET:
        return NO_CONTENT
    return tuple(value)


@frozen(kw_only=True)
class Response:
    """A Messages API response (``type: "message"``)."""

    id: str | Unset = UNSET
    type: str | Unset = "message"
    role: str | Unset = "assistant"
    content: tuple[Block, ...] = field(default=(), converter=_response_content)
    model: str | Unset = UNSET
    stop_reason: str | Unset | None = UNSET
    stop_sequence: str | Unset | None = UNSET
    stop_details: StopDetails | Unset | None = UNSET
    usage: Usage | Unset = UNSET
    container: Json | Unset = _opt()
    extra: FrozenDict = _extra()

    @property
    def blocks(self) -> tuple[Block, ...]:
        """The content blocks (none when the response had no ``content`` key): ``content``."""
        return self.content

    @property
    def text(self) -> str:
        """The text of every ``Text`` block, joined."""
        return "".join(b.text for b in self.blocks if isinstance(b, Text))

    def as_message(self) -> Message:
        """This response as an assistant turn to append to the conversation."""
        return Message("assistant", self.blocks)


# --------------------------------------------------------------------------- line records


@frozen(kw_only=True)
class BatchRequest:
    """One request of a Message Batch: ``{"custom_id", "params": {...}}``."""

    custom_id: str
    params: Conversation
    extra: FrozenDict = _extra()


@frozen(kw_only=True)
class BatchResult:
    """One line of a batch's results: ``{"custom_id", "result": {"type", ...}}``.

    ``result_type`` is ``succeeded`` (with ``message``), ``errored`` (with ``error``),
    ``canceled`` or ``expired`` (or a type convo does not know, kept in ``result_extra``).
    """

    custom_id: str
    result_type: str
    message: Response | Unset = UNSET
    error: Json | Unset = _opt()
    result_extra: FrozenDict = field(default=EMPTY, converter=_frozen_extra)
    extra: FrozenDict = _extra()


@frozen(kw_only=True)
class Exchange:
    """What ``convo run`` writes per input line: ``{"id", "request", "response"}`` or ``"error"``."""

    id: str | int | Unset = UNSET
    request: Conversation
    response: Response | Unset = UNSET
    error: Json | Unset = _opt()
    extra: FrozenDict = _extra()


# --------------------------------------------------------------------------- reprs


def _compact_repr(self: Any) -> str:
    """``Name(field=value, ...)`` with absent fields and an empty ``extra`` left out; nested
    deeper than :data:`~convo._json.REPR_DEPTH` levels, ``Name(...)``.

    >>> v = Text("x")
    >>> for _ in range(400):
    ...     v = ToolResult("t", content=[v])
    >>> r = repr(v)
    >>> r.count("ToolResult("), r.count("ToolResult(...)")
    (25, 1)
    """

    def body() -> str:
        parts = []
        for name in _frozen.field_names(type(self)):
            v = getattr(self, name)
            if v is UNSET or v is NO_MESSAGES or v is NO_CONTENT or (name == "extra" and not v):
                continue
            parts.append(f"{name}={_repr_extra(v) if name == 'extra' else repr(v)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    return nested_repr(body, f"{type(self).__name__}(...)")


for _cls in list(globals().values()):
    # every attrs class of this module, except those with a hand-written __repr__ (Base64Source)
    if (
        isinstance(_cls, type)
        and _frozen.is_frozen(_cls)
        and _cls.__module__ == __name__
        and _cls.__repr__.__code__.co_filename != __file__
    ):
        _cls.__repr__ = _compact_repr  # type: ignore[method-assign]
