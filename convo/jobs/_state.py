"""What every resumable job keeps on disk: a state file, a lock, the identity of its inputs, a journal.

Layer: jobs (private). :func:`convo.jobs.run_file` and the Message Batches job
(:mod:`convo.jobs._batch_job`) both stand on these four pieces, so that a kill at any moment leaves
something the next run can continue from, and nothing in those files can point the job elsewhere:

- :func:`save_state` / :func:`load_state`: a JSON state file, replaced atomically (temporary file,
  fsync, rename) so that it is always the old or the new state, never half of one;
- :class:`JobLock`: an exclusive ``flock`` on a lock file, so two processes never work on one job
  (the kernel drops it when its holder dies, so a killed run leaves no stale lock);
- :func:`identify` / :func:`identity_problem`: an input file's identity (device, inode, size,
  modification time, and a SHA-256 of its first 64 KiB), so that a resume is keyed by the file
  and not by the path as typed, and refuses a file that is not the one the job started from;
- :class:`Journal`: an append-only JSON-lines log, each line written whole with one ``write``
  (a kill leaves at most a torn last line, cut on the next open) and fsynced in batches.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from convo.codec.jsonl import AtomicWriter
from convo.errors import ConvoError

try:  # POSIX: flock keeps two processes off one job
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl; the lock is skipped there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "HEAD_BYTES",
    "Journal",
    "JobLock",
    "complete_lines",
    "cut_torn_tail",
    "identify",
    "identity_problem",
    "load_state",
    "save_state",
]

HEAD_BYTES = 64 * 1024
"""How much of an input's head is hashed into its identity."""


# --------------------------------------------------------------------------- the state file


def save_state(path: str, state: Mapping[str, Any]) -> None:
    """Replace the state file at *path* with *state*, atomically and durably.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "job.json")
    >>> save_state(p, {"format": "demo", "version": 1, "n": 3})
    >>> load_state(p, "demo", 1)["n"]
    3
    """
    with AtomicWriter(path, compress=False) as w:
        w.write(orjson.dumps(state, option=orjson.OPT_INDENT_2))


