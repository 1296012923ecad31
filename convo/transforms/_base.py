"""The engine under every transform: the ``Transform`` base, ``Change`` records, ``pipeline``,
the registry of named transforms, and the helpers the built-ins share.

Layer: above the model and profiles; imports nothing from the codec. A transform is a callable
``Conversation -> Conversation``; its :meth:`Transform.explain` also returns the list of
:class:`Change` records it made. The work happens in one method, :meth:`Transform.apply`, which
receives a :class:`ChangeLog`; the plain call passes a log that records nothing, so the batch path
pays nothing for explanations it does not want.
"""

from __future__ import annotations

import keyword
import types
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from convo._frozen import field_names
from convo._gencode import exec_generated
from convo._predicates import (
    paused,  # the rules' own predicate: transforms and validate() agree on it
)
from convo._slots import CLONE, all_slots, slot
from convo.model import _SET_ROOT, Block, Conversation, Message, Text

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import field, frozen
else:
    from convo._frozen import field, frozen


__all__ = [
    "REGISTRY",
    "Change",
    "ChangeLog",
    "Transform",
    "pipeline",
    "register",
]


@frozen
class Change:
    """One edit a transform made: which transform, what it did, where (``$.path``), and why.

    Paths name places in the conversation the transform was given.

    >>> Change("drop_images", "dropped an image", "$.messages[0].content[1]", "drop_images()")
    Change(transform='drop_images', what='dropped an image', path='$.messages[0].content[1]', why='drop_images()')
    """

    transform: str
    what: str
    path: str
    why: str
    note: bool = field(default=False, eq=False, repr=False)
    """Whether this is a note (:meth:`ChangeLog.note`: something reported that is not an edit)."""


class ChangeLog:
    """Collects the :class:`Change` records of one :meth:`Transform.explain` call.

    ``enabled`` is False on the log a plain call passes, so code can skip building messages
    nobody will read; ``paths`` is False on a log that only counts changes (the command's), so
    code that builds a path for each change may pass ``""`` instead.

    >>> log = ChangeLog("normalize")
    >>> log.add("dropped an empty text block", "$.messages[0].content[1]", "text blocks must be non-empty")
    >>> log.changes[0].transform
    'normalize'
    """

    __slots__ = ("changes", "enabled", "paths", "transform")

    def __init__(self, transform: str, changes: list[Change] | None = None) -> None:
        self.transform = transform
        self.changes: list[Change] = [] if changes is None else changes
        self.enabled = True
        self.paths = True

    def add(self, what: str, path: str, why: str) -> None:
        """Record one change."""
        self.changes.append(Change(self.transform, what, path, why))

    def add_many(self, what: str, why: str, n: int) -> None:
        """Record *n* changes of one kind without their paths (what a transform may call on a
        log whose ``paths`` is False, instead of :meth:`add` once for each).

        >>> log = ChangeLog("drop_images")
        >>> log.add_many("dropped an image", "drop_images()", 2)
        >>> [c.path for c in log.changes]
        ['', '']
        """
        for _ in range(n):
            self.add(what, "", why)

    def note(self, what: str, path: str, why: str) -> None:
        """Record something worth reporting that is not an edit (data a transform could not
        look into and left as it was). Explanations list it as a change; the command counts
        it apart, for every line, changed or not."""
        if self.enabled:
            self.changes.append(Change(self.transform, what, path, why, note=True))

    def sub(self, transform: str) -> ChangeLog:
        """A log that records into the same list under another transform's name."""
        return ChangeLog(transform, self.changes)


class _NullLog(ChangeLog):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("")
        self.enabled = False
        self.paths = False

    def add(self, what: str, path: str, why: str) -> None:
        pass

    def add_many(self, what: str, why: str, n: int) -> None:
        pass

    def note(self, what: str, path: str, why: str) -> None:
        pass

    def sub(self, transform: str) -> ChangeLog:
        return self


NULL_LOG: ChangeLog = _NullLog()


