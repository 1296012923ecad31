"""Hostile input, everywhere it enters: mutations of every realworld line through the library's
readers, its transforms, ``repr`` and ``validate``, and through every command that reads lines.

The library may refuse a line only with :class:`~convo.errors.DecodeError` (a transform, with its
documented :class:`~convo.errors.TransformError`); a command must account for every line that
is not blank (in = out + rejected) and keep each rejected line's bytes exactly. The mutations,
the corpus and the checks are in ``tests/_helpers_fuzz.py``; ``python -m tests._helpers_fuzz``
prints the same sweep's figures.

Bounds: the ``ci`` profile runs one seeded mutation of every realworld line (the kinds taken in
turn) and a file of a few hundred mutated lines per command; ``HYPOTHESIS_PROFILE=thorough``
runs every kind on every line and larger files.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

import convo
from convo import transforms as t
from convo.codec.lines import RawLine, decode_line
from convo.errors import DecodeError
from convo.testing import Emulator
from tests._helpers_fuzz import (
    MUTATIONS,
    REALWORLD,
    TRANSFORMS,
    check_library,
    check_readers,
    expected_lines,
    hostile_file,
    mutate,
    realworld_lines,
    variants,
)

CONVO = [sys.executable, "-m", "convo.cli"]
_THOROUGH = settings().max_examples >= 1000
PER_LINE = len(MUTATIONS) if _THOROUGH else 1
FILE_LINES = 2000 if _THOROUGH else 250


# --------------------------------------------------------------------------- the library


class TestLibrary:
    def test_transform_samples_cover_the_registry(self) -> None:
        """Every transform of the registry is run by the fuzz (so a new one cannot escape it)."""
        assert set(t.REGISTRY) <= set(TRANSFORMS)

    @pytest.mark.parametrize("seed", [12, 13, 14])
    def test_every_format_reader_on_more_seeds(self, seed: int) -> None:
        """More seeded mutations of every realworld line through every foreign reader and
        ``detect`` alone (cheap: no writers, no transforms): only DecodeError escapes. Seeds 12 to
        40 found six readers taking a list, a number or an object for a string or a list."""
        escaped: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        for _, _, data in variants(1, seed=seed):
            raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
            try:
                obj = convo.codec.parse_json(raw)
            except DecodeError:
                continue
            check_readers(obj, escaped, outcomes, writers=False)
        assert outcomes["ok"] > 0 and outcomes["DecodeError"] > 0
        assert dict(escaped) == {}

    def test_every_realworld_line_mutated(self) -> None:
        """Each realworld line, broken (one kind each, in turn; every kind under ``thorough``),
        through loads, loads_response, decode_line of every kind, and then repr, encode and decode
        again, validate, estimate_tokens and every transform: only DecodeError escapes."""
        escaped: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        n = 0
        for _, _, data in variants(PER_LINE, seed=11):
            check_library(data, escaped, outcomes)
            n += 1
        assert n >= len(realworld_lines()) > 5000
        assert outcomes["ok"] > 0 and outcomes["DecodeError"] > 0
        assert dict(escaped) == {}

    @seed(20261)
    @settings(max_examples=max(20, settings().max_examples))
    @given(st.integers(0, 10**9), st.sampled_from(sorted(MUTATIONS)), st.integers(0, 2**32))
    def test_any_mutation_of_any_line(self, pick: int, kind: str, salt: int) -> None:
        """Hypothesis picks the line, the kind and the seed: only DecodeError escapes."""
        lines = realworld_lines()
        data = mutate(lines[pick % len(lines)][1], kind, salt)
        escaped: Counter[str] = Counter()
        check_library(data, escaped, Counter())
        assert dict(escaped) == {}


# --------------------------------------------------------------------------- the commands


def _convo(tmp: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    p = subprocess.run([*CONVO, *args], capture_output=True, cwd=tmp, env=env, timeout=600)
    err = p.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err[-4000:]
    return p.returncode, err


def _counts(err: str) -> tuple[int, int, int]:
    """(in, out, rejected) from a summary ``N lines in = A out + B rejected``."""
    m = re.search(r"([\d,]+) lines in = ([\d,]+) \w+ \+ ([\d,]+) \w+", err)
    assert m, err[-2000:]
    a, b, c = (int(x.replace(",", "")) for x in m.groups())
    return a, b, c


def _rejects(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_bytes().splitlines():
        rec = orjson.loads(line)
        rec["bytes"] = rec["raw"].encode("utf-8", "surrogatepass") if "raw" in rec else base64.b64decode(rec["raw_base64"])
        out.append(rec)
    return out


def _check_rejects(data: bytes, records: list[dict[str, Any]], *, crlf_stripped: bool = False) -> set[int]:
    """Every reject names a line of the file that is not blank, once, with its exact bytes."""
    lines = expected_lines(data)
    seen: set[int] = set()
    for r in records:
        n = r["line"]
        assert n in lines, f"reject of line {n}, which is blank or absent"
        assert n not in seen, f"line {n} rejected twice"
        seen.add(n)
        want = lines[n]
        if crlf_stripped and want.endswith(b"\r"):
            want = want[:-1]  # iter_lines reads CRLF endings
        assert r["bytes"] == want, f"line {n}: reject bytes differ"
    return seen


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """A file of mutated realworld lines (a byte order mark before its broken line 1)."""
    data = hostile_file(FILE_LINES, seed=7)
    path = tmp_path_factory.mktemp("fuzz") / "in.jsonl"
    path.write_bytes(data)
    return path, data


def _run_counts(err: str) -> tuple[int, int]:
    """(lines in, rejected) from convo run's summary: N lines in = S succeeded + F failed (API
    errors) [+ K already done] + R rejected (not requests)."""
    m = re.search(r"([\d,]+) lines in = ([\d,]+) succeeded \+ ([\d,]+) failed \(API errors\)"
                  r"(?: \+ ([\d,]+) already done)? \+ ([\d,]+) rejected \(not requests\)", err)
    assert m, err
    n_in, ok, failed, done, rejected = (int((x or "0").replace(",", "")) for x in m.groups())
    assert n_in == ok + failed + done + rejected, err
    return n_in, rejected


class TestCommands:
    def test_transform(self, hostile: tuple[Path, bytes], tmp_path: Path) -> None:
        """convo transform: in = out + rejected, every rejected line's bytes in the rejects file."""
        src, data = hostile
        code, err = _convo(tmp_path, "transform", str(src), "-t", "strip_thinking()",
                           "-t", 'migrate(model="claude-opus-4-8")', "-o", "out.jsonl")
        assert code == 0
        n_in, n_out, n_rej = _counts(err)
        assert n_in == len(expected_lines(data)) == n_out + n_rej
        assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == n_out
        records = _rejects(tmp_path / "out.rejects.jsonl")
        assert len(records) == n_rej
        rejected = _check_rejects(data, records)
        assert 1 in rejected  # the broken line 1, its byte order mark kept
        assert next(r for r in records if r["line"] == 1)["bytes"].startswith(b"\xef\xbb\xbf")

    def test_validate(self, hostile: tuple[Path, bytes], tmp_path: Path) -> None:
        """convo validate: valid + invalid = lines in; every invalid line in --rejects, bytes exact."""
        src, data = hostile
        p = subprocess.run([*CONVO, "validate", str(src), "--json", "-q", "--rejects", "r.jsonl"],
                           capture_output=True, cwd=tmp_path, timeout=600)
        assert p.returncode == 1 and b"Traceback" not in p.stderr, p.stderr[-3000:]
        summary = json.loads(p.stdout.splitlines()[-1])
        assert summary["lines"] == len(expected_lines(data)) == summary["valid"] + summary["invalid"]
        records = _rejects(tmp_path / "r.jsonl")
        assert len(records) == summary["invalid"]
        _check_rejects(data, records)

    def test_stats(self, hostile: tuple[Path, bytes], tmp_path: Path) -> None:
        """convo stats: lines read + undecodable = lines in."""
        src, data = hostile
        p = subprocess.run([*CONVO, "stats", str(src), "--json", "-q"], capture_output=True, cwd=tmp_path)
        assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr[-3000:]
        s = json.loads(p.stdout)
        assert s["lines"] + s["undecodable"] == len(expected_lines(data))

    @pytest.mark.parametrize("from_", ["anthropic", "openai", "openai-finetune", "sharegpt", "hf", "hh",
                                       "batch", "exchange"])
    def test_convert(self, hostile: tuple[Path, bytes], tmp_path: Path, from_: str) -> None:
        """convo convert from every line format: in = out + rejected, rejects bytes exact."""
        src, data = hostile
        to = "openai" if from_ == "anthropic" else "anthropic"
        code, err = _convo(tmp_path, "convert", str(src), "--from", from_, "--to", to, "-o", "out.jsonl")
        n_in, n_out, n_rej = _counts(err)
        assert code == (1 if n_in and not n_out else 0), err  # the exit rule: nothing out of something is 1
        assert n_in == len(expected_lines(data)) == n_out + n_rej
        assert len((tmp_path / "out.jsonl").read_bytes().splitlines()) == n_out
        records = _rejects(tmp_path / "out.rejects.jsonl")
        assert len(records) == n_rej
        _check_rejects(data, records)
        assert not any(r["code"] == "internal" for r in records)

    def test_run_against_the_emulator(self, hostile: tuple[Path, bytes], tmp_path: Path) -> None:
        """convo run: one record per request line, every other line rejected with its bytes."""
        src, data = hostile
        with Emulator() as url:
            env = dict(os.environ, ANTHROPIC_API_KEY="sk-fuzz-test", ANTHROPIC_BASE_URL=url)
            code, err = _convo(tmp_path, "run", str(src), "-o", "ex.jsonl", "--concurrency", "4", env=env)
        assert code in (0, 1)
        lines_in, rejected = _run_counts(err)
        total = lines_in - rejected
        assert lines_in == len(expected_lines(data))
        assert len((tmp_path / "ex.jsonl").read_bytes().splitlines()) == total
        records = _rejects(tmp_path / "ex.rejects.jsonl")
        assert len(records) == rejected
        _check_rejects(data, records, crlf_stripped=True)

    def test_batch_submit_against_the_emulator(self, hostile: tuple[Path, bytes], tmp_path: Path) -> None:
        """convo batch submit: submitted + rejected = lines in, rejects bytes exact.

        Lines holding a number beyond a double are left out here: they decode (convo keeps big
        integers), the emulator refuses to parse them, and that refusal fails the whole batch
        create (see test_batch_submit_number_beyond_a_double)."""
        _, data = hostile
        kept = [line for line in data.split(b"\n") if not _beyond_double(line)]
        data = b"\n".join(kept)
        src = tmp_path / "in.jsonl"
        src.write_bytes(data)
        with Emulator() as url:
            env = dict(os.environ, ANTHROPIC_API_KEY="sk-fuzz-test", ANTHROPIC_BASE_URL=url)
            code, err = _convo(tmp_path, "batch", "submit", str(src), "-o", "job.json", env=env)
        assert code == 0, err
        m = re.search(r"([\d,]+) lines in = ([\d,]+) submitted \+ ([\d,]+) rejected", err)
        assert m, err
        lines, sent, rejected = (int(x.replace(",", "")) for x in m.groups())
        assert lines == len(expected_lines(data)) == sent + rejected
        records = _rejects(tmp_path / "job.json.d" / "rejects.jsonl")
        assert len(records) == rejected
        _check_rejects(data, records, crlf_stripped=True)

    def test_run_via_batch_against_the_emulator(self, hostile: tuple[Path, bytes], tmp_path: Path) -> None:
        """convo run --via batch: one record per request line, the others rejected with their
        bytes (lines with a number beyond a double left out, as above)."""
        _, data = hostile
        data = b"\n".join(line for line in data.split(b"\n") if not _beyond_double(line))
        src = tmp_path / "in.jsonl"
        src.write_bytes(data)
        with Emulator() as url:
            env = dict(os.environ, ANTHROPIC_API_KEY="sk-fuzz-test", ANTHROPIC_BASE_URL=url)
            code, err = _convo(tmp_path, "run", str(src), "-o", "ex.jsonl", "--via", "batch",
                               "--poll-interval", "0.05", env=env)
        assert code in (0, 1), err
        lines_in, rejected = _run_counts(err)
        total = lines_in - rejected
        assert lines_in == len(expected_lines(data))
        assert len((tmp_path / "ex.jsonl").read_bytes().splitlines()) == total
        records = _rejects(tmp_path / "ex.rejects.jsonl")
        assert len({r["line"] for r in records}) == rejected
        _check_rejects(data, records, crlf_stripped=True)

    def test_batch_submit_number_beyond_a_double(self, tmp_path: Path) -> None:
        """A line with an integer beyond a double decodes; the batch of the other lines still goes."""
        good = convo.dumps(convo.Conversation(model="claude-opus-4-8", max_tokens=8).user("hi"))
        big = b'{"model": "claude-opus-4-8", "max_tokens": 8, "metadata": {"n": ' + b"9" * 320 + \
            b'}, "messages": [{"role": "user", "content": "hi"}]}'
        (tmp_path / "in.jsonl").write_bytes(b"\n".join([good, big, good]))
        with Emulator() as url:
            env = dict(os.environ, ANTHROPIC_API_KEY="sk-fuzz-test", ANTHROPIC_BASE_URL=url)
            code, err = _convo(tmp_path, "batch", "submit", "in.jsonl", "-o", "job.json", env=env)
        assert code == 0, err


