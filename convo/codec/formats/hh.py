"""The ``"\\n\\nHuman: …\\n\\nAssistant: …"`` text format, both ways (Anthropic's HH-RLHF data and the
legacy Text Completions prompt).

Layer: codec. A turn starts at ``\\n\\nHuman: `` or ``\\n\\nAssistant: ``; a label anywhere else
(``Human:`` inside a sentence, not after a blank line) is text. Text before the first label is the
system prompt, as in the legacy prompt format. The same label twice in a row gives two turns of
the same role (the Messages API merges them, facts §1.3); an empty final ``Assistant:`` turn gives
an empty assistant message. A record is ``{"chosen", "rejected"}``: one conversation per record,
the ``chosen`` side by default (``which="rejected"`` for the other; :func:`read_pair` gives both).

Writing gives the same text back for any conversation that came from this format. What the format
cannot hold (non-text blocks, mid-conversation system messages, request parameters) is reported,
and so is a turn whose text contains a label, since reading it back would split it.

>>> c = read({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!", "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away."})
>>> [(m.role, m.content) for m in c.conversation.messages]
[('user', 'Hi'), ('assistant', 'Hello!')]
>>> write(c.conversation)[0]
{'chosen': '\\n\\nHuman: Hi\\n\\nAssistant: Hello!'}
"""

from __future__ import annotations

import re
from typing import Any

from convo._json import UNSET
from convo.codec.formats._base import (
    Conversion,
    Format,
    Loss,
    fail,
    need_dict,
    note_block_extras,
    note_message_extras,
    params_losses,
    system_text,
)
from convo.errors import DecodeError
from convo.model import Conversation, Message, Text

__all__ = ["FORMAT", "parse", "read", "read_pair", "render", "write"]

_LABEL = re.compile(r"\n\n(Human|Assistant):( ?)")
_START = re.compile(r"(Human|Assistant):( ?)")
_ROLES = {"Human": "user", "Assistant": "assistant"}
_LABELS = {"user": "Human", "assistant": "Assistant"}


def parse(text: str, path: str, losses: list[Loss]) -> Conversation:
    """The conversation in one ``Human:``/``Assistant:`` text.

    >>> parse("Be kind.\\n\\nHuman: Hi\\n\\nAssistant: ", "$", []).system
    'Be kind.'
    """
    matches = list(_LABEL.finditer(text))
    start = _START.match(text)
    if start is not None:
        losses.append(Loss(path, "a first label without the blank line before it", "written back with "
                           "'\\n\\n' in front"))
        matches.insert(0, start)
    system: str | Any = UNSET
    head_end = matches[0].start() if matches else len(text)
    if head_end:
        system = text[:head_end]
        if not matches:
            losses.append(Loss(path, "text without Human:/Assistant: labels", "read as the system prompt"))
    msgs = []
    for n, m in enumerate(matches):
        end = matches[n + 1].start() if n + 1 < len(matches) else len(text)
        if not m.group(2):
            losses.append(Loss(path, f"'{m.group(1)}:' without a space after it", "written back with one"))
        msgs.append(Message(_ROLES[m.group(1)], text[m.end():end]))
    return Conversation(messages=tuple(msgs), system=system)


def read(obj: Any, *, source: str | None = None, which: str | None = None) -> Conversion:
    """A record's pair (the chosen conversation, the rejected one as ``rejected``), one side of it
    (``which="chosen"`` or ``"rejected"``), or the conversation of a bare text.

    >>> c = read({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello", "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: No"})
    >>> c.conversation.messages[1].content, c.rejected.messages[1].content
    ('Hello', 'No')
    >>> read("\\n\\nHuman: Hi\\n\\nAssistant: Hello").conversation.messages[1].content
    'Hello'
    """
    losses: list[Loss] = []
    if isinstance(obj, str):
        return Conversion(parse(obj, "$", losses), losses, source)
    d = need_dict(obj, "$", "a record object or a string")
    sides = [which] if which is not None else [k for k in ("chosen", "rejected") if k in d] or ["chosen"]
    convs = []
    for side in sides:
        if side not in d:
            raise DecodeError("missing required key", path=f"$.{side}")
        text = d[side]
        if not isinstance(text, str):
            raise fail("a string", text, f"$.{side}")
        convs.append(parse(text, f"$.{side}", losses))
    for k in d:
        if k in sides:
            continue
        why = ("which= read one side" if k in ("chosen", "rejected")
               else "record metadata has no place in a Messages API conversation")
        losses.append(Loss(f"$.{k}", f"the {k} text" if k in ("chosen", "rejected") else f"{k} {d[k]!r:.40}", why))
    rejected = convs[1] if len(convs) == 2 else None
    meta = {"only": sides[0]} if len(sides) == 1 and which is None else {}
    return Conversion(convs[0], losses, source, rejected=rejected, meta=meta)


