"""Streaming JSONL: line splitting, gzip, stdin/stdout, size limits, flat memory and atomic writes."""

from __future__ import annotations

import gzip
import io
import os
import signal
import stat
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from convo.codec.jsonl import AtomicWriter, iter_lines, read_records
from convo.codec.lines import RawLine, Record, decode_line
from convo.errors import DecodeError

REQ = b'{"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}'
REPO = Path(__file__).parents[1]


def _lines(data: bytes, **kw: Any) -> list[tuple[int, bytes]]:
    return [(r.line, r.data) for r in iter_lines(io.BytesIO(data), **kw)]


def _run(code: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], input=stdin,
                          capture_output=True, check=True, cwd=REPO, timeout=120)


class _Lazy(io.RawIOBase):
    """A non-seekable stream of *parts*, each (byte, count), produced without holding them."""

    def __init__(self, parts: list[tuple[bytes, int]]) -> None:
        self._parts = list(parts)

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while self._parts and self._parts[0][1] == 0:
            self._parts.pop(0)
        if not self._parts:
            return 0
        chunk, left = self._parts[0]
        if len(chunk) > 1:  # literal bytes: hand over whole (they are small)
            n = min(len(b), len(chunk))
            b[:n] = chunk[:n]
            self._parts[0] = (chunk[n:], left if chunk[n:] else 0)
            return n
        n = min(len(b), left)
        b[:n] = chunk * n
        self._parts[0] = (chunk, left - n)
        return n


