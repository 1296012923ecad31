"""The command and Parquet: convert to and from it, transform and validate reading it, workers,
rejects, atomic outputs and row groups (the real ``convo`` program in subprocesses, and ``main``)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")  # the optional extra convo[arrow]
pq = pytest.importorskip("pyarrow.parquet")

import convo  # noqa: E402
from convo.arrow import SCHEMA, json_lines, to_table  # noqa: E402
from convo.cli import main  # noqa: E402
from convo.stream.parquet import ParquetSink  # noqa: E402
from convo.stream.sources import ChunkReader, DamagedParquet, read_parquet  # noqa: E402
from tests._helpers_cli import QUICKSTART, TRANSCRIPTS, corrupted, read_rejects, realworld_lines  # noqa: E402

CONVO = [sys.executable, "-m", "convo.cli"]


def _fuzz_file() -> bytes:
    buf = io.BytesIO()
    values = [convo.Conversation(model=f"m{i}", metadata={"i": i}).user("Hi " * i) for i in range(40)]
    pq.write_table(to_table(values), buf, row_group_size=10, compression="zstd")
    return buf.getvalue()


FUZZ_FILE = _fuzz_file()


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CONVO, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def exact(line: bytes) -> Any:
    return json.loads(line)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, list[Any]]:
    """Realworld lines of every kind (requests, batch lines, exchanges, huge integers) with
    broken lines mixed in; the good lines' exact JSON values, in order."""
    data, fates = corrupted(realworld_lines(), seed=11)
    path = tmp_path_factory.mktemp("pq") / "corpus.jsonl"
    path.write_bytes(data)
    good = [exact(line) for line, f in zip(data.split(b"\n"), fates, strict=True) if f.fate == "out"]
    return path, data, good


