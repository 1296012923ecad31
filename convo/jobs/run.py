"""Resumable file runs: every request line of some files through an executor, one exchange record
per line, in input order (what ``convo run`` does).

Layer: jobs (files and the state of long work), on the executor layer's :func:`~convo.executor.run_iter`.
:func:`run_file` reads request lines, sends them with bounded concurrency, and writes and flushes
one exchange record per line in input order. With a :class:`~convo.executor.BatchExecutor` the
file runs as a resumable batch job instead (:mod:`convo.jobs.batch`).

How a run resumes
-----------------
Beside ``OUT`` a run keeps ``OUT.run.d/`` (removed when the run ends): a state file naming its
inputs by identity (device, inode, size, mtime and a hash of the first 64 KiB:
:mod:`convo.jobs._state`), a lock, and a journal. Each answer (or error) is appended to the
journal the moment it arrives, in whatever order answers come, before it waits for the lines
before it to be written to ``OUT`` in input order; every few hundred records the journal also
notes how far ``OUT`` and the rejects file have got (a *mark*). A kill, at any moment, therefore
loses no answer that came back: with ``resume=True`` the next run

1. checks that the inputs are the files the run started with (the path may be spelled another
   way; a different file is refused), and cuts a line a kill left half written off ``OUT`` and off
   the rejects file;
2. skips the input up to the last mark without decoding it, then walks the input beside ``OUT``
   and the rejects file: a line that has its record (or its reject) is checked to be that line
   (its id, its line number) and skipped, so no record or reject is ever written twice;
3. writes, in their place in input order, the answers the journal holds for lines past the end of
   ``OUT``, and sends only the lines that never got one.

Memory stays flat: ``OUT`` is read a record at a time, and only the journal entries past the last
mark (a few hundred, and those in flight at the kill) are looked up. ``retry_errors`` then sends
again the lines whose record in ``OUT`` (from before this run) is an error, and replaces those
records (``OUT`` is rewritten atomically once the answers are in; the answers are journaled too).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

import orjson

from convo import model as m
from convo.errors import ConvoError, DecodeError
from convo.executor._base import AsyncExecutor, Executor
from convo.executor._run import ProgressCallback, Result, error_record, run_iter
from convo.jobs._common import RunSummary, line_id_of
from convo.jobs._state import (
    JobLock,
    Journal,
    complete_lines,
    cut_torn_tail,
    identify,
    identity_problem,
    load_state,
    save_state,
)

__all__ = ["RunSummary", "job_dir_for", "run_file"]

_STATE_FORMAT = "convo-run-state"
_STATE_VERSION = 1
_MARK_EVERY = 256  # records between two marks: what a resume decodes again at most (plus in flight)
_NOWHERE = (-1, -1)  # a position before every line


def job_dir_for(output: str | os.PathLike[str]) -> str:
    """Where :func:`run_file` keeps the state of a run into *output* while it is not finished.

    >>> job_dir_for("out/exchanges.jsonl")
    'out/exchanges.jsonl.run.d'
    """
    return os.fspath(output) + ".run.d"


def _stats_of(executor: object) -> Any:
    seen = 0
    while executor is not None and seen < 4:  # a replay or wrapper executor keeps its inner one
        stats = getattr(executor, "stats", None)
        if stats is not None:
            return stats
        executor = getattr(executor, "inner", None)
        seen += 1
    return None


class _Input:
    """One input of the run: the name its ids and rejects use, what to read, its identity."""

    __slots__ = ("identity", "name", "source")

    def __init__(self, name: str, source: Any, identity: dict[str, Any] | None) -> None:
        self.name = name
        self.source = source
        self.identity = identity

    def to_json(self) -> dict[str, Any]:
        if self.identity is None:
            return {"name": self.name, "stream": True}
        return {"name": self.name, "path": os.path.abspath(self.source), **self.identity}


class _Slot:
    """A line past the end of OUT, waiting for its record to be written in input order."""

    __slots__ = ("conv", "line_id", "pos", "ready", "rejected_at", "rejects_at")

    def __init__(self, pos: tuple[int, int], line_id: str | int, conv: m.Conversation,
                 ready: int | None, rejects_at: int, rejected_at: int) -> None:
        self.pos = pos
        self.line_id = line_id
        self.conv = conv
        self.ready = ready  # the journal offset of its answer, or None: it is being sent
        self.rejects_at = rejects_at  # the rejects file's size when the line was read
        self.rejected_at = rejected_at  # and how many rejects it held


class _Reader:
    """The complete lines of a file from byte *start*, one at a time (a record file being walked)."""

    def __init__(self, path: str | None, start: int) -> None:
        self.path = path
        self._f: IO[bytes] | None = None
        self._next: bytes | None = None
        self.offset = start  # where the next line starts
        self.index = 0  # lines given so far
        if path is not None and os.path.exists(path):
            self._f = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed by close()
            self._f.seek(start)
            self._advance()

    def _advance(self) -> None:
        assert self._f is not None
        line = self._f.readline()
        self._next = line if line.endswith(b"\n") else None

    def peek(self) -> bytes | None:
        return self._next

    def take(self) -> bytes | None:
        line = self._next
        if line is not None:
            self.offset += len(line)
            self.index += 1
            self._advance()
        return line

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def _record_id(line: bytes) -> Any:
    """The ``id`` of an exchange record line (read from its head when it leads, as convo writes it)."""
    if line.startswith(b'{"id":"'):
        end = line.find(b'"', 7)
        if end > 0 and b"\\" not in line[7:end]:
            return line[7:end].decode("utf-8", "replace")
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return _NOT_A_RECORD
    return rec.get("id", _NOT_A_RECORD) if isinstance(rec, dict) else _NOT_A_RECORD


_NOT_A_RECORD = object()


def _same_line(recorded: Any, expected: str | int, name: str, line: int) -> bool:
    """Whether an output record's id is the id of input line *line* of *name*.

    Ids made from the file name (``in.jsonl:3``) match when they name the same file another way
    (``./in.jsonl:3``): an output started before the run kept its state names the file as typed.
    """
    if recorded == expected:
        return True
    if not isinstance(recorded, str) or not isinstance(expected, str):
        return False
    head, sep, tail = recorded.rpartition(":")
    if not sep or tail != str(line) or expected != f"{name}:{line}":
        return False
    if head == name:
        return True
    try:
        return os.path.samefile(head, name)
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- the journal's lines
# A journal line is a small JSON head, then (for an answer) a tab and the payload's JSON as it was
# encoded, so that reading it back is lossless (integers beyond 64 bits included):
#   {"at":[0,17],"k":"r"}\t{...response...}     line 17 of input 0 answered
#   {"at":[0,18],"k":"e"}\t{...error record...} line 18 of input 0 failed
#   {"retry":3,"k":"r"}\t{...}                  OUT's record 3 (an error) answered again
#   {"mark":[0,20],"out":N,"records":K,"rejects":R,"rejected":J}
#       OUT holds K records (N bytes) through line 20 of input 0; the rejects file R bytes, J records


def _entry(head: dict[str, Any], payload: bytes) -> bytes:
    return orjson.dumps(head) + b"\t" + payload


def _split_entry(line: bytes) -> tuple[dict[str, Any], bytes]:
    head, _, payload = line.partition(b"\t")
    value = orjson.loads(head)
    if not isinstance(value, dict):
        raise ValueError("not a journal entry")
    return value, payload


def _journal_lines(path: str, start: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """(offset, head) of each complete line of the journal at *path* from byte *start* (payloads
    are not copied)."""
    for offset, line in complete_lines(path, start):
        tab = line.find(b"\t")
        try:
            head = orjson.loads(memoryview(line)[:tab] if tab >= 0 else line)
            if not isinstance(head, dict):
                raise ValueError("not a journal entry")
        except ValueError:  # orjson.JSONDecodeError is one
            raise ConvoError(f"{path}: byte {offset:,} is not a journal entry: the journal is "
                             "damaged (remove it to send the unrecorded lines again)") from None
        yield offset, head


def _lines_after(source: Any, skip: int) -> Iterator[Any]:
    """The RawLines of *source* after its first *skip* lines, numbered as in the whole file.

    The lines skipped are only counted (newlines in blocks), not split or decoded: a resume past
    a mark reads its settled input at the speed of the disk.
    """
    from convo.codec.jsonl import CHUNK_BYTES, _Prefixed, iter_lines
    from convo.codec.lines import RawLine

    def slowly() -> Iterator[Any]:
        for raw in iter_lines(source):
            if raw.line > skip:
                yield raw

    if skip <= 1 or not isinstance(source, str | os.PathLike) or os.fspath(source) == "-":
        yield from slowly()
        return
    import gzip

    name = os.fspath(source)
    with open(name, "rb") as plain:
        magic = plain.read(2)
        plain.seek(0)
        f: Any = gzip.GzipFile(fileobj=plain) if magic == b"\x1f\x8b" else plain
        # to the start of line *skip* (counting *skip* - 1 newlines): that line, settled, is the
        # stream's first, where a byte order mark would be dropped; the lines after are exact
        want = skip - 1
        rest = b""
        try:
            while want:
                block = f.read(CHUNK_BYTES)
                if not block:
                    return  # the file has no more lines
                n = block.count(b"\n")
                if n < want:
                    want -= n
                    continue
                at = -1
                for _ in range(want):
                    at = block.index(b"\n", at + 1)
                rest, want = block[at + 1:], 0
            if len(rest) < 2:
                rest += f.read(2)
        except (OSError, EOFError):  # a damaged gzip stream: read it the way a first run did
            fast = False
        else:
            fast = not rest.startswith(b"\x1f\x8b")  # else the rest would be taken for gzip
        if fast:
            stream = io.BufferedReader(_Prefixed(rest, f), CHUNK_BYTES)
            for raw in iter_lines(stream):
                if raw.line > 1:
                    line = raw.line + skip - 1
                    yield RawLine(name, line, raw.data,
                                  raw.error.located(file=name, line=line) if raw.error else None)
            return
    yield from slowly()


_MARK_HEAD = b'{"mark":'


def _last_mark(path: str) -> int:
    """The offset of the journal's last mark line (0 when it has none): searched from the end,
    so a resume reads only what came after it. Every answer before it is in OUT already, and a
    retry's answers always come after the last mark (a retry follows a run's final mark)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    with f:
        end = f.seek(0, os.SEEK_END)
        tail = b""
        while end > 0:
            start = max(0, end - (1 << 20))
            f.seek(start)
            block = f.read(end - start) + tail
            at = block.rfind(b"\n" + _MARK_HEAD)
            if at >= 0:
                return start + at + 1
            if start == 0 and block.startswith(_MARK_HEAD):
                return 0
            tail = block[: len(_MARK_HEAD)]  # a mark's head may straddle two blocks
            end = start
    return 0