def load_state(path: str, fmt: str, version: int) -> dict[str, Any]:
    """The state saved at *path*, checked for its format and version (ConvoError if not).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "x.json")
    >>> _ = open(p, "w").write("[1, 2]")
    >>> load_state(p, "demo", 1)
    Traceback (most recent call last):
    ...
    convo.errors.ConvoError: ... is not a convo demo state file
    """
    try:
        with open(path, "rb") as f:
            data = orjson.loads(f.read())
    except (OSError, orjson.JSONDecodeError) as e:
        raise ConvoError(f"cannot read the state file {path}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        what = fmt.removeprefix("convo-").removesuffix("-state")
        raise ConvoError(f"{path} is not a convo {what} state file")
    if data.get("version") != version:
        raise ConvoError(f"{path}: state version {data.get('version')!r} is not supported")
    return data


# --------------------------------------------------------------------------- the lock


class JobLock:
    """An exclusive lock on a job, held through a ``flock`` on the file at *path*.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "lock")
    >>> a, b = JobLock(p), JobLock(p)
    >>> a.try_lock(), b.try_lock()
    (True, False)
    >>> a.unlock(); b.try_lock()
    True
    >>> b.unlock()
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def try_lock(self) -> bool:
        """Take the lock (creating its directory and file); False when another process holds it."""
        if self._fd is not None:
            return True
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
        self._fd = fd
        return True

    def lock(self, busy: str) -> None:
        """Take the lock or raise ConvoError(*busy*)."""
        if not self.try_lock():
            raise ConvoError(busy)

    def unlock(self) -> None:
        """Let go of the lock (closing the file releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# --------------------------------------------------------------------------- input identity


def identify(path: str) -> dict[str, Any]:
    """The identity of the file at *path*: device, inode, size, mtime (ns) and the SHA-256 of its head.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "in.jsonl")
    >>> _ = open(p, "w").write("{}\\n")
    >>> sorted(identify(p)), identify(p)["size"]
    (['dev', 'head', 'ino', 'mtime_ns', 'size'], 3)
    """
    with open(path, "rb") as f:
        st = os.fstat(f.fileno())
        head = hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "head": head}


def identity_problem(recorded: Mapping[str, Any], path: str) -> str | None:
    """Why the file at *path* is not the file *recorded* (by :func:`identify`), or None when it is.

    The same file (device and inode) unchanged (size, mtime) is the one; a file elsewhere (a copy,
    the file moved to another disk) is the one when its size and the hash of its head agree.
    Fields missing from *recorded* (an older state file) are not compared.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "a.jsonl")
    >>> _ = open(p, "w").write("{}\\n")
    >>> rec = identify(p)
    >>> identity_problem(rec, p) is None, identity_problem(rec, os.path.join(d, ".", "a.jsonl")) is None
    (True, True)
    >>> _ = open(p, "a").write("{}\\n")
    >>> identity_problem(rec, p)
    'it has 6 bytes, not the 3 it had'
    """
    try:
        now = identify(path)
    except OSError as e:
        return f"it cannot be read ({e.strerror or e})"
    size = recorded.get("size")
    if size is not None and size != now["size"]:
        return f"it has {now['size']:,} bytes, not the {size:,} it had"
    same_inode = recorded.get("dev") == now["dev"] and recorded.get("ino") == now["ino"]
    if same_inode and recorded.get("mtime_ns", now["mtime_ns"]) == now["mtime_ns"]:
        return None
    head = recorded.get("head")
    if head is not None and head != now["head"]:
        return "its first bytes differ"
    if head is None and not same_inode and "ino" in recorded:
        return "it is another file"
    return None


# --------------------------------------------------------------------------- the journal


def cut_torn_tail(path: str) -> int:
    """Cut what follows the last newline of the file at *path* (a line a kill left half written).

    Reads from the end, a block at a time, whatever the file's size. Returns the new size (0 when
    there is no file).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "j.jsonl")
    >>> _ = open(p, "wb").write(b'{"a":1}\\n{"b":')
    >>> cut_torn_tail(p), open(p, "rb").read()
    (8, b'{"a":1}\\n')
    """
    try:
        f = open(path, "r+b")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    with f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        while pos > 0:
            start = max(0, pos - (1 << 16))
            f.seek(start)
            block = f.read(pos - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                keep = start + nl + 1
                break
            pos = start
        else:
            keep = 0
        if keep != end:
            f.truncate(keep)
            f.flush()
            os.fsync(f.fileno())
        return keep


def complete_lines(path: str, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, line without its newline) of each complete line of the file at *path* from byte
    *start*: a torn last line (no newline yet) is not one; a missing file has none."""
    try:
        f = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        offset = start
        for line in f:
            if not line.endswith(b"\n"):
                return
            yield offset, line[:-1]
            offset += len(line)


class Journal:
    """An append-only log of JSON lines at *path*, safe to write from several threads.

    Each :meth:`append` is one ``write`` of a whole line (so a kill leaves at most a torn last
    line, which opening the journal again cuts off), visible to a later reader at once (a killed
    process loses nothing it appended); an fsync follows every *every* lines or *interval*
    seconds, and on :meth:`sync` and :meth:`close`, so a crash of the machine loses at most that.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "journal.jsonl")
    >>> with Journal(p) as j:
    ...     j.append({"at": [0, 1], "n": 1}), j.append({"at": [0, 2], "n": 2})
    (0, 19)
    >>> [e["n"] for _, e in Journal.read(p)]
    [1, 2]
    """

    def __init__(self, path: str, *, every: int = 64, interval: float = 1.0) -> None:
        self.path = path
        self.every = every
        self.interval = interval
        cut_torn_tail(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        self.size = os.fstat(self._fd).st_size
        self._lock = threading.Lock()
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def append(self, entry: Any) -> int:
        """Append *entry* (JSON-able, or a line of bytes without its newline); returns its offset."""
        line = (entry if isinstance(entry, bytes) else orjson.dumps(entry)) + b"\n"
        with self._lock:
            offset = self.size
            view = memoryview(line)
            while view:  # a regular file takes it in one write; a short write is finished here
                n = os.write(self._fd, view)
                view = view[n:]
            self.size += len(line)
            self._unsynced += 1
            if self._unsynced >= self.every or time.monotonic() - self._synced_at >= self.interval:
                self._sync()
            return offset

    def sync(self) -> None:
        """Make every line appended so far durable."""
        with self._lock:
            self._sync()

    def _sync(self) -> None:
        if self._unsynced:
            os.fsync(self._fd)
        self._unsynced = 0
        self._synced_at = time.monotonic()

    def truncate(self, size: int) -> None:
        """Cut the journal back to *size* bytes (what a recorded step covered)."""
        with self._lock:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
            self.size = size
            self._unsynced = 0

    def close(self) -> None:
        """Sync and close (idempotent)."""
        with self._lock:
            if self._fd < 0:
                return
            with contextlib.suppress(OSError):
                self._sync()
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def read(path: str, start: int = 0) -> Iterator[tuple[int, Any]]:
        """Each complete entry of the journal at *path* from byte *start*, with its offset.

        A torn last line (no newline yet) is not an entry. A line that is not JSON raises
        ConvoError naming the journal and the offset.
        """
        for offset, line in complete_lines(path, start):
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise ConvoError(f"{path}: byte {offset:,} is not a journal entry; the journal "
                                 "is damaged") from None
            yield offset, entry

    @staticmethod
    def read_at(path: str, offset: int) -> Any:
        """The entry at *offset* (as :meth:`read` gave it)."""
        with open(path, "rb") as f:
            f.seek(offset)
            return orjson.loads(f.readline())