class TestIterLines:
    def test_blank_lines_are_skipped_but_counted(self) -> None:
        """Line numbers are those an editor shows, blank and whitespace-only lines included."""
        data = b'{"a":1}\n\n   \n\t\n{"b":2}\n\n'
        assert _lines(data) == [(1, b'{"a":1}'), (5, b'{"b":2}')]

    def test_crlf_and_a_last_line_without_newline(self) -> None:
        """CRLF endings are tolerated and a final line without a newline is read."""
        assert _lines(b'{"a":1}\r\n\r\n{"b":2}') == [(1, b'{"a":1}'), (3, b'{"b":2}')]

    @pytest.mark.parametrize("chunk", [1, 2, 1 << 20])
    def test_a_utf8_bom_at_the_start_stays_in_line_one(self, chunk: int) -> None:
        """A byte order mark before the first line stays in its bytes (a reject keeps it), the
        decoder skips it, and a line of only a BOM is blank, however the bytes arrive."""
        data = b'\xef\xbb\xbf{"model":"m"}\n{"b":2}\n'
        got = list(iter_lines(io.BytesIO(data), chunk_bytes=chunk))
        assert [(r.line, r.data) for r in got] == [(1, b'\xef\xbb\xbf{"model":"m"}'), (2, b'{"b":2}')]
        assert decode_line(got[0]).value.model == "m"
        assert _lines(b'\xef\xbb\xbf\n{"b":2}', chunk_bytes=chunk) == [(2, b'{"b":2}')]

    def test_empty_input_gives_no_lines(self) -> None:
        """An empty stream (or only newlines) yields nothing."""
        assert _lines(b"") == [] and _lines(b"\n\n\n") == []

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.one_of(st.just(b""), st.just(b" "), st.binary(min_size=1, max_size=30)
                              .map(lambda b: b.replace(b"\n", b"x").replace(b"\r", b"y"))),
                    max_size=12),
           st.booleans(), st.booleans(), st.integers(min_value=1, max_value=40))
    @example([b"", b"\xef\xbb\xbf"], False, False, 1)  # a BOM alone on a later line: blank (is_blank)
    @example([b"\xef\xbb\xbf\x00"], False, False, 1)  # a BOM opening line 1 stays in its bytes (CI found it)
    def test_chunk_boundaries_never_change_the_lines(
        self, lines: list[bytes], crlf: bool, final_newline: bool, chunk: int
    ) -> None:
        """Whatever the chunk size, the lines and their numbers are those of a plain split."""
        sep = b"\r\n" if crlf else b"\n"
        data = sep.join(lines) + (sep if final_newline and lines else b"")
        # a BOM opening the data stays in line 1's bytes (test_a_utf8_bom_at_the_start_stays_in_line_one)
        # blank is JSON's whitespace only (space, tab, CR, LF), after a byte order mark on any
        # line (concatenated files): a line of \x0b or \x0c is a line, a line of a BOM is blank
        expected = [(i, x) for i, x in enumerate(lines, 1) if x.removeprefix(b"\xef\xbb\xbf").strip(b" \t\r\n")]
        assert _lines(data, chunk_bytes=chunk) == expected

    @pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 20])
    def test_a_line_over_the_limit_is_one_error_and_reading_goes_on(self, chunk: int) -> None:
        """A too-long line, wherever chunks fall, gives one error with its size; later lines are read."""
        data = b'{"a":1}\n' + b"x" * 300 + b'\n{"c":3}\n' + b"y" * 101
        got = list(iter_lines(io.BytesIO(data), max_line_bytes=100, chunk_bytes=chunk))
        assert [(r.line, r.error is None) for r in got] == [(1, True), (2, False), (3, True), (4, False)]
        assert got[1].error is not None and "(300 bytes)" in str(got[1].error)
        assert str(got[1].error).startswith("<stream>:2: $: line longer than the limit of 100 bytes")
        assert got[1].data == b"x" * 300  # the head (up to ERROR_HEAD_BYTES) is kept
        assert "(101 bytes)" in str(got[3].error)

    def test_a_line_exactly_at_the_limit_is_read(self) -> None:
        """The limit is inclusive."""
        assert _lines(b"z" * 10 + b"\n", max_line_bytes=10) == [(1, b"z" * 10)]

    def test_a_100_mb_line_is_rejected_without_reading_it_into_memory(self) -> None:
        """A 100 MB line against a 1 MiB limit is one error, memory stays small, and the next lines are read."""
        stream = _Lazy([(REQ + b"\n", 1), (b"x", 100 * 1024 * 1024), (b"\n" + REQ + b"\n" + REQ, 1)])
        tracemalloc.start()
        try:
            got = [(r.line, r.error is not None, len(r.data))
                   for r in iter_lines(io.BufferedReader(stream), max_line_bytes=1 << 20)]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert got == [(1, False, len(REQ)), (2, True, 1024), (3, False, len(REQ)), (4, False, len(REQ))]
        assert peak < 8 * 1024 * 1024

    def test_memory_stays_flat_on_a_large_file(self, tmp_path: Path) -> None:
        """Reading a 40 MB file line by line keeps peak memory to a few chunks."""
        path = tmp_path / "big.jsonl"
        line = b'{"model":"m","messages":[{"role":"user","content":"' + b"a" * 4000 + b'"}]}\n'
        with open(path, "wb") as f:
            for _ in range(10_000):
                f.write(line)
        tracemalloc.start()
        try:
            count = sum(1 for _ in iter_lines(path))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert count == 10_000
        assert peak < 6 * 1024 * 1024

    def test_paths_as_str_and_pathlike_and_file_objects(self, tmp_path: Path) -> None:
        """A str path, a Path and an open binary file give the same lines, named after the source."""
        path = tmp_path / "a.jsonl"
        path.write_bytes(REQ + b"\n")
        by_str = list(iter_lines(str(path)))
        by_path = list(iter_lines(path))
        with open(path, "rb") as f:
            by_file = list(iter_lines(f))
            assert not f.closed  # a caller's file stays open
        assert by_str == by_path == by_file == [RawLine(str(path), 1, REQ)]

    def test_a_file_it_opened_is_closed_when_iteration_stops(self, tmp_path: Path) -> None:
        """Closing the iterator early closes the file it opened."""
        path = tmp_path / "a.jsonl"
        path.write_bytes(REQ + b"\n" + REQ + b"\n")
        it = iter_lines(path)
        next(it)
        frame = it.gi_frame
        assert frame is not None
        f = frame.f_locals["f"]
        it.close()
        assert f.closed

    @pytest.mark.parametrize("name", ["data.jsonl.gz", "data.jsonl"])
    def test_gzip_is_read_by_name_or_by_magic_bytes(self, tmp_path: Path, name: str) -> None:
        """Gzip content is decompressed whether or not the name ends in .gz."""
        path = tmp_path / name
        path.write_bytes(gzip.compress(b'{"a":1}\n\n{"b":2}\n'))
        assert [(r.line, r.data) for r in iter_lines(path)] == [(1, b'{"a":1}'), (3, b'{"b":2}')]

    def test_gzip_from_a_stream_without_peek_or_seek(self) -> None:
        """A non-seekable raw stream of gzip data is recognised and decompressed."""
        stream = _Lazy([(gzip.compress(b'{"a":1}\n{"b":2}'), 1)])
        assert [r.data for r in iter_lines(stream)] == [b'{"a":1}', b'{"b":2}']

    def test_multi_member_gzip(self) -> None:
        """Concatenated gzip members (as `cat a.gz b.gz` makes) read as one stream."""
        data = gzip.compress(b'{"a":1}\n{"b":') + gzip.compress(b"2}\n")
        assert _lines(data) == [(1, b'{"a":1}'), (2, b'{"b":2}')]

    def test_a_truncated_gzip_file_ends_with_an_error_line(self) -> None:
        """A cut-off gzip stream yields the lines it holds, then one located error."""
        data = gzip.compress(b"".join(b'{"n":%d}\n' % (i * 7919 % 10007) for i in range(2000)))[:-20]
        got = list(iter_lines(io.BytesIO(data)))
        assert all(r.error is None for r in got[:-1]) and len(got) > 1
        assert got[-1].error is not None and "truncated" in str(got[-1].error)
        assert got[-1].error.line == got[-1].line

    def test_corrupt_gzip_data_is_an_error_line(self) -> None:
        """Garbage inside a gzip stream is reported as an error, not an exception."""
        data = bytearray(gzip.compress(os.urandom(5000)))
        data[20:60] = b"\x00" * 40
        got = list(iter_lines(io.BytesIO(bytes(data))))
        assert got[-1].error is not None and "gzip" in str(got[-1].error)

    def test_a_limit_below_one_is_refused(self) -> None:
        """max_line_bytes must be positive."""
        with pytest.raises(ValueError, match="max_line_bytes"):
            list(iter_lines(io.BytesIO(b""), max_line_bytes=0))

    @pytest.mark.parametrize("compress", [False, True])
    def test_stdin_is_read_with_dash(self, compress: bool) -> None:
        """"-" reads standard input, plain or gzip."""
        data = REQ + b"\n\n" + REQ + b"\n"
        out = _run("""
            from convo.codec.jsonl import iter_lines
            for r in iter_lines("-"):
                print(r.file, r.line, len(r.data))
        """, stdin=gzip.compress(data) if compress else data)
        assert out.stdout.decode().split("\n")[:2] == [f"<stdin> 1 {len(REQ)}", f"<stdin> 3 {len(REQ)}"]


