"""Claude request bodies on Amazon Bedrock (``InvokeModel``) and Google Vertex AI
(``rawPredict``), both ways.

Layer: codec. They are the Messages API request with three differences (DOC: Anthropic's Bedrock
and Vertex AI pages): ``anthropic_version`` is in the body (``bedrock-2023-05-31``,
``vertex-2023-10-16``); the model is not (it is in the URL, ``/model/{id}/invoke`` or
``.../models/{model}:rawPredict``); and beta features are named in the body's ``anthropic_beta``
list instead of the ``anthropic-beta`` header. Everything else is read and written with convo's
lossless codec. Reading keeps ``anthropic_version`` and ``anthropic_beta`` in ``meta`` (a betas
list is reported: a Messages API request names its betas in a header); writing takes them back
from ``meta`` (or *betas*=) and reports a ``model``, which the body cannot hold.

>>> c = read({"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["context-1m-2025-08-07"],
...           "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]})
>>> c.conversation.max_tokens, c.meta, [loss.path for loss in c.losses]
(64, {'anthropic_version': 'bedrock-2023-05-31', 'anthropic_beta': ['context-1m-2025-08-07']}, ['$.anthropic_beta'])
>>> write(c.conversation, meta=c.meta)[0]["anthropic_beta"]
['context-1m-2025-08-07']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from convo.codec import structure, unstructure
from convo.codec.formats._base import Conversion, Format, Loss, fail, need_dict
from convo.model import Conversation

__all__ = ["BEDROCK", "VERTEX", "read", "write", "write_vertex"]

BEDROCK_VERSION = "bedrock-2023-05-31"
VERTEX_VERSION = "vertex-2023-10-16"


def read(obj: Any, *, source: str | None = None) -> Conversion:
    """A conversation from a Bedrock or Vertex AI Claude request body."""
    d = need_dict(obj, "$", "a Claude request body")
    losses: list[Loss] = []
    meta: dict[str, Any] = {}
    version = d.get("anthropic_version")
    if version is not None:
        if not isinstance(version, str):
            raise fail("a string", version, "$.anthropic_version")
        meta["anthropic_version"] = version
    betas = d.get("anthropic_beta")
    if betas is not None:
        if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
            raise fail("an array of strings", betas, "$.anthropic_beta")
        meta["anthropic_beta"] = list(betas)
        losses.append(Loss("$.anthropic_beta", f"betas {', '.join(betas)}", "a Messages API request names its "
                           "betas in the anthropic-beta header; kept in meta"))
    body = {k: v for k, v in d.items() if k not in ("anthropic_version", "anthropic_beta")}
    return Conversion(structure(body, Conversation), losses, source, meta=meta)


def _write(conv: Conversation, version: str, betas: Sequence[str] | None,
           meta: Mapping[str, Any] | None, where: str) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    meta = meta or {}
    kept = meta.get("anthropic_version")
    same = isinstance(kept, str) and kept.split("-", 1)[0] == version.split("-", 1)[0]
    body: dict[str, Any] = {"anthropic_version": kept if same else version}
    chosen = betas if betas is not None else meta.get("anthropic_beta")
    if chosen:
        body["anthropic_beta"] = list(chosen)
    request: dict[str, Any] = unstructure(conv)
    losses: list[Loss] = []
    if "model" in request:
        losses.append(Loss("$.model", f"model {request.pop('model')!r}", f"{where} takes the model in the URL, "
                           "not in the body"))
    body.update(request)
    return body, tuple(losses)


def write(conv: Conversation, *, betas: Sequence[str] | None = None,
          meta: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """An ``InvokeModel`` body for Claude on Bedrock.

    >>> write(Conversation(model="claude-opus-4-8", max_tokens=8).user("Hi"))
    ({'anthropic_version': 'bedrock-2023-05-31', 'max_tokens': 8, 'messages': [{'role': 'user', 'content': 'Hi'}]}, (Loss(path='$.model', what="model 'claude-opus-4-8'", why='Bedrock takes the model in the URL, not in the body', line=None),))
    """
    return _write(conv, BEDROCK_VERSION, betas, meta, "Bedrock")


def write_vertex(conv: Conversation, *, betas: Sequence[str] | None = None,
                 meta: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], tuple[Loss, ...]]:
    """A ``rawPredict`` body for Claude on Vertex AI.

    >>> write_vertex(Conversation(max_tokens=8).user("Hi"))[0]["anthropic_version"]
    'vertex-2023-10-16'
    """
    return _write(conv, VERTEX_VERSION, betas, meta, "Vertex AI")


BEDROCK = Format(
    "bedrock",
    "Claude InvokeModel request bodies on Amazon Bedrock (anthropic_version bedrock-2023-05-31)",
    reader=read,
    writer=write,
    takes_meta=True,
)
VERTEX = Format(
    "vertex",
    "Claude rawPredict request bodies on Google Vertex AI (anthropic_version vertex-2023-10-16)",
    reader=read,
    writer=write_vertex,
    takes_meta=True,
)
