"""The engine under the command: chunked reading, ordered workers, identical output for any N."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convo
from convo import UNSET, Conversation
from convo.cli import main
from convo.stream import ranges
from convo.stream.engine import run_chunks
from convo.stream.operation import Operation, OpSpec, Result
from convo.stream.rejects import original_bytes
from convo.stream.sources import Chunk, ChunkReader, Oversize
from tests._helpers_cli import QUICKSTART, TRANSCRIPTS, corrupted, realworld_lines


def split_items(items: list[Chunk | Oversize]) -> list[tuple[int, bytes]]:
    """(line number, bytes) of every line the reader handed on, blank lines included."""
    out: list[tuple[int, bytes]] = []
    for item in items:
        if isinstance(item, Oversize):
            rec = orjson.loads(Path(item.spool).read_bytes())
            assert (rec["line"], rec["size"]) == (item.line, item.size)
            out.append((item.line, original_bytes(rec)))
            continue
        full = sum(len(p) + 1 for p in item.lines)
        assert item.size in (full, full - 1)  # less the newline a file's last line may lack
        out.extend((item.first_line + i, bytes(p)) for i, p in enumerate(item.lines))
    return out


class TestChunkReader:
    @settings(max_examples=150)
    @given(
        lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
        final_newline=st.booleans(),
        chunk_bytes=st.integers(1, 64),
        max_line_bytes=st.integers(1, 50),
        views=st.booleans(),
    )
    def test_lines_and_numbers_survive_any_chunking(
        self, tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], final_newline: bool,
        chunk_bytes: int, max_line_bytes: int, views: bool,
    ) -> None:
        """Whatever the chunk size and line limit, every line comes out once, whole, numbered
        (as bytes, or as views of the blocks read when asked)."""
        data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
        if data.startswith((b"\xef\xbb\xbf", b"\x1f\x8b")):
            data = b"x" + data  # a leading BOM is dropped and gzip magic means gzip, by design
        path = tmp_path_factory.mktemp("r") / "in.jsonl"
        path.write_bytes(data)
        reader = ChunkReader([str(path)], chunk_bytes=chunk_bytes, max_line_bytes=max_line_bytes, views=views)
        items = list(reader)
        if not views:
            assert all(type(p) is bytes for i in items if isinstance(i, Chunk) for p in i.lines)
        expected = data.split(b"\n")
        if expected and not expected[-1]:
            expected.pop()
        got = split_items(items)
        reader.cleanup()
        assert got == list(enumerate(expected, 1))
        assert all(isinstance(i, Chunk) or i.size > max_line_bytes for i in items)
        assert reader.bytes_read == len(data)

    @pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 4, 64])
    def test_a_byte_order_mark_goes_whatever_the_chunk_size(self, tmp_path: Path, chunk_bytes: int) -> None:
        """A UTF-8 BOM before line 1 stays in its bytes (the decoder skips it, a reject keeps
        it), even when blocks are shorter than the BOM."""
        src = tmp_path / "bom.jsonl"
        src.write_bytes(b"\xef\xbb\xbf" + b'{"a":1}\n{"b":2}\n')
        reader = ChunkReader([str(src)], chunk_bytes=chunk_bytes)
        assert split_items(list(reader)) == [(1, b'\xef\xbb\xbf{"a":1}'), (2, b'{"b":2}')]
        (tmp_path / "bom-only.jsonl").write_bytes(b"\xef\xbb")  # a BOM's start is not one: kept
        reader = ChunkReader([str(tmp_path / "bom-only.jsonl")], chunk_bytes=chunk_bytes)
        assert split_items(list(reader)) == [(1, b"\xef\xbb")]

    def test_spool_files_are_removed(self, tmp_path: Path) -> None:
        """cleanup() deletes the spool files of over-long lines."""
        src = tmp_path / "in.jsonl"
        src.write_bytes(b"x" * 100 + b"\n{}\n")
        reader = ChunkReader([str(src)], chunk_bytes=8, max_line_bytes=10, spool_dir=str(tmp_path))
        items = list(reader)
        spools = [i.spool for i in items if isinstance(i, Oversize)]
        assert len(spools) == 1 and os.path.exists(spools[0])
        reader.cleanup()
        assert not os.path.exists(spools[0])

    def test_gzip_on_stdin_that_trickles(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Gzip on stdin is recognised even when the pipe hands over one byte at a time."""

        class Trickle(io.RawIOBase):
            def __init__(self, data: bytes) -> None:
                self.data = data

            def readable(self) -> bool:
                return True

            def readinto(self, b: Any) -> int:
                n = min(1, len(self.data))
                b[:n] = self.data[:n]
                self.data = self.data[n:]
                return n

        stdin = io.TextIOWrapper(io.BufferedReader(Trickle(gzip.compress(b'{"a":1}\n{"b":2}\n'))))
        monkeypatch.setattr("sys.stdin", stdin)
        reader = ChunkReader(["-"], chunk_bytes=4)
        assert split_items(list(reader)) == [(1, b'{"a":1}'), (2, b'{"b":2}')]
        assert reader.problems == []

    def test_stream_from_a_later_line(self) -> None:
        """read_stream numbers lines from the given first line (a block of a larger file)."""
        reader = ChunkReader([], chunk_bytes=4)
        items = list(reader.read_stream("f", io.BytesIO(b"a\nbb\n"), first_line=41))
        assert split_items(items) == [(41, b"a"), (42, b"bb")]