class _Literal:
    """Shows a fixed text in a repr (a function's qualified name, an elided value)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Literal) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


class Transform:
    """A pure function ``Conversation -> Conversation`` with a repr that rebuilds it.

    Subclass it (and :func:`register` the factory) to add a named transform: call
    ``super().__init__(name, *args, **kwargs)`` with the arguments the repr should show and
    override :meth:`apply`.

    >>> class add_note(Transform):
    ...     def __init__(self, note: str) -> None:
    ...         super().__init__("add_note", note)
    ...         self.note = note
    ...     def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
    ...         log.add("appended a note", f"$.messages[{len(conv.messages)}]", "add_note()")
    ...         return conv.user(self.note)
    >>> t = add_note("Thanks!")
    >>> t
    add_note('Thanks!')
    >>> t(Conversation()).messages[0].content
    'Thanks!'
    """

    __slots__ = ("args", "kwargs", "name")

    outside: bool = False
    """True for a transform that also has work outside the conversation of a JSONL line (see
    :meth:`apply_outside`)."""

    keyed: bool = False
    """True for a transform whose markers are tagged by the run's key (``scrub_secrets(keyed=True)``):
    the command makes one key per run for it, so that every worker tags alike."""

    def __init__(self, name: str, /, *args: Any, **kwargs: Any) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        """Do the work: return the new conversation (or *conv* itself) and record changes in *log*."""
        raise NotImplementedError

    def apply_outside(self, line: Any, log: ChangeLog) -> Any:
        """The parts of a JSONL line beside its conversation (an exchange's response and error,
        a batch result, the line's own keys), after :meth:`apply` did the conversation. Most
        transforms concern the conversation only and return *line* itself; ``scrub_secrets``
        scrubs everything. *line* is a :class:`~convo.model.Conversation`,
        :class:`~convo.model.BatchRequest`, :class:`~convo.model.BatchResult` or
        :class:`~convo.model.Exchange`."""
        return line

    def __call__(self, conv: Conversation) -> Conversation:
        if not isinstance(conv, Conversation):
            raise TypeError(f"{self!r} expects a Conversation, got {type(conv).__name__}")
        return self.apply(conv, NULL_LOG)

    def explain(self, conv: Conversation) -> tuple[Conversation, tuple[Change, ...]]:
        """The result and every change made to get it.

        >>> from convo.transforms import drop_sampling_params
        >>> conv = Conversation(model="claude-opus-4-8", max_tokens=8, temperature=0.2)
        >>> out, changes = drop_sampling_params().explain(conv)
        >>> [(c.what, c.path) for c in changes]
        [('removed temperature', '$.temperature')]
        """
        if not isinstance(conv, Conversation):
            raise TypeError(f"{self!r} expects a Conversation, got {type(conv).__name__}")
        log = ChangeLog(self.name)
        out = self.apply(conv, log)
        return out, tuple(log.changes)

    def __repr__(self) -> str:
        return call_repr(self.name, self.args, self.kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transform):
            return NotImplemented
        return (
            type(self) is type(other)
            and self.name == other.name
            and self.args == other.args
            and self.kwargs == other.kwargs
        )

    def __hash__(self) -> int:
        return hash((type(self), repr(self)))


def call_repr(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The text of a call: ``name(arg, key=value)``.

    >>> call_repr("keep_last_turns", (), {"n": 8})
    'keep_last_turns(n=8)'
    """
    parts = [repr(a) for a in args]
    parts.extend(f"{k}={v!r}" for k, v in kwargs.items())
    return f"{name}({', '.join(parts)})"


# --------------------------------------------------------------------------- pipeline


class _Identity(Transform):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__("pipeline")

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        return conv


class Pipeline(Transform):
    """Several transforms applied left to right (built by :func:`pipeline`)."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Transform, ...]) -> None:
        super().__init__("pipeline", *parts)
        self.parts = parts

    @property
    def outside(self) -> bool:  # type: ignore[override]
        return any(t.outside for t in self.parts)

    @property
    def keyed(self) -> bool:  # type: ignore[override]
        return any(t.keyed for t in self.parts)

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        for t in self.parts:
            conv = t.apply(conv, log.sub(t.name))
        return conv

    def apply_outside(self, line: Any, log: ChangeLog) -> Any:
        for t in self.parts:
            if t.outside:
                line = t.apply_outside(line, log.sub(t.name))
        return line


def pipeline(*transforms: Transform) -> Transform:
    """Compose transforms left to right: none is the identity, one is that transform itself.

    >>> from convo.transforms import drop_images, keep_last_turns
    >>> pipeline(drop_images(), keep_last_turns(n=8))
    pipeline(drop_images(), keep_last_turns(n=8))
    >>> pipeline(drop_images())
    drop_images()
    >>> conv = Conversation(model="m")
    >>> pipeline()(conv) is conv
    True
    """
    parts: list[Transform] = []
    for t in transforms:
        if isinstance(t, Pipeline):
            parts.extend(t.parts)  # flat, so the repr reads as one list and parses back
        elif isinstance(t, _Identity):
            continue
        elif isinstance(t, Transform):
            parts.append(t)
        else:
            raise TypeError(f"pipeline() takes transforms, got {type(t).__name__}: {t!r}")
    if not parts:
        return _Identity()
    if len(parts) == 1:
        return parts[0]
    return Pipeline(tuple(parts))


# --------------------------------------------------------------------------- registry

HOMES: dict[str, str] = {
    # name -> the submodule of convo.transforms that defines it: a submodule is imported the first
    # time one of its names is read (from the package, or from REGISTRY), so a command running
    # drop_images() loads neither the secrets' detectors, the repairs nor the closed-world schema
    # (tests/test_transforms.py holds this table to the modules)
    **dict.fromkeys(("append_assistant", "append_user", "attach_image", "inject_system", "prefill", "set_model",
                     "with_params"), "build"),
    **dict.fromkeys(("CONTINUED", "INTERRUPTED", "migrate", "normalize"), "repair"),
    **dict.fromkeys(("find_secrets", "scrub_secrets", "scrub_text"), "secrets"),
    **dict.fromkeys(("estimate_tokens", "image_tokens"), "tokens"),
    **dict.fromkeys(("drop_images", "drop_sampling_params", "keep_last_turns", "map_text", "merge_adjacent_roles",
                     "redact", "strip_prefill", "strip_thinking", "trim_to_tokens"), "transcript"),
    "drop_unknown_fields": "unknown",
}


_LOADED: dict[str, Any] = {}  # the submodules imported so far, by home


def load_home(home: str) -> Any:
    """The submodule *home* of :mod:`convo.transforms`, imported (once) with the transforms it registers."""
    module = _LOADED.get(home)
    if module is None:
        import importlib

        module = _LOADED[home] = importlib.import_module(f"convo.transforms.{home}")
    return module


_HOME_NAMES = sorted(set(HOMES.values()))


def _loading(method: Callable[..., Any], *, whole: bool) -> Any:
    """*method* of dict, run once the modules it needs are loaded: every built-in transform's
    (*whole*), or the module of the name it takes first."""

    def run(self: _Registry, *args: Any) -> Any:
        if whole:
            if len(_LOADED) < len(_HOME_NAMES):  # (once every module is loaded, nothing to do)
                for home in _HOME_NAMES:
                    load_home(home)
        else:
            self._load(args[0])
        return method(self, *args)

    run.__name__ = method.__name__
    return run


class _Registry(dict[str, Callable[..., Transform]]):
    """:data:`REGISTRY`: a dict, whole whenever it is read. The built-in transforms' modules are
    imported the first time it is iterated, sized, compared, copied or printed, and a module the
    first time one of its names is looked up (``REGISTRY["drop_images"]``, ``in``, ``get``,
    ``pop``, ``del``), so a run of ``drop_images()`` does not load the secrets' detectors or the
    repairs."""

    __slots__ = ()

    def _load(self, name: object) -> bool:
        """Load the module of built-in name *name*, if it is one; whether the registry holds it."""
        if dict.__contains__(self, name):
            return True
        home = HOMES.get(name) if isinstance(name, str) else None
        if home is not None:
            load_home(home)
        return dict.__contains__(self, name)

    def __missing__(self, name: str) -> Callable[..., Transform]:
        if self._load(name):
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return self._load(name)

    def get(self, name: str, default: Any = None) -> Any:
        return dict.__getitem__(self, name) if self._load(name) else default

    __delitem__ = _loading(dict.__delitem__, whole=False)
    pop = _loading(dict.pop, whole=False)
    setdefault = _loading(dict.setdefault, whole=False)
    __iter__ = _loading(dict.__iter__, whole=True)
    __reversed__ = _loading(dict.__reversed__, whole=True)
    __len__ = _loading(dict.__len__, whole=True)
    __eq__ = _loading(dict.__eq__, whole=True)
    __repr__ = _loading(dict.__repr__, whole=True)
    keys = _loading(dict.keys, whole=True)
    values = _loading(dict.values, whole=True)
    items = _loading(dict.items, whole=True)
    popitem = _loading(dict.popitem, whole=True)
    __hash__ = None

    def copy(self) -> dict[str, Callable[..., Transform]]:
        return dict(self.items())

    def __or__(self, other: Any) -> Any:
        return dict(self.items()) | other

    def __ror__(self, other: Any) -> Any:
        return other | dict(self.items())


REGISTRY: dict[str, Callable[..., Transform]] = _Registry()
"""Named transform factories: what :func:`~convo.transforms.parse` and the CLI's ``-t`` accept."""

F = TypeVar("F", bound=Callable[..., Transform])


@overload
def register(factory: F, /) -> F: ...
@overload
def register(*, name: str | None = None, replace: bool = False) -> Callable[[F], F]: ...


def register(
    factory: F | None = None, /, *, name: str | None = None, replace: bool = False
) -> F | Callable[[F], F]:
    """Add a transform factory to :data:`REGISTRY` (as a decorator, with or without arguments).

    The name must be an identifier and must not already be taken unless ``replace=True``.

    >>> @register(name="say_thanks")
    ... def say_thanks(text: str = "Thanks!") -> Transform:
    ...     from convo.transforms import append_user
    ...     return append_user(text)
    >>> REGISTRY["say_thanks"]() (Conversation()).messages[0].content
    'Thanks!'
    >>> del REGISTRY["say_thanks"]
    """

    def deco(f: F) -> F:
        key = name or getattr(f, "__name__", None)
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            raise ValueError(f"a transform name must be a Python identifier, got {key!r}")
        if key == "pipeline" or (key in REGISTRY and not replace and REGISTRY[key] is not f):
            raise ValueError(f"a transform named {key!r} is already registered (replace=True to replace it)")
        REGISTRY[key] = f
        return f

    if factory is not None:
        return deco(factory)
    return deco


# --------------------------------------------------------------------------- shared helpers

_REPLACERS: dict[type, Callable[[Any, dict[str, Any]], Any]] = {}


def _make_replacer(cls: type, clone: Callable[[Any], Any] | None = None) -> Callable[[Any, dict[str, Any]], Any]:
    # Generated once per class, as attrs generates __init__: one straight-line copy of every slot
    # through a bound setter. Measured with freeze() already skipping FrozenDicts: ~1.5 µs against
    # ~4.9 µs for attrs.evolve on a conversation with tools (~0.7 against ~1.0 on a Message), ~7%
    # of a `normalize | drop_sampling_params` CLI line, so it stays. The names come from
    # attrs.fields, so they are identifiers; nothing else goes into the source.
    # Each slot is copied through its own descriptor (about 25% faster than object.__setattr__).
    # A field kept in a __dict__ (a user's subclass without slots) goes through object.__setattr__.
    # With *clone* (convo._speedups.clone, for a class of slots only), the copy of every slot is
    # one C call: about 0.3 µs against 3-4 µs for a conversation's 20 setters.
    lines = ["def replace(obj, changes):", "    new = _new(cls)"]
    namespace: dict[str, Any] = {"_new": object.__new__, "_set": object.__setattr__, "cls": cls}
    if clone is not None and all_slots(cls):
        lines[1] = "    new = _clone(obj)"
        namespace["_clone"] = clone
    else:
        clone = None
        for n in field_names(cls):
            d = slot(cls, n)
            if isinstance(d, types.MemberDescriptorType):
                namespace[f"_s_{n}"] = d.__set__
                lines.append(f"    _s_{n}(new, obj.{n})")
            else:
                lines.append(f"    _set(new, {n!r}, obj.{n})")
    turns = issubclass(cls, Conversation)
    if any("_lazy" in getattr(k, "__slots__", ()) for k in cls.__mro__):
        # a message's parsed content (convo.model._Parsed) is not the copy's: its content may change;
        # nor is a conversation's parsed request (convo.model._ParsedRoot), but its turns, while
        # not built, are carried on as they are (built when read, written as they were read)
        lazy = slot(cls, "_lazy")
        namespace["_s__lazy"] = lazy.__set__
        namespace["_g__lazy"] = lazy.__get__
        if turns:
            lines = [ln for ln in lines if ln != "    _s_messages(new, obj.messages)"]
            # (a clone has the messages slot already: it is empty only while the turns are not built)
            built = [] if clone is not None else ["        _s_messages(new, obj.messages)"]
            lines += ["    try:", "        r = _g__lazy(obj)", "    except AttributeError:", "        r = None",
                      "    if r is not None and r[3] is not None:  # turns not built",
                      "        _s__lazy(new, None if 'messages' in changes else (None, None, r[2], r[3]))",
                      "    else:", *built, "        _s__lazy(new, None)"]
        else:
            if clone is not None:  # a message's content slot is empty until built: build it (as read)
                namespace["_s_content"] = slot(cls, "content").__set__
                lines.append("    _s_content(new, obj.content)")
            lines.append("    _s__lazy(new, None)")
    lines += ["    for k, v in changes.items():", "        _set(new, k, v)", "    return new"]
    exec_generated("\n".join(lines), f"<convo replace {cls.__name__}>", namespace)
    fn: Callable[[Any, dict[str, Any]], Any] = namespace["replace"]
    return fn


def replace(obj: Any, **changes: Any) -> Any:
    """A copy of the attrs value *obj* with *changes*, which must already be in final form.

    ``attrs.evolve`` goes through ``__init__`` and runs every field's converter again; the values
    here come from an existing object or were built frozen by the caller, so the converters are
    skipped (about 3x faster than ``attrs.evolve`` on a conversation).

    >>> from convo.model import Text
    >>> replace(Text("a"), text="b")
    Text(text='b')
    """
    cls = type(obj)
    fn = _REPLACERS.get(cls)
    if fn is None:
        fn = _REPLACERS[cls] = _make_replacer(cls, CLONE)
    return fn(obj, changes)


def with_lazy_turns(conv: Conversation, turns: list[Any], masks: list[int]) -> Conversation:
    """*conv*, whose turns are not built (:func:`convo.model.lazy_turns`), with *turns* (parsed,
    not built) as its messages: each a turn of :func:`~convo.model.lazy_turns` or a new
    ``{"role": ..., "content": [...]}`` (in that order) of the role of one and some of its parsed
    blocks, in their order; *masks* hold at least the :data:`~convo.model.LAZY_BITS` of each.

    >>> import convo
    >>> from convo.model import lazy_turns
    >>> conv = convo.loads(b'{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}')
    >>> turns, masks = lazy_turns(conv)
    >>> convo.dumps(with_lazy_turns(conv, turns[1:], masks[1:]))
    b'{"messages":[{"role":"user","content":"b"}]}'
    """
    new = replace(conv)
    _SET_ROOT(new, (None, None, turns, masks))
    return new  # type: ignore[no-any-return]


def with_messages(conv: Conversation, messages: Iterable[Message]) -> Conversation:
    """*conv* with *messages* (a new tuple)."""
    result: Conversation = replace(conv, messages=tuple(messages))
    return result


def with_content(msg: Message, content: str | tuple[Block, ...]) -> Message:
    """*msg* with new *content* (a string or a tuple of blocks)."""
    result: Message = replace(msg, content=content)
    return result


def msg_path(i: int | None) -> str:
    """``$.messages[i]`` (or a note that the message was added by the transform)."""
    return f"$.messages[{i}]" if i is not None else "$.messages[(added)]"


def content_path(i: int | None, j: int | None = None) -> str:
    """``$.messages[i].content`` or ``$.messages[i].content[j]``."""
    base = f"{msg_path(i)}.content"
    return base if j is None else f"{base}[{j}]"


def system_blocks(system: Any) -> tuple[Text, ...]:
    """The top-level system as text blocks (none when absent or empty)."""
    if isinstance(system, str):
        return (Text(system),) if system else ()
    if isinstance(system, tuple):
        return system
    return ()


def append_system(system: Any, addition: str | tuple[Block, ...]) -> str | tuple[Text, ...]:
    """The top-level *system* with *addition* after it: as given when there was none, else as
    text blocks (an existing string becomes the first block)."""
    if isinstance(addition, str):
        added: tuple[Block, ...] = (Text(addition),)
    else:
        added = addition
    existing = system_blocks(system)
    if not existing:
        if isinstance(addition, str):
            return addition
        return tuple(b for b in added if isinstance(b, Text))
    return (*existing, *(b for b in added if isinstance(b, Text)))


def prefill_start(msgs: Sequence[Message]) -> int:
    """Where the prefill begins: the trailing run of assistant turns, which the API merges into
    one final turn (facts §1.3), up to a paused turn (which is a continuation, not a prefill).
    ``len(msgs)`` when there is none."""
    i = len(msgs)
    while i > 0 and msgs[i - 1].role == "assistant" and not paused(msgs[i - 1]):
        i -= 1
    return i

