"""Helpers for the CLI tests: the realworld corpus, corrupted copies, and an oracle.

The corpus is built from ``../shared/realworld`` (request bodies, batch request lines, recorded
exchanges, the Bedrock fine-tuning file as it is). :func:`corrupted` mixes it with broken lines of
known kinds, and returns, for every line of the file, what must happen to it. :func:`oracle`
computes the expected output and rejects of a pipeline line by line, with the library's own
functions and no chunking, workers or files, so the tests compare the command against it.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from attrs import frozen

from convo.codec.lines import RawLine, decode_line, encode_value, is_blank
from convo.errors import DecodeError
from convo.stream.ops import conversation_of, with_conversation
from convo.stream.pipelines import load_pipeline

SHARED = Path(__file__).parents[1].parent / "shared"
REALWORLD = SHARED / "realworld"
ROOT = Path(__file__).parents[1]
TRANSCRIPTS = ROOT / "fixtures" / "transcripts.jsonl"

QUICKSTART = (
    'migrate(model="claude-opus-4-8")',
    'drop_images(placeholder="[image removed]")',
    'inject_system("You are a concise assistant.", where="top")',
)


def realworld_lines() -> list[bytes]:
    """Real JSONL lines of every kind convo reads, from the shared realworld folder."""
    anth = REALWORLD / "anthropic"
    lines: list[bytes] = []
    for raw in (anth / "cookbook-requests.jsonl").read_bytes().splitlines():
        lines.append(orjson.dumps(orjson.loads(raw)["body"]))
    for raw in (anth / "sdk-python-generated-params.jsonl").read_bytes().splitlines():
        d = orjson.loads(raw)
        body = d["body"]
        if "requests" in body:  # a batch create: its requests are batch request lines
            lines.extend(orjson.dumps(r) for r in body["requests"])
        else:
            lines.append(orjson.dumps(body))
    for path in sorted((anth / "sdk-python-recordings").glob("*.json")):
        for i, ex in enumerate(orjson.loads(path.read_bytes())):
            req, resp = ex["request"].get("body"), ex["response"].get("body")
            if not isinstance(req, dict) or not isinstance(resp, dict):
                continue  # streamed responses are raw SSE text
            record: dict[str, Any] = {"id": f"{path.stem[-8:]}-{i}", "request": req}
            if ex["response"]["status_code"] == 200:
                record["response"] = resp
            else:
                record["error"] = resp.get("error", resp)
            lines.append(orjson.dumps(record))
    bedrock = REALWORLD / "anthropic-bedrock-finetune" / "json_mode_dataset.head.jsonl"
    lines.extend(raw for raw in bedrock.read_bytes().splitlines() if raw.strip())
    return lines


def realworld_requests() -> list[bytes]:
    """The request of every realworld line that holds one (a request, a batch line's params, an
    exchange's request) and every live-recorded request body, each as ``convo.dumps`` writes it."""
    from convo.codec import dumps

    bodies = [orjson.dumps(x["request"]["body"])
              for f in sorted((REALWORLD / "anthropic-live-pydantic-ai").glob("*.json"))
              for x in orjson.loads(f.read_bytes())]
    out = []
    for raw in [*realworld_lines(), *bodies]:
        try:
            conv = conversation_of(decode_line(RawLine("f", 1, raw)).value)
        except DecodeError:
            continue
        if conv is not None:
            out.append(dumps(conv))
    return out


@frozen
class Expect:
    """What must become of one line of a file: ``out``, ``reject`` (with a code) or ``blank``."""

    fate: str
    code: str | None = None


def corrupted(good: Sequence[bytes], seed: int = 0) -> tuple[bytes, list[Expect]]:
    """The good lines with broken ones mixed in: the file's bytes and each line's expected fate.

    The fates of good lines are ``out`` here; the oracle decides whether the pipeline rejects one.
    """
    rng = random.Random(seed)
    good = list(good)
    bad: list[tuple[bytes, str]] = [
        (b'{"model": "claude-opus-4-8", "max_tokens": 64, "messages": 42}', "shape"),
        (b'{"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": 7, "content": "x"}]}', "shape"),
        (b'{"model": "claude-opus-4-8", "max_tokens": "many", "messages": []}', "shape"),
        (b'{"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}', "shape"),
        (b"[1, 2, 3]", "shape"),
        (b'"just a string"', "shape"),
        (b"null", "shape"),
        (b'{"prompt": "Human: hi\\n\\nAssistant:"}', "shape"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}', "json"),
        (b"{'model': 'python repr, not JSON'}", "json"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "caf\xe9"}]}', "utf8"),
        (b"\xff\xfe" + b'{"model": "m"}', "utf8"),
    ]
    for _ in range(6):  # lines cut short (the writer died mid-line)
        src = rng.choice(good)
        cut = rng.randrange(1, len(src) - 1)
        piece = src[:cut]
        try:
            piece.decode("utf-8")
            code = "json"
        except UnicodeDecodeError:
            code = "utf8"  # the cut fell inside a multi-byte character
        bad.append((piece, code))
    for _ in range(4):  # random bytes
        noise = bytes(b for b in rng.randbytes(rng.randint(20, 300)) if b not in (10, 13))
        if not noise.strip():
            noise = b"\x00garbage"
        try:
            noise.decode("utf-8")
            code = "json"
        except UnicodeDecodeError:
            code = "utf8"
        bad.append((noise, code))
    # a huge integer is valid JSON and must come through exactly
    good.append(b'{"model": "claude-opus-4-8", "max_tokens": 1024, "metadata": {"n": 123456789012345678901234567890}, '
                b'"messages": [{"role": "user", "content": "big numbers"}]}')
    items: list[tuple[bytes, Expect]] = [(g, Expect("out")) for g in good]
    items += [(b, Expect("reject", code)) for b, code in bad]
    rng.shuffle(items)
    out: list[bytes] = []
    fates: list[Expect] = []
    for i, (line, fate) in enumerate(items):
        if i % 17 == 3:
            out.append(b"")  # a blank line: skipped, but counted in line numbers
            fates.append(Expect("blank"))
        if i % 13 == 5 and fate.fate == "out":
            line += b"\r"  # a CRLF line ending
        out.append(line)
        fates.append(fate)
    return b"\n".join(out), fates  # the last line has no newline