class _Echo(Operation):
    """Counts lines; output = the line numbers (to check order)."""

    name = "_echo_for_tests"

    def line(self, file: str, lineno: int, raw: bytes, out: list[bytes], rejects: list[bytes], stats: object) -> bool:
        out.append(b"%d" % lineno)
        return True


class TestRanges:
    @settings(max_examples=100)
    @given(
        lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=25),
        final_newline=st.booleans(),
        chunk=st.integers(1, 40),
    )
    def test_spans_cut_after_newlines_and_cover_the_file(
        self, tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], final_newline: bool, chunk: int
    ) -> None:
        """Spans follow each other, start on line starts, and cover every byte once."""
        data = b"\n".join(lines) + (b"\n" if final_newline else b"")
        path = tmp_path_factory.mktemp("s") / "f.jsonl"
        path.write_bytes(data)
        spans = list(ranges.plan_spans(str(path), "f", chunk))
        pos = 0
        for sp in spans:
            assert sp.start == pos < sp.end
            assert sp.start == 0 or data[sp.start - 1 : sp.start] == b"\n"
            pos = sp.end
        assert pos == len(data)

    def test_shift_line(self) -> None:
        """Only the record's own line number moves."""
        rec = orjson.dumps({"file": ',"line":7,', "line": 2, "code": "json", "raw": ',"line":9,'})
        assert orjson.loads(ranges.shift_line(rec, 40)) == {
            "file": ',"line":7,', "line": 42, "code": "json", "raw": ',"line":9,'}

    def test_eligible(self, tmp_path: Path) -> None:
        """Range mode needs regular uncompressed inputs and a plain output file."""
        plain = tmp_path / "a.jsonl"
        plain.write_bytes(b"{}\n")
        packed = tmp_path / "b.jsonl.gz"
        packed.write_bytes(gzip.compress(b"{}\n"))
        assert ranges.eligible([str(plain)], str(tmp_path / "o.jsonl"))
        assert not ranges.eligible([str(plain), str(packed)], str(tmp_path / "o.jsonl"))
        assert not ranges.eligible([str(plain)], str(tmp_path / "o.jsonl.gz"))
        assert not ranges.eligible([str(plain)], "-")
        assert not ranges.eligible(["-"], str(tmp_path / "o.jsonl"))


