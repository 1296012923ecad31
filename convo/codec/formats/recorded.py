"""Recorded traffic and wrapped bodies, in only: a request body read in whatever format it is in,
with the recorded response as the assistant's turn.

Layer: codec. Shapes: ``{"request": {"body"}, "response": {"status"|"status_code", "body"}}``
(VCR cassettes such as pydantic-ai's, SDK recordings), nock's ``{"scope", "path", "body",
"response"}``, and records that wrap a body next to bookkeeping: ``{"source", "body"}``,
``{"source", "kind", "value"}``, ``{"source", "response"}`` (a response alone). The body's format
is detected (:func:`~convo.codec.formats.detect.detect`); its losses keep their paths, under the
body's place (``$.request.body.messages[0].name``). A JSON response of the same provider (a
Messages API ``message``, a ``chat.completion``, a Responses ``response``) is appended as the
assistant turn; a streamed (SSE text) or refused response is not, and ``meta`` says so:
``{"format", "status", "response": "appended" | "streamed" | "refused" | "none"}``.

>>> c = read({"request": {"method": "POST", "uri": "https://api.openai.com/v1/chat/completions",
...           "body": {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}},
...           "response": {"status": 200, "body": {"object": "chat.completion", "model": "gpt-4o",
...           "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}]}}})
>>> [m.role for m in c.conversation.messages], c.meta["format"], c.meta["response"]
(['user', 'assistant'], 'openai', 'appended')
"""

from __future__ import annotations

from typing import Any

import attrs

from convo.codec.formats._base import Conversion, Format, Loss, need_dict
from convo.errors import DecodeError
from convo.model import Message

__all__ = ["FORMAT", "read"]


def _url(obj: dict[str, Any]) -> str:
    req = obj.get("request")
    where = req if isinstance(req, dict) else obj
    for k in ("uri", "url", "path", "endpoint"):
        if isinstance(where.get(k), str):
            return str(where[k])
    return ""


def _unwrap(obj: dict[str, Any]) -> tuple[Any, str, Any, int | None]:
    """(body, the body's path, the response body, the status) of a recorded value."""
    req = obj.get("request")
    if isinstance(req, dict):
        resp = obj.get("response")
        status = None
        body: Any = None
        if isinstance(resp, dict):
            st = resp.get("status", resp.get("status_code"))
            status = st if isinstance(st, int) else st.get("code") if isinstance(st, dict) else None
            body = resp.get("body")
        return req.get("body"), "$.request.body", body, status
    if "scope" in obj:
        st = obj.get("status")
        return obj.get("body"), "$.body", obj.get("response"), st if isinstance(st, int) else None
    for key in ("body", "value"):
        if key in obj:
            return obj[key], f"$.{key}", None, None
    return None, "$", obj.get("response"), None


def read(obj: Any, *, source: str | None = None, **options: Any) -> Conversion:
    """A conversation from one recorded exchange or wrapped body."""
    from convo.codec.formats._registry import get
    from convo.codec.formats.detect import detect, format_of_url

    d = need_dict(obj, "$", "a recorded exchange or a wrapped body")
    body, where, resp, status = _unwrap(d)
    meta: dict[str, Any] = {"status": status} if status is not None else {}
    if body is None:
        if resp is None:
            raise DecodeError("expected a request body ('request.body', 'body' or 'value') or a 'response'", path="$")
        name = detect(resp)
        if name is None:
            raise DecodeError("the response is not in a format convo reads", path="$.response")
        c = get(name).read(resp, **options)
        return Conversion(c.conversation, _moved(c.losses, "$.response"), source,
                          meta={**meta, "format": name, "response": "read"})
    if isinstance(body, str):
        raise DecodeError("expected a JSON request body, got text", path=where)
    by_url = format_of_url(_url(d))
    name = detect(body)
    if by_url is not None and name in ("anthropic", "openai", "openai-finetune", "bedrock", "vertex"):
        name = by_url  # the endpoint says what a plain body is
    if name is None or name in ("recorded", "inspect") or not get(name).per_line:
        raise DecodeError("the recorded body is not in a format convo reads", path=where)
    c = get(name).read(body, **options)
    losses = list(_moved(c.losses, where))
    conv = c.conversation
    meta["format"] = name
    if status is not None and status >= 400:
        meta["response"] = "refused"
    elif isinstance(resp, str):
        meta["response"] = "streamed"
    elif isinstance(resp, dict) and name in ("anthropic", "bedrock", "vertex", "openai", "openai-finetune", "responses"):
        got = _response_turn(resp, name, losses)
        meta["response"] = "appended" if got is not None else "none"
        if got is not None:
            conv = attrs.evolve(conv, messages=(*conv.messages, got))
    else:
        meta["response"] = "none"
    return Conversion(conv, losses, source, rejected=c.rejected, label=c.label, meta=meta)


def _response_turn(resp: dict[str, Any], name: str, losses: list[Loss]) -> Message | None:
    """The assistant turn of a JSON response, when it is the body's provider's response."""
    from convo.codec.formats._registry import get
    from convo.codec.formats.detect import detect

    kind = detect(resp)
    if kind is None or (kind == "anthropic") != (name in ("anthropic", "bedrock", "vertex")) \
            or (kind == "responses") != (name == "responses"):
        return None
    c = get(kind).read(resp)
    msgs = c.conversation.messages
    if not msgs or msgs[-1].role != "assistant":
        return None
    # the response's own bookkeeping (id, created, usage, fingerprints) is not part of the turn
    losses.extend(x for x in _moved(c.losses, "$.response.body")
                  if "[" in x.path and "response metadata" not in x.why and ".usage" not in x.path)
    return msgs[-1]


def _moved(losses: tuple[Loss, ...], where: str) -> tuple[Loss, ...]:
    return tuple(Loss(where + loss.path[1:], loss.what, loss.why, line=loss.line) for loss in losses)


FORMAT = Format(
    "recorded",
    "recorded HTTP exchanges (VCR cassettes, SDK recordings, nock) and wrapped bodies: the request in its "
    "own format, the response appended",
    reader=read,
)