def _payload_at(path: str, offset: int) -> tuple[dict[str, Any], bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        return _split_entry(f.readline().rstrip(b"\n"))


def _outcome(head: dict[str, Any], payload: bytes) -> tuple[m.Response | None, Any]:
    """(reply, error record) of a journaled answer."""
    from convo.codec import loads_response, parse_json_exact

    if head.get("k") == "r":
        return loads_response(payload), None
    return None, parse_json_exact(payload)


def _pos(value: Any) -> tuple[int, int]:
    if (isinstance(value, list) and len(value) == 2
            and all(type(x) is int for x in value)):
        return value[0], value[1]
    raise ValueError("not a position")


class _Mark:
    """How far OUT and the rejects file had got at a mark (all zero: the start); ``last`` is the
    id of OUT's record that ends at ``out``, so a mark is trusted only while OUT still has it there."""

    __slots__ = ("last", "out", "pos", "records", "rejected", "rejects")

    def __init__(self, pos: tuple[int, int] = _NOWHERE, out: int = 0, records: int = 0,
                 rejects: int = 0, rejected: int = 0, last: Any = None) -> None:
        self.pos, self.out, self.records, self.rejects, self.rejected = pos, out, records, rejects, rejected
        self.last = last

    @classmethod
    def of(cls, head: dict[str, Any]) -> _Mark:
        n = [head.get(k) for k in ("out", "records", "rejects", "rejected")]
        if not all(type(x) is int and x >= 0 for x in n):
            raise ValueError("not a mark")
        out, records, rejects, rejected = (int(x) for x in n)  # type: ignore[arg-type]
        return cls(_pos(head["mark"]), out, records, rejects, rejected, last=head.get("last"))

    def to_json(self) -> dict[str, Any]:
        return {"mark": list(self.pos), "out": self.out, "records": self.records,
                "rejects": self.rejects, "rejected": self.rejected, "last": self.last}

    def holds(self, out_path: str) -> bool:
        """Whether OUT still has the marked record ending at the marked offset."""
        if self.out == 0:
            return True
        try:
            return bool(_record_id(_line_ending_at(out_path, self.out)) == self.last)
        except OSError:
            return False


# --------------------------------------------------------------------------- the run


class _FileRun:
    """One call of :func:`run_file` (see the module docs)."""

    def __init__(self, out_path: str, rejects: str | None, executor: Executor | AsyncExecutor,
                 concurrency: int, on_reject: Callable[[DecodeError, bytes], None] | None,
                 on_progress: ProgressCallback | None) -> None:
        self.out_path = out_path
        self.rejects = rejects
        self.executor = executor
        self.concurrency = concurrency
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.dir = job_dir_for(out_path)
        self.state_path = os.path.join(self.dir, "state.json")
        self.journal_path = os.path.join(self.dir, "journal.jsonl")
        self.lock = JobLock(os.path.join(self.dir, "lock"))
        self.inputs: list[_Input] = []
        self.journal: Journal | None = None
        # counts
        self.succeeded = 0
        self.failed: dict[str, int] = {}
        self.skipped = 0
        self.rejected = 0
        self.tokens_in = self.tokens_out = 0

    # ------------------------------------------------------------------ opening

    def open(self, sources: list[Any], resume: bool) -> None:
        given = [self._input(s) for s in sources]  # a missing input fails here, before anything exists
        self.lock.lock(f"another process is running into {self.out_path} (its state: {self.dir})")
        if resume and os.path.exists(self.state_path):
            state = load_state(self.state_path, _STATE_FORMAT, _STATE_VERSION)
            self.inputs = self._same_inputs(state, given)
        else:
            if not resume:  # a new run: what an earlier one left is dropped
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.journal_path)
            self.inputs = given
            save_state(self.state_path, {
                "format": _STATE_FORMAT, "version": _STATE_VERSION,
                "output": os.path.abspath(self.out_path),
                "inputs": [i.to_json() for i in given],
            })
        # fsync at most once a second: a kill loses nothing written (the page cache is the
        # kernel's), a crash of the machine at most that second; more often stalls OUT's writes
        self.journal = Journal(self.journal_path, every=1 << 30, interval=1.0)

    @staticmethod
    def _input(source: Any) -> _Input:
        if isinstance(source, str | os.PathLike):
            path = os.fspath(source)
            if path == "-":
                return _Input("<stdin>", path, None)
            return _Input(path, path, identify(path))
        name = getattr(source, "name", None)
        return _Input(name if isinstance(name, str) else "<stream>", source, None)

    def _same_inputs(self, state: dict[str, Any], given: list[_Input]) -> list[_Input]:
        """The given inputs under the names the run started with; ConvoError if they differ."""
        recorded = state.get("inputs")
        if not isinstance(recorded, list) or not all(isinstance(r, dict) for r in recorded):
            raise ConvoError(f"{self.state_path} does not list the run's inputs: remove {self.dir} "
                             "and run without resume")
        names = [str(r.get("name")) for r in recorded]
        if len(recorded) != len(given):
            raise ConvoError(
                f"cannot resume {self.out_path}: it was started from {len(recorded)} input(s) "
                f"({', '.join(names)}), not {len(given)}; give the same files, or run without resume "
                "to start over")
        out: list[_Input] = []
        for rec, now, name in zip(recorded, given, names, strict=True):
            if rec.get("stream"):
                if now.identity is not None:
                    raise ConvoError(f"cannot resume {self.out_path}: it was started from "
                                     f"{name}, not the file {now.name}")
                out.append(_Input(name, now.source, None))
                continue
            if now.identity is None:
                raise ConvoError(f"cannot resume {self.out_path}: it was started from the file "
                                 f"{name}, not {now.name}")
            problem = identity_problem(rec, os.fspath(now.source))
            if problem is not None:
                raise ConvoError(
                    f"cannot resume {self.out_path}: {now.name} is not the input it was started "
                    f"from ({name}): {problem}; give that file, or run without resume to start over")
            out.append(_Input(name, now.source, now.identity))
        return out

    # ------------------------------------------------------------------ where the last run got to

    def _scan_journal(self) -> tuple[_Mark, dict[tuple[int, int], int], dict[int, int]]:
        """The last valid mark, the answers past it (position -> offset), the re-answered errors."""
        out_size = os.path.getsize(self.out_path) if os.path.exists(self.out_path) else 0
        rejects_size = (os.path.getsize(self.rejects) if self.rejects and os.path.exists(self.rejects)
                        else 0)

        def scan(prune: bool) -> tuple[_Mark, dict[tuple[int, int], int], dict[int, int]]:
            mark = _Mark()
            answers: dict[tuple[int, int], int] = {}
            retried: dict[int, int] = {}
            start = _last_mark(self.journal_path) if prune else 0
            if start:  # answers for lines past the mark may have come before it
                oldest = next(_journal_lines(self.journal_path, start))[1].get("from")
                if type(oldest) is int and 0 <= oldest < start:
                    start = oldest
            for offset, head in _journal_lines(self.journal_path, start):
                try:
                    if "mark" in head:
                        if prune:
                            mark = _Mark.of(head)
                            answers = {p: o for p, o in answers.items() if p > mark.pos}
                    elif "retry" in head:
                        if type(head["retry"]) is not int:
                            raise ValueError("not a record index")
                        retried[head["retry"]] = offset
                    else:
                        p = _pos(head["at"])
                        if p > mark.pos:
                            answers[p] = offset
                except (KeyError, ValueError, TypeError):
                    raise ConvoError(f"{self.journal_path}: byte {offset:,} is not a journal entry: "
                                     "the journal is damaged") from None
            return mark, answers, retried

        mark, answers, retried = scan(prune=True)
        if mark.out > out_size or not mark.holds(self.out_path):
            # OUT is not what the journal says (a crash before it reached the disk, someone cut
            # or rewrote it): walk it all, keeping every answer the journal holds
            mark, answers, retried = scan(prune=False)
        elif mark.rejects > rejects_size:
            mark.rejects = rejects_size  # the rejects file went: what is left of it
        return mark, answers, retried

    # ------------------------------------------------------------------ phase A: every line a record

    def _succeeded(self, response: m.Response) -> None:
        """Count an answered line and its tokens."""
        self.succeeded += 1
        usage = response.usage
        if isinstance(usage, m.Usage):
            self.tokens_in += usage.total_input_tokens
            if isinstance(usage.output_tokens, int):
                self.tokens_out += usage.output_tokens

    def run(self, resume: bool, retry_errors: bool) -> None:
        assert self.journal is not None
        mark = _Mark()
        answers: dict[tuple[int, int], int] = {}
        retried: dict[int, int] = {}
        if resume:
            cut_torn_tail(self.out_path)
            if self.rejects is not None:
                cut_torn_tail(self.rejects)
            mark, answers, retried = self._scan_journal()
        self.skipped, self.rejected = mark.records, mark.rejected
        out_reader = _Reader(self.out_path if resume else None, mark.out)
        rej_reader = _Reader(self.rejects if resume else None, mark.rejects)
        rej_file: IO[bytes] | None = None
        out: IO[bytes] | None = None
        try:
            if self.rejects is not None:
                rej_file = open(self.rejects, "ab" if resume else "wb")  # noqa: SIM115 - closed below
            out = open(self.out_path, "ab" if resume else "wb")  # noqa: SIM115 - closed below
            self._walk_and_send(out, rej_file, out_reader, rej_reader, mark, answers)
            records_before = mark.records + out_reader.index  # OUT's records from earlier runs
            out.flush()
            os.fsync(out.fileno())
            if rej_file is not None:
                rej_file.flush()
                os.fsync(rej_file.fileno())
        finally:
            out_reader.close()
            rej_reader.close()
            if rej_file is not None:
                rej_file.close()
            if out is not None:
                out.close()
        if retry_errors or retried:
            self._retry(records_before, retry_errors, retried)

    def _walk_and_send(self, out: IO[bytes], rej_file: IO[bytes] | None, out_reader: _Reader,
                       rej_reader: _Reader, mark: _Mark, answers: dict[tuple[int, int], int]) -> None:
        from convo.codec.lines import RawLine, decode_line
        from convo.codec.rejects import classify, reject

        assert self.journal is not None
        journal = self.journal
        breaks_rules = _rule_check(self.executor)
        slots: deque[_Slot] = deque()
        sending: dict[int, _Slot] = {}
        written = {"rejects": 0}  # bytes of rejects this run added
        # the journal offsets of answers not written to OUT yet: a mark says where the oldest is,
        # so a resume reads the journal from there (answers come out of order)
        unwritten: dict[tuple[int, int], int] = dict(answers)
        unwritten_lock = threading.Lock()

        def rejects_size() -> int:
            """The rejects file's size covering the lines read so far."""
            return rej_reader.offset + written["rejects"] if self.rejects is not None else 0

        def new_reject(error: DecodeError, raw: bytes, code: str) -> None:
            self.rejected += 1
            if rej_file is not None:
                line = reject(error.file or "", error.line or 0, code, error.expected, error.path, raw) + b"\n"
                rej_file.write(line)
                rej_file.flush()
                written["rejects"] += len(line)
            if self.on_reject is not None:
                self.on_reject(error, raw)

        def settled_reject(name: str, line: int) -> bool:
            """Whether this non-request line already has its reject (from an earlier run)."""
            if self.rejects is None:
                # no rejects file to look at: a line before an existing record was rejected before
                if out_reader.peek() is not None:
                    self.rejected += 1
                    return True
                return False
            data = rej_reader.peek()
            if data is None:
                return False
            try:
                rec = orjson.loads(data)
                same = rec.get("line") == line and rec.get("file") == name
            except (orjson.JSONDecodeError, AttributeError):
                same = False
            if not same:
                raise ConvoError(
                    f"cannot resume: {self.rejects} (record {rej_reader.index + 1}) is not the "
                    f"reject of {name}:{line}; it holds another run's rejects (give the same "
                    "rejects file, or run without resume to start over)")
            rej_reader.take()
            self.rejected += 1
            return True

        def lines() -> Iterator[m.Conversation]:
            for fi, inp in enumerate(self.inputs):
                if fi < mark.pos[0]:
                    continue  # settled before the mark: counted by it
                for raw in _lines_after(inp.source, mark.pos[1] if fi == mark.pos[0] else 0):
                    pos = (fi, raw.line)
                    name = inp.name
                    head = out_reader.peek()
                    got = _record_id(head) if head is not None else None
                    if head is not None and raw.error is None and got == f"{name}:{raw.line}":
                        out_reader.take()  # its record is there (no need to decode the line)
                        self.skipped += 1
                        continue
                    if raw.error is not None:
                        if not settled_reject(name, raw.line):
                            err = raw.error.located(file=name)
                            new_reject(err, raw.data, "too_long" if "longer than the limit" in err.expected
                                       else "shape")
                        continue
                    try:
                        rec = decode_line(RawLine(name, raw.line, raw.data))
                    except DecodeError as e:
                        if not settled_reject(name, raw.line):
                            new_reject(e, raw.data, classify(raw.data))
                        continue
                    found = line_id_of(rec)
                    if found is None:
                        if not settled_reject(name, raw.line):
                            new_reject(DecodeError(f"a {rec.kind} line is not a request", file=name,
                                                   line=raw.line), rec.raw, "kind")
                        continue
                    line_id, conv = found
                    if head is not None:
                        if not _same_line(got, line_id, name, raw.line):
                            shown = "a line that is not an exchange record" if got is _NOT_A_RECORD else repr(got)
                            raise ConvoError(
                                f"cannot resume: record {out_reader.index + mark.records + 1} of "
                                f"{self.out_path} is {shown}, not {line_id!r} ({name}:{raw.line}): the "
                                "output is another run's (give the same inputs, or run without "
                                "resume to start over)")
                        out_reader.take()
                        self.skipped += 1
                        continue
                    broken = breaks_rules(conv, pos not in answers) if breaks_rules is not None else None
                    if broken is not None:  # the executor would refuse it unsent: not a request
                        if not settled_reject(name, raw.line):
                            new_reject(DecodeError(broken[0], path=broken[1], file=name, line=raw.line),
                                       raw.data, "rule")
                        continue
                    ready = answers.pop(pos, None)
                    slot = _Slot(pos, line_id, conv, ready, rejects_size(), self.rejected)
                    slots.append(slot)
                    if ready is None:
                        sending[id(conv)] = slot
                        yield conv
            if out_reader.peek() is not None:
                raise ConvoError(
                    f"cannot resume: {self.out_path} holds more records than the inputs have request "
                    f"lines (record {out_reader.index + mark.records + 1} has no line); it is another "
                    "run's output (run without resume to start over)")

        def journal_it(result: Result) -> None:
            from convo.codec import dump_json, dumps_response

            slot = sending[id(result.conversation)]
            if result.error is None:
                assert result.response is not None
                entry = _entry({"at": list(slot.pos), "k": "r"}, dumps_response(result.response))
            else:
                entry = _entry({"at": list(slot.pos), "k": "e"}, dump_json(error_record(result.error)))
            with unwritten_lock:  # (held while appending: a mark never misses an answer)
                unwritten[slot.pos] = journal.append(entry)

        progress = {"records": mark.records + out_reader.index, "since_mark": 0}
        last: list[_Slot] = []

        def write(slot: _Slot, response: m.Response | None, error: Any) -> None:
            from convo.codec.lines import encode_value

            if response is not None:
                exchange = m.Exchange(id=slot.line_id, request=slot.conv, response=response)
                self._succeeded(response)
            else:
                exchange = m.Exchange(id=slot.line_id, request=slot.conv, error=error)
                kind = str((error.get("error") or {}).get("type")) if isinstance(error, dict) else "client_error"
                self.failed[kind] = self.failed.get(kind, 0) + 1
            out.write(encode_value(exchange) + b"\n")
            with unwritten_lock:
                unwritten.pop(slot.pos, None)
            out.flush()  # line by line: a reader of OUT sees each record as it is written
            progress["records"] += 1
            progress["since_mark"] += 1
            last[:] = [slot]
            if progress["since_mark"] >= _MARK_EVERY:
                note_mark()

        def note_mark() -> None:
            if not last:
                return
            s = last[0]
            with unwritten_lock:
                oldest = min(unwritten.values(), default=None)
                journal.append({**_Mark(s.pos, out.tell(), progress["records"], s.rejects_at,
                                        s.rejected_at, s.line_id).to_json(), "from": oldest})
            progress["since_mark"] = 0

        def write_ready() -> None:
            while slots and slots[0].ready is not None:
                s = slots.popleft()
                offset = s.ready
                assert offset is not None
                head, payload = _payload_at(self.journal_path, offset)
                response, error = _outcome(head, payload)
                write(s, response, error)

        try:
            for result in run_iter(lines(), self.executor, concurrency=self.concurrency,
                                   on_progress=self.on_progress, on_done=journal_it):
                write_ready()
                slot = slots.popleft()
                del sending[id(slot.conv)]
                if result.error is None:
                    write(slot, result.response, None)
                else:
                    write(slot, None, error_record(result.error))
            write_ready()
            assert not slots
        finally:
            with contextlib.suppress(Exception):
                out.flush()
                note_mark()

    # ------------------------------------------------------------------ phase B: errors again

    def _retry(self, records_before: int, retry_errors: bool, retried: dict[int, int]) -> None:
        """Send again the lines whose record (among OUT's first *records_before*) is an error, then
        write OUT again with the new records in their places. *retried* holds the answers an
        interrupted retry journaled already (record index -> journal offset): not sent again."""
        from convo.codec import dump_json, dumps_response
        from convo.codec.lines import RawLine, decode_line

        assert self.journal is not None
        journal = self.journal
        places: dict[int, int] = {}  # id of a request being sent -> its record's index in OUT

        def error_requests() -> Iterator[m.Conversation]:
            if not retry_errors:
                return
            reader = _Reader(self.out_path, 0)
            try:
                while reader.index < records_before:
                    data = reader.take()
                    if data is None:
                        return
                    k = reader.index - 1
                    if k in retried or b'"error"' not in data:
                        continue
                    rec = decode_line(RawLine(self.out_path, k + 1, data.rstrip(b"\n")), kind="exchange").value
                    assert isinstance(rec, m.Exchange)
                    if rec.error is None:
                        continue
                    places[id(rec.request)] = k
                    yield rec.request
            finally:
                reader.close()

        def journal_it(result: Result) -> None:
            k = places.pop(id(result.conversation))
            if result.error is None:
                assert result.response is not None
                entry = _entry({"retry": k, "k": "r"}, dumps_response(result.response))
            else:
                entry = _entry({"retry": k, "k": "e"}, dump_json(error_record(result.error)))
            retried[k] = journal.append(entry)

        for _ in run_iter(error_requests(), self.executor, concurrency=self.concurrency,
                          on_progress=self.on_progress, on_done=journal_it):
            pass
        journal.sync()
        self._rewrite(retried)

    def _rewrite(self, retried: dict[int, int]) -> None:
        """OUT again, each retried error record replaced by its new record (atomically)."""
        from convo.codec.jsonl import AtomicWriter
        from convo.codec.lines import RawLine, decode_line, encode_value

        if not retried:
            return
        with AtomicWriter(self.out_path, compress=False) as w:
            for k, (_, line) in enumerate(complete_lines(self.out_path)):
                offset = retried.get(k)
                if offset is None:
                    w.write(line)
                    continue
                rec = decode_line(RawLine(self.out_path, k + 1, line), kind="exchange").value
                assert isinstance(rec, m.Exchange)
                if rec.error is None:  # replaced already (a kill came after the rewrite)
                    w.write(line)
                    continue
                head, payload = _payload_at(self.journal_path, offset)
                response, error = _outcome(head, payload)
                self.skipped -= 1
                if response is not None:
                    self._succeeded(response)
                    w.write(encode_value(m.Exchange(id=rec.id, request=rec.request, response=response)))
                else:
                    kind = str((error.get("error") or {}).get("type")) if isinstance(error, dict) else "client_error"
                    self.failed[kind] = self.failed.get(kind, 0) + 1
                    w.write(encode_value(m.Exchange(id=rec.id, request=rec.request, error=error)))

    # ------------------------------------------------------------------ closing

    def finish(self) -> None:
        """The run is complete: its state goes (nothing is left to resume)."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        shutil.rmtree(self.dir, ignore_errors=True)
        self.lock.unlock()

    def close(self) -> None:
        """Interrupted: keep the state for a resume (if there is one yet), let go of the lock."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.lock.held and not os.path.exists(self.state_path):
            shutil.rmtree(self.dir, ignore_errors=True)  # it never started: leave nothing
        self.lock.unlock()


