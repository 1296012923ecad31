"""Benchmark of Parquet (issue 18): ``convo convert --to parquet`` and ``--from parquet`` against
raw orjson on the same JSONL, file sizes against JSONL and JSONL.gz, the layouts considered for
:mod:`convo.arrow` side by side, and peak RSS on 1 GB.

    python benchmarks/parquet.py                          # 50 MB corpus, 1 GB RSS run, best of 3
    python benchmarks/parquet.py --size-mb 10 --rss-gb 0 --repeat 1     # a quick look

The corpus is the one ``benchmarks/cli.py`` uses (convo's seeded logged transcripts: 2-40 turns,
text in a dozen scripts, noisy base64 PNG images, tool loops, thinking with signatures).

1. The command, as separate processes (start-up included): ``convert --to parquet`` at 1 and 2
   workers and ``convert --from parquet --to anthropic`` at 1 worker, beside the floor, a plain
   script that reads the JSONL, ``orjson.loads`` and ``orjson.dumps`` every line and writes it.
   Speeds are MB of JSONL per CPU second (the machine is shared: CPU seconds say more than wall
   seconds; both are printed, and the load average).
2. Layouts, in this process on the same lines (what the module docstring of convo.arrow cites):
   ``json-only`` (one JSON column), ``convo`` (the shipped schema: flat views and the JSON
   column), ``nested`` (the request as nested structs, lossless: typed columns for the fields
   blocks share, a JSON ``rest`` per object for everything else, a value going to ``rest``
   whenever it is null or not of the column's type, so absent and null stay apart). Each: write
   (JSONL lines -> Parquet), read back (Parquet -> JSONL lines, checked equal as JSON values), file
   size, and the DuckDB query "tool calls per model" with its SQL.
3. Peak RSS (VmHWM of the process and its workers) converting a 1 GB corpus both ways.

convo's bytecode is compiled first, as pip compiles an installed package.

Figures on a 2-core machine shared with other work (load average 10-14), Python 3.11, 2026-12-07:
52 MB: the floor 118 MB/CPU s; --to parquet 15.1 MB/CPU s (0.13x), with 2 workers 11.2 (0.09x:
each worker imports pyarrow, and the wall gain was 1.08x on the loaded cores, 1.48x on idle ones
by CPU accounting); --from parquet 37.1 (0.31x; since then the stored line is written without
encoding it again: 54 MB/CPU s on 1 GB, 0.46x). Sizes: Parquet 0.59x JSONL, 1.24x JSONL.gz.
Layouts (write / read back / size vs gzip / DuckDB query): JSON column 0.60 s / 0.33 s / 1.01x /
8.3 s; nested structs 1.68 / 1.48 / 0.99x / 3.8 s; convo's 2.14 / 0.57 / 1.24x / 0.07 s.
1.07 GB: --to parquet 57.9 CPU s (18.5 MB/CPU s), peak RSS 243 MB; 2 workers 209 MB + 2 x 134 MB;
--from parquet 19.7 CPU s, 164 MB. The Parquet file: 633 MB in 24 row groups.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli import Measure, make_corpus, measure  # benchmarks/cli.py

FLOOR = r'''
import sys, orjson
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as out:
    for line in f:
        if line.strip():
            out.write(orjson.dumps(orjson.loads(line)) + b"\n")
'''

# --------------------------------------------------------------------------- the nested layout

_BLOCK_FIELDS: dict[str, type] = {
    "type": str, "text": str, "id": str, "name": str, "tool_use_id": str, "thinking": str,
    "signature": str, "data": str, "is_error": bool,
}
_BLOCK_JSON = ("input", "content", "source", "cache_control", "citations")


def _nested_schema() -> Any:
    import pyarrow as pa

    block = pa.struct(
        [(k, pa.bool_() if t is bool else pa.string()) for k, t in _BLOCK_FIELDS.items()]
        + [(k, pa.string()) for k in _BLOCK_JSON] + [("rest", pa.string())]
    )
    message = pa.struct([("role", pa.string()), ("text", pa.string()), ("blocks", pa.list_(block)),
                         ("rest", pa.string())])
    return pa.schema([("model", pa.string()), ("max_tokens", pa.int64()), ("system", pa.string()),
                      ("messages", pa.list_(message)), ("rest", pa.string())])


def _typed(d: dict[str, Any], fields: dict[str, type], json_keys: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for k, v in d.items():
        t = fields.get(k)
        if t is not None and v is not None and type(v) is t:
            row[k] = v
        elif k in json_keys and v is not None:
            row[k] = orjson.dumps(v).decode()
        else:
            rest[k] = v
    row["rest"] = orjson.dumps(rest).decode() if rest else None
    return row


def nested_row(d: dict[str, Any]) -> dict[str, Any]:
    """A request line as a nested, lossless row."""
    d = dict(d)
    row: dict[str, Any] = {}
    for k, t in (("model", str), ("max_tokens", int), ("system", str)):
        v = d.get(k)
        if v is not None and type(v) is t and (t is not int or -(1 << 63) <= v < (1 << 63)):
            row[k] = d.pop(k)
    msgs = d.pop("messages", None)
    if isinstance(msgs, list) and all(isinstance(x, dict) for x in msgs):
        out = []
        for msg in msgs:
            msg = dict(msg)
            mrow: dict[str, Any] = {}
            if isinstance(msg.get("role"), str):
                mrow["role"] = msg.pop("role")
            c = msg.get("content")
            if isinstance(c, str):
                mrow["text"] = msg.pop("content")
            elif isinstance(c, list) and all(isinstance(b, dict) for b in c):
                mrow["blocks"] = [_typed(b, _BLOCK_FIELDS, _BLOCK_JSON) for b in msg.pop("content")]
            mrow["rest"] = orjson.dumps(msg).decode() if msg else None
            out.append(mrow)
        row["messages"] = out
    elif "messages" in d or msgs is not None:
        d["messages"] = msgs
    row["rest"] = orjson.dumps(d).decode() if d else None
    return row


def _untyped(row: dict[str, Any], fields: tuple[str, ...], json_keys: tuple[str, ...]) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for k in fields:
        if row.get(k) is not None:
            d[k] = row[k]
    for k in json_keys:
        if row.get(k) is not None:
            d[k] = orjson.loads(row[k])
    if row.get("rest"):
        d.update(orjson.loads(row["rest"]))
    return d


def nested_line(row: dict[str, Any]) -> bytes:
    """The JSON line of a nested row (the same JSON value as the line it was made from)."""
    d = _untyped(row, ("model", "max_tokens", "system"), ())
    if row.get("messages") is not None:
        msgs = []
        for mrow in row["messages"]:
            msg = _untyped(mrow, ("role",), ())
            if mrow.get("text") is not None:
                msg["content"] = mrow["text"]
            elif mrow.get("blocks") is not None:
                msg["content"] = [_untyped(b, tuple(_BLOCK_FIELDS), _BLOCK_JSON) for b in mrow["blocks"]]
            msgs.append(msg)
        d["messages"] = msgs
    return orjson.dumps(d)


# --------------------------------------------------------------------------- layouts


def layout_runs(lines: list[bytes], tmp: Path, repeat: int) -> list[tuple[str, float, float, int, float, str]]:
    """(layout, write s, read-back s, bytes, DuckDB query s, SQL) for each layout."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from convo.arrow import batch_of_lines, ipc_bytes, json_lines

    want = [orjson.loads(x) for x in lines]
    schema = _nested_schema()
    pq.write_table(pa.table({"a": ["warm-up"]}), tmp / "warm-up.parquet")  # pyarrow's first-call costs
    duckdb.sql("SELECT 1").fetchall()

    def write_json_only(path: Path) -> None:
        table = pa.table({"json": pa.array([x.decode() for x in lines], pa.large_string())})
        pq.write_table(table, path, compression="zstd", use_dictionary=False)

    def write_convo(path: Path) -> None:
        from convo.stream.parquet import RowWriter

        with open(path, "wb") as f:
            w = RowWriter(f)
            for i in range(0, len(lines), 500):
                w.write(ipc_bytes(batch_of_lines(lines[i : i + 500])))
            w.close()

    def write_nested(path: Path) -> None:
        rows = [nested_row(orjson.loads(x)) for x in lines]
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")

    def read_json(path: Path) -> list[bytes]:
        out: list[bytes] = []
        with pq.ParquetFile(path) as pf:
            for b in pf.iter_batches(columns=["json"]):
                out.extend(json_lines(b))
        return out

    def read_nested(path: Path) -> list[bytes]:
        out: list[bytes] = []
        with pq.ParquetFile(path) as pf:
            for b in pf.iter_batches():
                out.extend(nested_line(r) for r in b.to_pylist())
        return out

    sql_flat = "SELECT model, sum(n_tool_calls) FROM '{p}' GROUP BY ALL ORDER BY 1"
    sql_json = ("SELECT json->>'$.model' AS model, count(*) FILTER (WHERE b->>'type' = 'tool_use') FROM "
                "(SELECT json, unnest(json_extract(json, '$.messages[*].content[*]')) AS b FROM '{p}') "
                "GROUP BY ALL ORDER BY 1")
    sql_nested = ("SELECT model, count(*) FILTER (WHERE b.type = 'tool_use') FROM (SELECT model, "
                  "unnest(flatten(list_transform(messages, lambda x: x.blocks))) AS b FROM '{p}') GROUP BY ALL ORDER BY 1")
    results = []
    for name, write, read, sql in (
        ("json-only", write_json_only, read_json, sql_json),
        ("convo", write_convo, read_json, sql_flat),
        ("nested", write_nested, read_nested, sql_nested),
    ):
        path = tmp / f"layout-{name}.parquet"
        wt, rt, qt = [], [], []
        for _ in range(repeat):
            t = time.process_time()
            write(path)
            wt.append(time.process_time() - t)
            t = time.process_time()
            back = read(path)
            rt.append(time.process_time() - t)
            t = time.perf_counter()
            duckdb.sql(sql.format(p=path)).fetchall()
            qt.append(time.perf_counter() - t)
        assert [orjson.loads(x) for x in back] == want, f"{name}: the read-back lines differ"
        results.append((name, min(wt), min(rt), path.stat().st_size, min(qt), sql))
    counts = {name: duckdb.sql(sql.format(p=tmp / f"layout-{name}.parquet")).fetchall()
              for name, *_, sql in [(r[0], r[5]) for r in results]}
    assert len({tuple(map(tuple, v)) for v in counts.values()}) == 1, counts  # the same answer
    return results