class TestReadRecords:
    def test_directories_expand_to_sorted_jsonl_files(self, tmp_path: Path) -> None:
        """A directory stands for its *.jsonl and *.jsonl.gz files, sorted by name; others are ignored."""
        (tmp_path / "b.jsonl").write_bytes(REQ + b"\n")
        (tmp_path / "a.jsonl.gz").write_bytes(gzip.compress(REQ + b"\n"))
        (tmp_path / "c.txt").write_bytes(b"not json\n")
        (tmp_path / "sub.jsonl").mkdir()
        got = list(read_records(tmp_path))
        assert [(Path(r.file).name, r.line) for r in got if isinstance(r, Record)] == [
            ("a.jsonl.gz", 1), ("b.jsonl", 1)]

    def test_several_sources_in_order_with_errors_in_place(self, tmp_path: Path) -> None:
        """Bad lines come as located DecodeErrors in their place, and reading goes on."""
        one = tmp_path / "one.jsonl"
        one.write_bytes(REQ + b"\n[1]\n" + b'{"custom_id": "a", "result": {"type": "expired"}}\n')
        two = tmp_path / "two.jsonl"
        two.write_bytes(b"{bad\n" + REQ + b"\n")
        got = list(read_records([one, str(two)]))
        assert [r.kind if isinstance(r, Record) else f"{r.file}:{r.line}" for r in got] == [
            "request", f"{one}:2", "batch_result", f"{two}:1", "request"]

    def test_a_forced_kind_applies_to_every_line(self) -> None:
        """kind= reads every line as that kind (and reports lines that are not)."""
        src = io.BytesIO(b'{"custom_id": "x", "params": {"messages": []}}\n' + REQ + b"\n")
        got = list(read_records(src, kind="batch_request"))
        assert isinstance(got[0], Record) and got[0].kind == "batch_request"
        assert isinstance(got[1], DecodeError) and got[1].path == "$.custom_id"

    def test_too_long_lines_become_errors(self) -> None:
        """A line over the limit is a DecodeError in the record stream."""
        got = list(read_records(io.BytesIO(b"x" * 500 + b"\n" + REQ), max_line_bytes=len(REQ)))
        assert isinstance(got[0], DecodeError) and "limit" in got[0].expected and got[0].line == 1
        assert isinstance(got[1], Record) and (got[1].line, got[1].raw) == (2, REQ)