class TestWholeFiles:
    """convert --from inspect / claude-code reads whole files: each mutated file converts, or
    stops at its first unreadable document with one ``format`` reject; nothing else escapes."""

    def test_mutated_logs_and_sessions(self, tmp_path: Path) -> None:
        """Byte flips in every realworld .eval zip, every kind of mutation of every inspect .json
        log, mutated lines in every Claude Code session: counts add up, no exception escapes."""
        import contextlib
        import io
        import random

        from convo.cli import main

        rng = random.Random(3)
        rounds = 5 if _THOROUGH else 1
        cases: list[tuple[str, str, bytes]] = []
        for _ in range(rounds):
            for path in sorted(REALWORLD.rglob("*.eval")):
                b = bytearray(path.read_bytes())
                for _ in range(rng.randint(1, 6)):
                    b[rng.randrange(len(b))] = rng.randrange(256)
                cases.append(("inspect", ".eval", bytes(b)))
            for path in sorted(REALWORLD.glob("inspect-ai*/*.json")):
                line = json.dumps(json.loads(path.read_bytes())).encode()
                d = mutate(line, rng.choice(sorted(MUTATIONS)), rng.randrange(1 << 30))
                cases.append(("inspect", ".json", d if isinstance(d, bytes) else d.encode("utf-8", "surrogatepass")))
            for path in sorted(REALWORLD.glob("claude-code*/*.jsonl")):
                lines = path.read_bytes().splitlines()
                for i, line in enumerate(lines):
                    if line.strip() and rng.random() < 0.2:
                        d = mutate(line, rng.choice(sorted(MUTATIONS)), rng.randrange(1 << 30))
                        lines[i] = d if isinstance(d, bytes) else d.encode("utf-8", "surrogatepass")
                cases.append(("claude-code", ".jsonl", b"\n".join(lines)))
        for n, (fmt, suffix, data) in enumerate(cases):
            src = tmp_path / f"case{n}{suffix}"
            src.write_bytes(data)
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = main(["convert", str(src), "--from", fmt, "--to", "anthropic", "-o", str(tmp_path / "o.jsonl")])
            n_in, n_out, n_rej = _counts(err.getvalue())
            assert code == (1 if n_in and not n_out else 0), err.getvalue()
            # a file that cannot be read further is one reject; a bad sample of a log is its own
            assert n_in == n_out + n_rej and (n_rej <= 1 or fmt == "inspect")
            assert len((tmp_path / "o.jsonl").read_bytes().splitlines()) == n_out
            rejects = tmp_path / "o.rejects.jsonl"  # written only when a line is rejected
            assert (len(rejects.read_bytes().splitlines()) if rejects.exists() else 0) == n_rej
        assert len(cases) >= 30


def _beyond_double(line: bytes) -> bool:
    """Whether a line parses only with a number beyond a double's range (orjson refuses it)."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return "infinity" in e.msg
    return False


def test_decode_error_is_the_only_refusal() -> None:
    """A line the decoder refuses raises DecodeError located at file and line."""
    with pytest.raises(DecodeError, match=r"^f\.jsonl:3: \$\.messages\[0\]\.content\[0\]\.type: expected a string, got an array"):
        decode_line(RawLine("f.jsonl", 3, b'{"messages":[{"role":"user","content":[{"type":[]}]}]}'))