# --------------------------------------------------------------------------- the command


def convo_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "convo.cli", *args, "-q"]


def best(runs: list[Measure]) -> Measure:
    return min(runs, key=lambda r: r.cpu_all)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=50)
    ap.add_argument("--rss-gb", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to write the corpora (default: a temporary directory)")
    a = ap.parse_args()

    import compileall

    import convo

    compileall.compile_dir(str(Path(convo.__file__).parent), quiet=1)
    tmp = Path(a.dir or tempfile.mkdtemp(prefix="convo-parquet-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    src = tmp / "corpus.jsonl"
    n = make_corpus(src, a.size_mb << 20, "parquet-bench")
    size = src.stat().st_size
    mb = size / 1e6
    print(f"corpus: {n:,} lines, {mb:.1f} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    gz = gzip.compress(src.read_bytes(), compresslevel=6)
    floor_py = tmp / "floor.py"
    floor_py.write_text(FLOOR)
    pq_path, back = tmp / "corpus.parquet", tmp / "back.jsonl"
    runs: dict[str, list[Measure]] = {"floor": [], "to-1": [], "to-2": [], "from-1": []}
    for _ in range(a.repeat):
        runs["floor"].append(measure([sys.executable, str(floor_py), str(src), str(tmp / "floor.jsonl")]))
        runs["to-1"].append(measure(convo_argv("convert", str(src), "--from", "anthropic", "--to", "parquet",
                                               "-o", str(pq_path))))
        runs["to-2"].append(measure(convo_argv("convert", str(src), "--from", "anthropic", "--to", "parquet",
                                               "-o", str(pq_path), "--workers", "2")))
        runs["from-1"].append(measure(convo_argv("convert", str(pq_path), "--from", "parquet", "--to",
                                                 "anthropic", "-o", str(back))))
    same = [orjson.loads(x) for x in back.read_bytes().splitlines()] == [
        orjson.loads(x) for x in src.read_bytes().splitlines()]
    floor = best(runs["floor"])
    floor_rate = mb / floor.cpu_all
    print(f"\nthe command ({a.repeat} runs each, best by CPU seconds; MB are JSONL MB; round trip equal: {same})")
    print(f"{'run':34} {'wall s':>8} {'CPU s':>8} {'MB/CPU s':>9} {'x floor':>8} {'RSS MB':>8}")
    for key, label in (("floor", "orjson loads+dumps (the floor)"), ("to-1", "convert --to parquet, 1 worker"),
                       ("to-2", "convert --to parquet, 2 workers"), ("from-1", "convert --from parquet")):
        r = best(runs[key])
        wall = statistics.median(x.wall for x in runs[key])
        rate = mb / r.cpu_all
        print(f"{label:34} {wall:8.2f} {r.cpu_all:8.2f} {rate:9.1f} {rate / floor_rate:8.2f} {r.rss_main + sum(r.rss_children.values()):8.0f}")
    w1, w2 = best(runs["to-1"]), best(runs["to-2"])
    print(f"2 workers vs 1, wall (median): {statistics.median(x.wall for x in runs['to-1']) / statistics.median(x.wall for x in runs['to-2']):.2f}x"
          f" (ideal wall on idle cores: {w1.ideal_wall / w2.ideal_wall:.2f}x)")

    print("\nsizes")
    for label, b in (("JSONL", size), ("JSONL.gz (gzip -6)", len(gz)), ("Parquet (convo, zstd)", pq_path.stat().st_size)):
        print(f"  {label:24} {b / 1e6:9.1f} MB  {b / size:6.2f}x JSONL  {b / len(gz):6.2f}x JSONL.gz")

    lines = [x for x in src.read_bytes().splitlines() if x.strip()]
    print(f"\nlayouts ({len(lines):,} lines in this process, CPU seconds, best of {a.repeat})")
    print(f"{'layout':10} {'write s':>8} {'read s':>8} {'MB':>7} {'x JSONL.gz':>10} {'query s':>8}")
    for name, wt, rt, nbytes, qt, sql in layout_runs(lines, tmp, a.repeat):
        print(f"{name:10} {wt:8.2f} {rt:8.2f} {nbytes / 1e6:7.1f} {nbytes / len(gz):10.2f} {qt:8.3f}   {sql.format(p='F')}")

    if a.rss_gb > 0:
        big = tmp / "big.jsonl"
        nb = make_corpus(big, int(a.rss_gb * (1 << 30)), "parquet-bench-rss")
        big_pq, big_back = tmp / "big.parquet", tmp / "big-back.jsonl"
        print(f"\npeak RSS on {big.stat().st_size / 1e9:.2f} GB ({nb:,} lines); load average {os.getloadavg()[0]:.1f}")
        for label, argv in (
            ("convert --to parquet, 1 worker", convo_argv("convert", str(big), "--from", "anthropic", "--to", "parquet", "-o", str(big_pq))),
            ("convert --to parquet, 2 workers", convo_argv("convert", str(big), "--from", "anthropic", "--to", "parquet", "-o", str(big_pq), "--workers", "2")),
            ("convert --from parquet", convo_argv("convert", str(big_pq), "--from", "parquet", "--to", "anthropic", "-o", str(big_back))),
        ):
            r = measure(argv)
            print(f"  {label:34} wall {r.wall:7.1f} s  CPU {r.cpu_all:7.1f} s  RSS main {r.rss_main:6.0f} MB, "
                  f"workers {sorted(round(v) for v in r.rss_children.values())} MB")
        import pyarrow.parquet as pq

        groups = pq.ParquetFile(big_pq).metadata.num_row_groups
        print(f"  Parquet {big_pq.stat().st_size / 1e6:.0f} MB, {groups} row groups")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