class TestAtomicWriter:
    def test_lines_are_written_with_newlines_and_counted(self, tmp_path: Path) -> None:
        """Each write is one line; count says how many."""
        path = tmp_path / "out.jsonl"
        with AtomicWriter(path) as w:
            w.write(b"a")
            w.write(b"b")
            assert not path.exists()  # nothing shows before the end
        assert w.count == 2 and path.read_bytes() == b"a\nb\n"

    def test_no_temporary_files_are_left(self, tmp_path: Path) -> None:
        """After success or failure the directory holds only the target."""
        with AtomicWriter(tmp_path / "ok.jsonl") as w:
            w.write(b"x")
        with pytest.raises(RuntimeError), AtomicWriter(tmp_path / "bad.jsonl") as w:
            w.write(b"x")
            raise RuntimeError("boom")
        assert sorted(os.listdir(tmp_path)) == ["ok.jsonl"]

    def test_a_failure_leaves_the_old_content(self, tmp_path: Path) -> None:
        """An exception inside the block leaves an existing target exactly as it was."""
        path = tmp_path / "out.jsonl"
        path.write_bytes(b"old\n")
        with pytest.raises(KeyError), AtomicWriter(path) as w:
            w.write(b"new")
            raise KeyError("x")
        assert path.read_bytes() == b"old\n"

    def test_success_replaces_and_keeps_the_old_mode(self, tmp_path: Path) -> None:
        """A replaced file gets the new content and keeps its permission bits."""
        path = tmp_path / "out.jsonl"
        path.write_bytes(b"old\n")
        os.chmod(path, 0o640)
        with AtomicWriter(path) as w:
            w.write(b"new")
        assert path.read_bytes() == b"new\n"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640

    def test_a_new_file_gets_the_usual_mode(self, tmp_path: Path) -> None:
        """A new file's mode is what open() would give under the umask (not mkstemp's 0600)."""
        mask = os.umask(0o022)
        os.umask(mask)
        path = tmp_path / "new.jsonl"
        with AtomicWriter(path) as w:
            w.write(b"x")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask

    @pytest.mark.parametrize(("name", "compress", "gz"), [
        ("o.jsonl.gz", None, True), ("o.jsonl", None, False), ("o.jsonl", True, True),
        ("o.jsonl.gz", False, False)])
    def test_compression_follows_the_suffix_unless_told(
        self, tmp_path: Path, name: str, compress: bool | None, gz: bool
    ) -> None:
        """.gz compresses by default; compress= overrides; the result reads back with iter_lines."""
        path = tmp_path / name
        lines = [REQ, b'{"x":"\xc3\xa9"}'] * 1000
        with AtomicWriter(path, compress=compress) as w:
            for line in lines:
                w.write(line)
        raw = path.read_bytes()
        assert raw.startswith(b"\x1f\x8b") is gz
        if gz:
            assert gzip.decompress(raw) == b"\n".join(lines) + b"\n"
        assert [r.data for r in iter_lines(path)] == lines

    def test_gzip_output_is_reproducible(self, tmp_path: Path) -> None:
        """The same lines give the same gzip bytes (no name or time in the header)."""
        outs = []
        for name in ("a.jsonl.gz", "b.jsonl.gz"):
            with AtomicWriter(tmp_path / name) as w:
                w.write(REQ)
            outs.append((tmp_path / name).read_bytes())
        assert outs[0] == outs[1]

    def test_misuse_is_refused(self, tmp_path: Path) -> None:
        """Writing outside the block or entering twice is a ValueError."""
        w = AtomicWriter(tmp_path / "x.jsonl")
        with pytest.raises(ValueError, match="outside"):
            w.write(b"x")
        with w:
            pass
        with pytest.raises(ValueError, match="once"), w:
            pass

    @pytest.mark.parametrize("compress", [False, True])
    def test_dash_writes_to_stdout(self, compress: bool) -> None:
        """"-" writes the lines to standard output (gzip if asked)."""
        out = _run(f"""
            from convo.codec.jsonl import AtomicWriter
            with AtomicWriter("-", compress={compress}) as w:
                w.write(b'{{"a":1}}')
                w.write(b'{{"b":2}}')
        """).stdout
        assert (gzip.decompress(out) if compress else out) == b'{"a":1}\n{"b":2}\n'

    @pytest.mark.parametrize("existing", [False, True])
    def test_a_killed_writer_leaves_no_partial_output(self, tmp_path: Path, existing: bool) -> None:
        """SIGKILL in the middle of writing leaves the target absent, or with its old content."""
        path = tmp_path / "out.jsonl"
        if existing:
            path.write_bytes(b"old\n")
        code = textwrap.dedent(f"""
            import sys, time
            from convo.codec.jsonl import AtomicWriter
            with AtomicWriter({str(path)!r}) as w:
                for i in range(200_000):
                    w.write(b'{{"line": %d}}' % i)
                sys.stdout.write("halfway\\n")
                sys.stdout.flush()
                time.sleep(60)
        """)
        with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=REPO) as proc:
            try:
                assert proc.stdout is not None
                assert proc.stdout.readline() == b"halfway\n"
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proc.returncode == -signal.SIGKILL
        if existing:
            assert path.read_bytes() == b"old\n"
        else:
            assert not path.exists()
        temps = [n for n in os.listdir(tmp_path) if n != "out.jsonl"]
        assert all(n.startswith(".out.jsonl.") and n.endswith(".tmp") for n in temps)

    def test_repr_names_the_target(self, tmp_path: Path) -> None:
        """The repr shows the path, compression and count."""
        assert repr(AtomicWriter("x.jsonl.gz")) == "AtomicWriter('x.jsonl.gz', compress=True, count=0)"