class TestEngine:
    def test_in_process_keeps_order(self) -> None:
        """With one worker the results come in input order, one per item."""
        chunks = [Chunk.of("f", 1 + 2 * i, b"a\nb\n") for i in range(50)]
        op = _Echo()
        outs = b"".join(r.out for r in run_chunks(chunks, OpSpec("stats"), operation=op))
        assert outs.split() == [b"%d" % n for n in range(1, 101)]

    def test_workers_keep_order_through_a_small_window(self) -> None:
        """Many chunks through two worker processes and a window of 2 come back in order."""
        chunks = [Chunk.of("f", 1 + i, convo.dumps(Conversation(model="m", max_tokens=i)) + b"\n") for i in range(40)]
        results = list(run_chunks(chunks, OpSpec("stats"), workers=2, window=2))
        assert [r.n_in for r in results] == [1] * 40
        assert [r.stats.lines for r in results] == [1] * 40

    def test_oversize_items_take_their_place(self, tmp_path: Path) -> None:
        """An over-long line's result sits between the chunks around it."""
        spool = tmp_path / "s"
        spool.write_bytes(b"{}")
        items = [Chunk.of("f", 1, b"{}\n"), Oversize("f", 2, 99, str(spool)), Chunk.of("f", 3, b"{}\n")]
        results = list(run_chunks(items, OpSpec("transform", {"specs": ("drop_images()",)}), workers=2))
        assert [(r.n_in, r.n_rejected, r.spool) for r in results] == [(1, 1, None), (1, 1, str(spool)), (1, 1, None)]

    def test_spec_is_plain_data(self) -> None:
        """What workers receive is the pipeline's text, never a pickled function."""
        spec = OpSpec("transform", {"specs": QUICKSTART, "pipeline_path": None, "max_line_bytes": 10})
        blob = pickle.dumps(spec)
        assert b"convo.transforms" not in blob
        assert pickle.loads(blob) == spec  # noqa: S301 - our own bytes, just made

    def test_result_counts_balance(self) -> None:
        """A chunk's result has in = out + rejected, with blank lines apart."""
        from convo.stream.engine import build_operation

        op = build_operation(OpSpec("transform", {"specs": ("drop_images()",)}))
        data = convo.dumps(Conversation(model="m").user("x")) + b"\n\n   \n{bad\n"
        r: Result = op.process(Chunk.of("f", 1, data))
        assert (r.n_in, r.n_out, r.n_rejected, r.n_blank) == (2, 1, 1, 2)

    def test_one_operation_shared_by_threads_counts_each_chunk_alone(self) -> None:
        """convo.dask shares an operation among a worker's threads: each chunk's change counts
        are its own however the threads interleave."""
        import sys
        import threading

        from convo.stream.engine import build_operation

        op = build_operation(OpSpec("transform", {"specs": ("drop_sampling_params()", "drop_images()")}))
        chunks = []
        for k in range(6):  # chunk k: 300 lines, of which k * 50 have a temperature to remove
            lines = [convo.dumps(Conversation(model="m", temperature=0.5 if i < k * 50 else UNSET).user("x"))
                     for i in range(300)]
            chunks.append(Chunk("f", 1, lines, 0))
        want = [op.process(c).stats.changes for c in chunks]
        got: dict[int, Any] = {}
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads as often as possible
        try:
            threads = [threading.Thread(target=lambda k=k: got.__setitem__(k, op.process(chunks[k]).stats.changes))
                       for k in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(interval)
        assert [got[k] for k in range(6)] == want
        assert [sum(w.values()) for w in want] == [k * 50 for k in range(6)]

    @pytest.mark.parametrize("name", ["transform", "validate", "stats"])
    def test_lines_as_views_give_the_same_result_as_bytes(self, name: str) -> None:
        """A chunk of memoryviews (what a reader asked for views gives) is handled exactly as
        the same lines as bytes: counts, output, and rejects holding the original bytes."""
        from convo.stream.engine import build_operation

        good = convo.dumps(Conversation(model="claude-opus-4-8", max_tokens=8, temperature=0.5).user("x"))
        lines = [good, b"", b" \t", b"{bad", b"\xff\xfe", b'"' + b"z" * 300 + b'"', b'{"model": 3}', good]
        block = b"\n".join(lines)
        options: dict[str, Any] = ({"specs": ("drop_sampling_params()",)} if name == "transform" else
                                   {"keep_rejects": True} if name == "validate" else {})
        op = build_operation(OpSpec(name, {**options, "max_line_bytes": 200}))
        as_bytes = op.process(Chunk("f", 1, list(lines), len(block)))
        view = memoryview(block)
        starts = [sum(len(x) + 1 for x in lines[:i]) for i in range(len(lines))]
        views: list[bytes | memoryview] = [view[a : a + len(x)] for a, x in zip(starts, lines, strict=True)]
        as_views = op.process(Chunk("f", 1, views, len(block)))
        assert (as_views.n_in, as_views.n_out, as_views.n_blank) == (as_bytes.n_in, as_bytes.n_out, 2)
        assert (as_views.out, as_views.rejects) == (as_bytes.out, as_bytes.rejects)
        assert as_views.n_rejected == as_bytes.n_rejected
        if name == "validate":  # every line breaks something here; each record holds its bytes
            assert [original_bytes(orjson.loads(r)) for r in as_views.rejects.splitlines()] == [
                x for x in lines if x.strip()]
        if name == "transform":
            assert as_views.n_rejected == 4
            assert as_views.rejects.count(b"\n") == 4 and as_views.out.count(b"\n") == 2


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Realworld and broken lines, the quickstart transcripts, and over-long lines."""
    data, _ = corrupted(realworld_lines() * 3, seed=11)
    path = tmp_path_factory.mktemp("w") / "corpus.jsonl"
    # over-long lines, caught both by the reader (spooled) and in a worker (in memory)
    path.write_bytes(data + b"\n" + b'"' + b"z" * 5000 + b'"\n' + TRANSCRIPTS.read_bytes())
    return path


class TestSameOutputForAnyWorkers:
    @pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"], ids=["range-mode", "streaming-pool"])
    def test_transform(self, corpus: Path, tmp_path: Path, suffix: str) -> None:
        """Output and rejects are byte-identical with 1, 2 and 3 workers and any chunk size, in
        range mode (a plain output file) and through the streaming pool (a .gz output)."""
        runs = []
        for workers, chunk in ((1, 1 << 20), (2, 3000), (3, 777)):
            out = tmp_path / f"out{workers}{suffix}"
            args = ["transform", str(corpus), "-o", str(out), "-q", "--workers", str(workers),
                    "--chunk-bytes", str(chunk), "--max-line-bytes", "4000"]
            for s in QUICKSTART:
                args += ["-t", s]
            assert main(args) == 0
            runs.append((out.read_bytes(), (tmp_path / f"out{workers}.rejects.jsonl").read_bytes()))
        assert runs[0] == runs[1] == runs[2]
        text = gzip.decompress(runs[0][0]) if suffix.endswith(".gz") else runs[0][0]
        assert text.count(b"\n") > 500
        assert b'"code":"too_long"' in runs[0][1]

    def test_stats(self, corpus: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
        """stats counts the same with 1 and 2 workers (range mode)."""
        outs = []
        for workers in ("1", "2"):
            main(["stats", str(corpus), "--json", "-q", "--workers", workers, "--chunk-bytes", "4000"])
            outs.append(orjson.loads(capsysbinary.readouterr().out))
        assert outs[0] == outs[1]
        assert outs[0]["conversations"] > 500

    def test_several_files_number_lines_per_file(self, tmp_path: Path) -> None:
        """In range mode each file's line numbers start at 1 again (rejects say so)."""
        a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
        good = convo.dumps(Conversation(model="m", max_tokens=1).user("x"))
        a.write_bytes(b"\n".join([good] * 50 + [b"{bad-a"] + [good] * 50) + b"\n")
        b.write_bytes(b"\n".join([good] * 7 + [b"{bad-b"]) + b"\n")
        out = tmp_path / "out.jsonl"
        assert main(["transform", str(a), str(b), "-t", "drop_images()", "-o", str(out), "-q",
                     "--workers", "2", "--chunk-bytes", "300"]) == 0
        recs = [orjson.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_bytes().splitlines()]
        assert [(r["file"], r["line"]) for r in recs] == [(str(a), 51), (str(b), 8)]
        assert out.read_bytes().count(b"\n") == 107

    def test_validate(self, corpus: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
        """validate prints the same diagnostics, in the same order, with 1 and 2 workers."""
        outs = []
        for workers in ("1", "2"):
            main(["validate", str(corpus), "--workers", workers, "--chunk-bytes", "5000", "-q",
                  "--model", "claude-opus-4-8"])
            outs.append(capsysbinary.readouterr().out)
        assert outs[0] == outs[1]
        assert outs[0].count(b"\n") > 100

    def test_pipeline_file_runs_in_the_workers(self, tmp_path: Path) -> None:
        """A --pipeline file is loaded by each worker process (by path), not pickled."""
        pfile = tmp_path / "pipe.py"
        pfile.write_text(
            "import os, attrs\n"
            "def tag(conv):\n"
            "    return attrs.evolve(conv, metadata={'user_id': str(os.getpid())})\n"
            "PIPELINE = tag\n"
        )
        src = tmp_path / "in.jsonl"
        src.write_bytes(b"".join(convo.dumps(Conversation(model="m", max_tokens=n).user("x")) + b"\n" for n in range(200)))
        out = tmp_path / "out.jsonl"
        assert main(["transform", str(src), "--pipeline", str(pfile), "-o", str(out), "-q",
                     "--workers", "2", "--chunk-bytes", "500"]) == 0
        pids = {orjson.loads(x)["metadata"]["user_id"] for x in out.read_bytes().splitlines()}
        assert str(os.getpid()) not in pids
        assert 1 <= len(pids) <= 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork is only chosen on Linux")
class TestForkedWorkers:
    """Workers are forked from the command's process when it runs a single thread (a fork server
    otherwise). pytest may run threads of its own, so these run the command as a subprocess."""

    def test_fork_only_while_single_threaded(self) -> None:
        code = ("import threading, time\n"
                "from convo.stream.engine import _context\n"
                "print(_context().get_start_method())\n"
                "t = threading.Thread(target=time.sleep, args=(0.3,)); t.start()\n"
                "print(_context().get_start_method()); t.join()\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["fork", "forkserver"]

    def test_forked_workers_write_what_one_process_writes(self, corpus: Path, tmp_path: Path) -> None:
        """Range mode (a file), and the streaming pool (stdin to stdout, where a forked worker
        must not flush a copy of what the parent had buffered): the same bytes as one worker."""
        specs = [x for s in QUICKSTART for x in ("-t", s)]
        cmd = [sys.executable, "-m", "convo.cli", "transform", "-q", "--max-line-bytes", "4000", *specs]
        one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
        subprocess.run([*cmd, str(corpus), "-o", str(one)], check=True, capture_output=True)
        subprocess.run([*cmd, str(corpus), "-o", str(two), "--workers", "2", "--chunk-bytes", "5000"],
                       check=True, capture_output=True)
        piped = subprocess.run([*cmd, "-", "-o", "-", "--workers", "2", "--chunk-bytes", "5000",
                                "--rejects", str(tmp_path / "piped.rejects.jsonl")],
                               input=corpus.read_bytes(), check=True, capture_output=True)
        assert one.read_bytes().count(b"\n") > 500
        assert two.read_bytes() == one.read_bytes() == piped.stdout
        assert (tmp_path / "two.rejects.jsonl").read_bytes() == (tmp_path / "one.rejects.jsonl").read_bytes()


class TestSmallInputs:
    def test_a_small_input_is_worked_in_one_process(self, corpus: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
        """Under 8 chunks of input no worker starts, whatever --workers says, and the output is
        the same; with smaller chunks the same input goes to workers."""
        from convo.stream import engine

        pools: list[int] = []
        real_pool = engine._pool
        monkeypatch.setattr(engine, "_pool", lambda workers, *a: pools.append(workers) or real_pool(workers, *a))
        specs = [x for s in QUICKSTART for x in ("-t", s)]
        size = corpus.stat().st_size
        outs = []
        for workers, chunk in ((1, 1 << 20), (2, size // 8 + 1), (2, size // 8 - 1)):
            out = tmp_path / f"out-{workers}-{chunk}.jsonl"
            assert main(["transform", str(corpus), "-o", str(out), "-q", "--workers", str(workers),
                         "--chunk-bytes", str(chunk), "--max-line-bytes", "4000", *specs]) == 0
            outs.append(out.read_bytes())
        assert pools == [2]  # only the last run, whose input is more than 8 of its chunks
        assert outs[0] == outs[1] == outs[2]