def _rule_check(executor: Any) -> Callable[[m.Conversation, bool], tuple[str, str] | None] | None:
    """What an HTTP executor that validates checks before sending, as (reason, $.path) of the
    request rules a line breaks, or None when it breaks none; None when *executor* does not check.
    Its second argument says whether the line is sent next: then the executor does not check it
    again (one validation per request).

    A line the executor would refuse unsent is rejected (code ``rule``, the reason the batch job
    gives), not written as an error record: ``--via http`` and ``--via batch`` count it the same.
    """
    # the module, not the package (convo.executor loads convo.jobs for BatchExecutor)
    from convo.executor._http import AsyncHttpExecutor, HttpExecutor

    if not isinstance(executor, HttpExecutor | AsyncHttpExecutor) or not executor.validate:
        return None
    def check(conv: m.Conversation, sending: bool) -> tuple[str, str] | None:
        errors = executor.rules_check(conv, sending=sending).errors
        if not errors:
            return None
        return "; ".join(f"{v.rule} {v.path}: {v.message}" for v in errors), errors[0].path

    return check


def _line_ending_at(path: str, offset: int) -> bytes:
    """The line of the file at *path* whose newline is the byte before *offset* (b"" if none)."""
    with open(path, "rb") as f:
        if offset <= 0 or f.seek(0, os.SEEK_END) < offset:
            return b""
        f.seek(offset - 1)
        if f.read(1) != b"\n":
            return b""
        end = offset - 1
        pos = end
        while pos > 0:
            start = max(0, pos - (1 << 16))
            f.seek(start)
            nl = f.read(pos - start).rfind(b"\n")
            if nl >= 0:
                start += nl + 1
                break
            pos = start
        else:
            start = 0
        f.seek(start)
        return f.read(end - start)