class TestMkstemp:
    """convo.codec.jsonl.mkstemp: tempfile.mkstemp's file without importing tempfile (issue 14)."""

    def test_a_new_private_file_named_as_tempfile_names_it(self, tmp_path: Path) -> None:
        from convo.codec.jsonl import _temp_pattern, mkstemp

        names = set()
        for _ in range(50):
            fd, path = mkstemp(str(tmp_path), ".out.jsonl.", ".tmp")
            os.close(fd)
            assert os.path.isabs(path) and os.path.dirname(path) == str(tmp_path)
            assert _temp_pattern("out.jsonl").fullmatch(os.path.basename(path))
            assert os.stat(path).st_mode & 0o777 == 0o600
            names.add(path)
        assert len(names) == 50

    def test_a_name_taken_is_drawn_again_and_never_opened(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from convo.codec import jsonl

        draws = iter([bytes(8), bytes(8), bytes([1] * 8)])
        monkeypatch.setattr(jsonl.os, "urandom", lambda n: next(draws))
        taken = tmp_path / ".x.aaaaaaaa.tmp"
        taken.write_bytes(b"someone else's")
        fd, path = jsonl.mkstemp(str(tmp_path), ".x.", ".tmp")
        os.close(fd)
        assert os.path.basename(path) == ".x.bbbbbbbb.tmp" and taken.read_bytes() == b"someone else's"
        monkeypatch.setattr(jsonl.os, "urandom", lambda n: bytes(8))
        with pytest.raises(FileExistsError, match="no unused temporary file name"):
            jsonl.mkstemp(str(tmp_path), ".x.", ".tmp")

    def test_a_symlink_in_the_way_is_not_followed(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from convo.codec import jsonl

        target = tmp_path / "elsewhere"
        (tmp_path / ".x.aaaaaaaa.tmp").symlink_to(target)
        draws = iter([bytes(8), bytes([2] * 8)])
        monkeypatch.setattr(jsonl.os, "urandom", lambda n: next(draws))
        fd, path = jsonl.mkstemp(str(tmp_path), ".x.", ".tmp")
        os.close(fd)
        assert os.path.basename(path) == ".x.cccccccc.tmp" and not target.exists()
