"""Canary secrets, one or more per detector, and a model walker of the test's own (independent
of the scrubber's) that finds every text-bearing place of a conversation and puts a canary in it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import attrs

from convo._json import FrozenDict
from convo.model import Base64Source, RedactedThinking, Thinking


class Canary(NamedTuple):
    """What goes into a text (*text*) and the part of it that must never come out (*secret*)."""

    detector: str
    text: str
    secret: str


def _c(detector: str, text: str, secret: str | None = None) -> Canary:
    return Canary(detector, text, secret if secret is not None else text)


_B64 = "Zx9Qa7Lm2Wc4Rt6Yu8Io0Pl3Kj5Hg7Fd9Sa1Xc3Vb5Nm7Qw9Er2Ty4Ui6Op8As0Df2Gh4Jk6Lz8Xc0Vb2Nm4Qw6Er8Ty0U"
_PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\nMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\nNMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ"
_PEM = f"-----BEGIN PRIVATE KEY-----\n{_PEM_BODY}\n-----END PRIVATE KEY-----"
_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
    "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

CANARIES: tuple[Canary, ...] = (
    _c("anthropic-api-key", "sk-ant-api03-" + (_B64 + _B64)[:93].replace("/", "_") + "AA"),
    _c("anthropic-api-key", "sk-ant-admin01-" + _B64[:60]),
    _c("openai-api-key", "sk-proj-" + _B64[:20] + "T3BlbkFJ" + _B64[20:48]),
    _c("openai-api-key", "sk-" + _B64[:20] + "T3BlbkFJ" + _B64[30:50]),
    _c("aws-access-key", "AKIAZ7Q4N2XJ5EXAMPL3"),
    _c("aws-access-key", "ASIAQ2W3E4R5T6Y7U8I9"),
    _c("aws-secret-key", "aws_secret_access_key = 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", "kX9/aB3+cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3wX"),
    _c("aws-secret-key", '"SecretAccessKey": "Zq8/Yw7+Xv6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7Cb"', "Zq8/Yw7+Xv6Ut5Sr4Qp3On2Ml1Kj0Ih9Gf8Ed7Cb"),
    _c("github-token", "ghp_" + _B64[:36].replace("/", "x").replace("+", "y")),
    _c("github-token", "github_pat_11ABCDEFG0" + _B64[:60].replace("/", "_").replace("+", "_")),
    _c("gitlab-token", "glpat-" + "Ab3dE6gH9jK2mN5pQ8sT"),
    _c("slack-token", "xoxb-2345678901-3456789012345-AbCdEfGhIjKlMnOpQrStUvWx"),
    _c("slack-webhook", "https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/AbCdEfGhIjKlMnOpQrStUvWx", "hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/AbCdEfGhIjKlMnOpQrStUvWx"),
    _c("stripe-key", "sk_live_" + "51HxYzAbCdEfGhIjKlMnOpQr"),
    _c("stripe-key", "rk_test_" + "51HxYzAbCdEfGhIjKlMnOpQr"),
    _c("google-api-key", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"),
    _c("google-oauth-token", "ya29.a0AfH6SMBx" + _B64[:40].replace("/", "_").replace("+", "-")),
    _c("huggingface-token", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"),
    _c("npm-token", "npm_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2"),
    _c("jwt", _JWT),
    _c("private-key", _PEM, _PEM_BODY),
    _c("private-key", "-----BEGIN OPENSSH PRIVATE KEY-----\n" + _PEM_BODY, _PEM_BODY),
    _c("url-credentials", "postgres://admin:s3cr3tP4ssw0rd@db.internal:5432/app", "s3cr3tP4ssw0rd"),
    _c("bearer-token", "Authorization: Bearer " + _B64[:40].replace("/", "_"), _B64[:40].replace("/", "_")),
    _c("assigned-secret", "password=Tr0ub4dor&3xyz", "Tr0ub4dor&3xyz"),
    _c("assigned-secret", 'DATABASE_PASSWORD: "correct-horse-battery-9"', "correct-horse-battery-9"),
    _c("assigned-secret", "export STRIPE_WEBHOOK_SECRET=whsec_f8d7a6b5c4e3d2", "whsec_f8d7a6b5c4e3d2"),
)
"""At least one canary per built-in detector (a test checks that every detector has one)."""

PII_CANARIES: tuple[Canary, ...] = (
    _c("email", "ada.lovelace+notes@analytical-engine.co.uk"),
    _c("phone", "+44 20 7946 0958"),
    _c("phone", "(415) 555-0134"),
)

USER_PATTERNS = {"employee-id": r"EMP-\d{6}"}
USER_CANARIES: tuple[Canary, ...] = (_c("employee-id", "EMP-204817"),)

# -------------------------------------------------------------------- the test's own walker

# Fields that are identifiers or opaque data: the scrubber refuses a line with a secret in the
# first and leaves the second as it is; the canaries go everywhere else.
IDENT_FIELDS = {"id", "tool_use_id", "name", "type", "role", "model", "media_type", "file_id",
                "custom_id", "tool_name", "result_type"}
IDENT_KEYS = {"id", "tool_use_id", "name", "type", "tool_name", "file_id", "media_type"}
OPAQUE = {(Thinking, "signature"), (RedactedThinking, "data"), (Base64Source, "data")}

Step = tuple[str, Any]  # ("attr", name) | ("item", index) | ("key", key) | ("keyname", key)


def places(value: Any, path: tuple[Step, ...] = (), in_input: bool = False) -> Iterator[tuple[Step, ...]]:
    """The path of every string where a secret can be and must be scrubbed: every string of
    every attrs field and JSON value, and the keys of tool inputs."""
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            if in_input:
                yield (*path, ("keyname", k))
            if not in_input and k in IDENT_KEYS:
                continue
            yield from places(v, (*path, ("key", k)), in_input or k == "input")
    elif isinstance(value, tuple | list):
        for i, v in enumerate(value):
            yield from places(v, (*path, ("item", i)), in_input)
    elif attrs.has(type(value)):
        for a in attrs.fields(type(value)):
            if a.name in IDENT_FIELDS or (type(value), a.name) in OPAQUE:
                continue
            yield from places(getattr(value, a.name), (*path, ("attr", a.name)), a.name == "input")


def put(value: Any, path: tuple[Step, ...], fn: Callable[[str], str]) -> Any:
    """*value* with the string at *path* (a key, for a "keyname" step) replaced by ``fn(it)``."""
    if not path:
        return fn(value)
    (kind, where), rest = path[0], path[1:]
    if kind == "attr":
        return attrs.evolve(value, **{where: put(getattr(value, where), rest, fn)})
    if kind == "item":
        items = list(value)
        items[where] = put(items[where], rest, fn)
        return tuple(items) if isinstance(value, tuple) else items
    if kind == "key":
        d = dict(value)
        d[where] = put(d[where], rest, fn)
        return FrozenDict(d) if isinstance(value, FrozenDict) else d
    if kind == "keyname":
        new_key = fn(where)
        d = {(new_key if k == where else k): v for k, v in value.items()}
        return FrozenDict(d) if isinstance(value, FrozenDict) else d
    raise AssertionError(kind)


def all_strings(value: Any) -> Iterator[str]:
    """Every string of a plain JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from all_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from all_strings(v)


def embed(text: str, canary: str, at: int) -> str:
    """*canary* inside *text*, at a word boundary near *at* and never inside another canary,
    with spaces on the sides that have words (a text never gains leading or trailing
    whitespace)."""
    cut = min(max(at, 0), len(text))
    while 0 < cut < len(text) and not text[cut - 1].isspace():
        cut -= 1
    for other in (*CANARIES, *PII_CANARIES, *USER_CANARIES):  # never split a canary already in
        i = text.find(other.text)
        while i >= 0:
            if i < cut < i + len(other.text):
                cut = i + len(other.text)
            i = text.find(other.text, i + 1)
    before, after = text[:cut].rstrip(), text[cut:].lstrip()
    return " ".join(p for p in (before, canary, after) if p)
