"""convo.dask: the transform pipeline on a real Dask cluster equals the single-process run."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convo.cli import main
from tests._helpers_cli import QUICKSTART, TRANSCRIPTS, corrupted, realworld_lines

distributed = pytest.importorskip("distributed")  # the optional extra convo[dask]
convo_dask = pytest.importorskip("convo.dask")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A real LocalCluster (threads in this process: quick to start) and its client."""
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Realworld lines with broken ones, an over-long line, and the quickstart transcripts."""
    data, _ = corrupted(realworld_lines(), seed=3)
    path = tmp_path_factory.mktemp("d") / "corpus.jsonl"
    path.write_bytes(data + b"\n" + b'"' + b"q" * 9000 + b'"\n' + TRANSCRIPTS.read_bytes())
    return path


def single(src: list[str], out: Path, *extra: str) -> tuple[bytes, bytes]:
    """Output and rejects of the single-process ``convo transform``."""
    args = ["transform", *src, "-o", str(out), "-q", *extra]
    for s in QUICKSTART:
        args += ["-t", s]
    assert main(args) == 0
    return out.read_bytes(), out.with_name(out.name.replace(".jsonl", ".rejects.jsonl")).read_bytes()


def parts(directory: Path, pattern: str = "part-*.jsonl") -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.glob(pattern)))


class TestOnACluster:
    def test_parts_equal_the_single_process_run(self, client: Any, corpus: Path, tmp_path: Path) -> None:
        """Concatenated parts and rejects are byte-for-byte those of `convo transform`."""
        want_out, want_rej = single([str(corpus)], tmp_path / "single.jsonl", "--max-line-bytes", "8000")
        out = tmp_path / "parts"
        s = convo_dask.transform([str(corpus)], str(out), specs=QUICKSTART, client=client,
                                 block_bytes=40_000, max_line_bytes=8000)
        assert s.parts > 5
        assert parts(out) == want_out
        assert parts(out / "rejects", "part-*.rejects.jsonl") == want_rej
        assert s.lines_in == s.out + s.rejected
        assert s.out == want_out.count(b"\n")
        assert s.rejected == want_rej.count(b"\n")
        assert s.reject_codes["too_long"] == want_rej.count(b'"code":"too_long"') >= 1
        assert s.changes["migrate: removed temperature"] > 0

    def test_on_worker_processes(self, corpus: Path, tmp_path: Path) -> None:
        """With two worker processes (the operation rebuilt in each from its text) the parts
        still equal the single-process run."""
        want_out, want_rej = single([str(corpus)], tmp_path / "single.jsonl")
        out = tmp_path / "parts"
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
            s = convo_dask.transform([str(corpus)], str(out), specs=QUICKSTART, client=c, block_bytes=60_000)
            pids = set(c.run(lambda: __import__("os").getpid()).values())
        assert len(pids) == 2
        assert s.parts > 3
        assert parts(out) == want_out
        assert parts(out / "rejects", "part-*.rejects.jsonl") == want_rej

    def test_directories_and_gzip(self, client: Any, tmp_path: Path) -> None:
        """A directory of .jsonl and .jsonl.gz files (a gzip file is one block) comes out in order."""
        d = tmp_path / "in"
        d.mkdir()
        lines = TRANSCRIPTS.read_bytes().splitlines(keepends=True)
        (d / "a.jsonl").write_bytes(b"".join(lines[:120]))
        (d / "b.jsonl.gz").write_bytes(gzip.compress(b"".join(lines[120:])))
        want_out, want_rej = single([str(d)], tmp_path / "single.jsonl")
        out = tmp_path / "parts"
        convo_dask.transform([str(d)], str(out), specs=QUICKSTART, client=client, block_bytes=100_000)
        assert parts(out) == want_out
        assert parts(out / "rejects", "part-*.rejects.jsonl") == want_rej

    def test_fsspec_urls(self, client: Any, tmp_path: Path) -> None:
        """Inputs and outputs can be any fsspec URL (here the in-memory filesystem)."""
        fs = fsspec.filesystem("memory")
        fs.pipe("/convo-test/in/x.jsonl", TRANSCRIPTS.read_bytes())
        convo_dask.transform(["memory://convo-test/in"], "memory://convo-test/out", specs=QUICKSTART,
                             client=client, block_bytes=150_000)
        got = b"".join(fs.cat(p) for p in sorted(fs.glob("/convo-test/out/part-*.jsonl")))
        want_out, _ = single([str(TRANSCRIPTS)], tmp_path / "single.jsonl")
        assert got == want_out
        fs.rm("/convo-test", recursive=True)

    def test_stale_parts_are_removed(self, client: Any, corpus: Path, tmp_path: Path) -> None:
        """A rerun with fewer blocks leaves exactly its own parts in the directory."""
        out = tmp_path / "parts"
        first = convo_dask.transform([str(corpus)], str(out), specs=QUICKSTART, client=client, block_bytes=30_000)
        second = convo_dask.transform([str(corpus)], str(out), specs=QUICKSTART, client=client, block_bytes=400_000)
        assert first.parts > second.parts
        assert len(list(out.glob("part-*.jsonl"))) == second.parts
        assert len(list((out / "rejects").glob("*.jsonl"))) <= second.parts

    def test_cli_dask_local(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`convo transform --dask local` starts a cluster, writes parts and the usual summary."""
        out = tmp_path / "parts"
        args = ["transform", str(TRANSCRIPTS), "-o", str(out), "--dask", "local"]
        for s in QUICKSTART:
            args += ["-t", s]
        assert main(args) == 0
        err = capsys.readouterr().err
        assert "200 lines in = 195 out + 5 rejected" in err
        assert "on dask: local" in err
        want_out, _ = single([str(TRANSCRIPTS)], tmp_path / "single.jsonl")
        assert parts(out) == want_out

    @pytest.mark.slow
    def test_partitioned_parquet_equals_the_single_process_file(
        self, client: Any, corpus: Path, tmp_path: Path
    ) -> None:
        """out_format="parquet" on the cluster writes part-NNNNN.parquet files through fsspec
        (here the in-memory filesystem) whose rows, in part order, are exactly the rows of
        `convo transform -o single.parquet`; the rejects are the single run's."""
        pq = pytest.importorskip("pyarrow.parquet")
        pa = pytest.importorskip("pyarrow")
        single_pq = tmp_path / "single.parquet"
        single([str(corpus)], single_pq, "--max-line-bytes", "8000")
        want, want_rej = pq.read_table(single_pq), (tmp_path / "single.rejects.jsonl").read_bytes()
        fs = fsspec.filesystem("memory")
        s = convo_dask.transform([str(corpus)], "memory://convo-pq/out.parquet", specs=QUICKSTART,
                                 client=client, block_bytes=40_000, max_line_bytes=8000, out_format="parquet")
        names = sorted(fs.glob("/convo-pq/out.parquet/part-*.parquet"))
        assert s.parts == len(names) > 5
        tables = []
        for name in names:
            with fs.open(name, "rb") as f:
                tables.append(pq.read_table(f))
        got = pa.concat_tables(tables)
        assert got.equals(want)
        assert s.out == want.num_rows and s.lines_in == s.out + s.rejected
        rejects = b"".join(fs.cat(p) for p in sorted(fs.glob("/convo-pq/out.parquet/rejects/part-*.rejects.jsonl")))
        assert rejects == want_rej
        fs.rm("/convo-pq", recursive=True)

    def test_cli_dask_writes_parquet_parts(self, tmp_path: Path) -> None:
        """`convo transform --dask local -o DIR.parquet/` writes Parquet parts that `convo
        convert --from parquet` reads back as the single run's lines."""
        pytest.importorskip("pyarrow")
        out = tmp_path / "clean.parquet"
        args = ["transform", str(TRANSCRIPTS), "-o", str(out) + "/", "--dask", "local", "-q"]
        for s in QUICKSTART:
            args += ["-t", s]
        assert main(args) == 0
        assert sorted(p.name for p in out.glob("*.parquet")) == ["part-00000.parquet"]
        back = tmp_path / "back.jsonl"
        assert main(["convert", str(out), "--from", "parquet", "--to", "anthropic", "-o", str(back), "-q"]) == 0
        want_out, _ = single([str(TRANSCRIPTS)], tmp_path / "single.jsonl")
        assert back.read_bytes() == want_out

    def test_cli_dask_needs_a_directory(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--dask with stdout output is bad usage."""
        assert main(["transform", str(TRANSCRIPTS), "-t", "drop_images()", "--dask", "local"]) == 2
        assert "give -o DIR" in capsys.readouterr().err


class TestPlanBlocks:
    @settings(max_examples=80)
    @given(
        lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=25),
        final_newline=st.booleans(),
        block_bytes=st.integers(1, 40),
    )
    def test_blocks_cover_every_line_once(
        self, tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], final_newline: bool, block_bytes: int
    ) -> None:
        """Blocks start on line boundaries, cover the file, and know their first line number."""
        data = b"\n".join(lines) + (b"\n" if final_newline else b"")
        if data[:2] == b"\x1f\x8b":
            data = b"x" + data  # gzip magic makes it one block; tested elsewhere
        path = tmp_path_factory.mktemp("p") / "f.jsonl"
        path.write_bytes(data)
        blocks = convo_dask.plan_blocks([str(path)], block_bytes=block_bytes, scheduler="sync")
        pos = 0
        for b in blocks:
            assert b.start == pos
            assert b.start == 0 or data[b.start - 1 : b.start] == b"\n"
            assert b.first_line == data[: b.start].count(b"\n") + 1
            assert b.end is not None
            pos = b.end
        assert pos == len(data)