@frozen
class Oracle:
    """The expected output lines and reject records (as dicts) of a pipeline over a file."""

    out: list[bytes]
    rejects: list[dict[str, Any]]
    changed: int


def oracle(data: bytes, name: str, specs: Sequence[str], *, max_line_bytes: int | None = None) -> Oracle:
    """What ``convo transform`` must produce for *data* (one file named *name*), line by line."""
    pipe = load_pipeline(specs)
    out: list[bytes] = []
    rejects: list[dict[str, Any]] = []
    changed = 0
    for lineno, raw in enumerate(data.split(b"\n"), 1):
        if is_blank(raw):  # JSON whitespace only, as the command decides
            continue
        if max_line_bytes is not None and len(raw) > max_line_bytes:
            rejects.append({"file": name, "line": lineno, "code": "too_long", "raw": raw})
            continue
        try:
            value = decode_line(RawLine(name, lineno, raw)).value
        except DecodeError as e:
            rejects.append({"file": name, "line": lineno, "code": None, "path": e.path, "raw": raw})
            continue
        conv = conversation_of(value)
        if conv is not None:
            try:
                new = pipe(conv)
            except Exception:
                rejects.append({"file": name, "line": lineno, "code": "transform", "raw": raw})
                continue
            if new is not conv:
                changed += 1
                value = with_conversation(value, new)
        out.append(encode_value(value))
    return Oracle(out, rejects, changed)


def read_rejects(path: Path) -> list[dict[str, Any]]:
    """The records of a rejects file, each with its original bytes under ``"bytes"``."""
    records = []
    for line in path.read_bytes().splitlines():
        rec = orjson.loads(line)
        rec["bytes"] = rec["raw"].encode() if "raw" in rec else base64.b64decode(rec["raw_base64"])
        records.append(rec)
    return records
