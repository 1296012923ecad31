"""Builders: transforms that add to a conversation (turns, system text, images, parameters).

Layer: transforms. The fluent methods of :class:`~convo.model.Conversation` (``user``,
``assistant``, ``with_system``, ``system_message``, ``with_image``, ``prefill``,
``with_params``) are these builders: they are registered with :func:`convo.model.builder` at the
end of this module.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal

from convo._frozen import converters, evolve
from convo._json import EMPTY, UNSET, FrozenDict, freeze, thaw
from convo._predicates import system_may_follow
from convo.errors import TransformError
from convo.model import Block, Conversation, Image, Message, Text, builder
from convo.profiles import get_profile, require_known
from convo.transforms._base import (
    NULL_LOG,
    ChangeLog,
    Transform,
    _Literal,
    append_system,
    msg_path,
    register,
    replace,
    system_blocks,
    with_messages,
)

__all__ = [
    "append_assistant",
    "append_user",
    "attach_image",
    "inject_system",
    "prefill",
    "set_model",
    "with_params",
]

Where = Literal["auto", "top", "message"]


def _check_parts(name: str, parts: tuple[Any, ...]) -> Message:
    if not parts:
        raise ValueError(f"{name}() needs at least one part (a string or a content block)")
    try:
        return Message.of("user", *parts)
    except TypeError as e:
        raise TypeError(f"{name}(): {e}") from None


def _turn(name: str, role: str, parts: tuple[Any, ...]) -> Message:
    if len(parts) == 1 and type(parts[0]) is str:  # the common case, as Message.of makes it
        return Message(role, parts[0])
    return evolve(_check_parts(name, parts), role=role)


class _Append(Transform):
    __slots__ = ("message",)

    def __init__(self, name: str, role: str, parts: tuple[Any, ...]) -> None:
        super().__init__(name, *parts)
        self.message = _turn(name, role, parts)

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        if log.enabled:
            log.add(f"appended a {self.message.role} turn", msg_path(len(conv.messages)), repr(self))
        return with_messages(conv, (*conv.messages, self.message))


@register
def append_user(*parts: str | Block) -> Transform:
    """Append a user turn made of *parts* (strings and blocks; one string stays string content).

    The repr parses back (:func:`~convo.transforms.parse`) when every part is a string.

    >>> from convo import Conversation
    >>> append_user("Hello, Claude")(Conversation()).messages
    (Message(role='user', content='Hello, Claude'),)
    """
    return _Append("append_user", "user", parts)


@register
def append_assistant(*parts: str | Block) -> Transform:
    """Append an assistant turn (a synthetic one, written by you) made of *parts*.

    >>> from convo import Conversation
    >>> conv = Conversation().user("Hello, Claude")
    >>> append_assistant("Hello!")(conv).messages[-1]
    Message(role='assistant', content='Hello!')
    """
    return _Append("append_assistant", "assistant", parts)


# --------------------------------------------------------------------------- system


def _turn_before_section(messages: tuple[Message, ...]) -> Message | None:
    """The message a system message appended now would follow, looking past a trailing system
    section (consecutive system messages are one section, placed as a whole, facts §1.5)."""
    i = len(messages) - 1
    while i >= 0 and messages[i].role == "system":
        i -= 1
    return messages[i] if i >= 0 else None


def _message_refusal(conv: Conversation) -> tuple[str, str, str] | None:
    """Why a ``role: "system"`` message cannot be appended to *conv* now, what to do instead, and
    the rule it would break; None if it can (facts §1.5: a model that has them; not first; right after a user turn, one
    with tool results included, or a paused assistant turn ending in a server tool result)."""
    profile = get_profile(conv.model)
    if not profile.mid_conversation_system:
        return (
            f"model {profile.model or conv.model!r} does not accept mid-conversation system messages",
            "use where='top' to edit the top-level system instead",
            "system-message.unsupported-model",
        )
    before = _turn_before_section(conv.messages)
    if before is None:
        return (
            "a system message cannot be the first message",
            "use where='top', or add the first user turn before it",
            "system-message.first",
        )
    if system_may_follow(before):  # the rule validate() checks (system-message.not-after-user)
        return None
    article = "an" if before.role[:1] in "aeiou" else "a"
    return (
        f"a system message must immediately follow a user turn, and the last turn here is {article} {before.role} turn",
        "append it after the next user turn, or use where='top'",
        "system-message.not-after-user",
    )


class _InjectSystem(Transform):
    __slots__ = ("_added", "message", "replace_", "text", "where")

    def __init__(self, text: str | tuple[Text, ...], where: Where, replace_top: bool) -> None:
        kwargs: dict[str, Any] = {}
        if where != "auto":
            kwargs["where"] = where
        if replace_top:
            kwargs["replace"] = True
        super().__init__("inject_system", text, **kwargs)
        self.text = text
        self.where = where
        self.replace_ = replace_top
        self.message = Message("system", text)
        # what goes after an existing top-level system, built once (blocks are immutable values)
        self._added = (Text(text),) if isinstance(text, str) else tuple(b for b in text if isinstance(b, Text))

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        where = self.where
        if where == "message":
            if not log.enabled:
                return _system_message_to(conv, self.message)
            refusal = _message_refusal(conv)
            if refusal is not None:
                reason, advice, rule = refusal
                raise TransformError(f"inject_system(where='message'): {reason} (rule {rule}); {advice}")
            return self._as_message(conv, log, "where='message'")
        if where == "auto" and not self.replace_:
            refusal = _message_refusal(conv)
            if refusal is None:
                return self._as_message(
                    conv,
                    log,
                    "auto: a system message after the last user turn keeps the cached prefix "
                    "(editing the top-level system would invalidate every cached turn)",
                )
            return self._at_top(conv, log, f"auto: top-level system, because {refusal[0]}")
        return self._at_top(conv, log, "where='top'" if where == "top" else "replace=True")

    def _as_message(self, conv: Conversation, log: ChangeLog, why: str) -> Conversation:
        if log.enabled:
            log.add("appended a system message", msg_path(len(conv.messages)), why)
        return with_messages(conv, (*conv.messages, self.message))

    def _at_top(self, conv: Conversation, log: ChangeLog, why: str) -> Conversation:
        if self.replace_ or conv.system is UNSET:
            new: Any = self.text
            what = "set the top-level system"
            if new == conv.system:
                return conv
        else:
            what = "appended to the top-level system"
            existing = system_blocks(conv.system)
            if existing:  # as append_system() does, with the blocks to add built once
                new = (*existing, *self._added)
            else:
                new = append_system(conv.system, self.text)
                if new == conv.system:
                    return conv
        if log.enabled:
            log.add(what, "$.system", why)
        result: Conversation = replace(conv, system=new)
        return result


def _system_message_to(conv: Conversation, message: Message) -> Conversation:
    """``inject_system(text, where="message")`` on *conv*, *message* its system message."""
    refusal = _message_refusal(conv)
    if refusal is not None:
        reason, advice, rule = refusal
        raise TransformError(f"inject_system(where='message'): {reason} (rule {rule}); {advice}")
    return with_messages(conv, (*conv.messages, message))


@register
def inject_system(
    text: str | tuple[Text, ...], *, where: Where = "auto", replace: bool = False
) -> Transform:
    """Add system instructions: to the top-level ``system`` or as a ``role: "system"`` message.

    ``where="top"`` appends to the top-level system as another text block (``replace=True``
    replaces it). ``where="message"`` appends a mid-conversation system message, which the model
    must accept and which must immediately follow a user turn (facts §1.5), else it raises
    :class:`~convo.errors.TransformError` saying why and what to do instead. ``where="auto"``
    picks the message where it is allowed, because editing the top-level system invalidates
    every cached prefix after it while a system message after the last user turn keeps it, and
    the top-level system otherwise; :meth:`~Transform.explain` says which it chose and why.

    >>> from convo import Conversation
    >>> conv = Conversation(model="claude-opus-4-8", max_tokens=64).user("Hi")
    >>> inject_system("Be terse.")(conv).messages[-1]
    Message(role='system', content='Be terse.')
    >>> inject_system("Be terse.", where="top")(conv).system
    'Be terse.'
    >>> inject_system("Be terse.", where="message")(conv.assistant("Hello!"))
    Traceback (most recent call last):
    ...
    convo.errors.TransformError: inject_system(where='message'): a system message must immediately follow a user turn, and the last turn here is an assistant turn (rule system-message.not-after-user); append it after the next user turn, or use where='top'
    """
    if where not in ("auto", "top", "message"):
        raise ValueError(f"inject_system(where=...) must be 'auto', 'top' or 'message', got {where!r}")
    if replace and where == "message":
        raise ValueError("inject_system(replace=True) edits the top-level system; it cannot go with where='message'")
    return _InjectSystem(_system_text(text), where, replace)


def _system_text(text: str | Iterable[Text]) -> str | tuple[Text, ...]:
    """The system text :func:`inject_system` takes, checked: a non-empty string or text blocks."""
    if isinstance(text, str):
        if not text:
            raise ValueError("inject_system() needs non-empty text (system text blocks have minLength 1)")
        return str(text)
    value = tuple(text)
    if not value or not all(isinstance(b, Text) and b.text for b in value):
        raise ValueError("inject_system() takes a string or non-empty text blocks")
    return value


# --------------------------------------------------------------------------- images


def _is_url(s: str) -> bool:
    return s.startswith(("http://", "https://"))


class _AttachImage(Transform):
    __slots__ = ("image", "new_turn")

    def __init__(self, image: Image, shown: Any, new_turn: bool) -> None:
        super().__init__("attach_image", shown, **({"new_turn": True} if new_turn else {}))
        self.image = image
        self.new_turn = new_turn

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        return _attach(conv, self.image, self.new_turn, log, self)


def _attach(conv: Conversation, image: Image, new_turn: bool, log: ChangeLog, who: Transform | None) -> Conversation:
    """What ``attach_image`` does (*who*, the transform, is named in *log*'s reasons)."""
    msgs = conv.messages
    # a trailing system section is not a turn: the last turn is the one before it, and a new
    # turn goes before it too (a system message followed by a user turn is a 400, facts §1.5)
    k = len(msgs) - 1
    while k >= 0 and msgs[k].role == "system":
        k -= 1
    if not new_turn and k >= 0 and msgs[k].role == "user":
        last = msgs[k]
        blocks = (*last.blocks, image)
        if log.enabled:
            log.add(
                "attached an image to the last user turn",
                f"{msg_path(k)}.content[{len(blocks) - 1}]",
                repr(who),
            )
        return with_messages(conv, (*msgs[:k], replace(last, content=blocks), *msgs[k + 1 :]))
    if log.enabled:
        why = "new_turn=True" if new_turn else "the last turn is not a user turn"
        log.add("added a user turn with an image", msg_path(k + 1), why)
    return with_messages(conv, (*msgs[: k + 1], Message("user", (image,)), *msgs[k + 1 :]))


@register
def attach_image(image: Image | str | os.PathLike[str], *, new_turn: bool = False) -> Transform:
    """Attach an image to the final user turn, or in a new user turn.

    *image* is an :class:`~convo.model.Image`, an ``http(s)`` URL, or a path (read once, here,
    with the media type taken from the bytes). It goes at the end of the last turn when that is a
    user turn (after any tool results, which stay first), else, or with ``new_turn=True``, in a new
    user turn. System messages at the end are not turns: the image goes to the user turn before
    them, and a new turn goes before them (a system message cannot be followed by a user turn).

    >>> from convo import Conversation
    >>> conv = Conversation().user("What is in this image?")
    >>> out = attach_image("https://example.com/ant.jpg")(conv)
    >>> [b.type for b in out.messages[-1].content]
    ['text', 'image']
    """
    resolved, shown = _image_of(image)
    return _AttachImage(resolved, shown, new_turn)


def _image_of(image: Image | str | os.PathLike[str]) -> tuple[Image, Any]:
    """The :class:`~convo.model.Image` that :func:`attach_image` attaches, and how its repr shows it."""
    if isinstance(image, Image):
        return image, image
    if isinstance(image, str) and _is_url(image):
        return Image.from_url(image), image
    if isinstance(image, str | os.PathLike):
        return Image.from_path(image), os.fspath(image)
    raise TypeError(f"attach_image() takes an Image, a URL or a path, got {type(image).__name__}")


# --------------------------------------------------------------------------- prefill


class _Prefill(Transform):
    __slots__ = ("message",)

    def __init__(self, text: str) -> None:
        super().__init__("prefill", text)
        self.message = Message("assistant", text)

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        return _prefill_to(conv, self.message, log, self)


def _prefill_to(conv: Conversation, message: Message, log: ChangeLog, who: Transform | None) -> Conversation:
    """What ``prefill`` does, *message* its assistant turn (*who*, the transform, named in *log*)."""
    profile = get_profile(conv.model)
    if not profile.prefill:
        raise TransformError(
            f"prefill(): model {profile.model!r} rejects a final assistant turn (rule prefill.unsupported: "
            "'This model does not support assistant message prefill'); put the instruction "
            "in the user turn or the system prompt instead"
        )
    thinking = conv.thinking
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        raise TransformError(
            "prefill(): a prefill cannot be combined with thinking (rule prefill.with-thinking); "
            "remove `thinking` or drop the prefill"
        )
    msgs = conv.messages
    if not msgs or msgs[-1].role == "assistant":
        state = "is empty" if not msgs else "already ends with an assistant turn"
        raise TransformError(
            f"prefill(): the conversation {state}; a prefill continues the assistant's reply "
            "to a user turn, so append a user turn first"
        )
    if log.enabled:
        log.add("appended an assistant prefill", msg_path(len(msgs)), repr(who))
    return with_messages(conv, (*msgs, message))


@register
def prefill(text: str) -> Transform:
    """End with an assistant turn that the model continues (only on models that accept it).

    The text must not end with whitespace (the API rejects that, facts §1.4 [OBS]). Raises
    :class:`~convo.errors.TransformError` on models that reject prefill (Claude 4.6 and later),
    with thinking on, or when the conversation does not end with a user (or system) turn.

    >>> from convo import Conversation
    >>> conv = Conversation(model="claude-sonnet-4-5", max_tokens=1).user("Latin for ant? (A) ... (C) Formicidae")
    >>> prefill("The answer is (")(conv).messages[-1].content
    'The answer is ('
    """
    _check_prefill(text)
    return _Prefill(text)


def _check_prefill(text: str) -> None:
    if not isinstance(text, str) or not text:
        raise ValueError("prefill() needs non-empty text")
    if text != text.rstrip():
        raise ValueError(
            f"prefill({text!r}): the API rejects a final assistant turn that ends with "
            "whitespace (rule prefill.trailing-whitespace); drop the trailing whitespace"
        )


# --------------------------------------------------------------------------- parameters

_CONVERTERS = converters(Conversation)  # each field's converter (or None), by field name
_NOT_PARAMS = ("messages", "extra")


class _WithParams(Transform):
    __slots__ = ("extras", "fields")

    def __init__(self, shown: dict[str, Any], fields: dict[str, Any], extras: dict[str, Any]) -> None:
        super().__init__("with_params", **shown)
        self.fields = fields
        self.extras = extras

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        return _set_params(conv, self.fields, self.extras, log, self)


def _set_params(
    conv: Conversation, fields: dict[str, Any], extras: dict[str, Any], log: ChangeLog, who: Transform | None
) -> Conversation:
    """What ``with_params`` does: *fields* and *extras* as :func:`_params` gives them."""
    changes: dict[str, Any] = {}
    for k, v in fields.items():
        if not _same(getattr(conv, k), v):
            changes[k] = v
    extra = conv.extra
    new_extra: dict[str, Any] | None = None
    for k, v in extras.items():
        if (k not in extra) if v is UNSET else (k in extra and _same(extra[k], v)):
            continue
        if new_extra is None:
            new_extra = dict(extra)
        if v is UNSET:
            del new_extra[k]
        else:
            new_extra[k] = v
        changes[k] = v  # only for the log; replaced by "extra" below
    if not changes:
        return conv
    if log.enabled:
        for k, v in changes.items():
            log.add(f"removed {k}" if v is UNSET else f"set {k}", f"$.{k}", repr(who))
    if new_extra is not None:
        for k in extras:
            changes.pop(k, None)
        changes["extra"] = FrozenDict(new_extra) if new_extra else EMPTY
    result: Conversation = replace(conv, **changes)
    return result


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python, but they are different JSON
    return type(a) is type(b) and a == b


@register
def with_params(**params: Any) -> Transform:
    """Set request parameters: known ones go to their field, any other key to ``extra``.

    Values are frozen (lists become tuples, dicts :class:`~convo.FrozenDict`); pass
    :data:`~convo.UNSET` to remove a parameter (such a repr shows ``UNSET``, a name, so it does
    not parse back: remove sampling parameters with ``drop_sampling_params()``).

    >>> from convo import Conversation
    >>> conv = with_params(temperature=0.2, stop_sequences=["\\n\\nHuman:"], speed="fast")(Conversation())
    >>> conv.temperature, conv.stop_sequences, dict(conv.extra)
    (0.2, ('\\n\\nHuman:',), {'speed': 'fast'})
    """
    fields, extras = _params(params)
    shown = {k: _Literal("UNSET") if v is UNSET else thaw(v) for k, v in params.items()}
    return _WithParams(shown, fields, extras)


def _params(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """*params* checked and frozen: (those that are Conversation fields, the others for ``extra``)."""
    fields: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for k, v in params.items():
        if k in _NOT_PARAMS:
            raise ValueError(
                f"with_params({k}=...): {k!r} is not a request parameter here; "
                + ("use append_user/append_assistant for turns" if k == "messages" else "pass the keys themselves")
            )
        if k == "system" and not (v is UNSET or isinstance(v, str) or (
            isinstance(v, list | tuple) and all(isinstance(b, Text) for b in v)
        )):
            raise ValueError("with_params(system=...) takes a string or Text blocks; or use inject_system()")
        if k not in _CONVERTERS:
            extras[k] = v if v is UNSET else freeze(v)
        elif callable(convert := _CONVERTERS[k]) and v is not UNSET:
            fields[k] = convert(v)
        else:
            fields[k] = freeze(v) if v is not UNSET else v
    return fields, extras


class _SetModel(Transform):
    __slots__ = ("model",)

    def __init__(self, model: str, allow_unknown: bool) -> None:
        super().__init__("set_model", model, **({"allow_unknown": True} if allow_unknown else {}))
        self.model = model

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        if conv.model == self.model:
            return conv
        if log.enabled:
            log.add(f"set model {conv.model!r} -> {self.model!r}", "$.model", repr(self))
        result: Conversation = replace(conv, model=self.model)
        return result


@register
def set_model(model: str, *, allow_unknown: bool = False) -> Transform:
    """Set the ``model`` field (nothing else: :func:`~convo.transforms.migrate` also rewrites
    what the new model would reject). A model no profile knows raises
    :class:`~convo.errors.UnknownModelError` with the closest ids, unless ``allow_unknown=True``.

    >>> from convo import Conversation
    >>> set_model("claude-sonnet-4-5")(Conversation(model="claude-opus-4-8")).model
    'claude-sonnet-4-5'
    """
    if not isinstance(model, str) or not model:
        raise ValueError("set_model() needs a model id")
    require_known(model, what="set_model()", allow_unknown=allow_unknown)
    return _SetModel(model, allow_unknown)


# --------------------------------------------------------------------------- the fluent methods


# Each builds no transform object: it does what the transform's apply does, with the same checks
# and errors (a transform costs its repr's arguments and a call through apply; tests/
# test_builders.py checks that a chain of these equals the transforms applied one by one).


@builder("user")
def _user(conv: Conversation, *parts: str | Block) -> Conversation:
    return with_messages(conv, (*conv.messages, _turn("append_user", "user", parts)))


@builder("assistant")
def _assistant(conv: Conversation, *parts: str | Block) -> Conversation:
    return with_messages(conv, (*conv.messages, _turn("append_assistant", "assistant", parts)))


@builder("with_system")
def _with_system(conv: Conversation, system: str | Iterable[Text]) -> Conversation:
    value = _system_text(system)  # where="top", replace=True: the value replaces the system
    if value == conv.system:
        return conv
    result: Conversation = replace(conv, system=value)
    return result


@builder("system_message")
def _system_message(conv: Conversation, text: str) -> Conversation:
    return _system_message_to(conv, Message("system", _system_text(text)))


@builder("with_image")
def _with_image(conv: Conversation, image: Image | str | os.PathLike[str]) -> Conversation:
    return _attach(conv, _image_of(image)[0], False, NULL_LOG, None)


@builder("prefill")
def _prefill(conv: Conversation, text: str) -> Conversation:
    _check_prefill(text)
    return _prefill_to(conv, Message("assistant", text), NULL_LOG, None)


@builder("with_params")
def _with_params(conv: Conversation, **params: Any) -> Conversation:
    fields, extras = _params(params)
    return _set_params(conv, fields, extras, NULL_LOG, None)