def read_pair(obj: Any, *, source: str | None = None) -> tuple[Conversion, Conversion]:
    """The chosen and the rejected conversation of one record.

    >>> chosen, rejected = read_pair({"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: Hello!",
    ...                               "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: Go away."})
    >>> rejected.conversation.messages[-1].content, rejected.losses
    ('Go away.', ())
    """
    d = need_dict(obj, "$", "a record object")
    out = []
    for side in ("chosen", "rejected"):
        c = read({k: v for k, v in d.items() if k not in ("chosen", "rejected") or k == side},
                 source=source, which=side)
        out.append(c)
    return out[0], out[1]


def render(conv: Conversation, losses: list[Loss]) -> str:
    """The ``Human:``/``Assistant:`` text of *conv*.

    >>> render(Conversation().user("Hi").assistant("Hello!"), [])
    '\\n\\nHuman: Hi\\n\\nAssistant: Hello!'
    """
    parts: list[str] = []
    st = system_text(conv, losses)
    if st is not None:
        if not isinstance(st, str):
            losses.append(Loss("$.system", f"{len(st)} system block{'s' if len(st) > 1 else ''}",
                               "joined with blank lines into one preamble, read back as a string"))
        parts.append(st if isinstance(st, str) else "\n\n".join(st))
    for i, m in enumerate(conv.messages):
        p = f"$.messages[{i}]"
        label = _LABELS.get(m.role)
        if label is None:
            losses.append(Loss(p, f"{m.role} message", "the text format has Human and Assistant turns only"))
            continue
        note_message_extras(m, p, losses)
        if isinstance(m.content, str):
            text = m.content
        else:
            losses.append(Loss(f"{p}.content", "content as blocks", "written as one text, read back as a string"))
            texts = []
            for j, blk in enumerate(m.content):
                if isinstance(blk, Text):
                    note_block_extras(blk, f"{p}.content[{j}]", losses)
                    texts.append(blk.text)
                else:
                    losses.append(Loss(f"{p}.content[{j}]", f"{getattr(blk, 'type', '?')} block",
                                       "the text format holds text only"))
            text = "".join(texts)
        if "\n\nHuman:" in text or "\n\nAssistant:" in text:
            losses.append(Loss(p, "a turn label inside the text", "reading the text back splits this turn"))
        parts.append(f"\n\n{label}: {text}")
    return "".join(parts)


def write(conv: Conversation, *, field: str | None = "chosen", rejected: Conversation | None = None,
          label: bool | None = None, meta: Any = None) -> tuple[Any, tuple[Loss, ...]]:
    """``{field: text}`` for *conv* (the bare text with ``field=None``), or ``{"chosen",
    "rejected"}`` for a pair.

    >>> write(Conversation().user("Hi"), field="rejected")
    ({'rejected': '\\n\\nHuman: Hi'}, ())
    """
    losses: list[Loss] = []
    text = render(conv, losses)
    params_losses(conv, (), losses)
    if label is not None:
        losses.append(Loss("$.label", f"the KTO label {label!r}", "HH records have no label"))
    if rejected is not None:
        other: list[Loss] = []
        return {"chosen": text, "rejected": render(rejected, other)}, tuple(losses)
    if field == "chosen" and isinstance(meta, dict) and meta.get("only") == "rejected":
        field = "rejected"
    return (text if field is None else {field: text}), tuple(losses)


FORMAT = Format(
    "hh",
    'The "\\n\\nHuman: ...\\n\\nAssistant: ..." text format (HH-RLHF chosen/rejected records)',
    reader=read,
    writer=write,
    pairs=True,
)