class TestConvert:
    @pytest.mark.slow
    def test_jsonl_to_parquet_to_jsonl_is_lossless(self, corpus: tuple[Path, bytes, list[Any]], tmp_path: Path) -> None:
        """Every good line comes back as the same JSON value, in order; every broken line is a
        reject with its line number; in = out + rejected both ways."""
        src, data, good = corpus
        out = tmp_path / "c.parquet"
        p = run("convert", str(src), "--from", "anthropic", "--to", "parquet", "-o", str(out))
        assert p.returncode == 0, p.stderr
        rejects = read_rejects(tmp_path / "c.rejects.jsonl")
        n_lines = sum(1 for line in data.split(b"\n") if line.strip())
        assert len(good) + len(rejects) == n_lines
        assert f"{n_lines:,} lines in = {len(good):,} out + {len(rejects):,} rejected" in p.stderr
        assert pq.read_schema(out).equals(SCHEMA, check_metadata=False)
        back = tmp_path / "back.jsonl"
        p = run("convert", str(out), "--from", "parquet", "--to", "anthropic", "-o", str(back))
        assert p.returncode == 0, p.stderr
        assert [exact(line) for line in back.read_bytes().splitlines()] == good
        assert "nothing lost" in p.stderr
        kinds = set(pq.read_table(out, columns=["kind"]).column("kind").to_pylist())
        assert kinds == {"request", "batch_request", "exchange"}

    @pytest.mark.slow
    def test_workers_write_the_same_file(self, corpus: tuple[Path, bytes, list[Any]], tmp_path: Path) -> None:
        """--workers 2 (rows built in the workers) writes a file identical to one worker's."""
        src, _, _ = corpus
        one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
        for out, w in ((one, "1"), (two, "2")):
            assert main(["convert", str(src), "--from", "anthropic", "--to", "parquet", "-o", str(out),
                         "--workers", w, "--chunk-bytes", "8192", "-q"]) == 0
        assert one.read_bytes() == two.read_bytes()
        back1, back2 = tmp_path / "b1.jsonl", tmp_path / "b2.jsonl"
        for out, w in ((back1, "1"), (back2, "2")):
            assert main(["convert", str(one), "--from", "parquet", "--to", "anthropic", "-o", str(out),
                         "--workers", w, "--chunk-bytes", "8192", "-q"]) == 0
        assert back1.read_bytes() == back2.read_bytes()

    def test_foreign_formats_into_parquet(self, tmp_path: Path) -> None:
        """--from openai --to parquet: the converted conversation, as a request row."""
        src = tmp_path / "oa.jsonl"
        src.write_text(json.dumps({"model": "gpt-4o", "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}) + "\n")
        out = tmp_path / "oa.parquet"
        assert main(["convert", str(src), "--from", "openai", "--to", "parquet", "-o", str(out),
                     "--model", "claude-opus-4-8", "-q"]) == 0
        row = pq.read_table(out).to_pylist()[0]
        assert row["kind"] == "request" and row["model"] == "gpt-4o"
        assert [(x["role"], x["content"]) for x in row["messages"]] == [("system", "Be brief."), ("user", "Hi")]

    def test_parquet_to_another_format(self, tmp_path: Path) -> None:
        """--from parquet --to openai reads the conversations (an exchange with its response)."""
        ex = convo.model.Exchange(id=1, request=convo.Conversation(model="m").user("Hi"),
                                  response=convo.model.Response(content=(convo.Text("Hello"),)))
        src = tmp_path / "x.parquet"
        pq.write_table(to_table([ex]), src)
        out = tmp_path / "x.jsonl"
        assert main(["convert", str(src), "--from", "parquet", "--to", "openai", "-o", str(out), "-q"]) == 0
        msgs = orjson.loads(out.read_bytes())["messages"]
        assert [(x["role"], x["content"]) for x in msgs] == [("user", "Hi"), ("assistant", [{"type": "text", "text": "Hello"}])]

    def test_usage_errors(self, tmp_path: Path) -> None:
        """Parquet to stdout, or a .parquet name with another --to, is bad usage (exit 2)."""
        src = tmp_path / "a.jsonl"
        src.write_bytes(convo.dumps(convo.Conversation(model="m")) + b"\n")
        p = run("convert", str(src), "--from", "anthropic", "--to", "parquet", "-o", "-")
        assert p.returncode == 2 and "stdout" in p.stderr
        p = run("convert", str(src), "--from", "anthropic", "--to", "openai", "-o", str(tmp_path / "o.parquet"))
        assert p.returncode == 2 and "--to parquet" in p.stderr
        assert not (tmp_path / "o.parquet").exists()


class TestOtherCommands:
    @pytest.mark.slow
    def test_transform_reads_and_writes_parquet(self, tmp_path: Path) -> None:
        """`convo transform` over a Parquet input writes the same lines as over its JSONL."""
        src = tmp_path / "t.parquet"
        assert main(["convert", str(TRANSCRIPTS), "--from", "anthropic", "--to", "parquet", "-o", str(src), "-q"]) == 0
        specs = [a for s in QUICKSTART for a in ("-t", s)]
        want, got, got_pq = tmp_path / "want.jsonl", tmp_path / "got.jsonl", tmp_path / "got.parquet"
        assert main(["transform", str(TRANSCRIPTS), "-o", str(want), "-q", *specs]) == 0
        assert main(["transform", str(src), "-o", str(got), "-q", *specs]) == 0
        assert main(["transform", str(src), "-o", str(got_pq), "-q", "--workers", "2", *specs]) == 0
        assert [exact(x) for x in got.read_bytes().splitlines()] == [exact(x) for x in want.read_bytes().splitlines()]
        assert json_lines(pq.read_table(got_pq)) == got.read_bytes().splitlines()

    def test_validate_names_the_row(self, tmp_path: Path) -> None:
        """Diagnostics over Parquet name ``file.parquet:ROW`` and the $.path."""
        good = convo.Conversation(model="claude-opus-4-8", max_tokens=64).user("Hi")
        bad = convo.Conversation(model="claude-opus-4-8", max_tokens=64, temperature=0.5).user("Hi")
        src = tmp_path / "v.parquet"
        pq.write_table(to_table([good, good, bad]), src)
        p = run("validate", str(src))
        assert p.returncode == 1
        assert f"{src}:3: sampling.removed $.temperature" in p.stdout
        assert f"{src}:1:" not in p.stdout

    def test_stats_and_directories(self, tmp_path: Path) -> None:
        """A directory of Parquet parts reads in name order, like a directory of JSONL files."""
        d = tmp_path / "parts"
        d.mkdir()
        for i in range(3):
            pq.write_table(to_table([convo.Conversation(model=f"m{i}").user("Hi")] * (i + 1)), d / f"part-{i:05d}.parquet")
        p = run("stats", str(d), "--json")
        assert p.returncode == 0, p.stderr
        stats = json.loads(p.stdout)
        assert stats["models"] == {"m0": 1, "m1": 2, "m2": 3}

    def test_a_foreign_parquet_file_is_rows_of_json(self, tmp_path: Path) -> None:
        """A Parquet file with no json column (a Hugging Face chat dataset) reads as one JSON
        object per row, so --from hf converts it."""
        src = tmp_path / "hf.parquet"
        pq.write_table(pa.table({"messages": [[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]],
                                 "source": ["x"]}), src)
        out = tmp_path / "hf.jsonl"
        assert main(["convert", str(src), "--from", "hf", "--to", "anthropic", "-o", str(out), "-q",
                     "--model", "claude-opus-4-8", "--max-tokens", "64"]) == 0
        assert convo.loads(out.read_bytes()).messages[1].content == "Yo"

    def test_a_damaged_parquet_file_is_a_file_problem(self, tmp_path: Path) -> None:
        """A file with Parquet's magic bytes but no footer is a file-level problem, as a damaged
        gzip stream is: the other inputs are read, the summary warns, the exit status is 1."""
        src, good = tmp_path / "broken.parquet", tmp_path / "good.jsonl"
        src.write_bytes(b"PAR1" + b"\0" * 64)
        good.write_bytes(convo.dumps(convo.Conversation(model="m").user("Hi")) + b"\n")
        out = tmp_path / "out.jsonl"
        p = run("transform", str(src), str(good), "-t", "drop_images()", "-o", str(out))
        assert p.returncode == 1
        assert "warning: " + str(src) + ": cannot be read as Parquet" in p.stderr
        assert out.read_bytes() == good.read_bytes()


    def test_a_broken_row_is_rejected_with_its_row_number(self, tmp_path: Path) -> None:
        """A row whose json does not decode goes to the rejects file with its row number, the
        $.path and its bytes; the others come through (in = out + rejected)."""
        src = tmp_path / "b.parquet"
        good = convo.dumps(convo.Conversation(model="m").user("Hi")).decode()
        pq.write_table(pa.table({"kind": ["request"] * 3, "json": [good, '{"model": 7, "messages": []}', good]}), src)
        out = tmp_path / "b.jsonl"
        p = run("convert", str(src), "--from", "parquet", "--to", "anthropic", "-o", str(out))
        assert p.returncode == 0 and "3 lines in = 2 out + 1 rejected" in p.stderr
        (rec,) = read_rejects(tmp_path / "b.rejects.jsonl")
        assert (rec["file"], rec["line"], rec["path"]) == (str(src), 2, "$.model")
        assert out.read_bytes().splitlines() == [good.encode()] * 2

    def test_parquet_on_stdin_is_refused(self, tmp_path: Path) -> None:
        """Parquet piped in cannot be read as a stream: bad usage, not a run of rejected lines."""
        src = tmp_path / "s.parquet"
        pq.write_table(to_table([convo.Conversation(model="m")]), src)
        p = subprocess.run([*CONVO, "stats", "-"], input=src.read_bytes(), capture_output=True, timeout=120)
        assert p.returncode == 2 and b"give its path" in p.stderr


    def test_commands_that_read_jsonl_only_refuse_parquet(self, tmp_path: Path) -> None:
        """`convo run` and `convo batch submit` say how to make JSONL of a Parquet input."""
        src = tmp_path / "r.parquet"
        pq.write_table(to_table([convo.Conversation(model="m")]), src)
        for args in (["run", str(src), "-o", str(tmp_path / "out.jsonl")],
                     ["batch", "submit", str(src), "--state", str(tmp_path / "state.json")]):
            p = run(*args)
            assert p.returncode == 2, (args, p.stderr)
            assert "--from parquet --to anthropic" in p.stderr
        assert not (tmp_path / "out.jsonl").exists()


class TestSinkAndSource:
    def test_row_groups_bound_memory(self, tmp_path: Path) -> None:
        """The sink writes a row group per row_group_bytes, and the reader reads them one by one
        in chunks of about chunk_bytes: neither holds the whole file."""
        path = tmp_path / "rg.parquet"
        lines = [convo.dumps(convo.Conversation(model="m").user(f"{i:04d}" + "x" * 900)) + b"\n" for i in range(200)]
        with ParquetSink(str(path), row_group_bytes=50_000) as sink:
            for i in range(20):
                sink.write(b"".join(lines[10 * i : 10 * i + 10]))
        meta = pq.ParquetFile(path).metadata
        assert meta.num_rows == 200 and meta.num_row_groups >= 5
        chunks = list(read_parquet(str(path), "rg.parquet", chunk_bytes=10_000))
        assert len(chunks) >= 15
        assert [c.first_line for c in chunks] == [1 + sum(len(c.lines) for c in chunks[:i]) for i in range(len(chunks))]
        assert [x for c in chunks for x in c.lines] == [x[:-1] for x in lines]
        reader = ChunkReader([str(path)], chunk_bytes=10_000)
        assert sum(len(c.lines) for c in reader) == 200 and reader.bytes_read == sum(map(len, lines))

    @given(st.data())
    def test_fuzz_damaged_files_are_problems_never_crashes(self, data: st.DataObject) -> None:
        """Bytes of a valid file changed at random: the reader yields chunks (whose lines the
        operations then judge) or stops at a DamagedParquet; it never raises anything else."""
        raw = bytearray(FUZZ_FILE)
        for _ in range(data.draw(st.integers(1, 8))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        if data.draw(st.booleans()):
            raw = raw[: data.draw(st.integers(4, len(raw)))]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "f.parquet")
            Path(path).write_bytes(bytes(raw))
            try:
                rows = sum(len(c.lines) for c in read_parquet(path, "f.parquet", chunk_bytes=2000))
            except DamagedParquet as e:
                assert str(e).startswith("f.parquet: ")
            else:
                assert rows <= 40
            reader = ChunkReader([path], chunk_bytes=2000)
            list(reader)  # a damaged file is a problem noted, never an exception
            assert all(p.startswith("f.parquet") or p.startswith(path) for p in reader.problems)

    def test_an_aborted_sink_leaves_nothing(self, tmp_path: Path) -> None:
        """An error inside the `with` leaves the target as it was and no temporary file."""
        target = tmp_path / "keep.parquet"
        target.write_bytes(b"old")
        with pytest.raises(RuntimeError), ParquetSink(str(target)) as sink:
            sink.write(convo.dumps(convo.Conversation(model="m")) + b"\n")
            raise RuntimeError("stop")
        assert target.read_bytes() == b"old"
        assert os.listdir(tmp_path) == ["keep.parquet"]

    def test_an_empty_run_writes_an_empty_table(self, tmp_path: Path) -> None:
        """No lines: a valid Parquet file with the schema and no rows."""
        path = tmp_path / "empty.parquet"
        with ParquetSink(str(path)):
            pass
        t = pq.read_table(path)
        assert t.num_rows == 0 and t.schema.equals(SCHEMA, check_metadata=False)


class TestReadmeWorkedExample:
    @pytest.mark.slow
    def test_the_worked_example_runs(self, tmp_path: Path) -> None:
        """The README's worked example, command by command: export, DuckDB's tool calls per
        model (checked against `convo stats`), migrate Parquet to Parquet, load with `datasets`,
        and JSONL back equal to migrating the JSONL directly."""
        duckdb = pytest.importorskip("duckdb")
        datasets = pytest.importorskip("datasets")
        logged, migrated, back = tmp_path / "logged.parquet", tmp_path / "migrated.parquet", tmp_path / "migrated.jsonl"
        assert run("convert", str(TRANSCRIPTS), "--from", "anthropic", "--to", "parquet", "-o", str(logged)).returncode == 0
        per_model = dict(duckdb.sql(f"SELECT model, sum(n_tool_calls) FROM '{logged}' GROUP BY model").fetchall())
        stats = json.loads(run("stats", str(TRANSCRIPTS), "--json").stdout)
        assert sum(per_model.values()) == stats["tool_calls"] and set(per_model) == set(stats["models"])
        spec = 'migrate(model="claude-opus-4-8")'
        assert run("transform", str(logged), "-t", spec, "-o", str(migrated)).returncode == 0
        assert run("convert", str(migrated), "--from", "parquet", "--to", "anthropic", "-o", str(back)).returncode == 0
        direct = tmp_path / "direct.jsonl"
        assert run("transform", str(TRANSCRIPTS), "-t", spec, "-o", str(direct)).returncode == 0
        assert [exact(x) for x in back.read_bytes().splitlines()] == [exact(x) for x in direct.read_bytes().splitlines()]
        ds = datasets.load_dataset("parquet", data_files=str(migrated), split="train", cache_dir=str(tmp_path / "c"))
        assert ds.num_rows == 195 and set(ds["model"]) == {"claude-opus-4-8"}
        assert ds[0]["messages"][0]["role"] in ("system", "user")


class TestWhatIsParquet:
    """A file is Parquet when it starts with the magic and is named ``.parquet`` or ends with a
    footer; a JSONL file whose first line starts with ``PAR1`` is read as JSONL (before, it was
    refused as a damaged Parquet file and every line in it was lost, uncounted)."""

    def test_a_jsonl_file_starting_with_par1_is_read_line_by_line(self, tmp_path: Path) -> None:
        good = convo.dumps(convo.Conversation(model="m").user("Hi"))
        src = tmp_path / "odd.jsonl"
        src.write_bytes(b"PAR1 not json\n" + good + b"\n")
        out = tmp_path / "out.jsonl"
        p = run("transform", str(src), "-t", "drop_images()", "-o", str(out))
        assert "2 lines in = 1 out + 1 rejected" in p.stderr, p.stderr
        assert out.read_bytes() == good + b"\n"
        (rec,) = read_rejects(tmp_path / "out.rejects.jsonl")
        assert rec["line"] == 1

    def test_a_parquet_file_under_another_name_is_still_parquet(self, tmp_path: Path) -> None:
        from convo.stream.sources import is_parquet

        src = tmp_path / "data.bin"
        good = convo.dumps(convo.Conversation(model="m").user("Hi")).decode()
        pq.write_table(pa.table({"kind": ["request"], "json": [good]}), src)
        assert is_parquet(str(src))
        short = tmp_path / "short.jsonl"
        short.write_bytes(b"PAR1")
        assert not is_parquet(str(short))
