"""Streaming JSONL: read lines and records from files, directories, stdin and ``.gz``; write atomically.

Layer: codec (the byte end of it). Reading holds one chunk and one line at a time, so memory stays
flat on files of any size; a line longer than the limit is reported as one error without being
read into memory, and reading goes on with the next line. Line numbers are 1-based and count
blank lines, so ``file:line`` in an error is where an editor shows it. Writing goes to a
temporary file in the target's directory that is renamed into place only when everything was
written, so a crash or a kill leaves the old output (or none), never half of a new one.

>>> import io
>>> [(r.line, r.data) for r in iter_lines(io.BytesIO(b'{"a": 1}\\r\\n\\n{"b": 2}'))]
[(1, b'{"a": 1}'), (3, b'{"b": 2}')]
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any, TypeAlias, cast

from convo.codec.lines import LineKind, RawLine, Record, decode_line, is_blank
from convo.errors import ConvoError, DecodeError

try:  # POSIX: a temporary file is locked while it is written, so a sweep leaves it alone
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locks, and no sweeping of stale files
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHUNK_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "ERROR_HEAD_BYTES",
    "AtomicWriter",
    "OutputPathError",
    "Source",
    "check_output_path",
    "commit_temp",
    "iter_lines",
    "read_records",
    "sniff_gzip",
    "start_writeback",
    "sweep_stale_temps",
    "temp_beside",
]

DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024
"""The default line-size limit: twice the API's 32 MB request limit (facts §6.3), so any request
the API accepts fits, and a runaway line cannot take all the memory."""

CHUNK_BYTES = 1 << 20
"""How much is read (or decompressed) at a time."""

ERROR_HEAD_BYTES = 1024
"""How much of a line that is too long is kept in :attr:`RawLine.data`, to show which it was."""

Source: TypeAlias = "str | os.PathLike[str] | IO[bytes]"
"""A path, ``"-"`` for stdin (or stdout when writing), or a binary file object."""

_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------- reading


def iter_lines(
    source: Source, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[RawLine]:
    """The non-blank lines of *source*, one :class:`RawLine` each, with flat memory.

    *source* is a path, ``"-"`` (stdin) or a binary file object (left open); gzip data is
    decompressed whether the name ends in ``.gz`` or not (the magic bytes tell). Line endings
    may be ``\\n`` or ``\\r\\n``; a last line without a newline is read; a UTF-8 byte order mark
    stays in the line's bytes (the decoder skips it, a reject keeps it). Blank lines
    (only JSON whitespace: :func:`~convo.codec.lines.is_blank`) are skipped. A line longer than
    *max_line_bytes* comes as a RawLine whose ``error`` says so (its ``data`` is only the head),
    and the lines after it are read as usual.

    >>> import io
    >>> lines = list(iter_lines(io.BytesIO(b'{"a":1}\\n' + b"x" * 50 + b'\\n{"c":3}\\n'),
    ...                         max_line_bytes=20))
    >>> [(r.line, r.error is None) for r in lines]
    [(1, True), (2, False), (3, True)]
    >>> print(lines[1].error)
    <stream>:2: $: line longer than the limit of 20 bytes (50 bytes)
    """
    if max_line_bytes < 1:
        raise ValueError(f"max_line_bytes must be at least 1, got {max_line_bytes}")
    name, f, owned = _open_source(source)
    try:
        yield from _split(name, _chunks(f, chunk_bytes), max_line_bytes)
    finally:
        if owned:
            f.close()


def _open_source(source: Source) -> tuple[str, IO[bytes], bool]:
    """(name for errors, binary file, whether we opened it and must close it)."""
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        if path == "-":
            return "<stdin>", sys.stdin.buffer, False
        return path, open(path, "rb"), True  # closed by iter_lines' finally
    name = getattr(source, "name", None)
    return (name if isinstance(name, str) else "<stream>"), source, False


def sniff_gzip(f: IO[bytes]) -> tuple[bool, IO[bytes]]:
    """Whether *f* starts with gzip's magic bytes, and a file that reads *f* from where it was.

    Nothing is consumed from a buffered or seekable file (the same file comes back); a bare
    pipe is wrapped, so the bytes looked at are read again. Close the original when done.

    >>> import gzip, io
    >>> sniff_gzip(io.BytesIO(gzip.compress(b"{}")))[0], sniff_gzip(io.BytesIO(b"{}"))[0]
    (True, False)
    """
    head, rest = _peek(f, len(_GZIP_MAGIC))
    return head.startswith(_GZIP_MAGIC), rest


def _chunks(f: IO[bytes], size: int) -> Iterator[bytes]:
    """Chunks of the decompressed content of *f* (gzip or not, told by the magic bytes)."""
    is_gzip, rest = sniff_gzip(f)
    if is_gzip:
        # GzipFile reads every member, tolerates zero padding, and bounds each read's output
        # (a small compressed chunk can hold a huge run: never decompress it all at once).
        gz = gzip.GzipFile(fileobj=rest, mode="rb")
        read: Callable[[int], bytes] = gz.read1
        try:
            while chunk := read(size):
                yield chunk
        except EOFError:
            raise DecodeError("gzip data ends early: the file is truncated") from None
        except (OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise DecodeError(f"corrupt gzip data: {e}") from None
        return
    read = getattr(rest, "read1", None) or rest.read
    while chunk := read(size):
        yield chunk


def _peek(f: IO[bytes], n: int) -> tuple[bytes, IO[bytes]]:
    """The first *n* bytes of *f* (fewer at its end) and a file that still starts with them."""
    peek = getattr(f, "peek", None)
    if peek is not None:  # buffered readers (files, stdin) look ahead without consuming
        head: bytes = peek(n)[:n]
        # peek may see fewer bytes than asked (a pipe); that matters only if they could be gzip's
        if len(head) >= n or head != _GZIP_MAGIC[: len(head)]:
            return head, f
    elif f.seekable():
        pos = f.tell()
        head = f.read(n)
        f.seek(pos)
        return head, f
    head = b""
    while len(head) < n and (more := f.read(n - len(head))):
        head += more
    return head, io.BufferedReader(_Prefixed(head, f))


class _Prefixed(io.RawIOBase):
    """A non-seekable stream with bytes already read from it put back in front."""

    def __init__(self, head: bytes, f: IO[bytes]) -> None:
        self._head = head
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._f.read(len(b))
        b[: len(data)] = data
        return len(data)


def _too_long(name: str, lineno: int, head: bytes, size: int, limit: int) -> RawLine:
    err = DecodeError(f"line longer than the limit of {limit} bytes ({size} bytes)", file=name,
                      line=lineno)
    return RawLine(name, lineno, head[:ERROR_HEAD_BYTES], err)


def _head(parts: list[bytes]) -> bytes:
    """The first ERROR_HEAD_BYTES of the pieces, without joining them all."""
    out = b""
    for p in parts:
        out += p[: ERROR_HEAD_BYTES - len(out)]
        if len(out) >= ERROR_HEAD_BYTES:
            break
    return out


def _finish(name: str, lineno: int, line: bytes) -> RawLine | None:
    """The RawLine for a complete line within the limit, or None for a blank one."""
    if is_blank(line):  # only JSON whitespace (after a byte order mark)
        return None
    if line[-1] == 13:  # "\r" of a CRLF ending
        line = line[:-1]
    return RawLine(name, lineno, line)


def _split(name: str, chunks: Iterator[bytes], limit: int) -> Iterator[RawLine]:
    """Cut chunks into lines. Only the line being read is held: as pieces while it is within the
    limit, and then only its head and its length."""
    lineno = 0
    parts: list[bytes] = []  # pieces of the line that goes on into the next chunk
    size = 0  # its length so far
    try:
        for chunk in chunks:
            pieces = chunk.split(b"\n")
            tail = pieces.pop()  # after the chunk's last newline: a line still going on
            for piece in pieces:
                lineno += 1
                if parts or size:
                    size += len(piece)
                    if size > limit:
                        yield _too_long(name, lineno, _head([*parts, piece]), size, limit)
                        parts, size = [], 0
                        continue
                    parts.append(piece)
                    piece = b"".join(parts)
                    parts, size = [], 0
                elif len(piece) > limit:
                    yield _too_long(name, lineno, piece, len(piece), limit)
                    continue
                raw = _finish(name, lineno, piece)
                if raw is not None:
                    yield raw
            if tail:
                if size > limit:  # already too long: count, and fill the head
                    size += len(tail)
                    if len(parts[0]) < ERROR_HEAD_BYTES:
                        parts[0] += tail[: ERROR_HEAD_BYTES - len(parts[0])]
                    continue
                size += len(tail)
                parts.append(tail)
                if size > limit:  # it just became too long: drop all but the head
                    parts = [_head(parts)]
    except DecodeError as e:  # the stream itself is broken (corrupt or truncated gzip)
        lineno += 1
        yield RawLine(name, lineno, _head(parts), e.located(file=name, line=lineno))
        return
    if parts or size:
        lineno += 1
        if size > limit:
            yield _too_long(name, lineno, _head(parts), size, limit)
        else:
            raw = _finish(name, lineno, b"".join(parts))
            if raw is not None:
                yield raw


def _expand(sources: Source | Iterable[Source]) -> Iterator[Source]:
    """Each source in turn; a directory stands for its ``*.jsonl`` and ``*.jsonl.gz`` files, sorted."""
    items: Iterable[Source]
    if isinstance(sources, str | os.PathLike) or hasattr(sources, "read"):
        items = [cast(Source, sources)]
    else:
        items = sources
    for src in items:
        if isinstance(src, str | os.PathLike) and os.fspath(src) != "-" and os.path.isdir(src):
            base = os.fspath(src)
            names = sorted(n for n in os.listdir(base) if n.endswith((".jsonl", ".jsonl.gz")))
            for n in names:
                full = os.path.join(base, n)
                if os.path.isfile(full):
                    yield full
        else:
            yield src


def read_records(
    sources: Source | Iterable[Source],
    *,
    kind: LineKind | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Record | DecodeError]:
    """Every line of every source as a :class:`Record`, or the :class:`DecodeError` saying why not.

    Sources are paths, directories (their ``*.jsonl`` and ``*.jsonl.gz`` files, sorted by name),
    ``"-"`` or binary file objects. A bad line does not stop the reading; its error is yielded in
    its place, located at ``file:line``. (To keep a bad line's bytes too, loop over
    :func:`iter_lines` and :func:`~convo.codec.lines.decode_line` yourself.)

    >>> import io
    >>> src = io.BytesIO(b'{"model": "m", "messages": []}\\n[1]\\n')
    >>> [r.kind if isinstance(r, Record) else str(r) for r in read_records(src)]
    ['request', '<stream>:2: $: expected a JSON object, got an array']
    """
    for src in _expand(sources):
        for raw in iter_lines(src, max_line_bytes=max_line_bytes):
            try:
                yield decode_line(raw, kind=kind)
            except DecodeError as e:
                yield e


# --------------------------------------------------------------------------- writing


class AtomicWriter:
    """Write JSON lines to *path* all at once or not at all (``"-"``: stdout, as they come).

    Lines go to a temporary file beside *path*; leaving the ``with`` block normally flushes it,
    fsyncs it and renames it over *path*; leaving it with an exception removes the temporary
    file and leaves *path* as it was. *compress* gzips the output (default: when *path* ends in
    ``.gz``). The gzip stream carries no name or time, so equal lines give equal bytes.

    >>> import os, tempfile, pathlib
    >>> path = os.path.join(tempfile.mkdtemp(), "out.jsonl")
    >>> with AtomicWriter(path) as w:
    ...     w.write(b'{"a":1}')
    ...     w.write(b'{"b":2}')
    >>> w.count, pathlib.Path(path).read_bytes()
    (2, b'{"a":1}\\n{"b":2}\\n')
    """

    def __init__(
        self, path: str | os.PathLike[str], *, compress: bool | None = None, level: int = 6
    ) -> None:
        self.path = os.fspath(path)
        self.compress = self.path.endswith(".gz") if compress is None else compress
        self.level = level
        self.count = 0
        """Lines written so far."""
        self._out: IO[bytes] | None = None
        self._tmp: str | None = None
        self._z: Any = None
        self._buf: list[bytes] = []
        self._buffered = 0

    def __repr__(self) -> str:
        return f"AtomicWriter({self.path!r}, compress={self.compress!r}, count={self.count})"

    def __enter__(self) -> AtomicWriter:
        if self._out is not None or self._tmp is not None:
            raise ValueError("an AtomicWriter can be entered only once")
        if self.path == "-":
            self._out = sys.stdout.buffer
        else:
            self._tmp, self._out = temp_beside(self.path, buffering=CHUNK_BYTES)
        if self.compress:
            # wbits 31: a gzip wrapper with no file name and mtime 0 (reproducible output)
            self._z = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return self

    def write(self, line: bytes) -> None:
        """Write one line; the newline is added here."""
        out = self._out
        if out is None:
            raise ValueError("write outside the with block of an AtomicWriter")
        if self._z is not None:
            self._buf.append(line)
            self._buf.append(b"\n")
            self._buffered += len(line) + 1
            if self._buffered >= CHUNK_BYTES:
                self._drain(out)
        else:
            out.write(line)
            out.write(b"\n")
        self.count += 1

    def _drain(self, out: IO[bytes]) -> None:
        out.write(self._z.compress(b"".join(self._buf)))
        self._buf, self._buffered = [], 0

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        out, tmp = self._out, self._tmp
        self._out = None
        if out is None:
            return
        if exc_type is not None:
            if tmp is not None:
                out.close()
                os.unlink(tmp)
            return
        try:
            if self._z is not None:
                self._drain(out)
                out.write(self._z.flush())
            out.flush()
            if tmp is None:  # stdout: nothing to rename
                return
            commit_temp(out, tmp, self.path)
        except BaseException:
            if tmp is not None:
                out.close()
                if os.path.exists(tmp):
                    os.unlink(tmp)
            raise


class OutputPathError(ConvoError, OSError):
    """An output path that cannot be written (a directory, a missing directory): nothing was created."""


def check_output_path(path: str) -> None:
    """Raise :class:`OutputPathError` naming *path* when a file cannot be written there.

    Called before anything is created (no temporary file, no rejects file), so that a mistake in
    ``-o`` costs nothing and the message names the path the user gave. ``-`` (stdout) passes.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> check_output_path(d)
    Traceback (most recent call last):
    ...
    convo.codec.jsonl.OutputPathError: cannot write ...: it is a directory (name a file in it)
    >>> check_output_path(d + "/no/such/out.jsonl")
    Traceback (most recent call last):
    ...
    convo.codec.jsonl.OutputPathError: cannot write .../no/such/out.jsonl: no such directory .../no/such
    """
    if path == "-":
        return
    if os.path.isdir(path):
        raise OutputPathError(f"cannot write {path}: it is a directory (name a file in it)")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        what = "not a directory" if os.path.exists(parent) else "no such directory"
        raise OutputPathError(f"cannot write {path}: {what} {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {path}: the directory {parent} is not writable")


def _temp_pattern(path: str) -> re.Pattern[str]:
    # what mkstemp (as tempfile.mkstemp) names our temporary files: "." + name + "." + 8 random characters
    # (tempfile's alphabet) + ".tmp"; nothing else matches, not even another output's temps
    return re.compile(re.escape(f".{os.path.basename(path)}.") + r"[a-z0-9_]{8}\.tmp")


def sweep_stale_temps(path: str) -> list[str]:
    """Remove the temporary files of *path* that a killed writer left behind; their names.

    Only convo's own (named as :func:`temp_beside` names them) and only those no live process is
    writing: a writer holds a lock on its temporary file until it is renamed or removed, and the
    kernel drops the lock when the writer dies (SIGKILL included). Where locks are not available
    (Windows), nothing is removed.

    >>> import os, tempfile
    >>> d = tempfile.mkdtemp(); target = os.path.join(d, "out.jsonl")
    >>> stale = os.path.join(d, ".out.jsonl.k3x9q2ab.tmp"); _ = open(stale, "w").write("half")
    >>> tmp, f = temp_beside(target)   # a new writer sweeps the stale one, and is left alone
    >>> sorted(os.listdir(d)) == [os.path.basename(tmp)]
    True
    >>> f.close(); os.unlink(tmp)
    """
    if fcntl is None:
        return []
    directory = os.path.dirname(os.path.abspath(path))
    pattern = _temp_pattern(path)
    removed: list[str] = []
    try:
        entries = os.scandir(directory)
    except OSError:
        return removed
    with entries:
        names = [e.name for e in entries if pattern.fullmatch(e.name)]
    for name in names:
        full = os.path.join(directory, name)
        try:
            fd = os.open(full, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # a live writer's
        try:
            if os.path.samestat(os.fstat(fd), os.stat(full, follow_symlinks=False)):
                os.unlink(full)
                removed.append(full)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


_TEMP_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_"  # tempfile's


def mkstemp(directory: str, prefix: str, suffix: str) -> tuple[int, str]:
    """``tempfile.mkstemp(suffix, prefix, directory)``: a new file, created exclusively, readable
    and writable by its owner only, not inherited by children, and its file descriptor and path:
    *prefix*, 8 random characters of tempfile's alphabet, *suffix*. Without importing tempfile,
    whose ``random`` costs a data command about 11M instructions (~7 ms) at start.

    >>> import os, tempfile
    >>> fd, path = mkstemp(tempfile.mkdtemp(), ".out.jsonl.", ".tmp"); os.close(fd)
    >>> bool(_temp_pattern("out.jsonl").fullmatch(os.path.basename(path))), oct(os.stat(path).st_mode & 0o777)
    (True, '0o600')
    """
    flags = (os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))
    for _ in range(100):  # (as tempfile: a name taken is drawn again)
        name = "".join([_TEMP_CHARS[b % len(_TEMP_CHARS)] for b in os.urandom(8)])
        path = os.path.join(directory, prefix + name + suffix)
        try:
            return os.open(path, flags, 0o600), os.path.abspath(path)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary file name found", directory)


def temp_beside(path: str, *, buffering: int = -1) -> tuple[str, IO[bytes]]:
    """A new hidden temporary file in *path*'s directory: its name and the file, open to write.

    Beside the target, so :func:`commit_temp` can rename it over *path* (a rename within one
    file system is atomic). :class:`AtomicWriter` and the command's output files both use it.
    The file is locked while it is open, and the temporary files of *path* that killed writers
    left are removed first (:func:`sweep_stale_temps`), so they never pile up. A *path* that is a
    directory, or in a directory that does not exist, raises :class:`OutputPathError`.

    >>> import os, tempfile, pathlib
    >>> target = os.path.join(tempfile.mkdtemp(), "out.jsonl")
    >>> tmp, f = temp_beside(target)
    >>> _ = f.write(b"{}\\n")
    >>> commit_temp(f, tmp, target)
    >>> pathlib.Path(target).read_bytes(), os.path.exists(tmp)
    (b'{}\\n', False)
    """
    check_output_path(path)
    sweep_stale_temps(path)
    fd, tmp = mkstemp(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}.", ".tmp")
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
    return tmp, os.fdopen(fd, "wb", buffering=buffering)


def commit_temp(out: IO[bytes], tmp: str, path: str) -> None:
    """Put the temporary file *tmp* (open as *out*, all written) in place of *path*, durably.

    Flushes and fsyncs it, gives it the permission bits *path* has (or what ``open()`` would
    give a new file: mkstemp makes it 0600), closes it, renames it over *path* and fsyncs the
    directory. On an error the temporary file is left for the caller to remove.
    """
    out.flush()
    os.fsync(out.fileno())
    os.chmod(tmp, _mode_for(path))
    out.close()
    os.replace(tmp, path)
    _fsync_dir(os.path.dirname(os.path.abspath(path)))


WRITEBACK_BYTES = 16 << 20
"""How much a writer lets pile up in the page cache before asking the kernel to start writing it."""

_FADVISE = getattr(os, "posix_fadvise", None)  # not on macOS or Windows


def start_writeback(fd: int, start: int, end: int) -> None:
    """Ask the kernel to start writing bytes [start, end) of *fd* to disk now, without waiting.

    Output written durably ends with an fsync, which otherwise waits for all of it at once (about
    40 ms per 100 MB here); started early, the writing overlaps the work and the fsync finds
    little left (about 3 ms) [OBS Linux: POSIX_FADV_DONTNEED starts writeback of dirty pages and
    drops the clean ones]. Where the platform has no posix_fadvise it does nothing.
    """
    if _FADVISE is not None and end > start:
        with contextlib.suppress(OSError):
            _FADVISE(fd, start, end - start, os.POSIX_FADV_DONTNEED)


def _mode_for(path: str) -> int:
    """The permission bits the output gets: the old file's, else what open() would give."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


_UMASK: list[int] = []


def _umask() -> int:
    # os.umask can only be read by setting it; do that once per process.
    if not _UMASK:
        mask = os.umask(0o022)
        os.umask(mask)
        _UMASK.append(mask)
    return _UMASK[0]


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (POSIX); where directories cannot be opened, skip it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