def run_file(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    executor: Executor | AsyncExecutor,
    concurrency: int = 8,
    resume: bool = False,
    retry_errors: bool = False,
    rejects: str | os.PathLike[str] | None = None,
    on_reject: Callable[[DecodeError, bytes], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunSummary:
    """Execute every request line of *inputs*, writing one exchange record per line to *output*.

    Input lines are requests (id ``"<file>:<line>"``), batch request lines (id: their
    ``custom_id``) or exchange records (their ``id``). Each output line is
    ``{"id", "request", "response"}`` or ``{"id", "request", "error"}``, written and flushed in
    input order as soon as it and every line before it are done; every answer is journaled the
    moment it arrives (in ``OUT.run.d/``, removed when the run ends). With *resume*, a run that
    was interrupted (a kill, Ctrl-C, a crash) continues: no line that has a record, a reject or a
    journaled answer is sent again, and none is written twice (see the module docs); resuming
    against inputs that are not the files the run started with raises ConvoError.
    *retry_errors* (with *resume*) runs the lines whose record is an error again, replacing those
    records. Lines that are not requests go to *rejects* (the records of :mod:`convo.codec.rejects`:
    file, line, code, reason, ``$.path`` and the original bytes) and are counted apart; so does a
    line against the request rules when the executor is an HTTP executor that validates (it would
    refuse it unsent: code ``rule``, as the batch job rejects it). With a
    :class:`~convo.executor.BatchExecutor` the file runs as a resumable batch job instead
    (state in ``OUT.batch.json``; see :meth:`~convo.jobs.batch.BatchExecutor.run_file`).

    ``total`` counts the lines with a record (``skipped``: those that had one before this call);
    ``rejected`` counts every line of the inputs that is not a request, including those rejected
    by an earlier run, so that ``total + rejected`` is the number of non-blank input lines.

    >>> import os, tempfile
    >>> from convo.executor import MockExecutor
    >>> d = tempfile.mkdtemp(); src = os.path.join(d, "in.jsonl"); out = os.path.join(d, "out.jsonl")
    >>> with open(src, "w") as f:
    ...     _ = f.write('{"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}\\n')
    >>> s = run_file(src, out, executor=MockExecutor(lambda c: "Hello"))
    >>> s.succeeded, s.failures, s.output_tokens, os.path.exists(out + ".run.d")
    (1, 0, 2, False)
    """
    from convo.codec.jsonl import _expand, check_output_path
    from convo.jobs.batch import BatchExecutor

    if isinstance(executor, BatchExecutor):  # --via batch: a resumable batch job beside OUT
        return executor.run_file(inputs, output, resume=resume, retry_errors=retry_errors,
                                 rejects=rejects, on_progress=on_progress)
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    started = time.monotonic()
    out_path = os.fspath(output)
    rej_path = os.fspath(rejects) if rejects is not None else None
    check_output_path(out_path)
    if rej_path is not None:
        check_output_path(rej_path)
        if os.path.abspath(rej_path) == os.path.abspath(out_path):
            raise ValueError("the rejects file cannot be the output file")
    sources: Any = inputs if not isinstance(inputs, str | os.PathLike) else [inputs]
    stats = _stats_of(executor)
    retries_before = stats.retries if stats is not None else 0
    job = _FileRun(out_path, rej_path, executor, concurrency, on_reject, on_progress)
    finished = False
    try:
        job.open(list(_expand(sources)), resume)
        job.run(resume, retry_errors)
        finished = True
    finally:
        if finished:
            job.finish()
        else:
            job.close()
    retries = (stats.retries - retries_before) if stats is not None else 0
    return RunSummary(
        total=job.succeeded + sum(job.failed.values()) + job.skipped,
        succeeded=job.succeeded,
        failed=job.failed,
        skipped=job.skipped,
        rejected=job.rejected,
        retries=retries,
        input_tokens=job.tokens_in,
        output_tokens=job.tokens_out,
        elapsed=time.monotonic() - started,
    )
