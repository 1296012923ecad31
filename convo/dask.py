"""The command's transform beyond one machine: the same pipeline over a Dask bag of JSONL blocks.

Layer: beside :mod:`convo.cli` (the optional ``convo[dask]`` extra: dask, distributed, fsspec).
Inputs are local paths or any fsspec URL (``s3://bucket/logs/``, ``gcs://...``, ``memory://...``);
a directory stands for its ``*.jsonl`` and ``*.jsonl.gz`` files, sorted. Plain files are cut into
byte ranges of about ``block_bytes`` on line boundaries, a gzip file is one block. Each block is
one bag partition, processed exactly as ``convo transform`` processes a chunk (the same operation,
rebuilt on the worker from the pipeline's text), streamed so memory stays flat, and written to
``OUT/part-NNNNN.jsonl`` (temporary name, then moved into place; ``part-NNNNN.parquet`` with
``out_format="parquet"``). The parts in order are
byte-for-byte the output of ``convo transform`` on one process; rejects (with the true file line
numbers and the original bytes) go to ``REJECTS/part-NNNNN.rejects.jsonl``.

Two passes: the first counts the newlines of each byte range (cheap: no decoding), which gives
every block its exact first line number and its start on a line boundary; the second transforms.

>>> import tempfile, os, convo, pathlib
>>> d = tempfile.mkdtemp()
>>> src = os.path.join(d, "in.jsonl")
>>> with open(src, "wb") as f:
...     _ = f.write(convo.dumps(convo.Conversation(model="m", max_tokens=8, temperature=0.5).user("Hi")) + b"\\n")
>>> s = transform([src], os.path.join(d, "out"), specs=["drop_sampling_params()"], scheduler="sync")
>>> (s.lines_in, s.out, s.rejected, s.parts), b"temperature" in pathlib.Path(d, "out", "part-00000.jsonl").read_bytes()
((1, 1, 0, 1), False)
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import time
from collections.abc import Iterator, Sequence
from typing import Any, BinaryIO

import dask.bag as db
import fsspec
from attrs import define, field, frozen

from convo.codec.jsonl import sniff_gzip
from convo.stream.counts import RunCounts
from convo.stream.engine import build_operation
from convo.stream.operation import Operation, OpSpec
from convo.stream.ops import TransformTally
from convo.stream.ranges import ByteRange
from convo.stream.sources import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_LINE_BYTES, ChunkReader
from convo.transforms.secrets import RunKey

__all__ = ["Block", "DaskSummary", "plan_blocks", "transform"]

# dask's functions are untyped; one Any-typed handle keeps mypy's strict mode at the boundary
_from_sequence: Any = db.from_sequence

DEFAULT_BLOCK_BYTES = 64 << 20
_PART = re.compile(r"part-(\d{5,})\.(?:(?:rejects\.)?jsonl(?:\.gz)?|parquet)$")


@frozen
class Block:
    """Lines ``[start, end)`` (bytes) of one file, the first being line ``first_line``.

    ``end`` is None for "to the end" (a gzip file is always one whole block).
    """

    url: str
    name: str
    start: int
    end: int | None
    first_line: int
    gzip: bool = False


@define
class DaskSummary(RunCounts):
    """Totals of a Dask run (``lines_in == out + rejected``), and where its parts went."""

    parts: int = 0
    changed: int = 0
    changes: dict[str, int] = field(factory=dict)
    notes: dict[str, int] = field(factory=dict)
    reject_codes: dict[str, int] = field(factory=dict)
    output: str = ""
    rejects_dir: str = ""


# --------------------------------------------------------------------------- planning


def _expand(inputs: Sequence[str], storage_options: dict[str, Any]) -> list[tuple[str, str]]:
    """``(url, display name)`` for every input file, directories expanded (sorted)."""
    files: list[tuple[str, str]] = []
    for url in inputs:
        fs, path = fsspec.core.url_to_fs(url, **storage_options)
        if fs.isdir(path):
            names = sorted(
                p for p in fs.ls(path, detail=False)
                if p.endswith((".jsonl", ".jsonl.gz")) and fs.isfile(p)
            )
            files.extend((fs.unstrip_protocol(p), _display(url, p, path)) for p in names)
        elif fs.exists(path):
            files.append((fs.unstrip_protocol(path), url))
        else:
            raise FileNotFoundError(f"{url}: no such file or directory")
    return files


def _display(url: str, p: str, base: str) -> str:
    """How a file found in a directory is named in rejects: the directory as given, plus its name."""
    return url.rstrip("/") + "/" + posixpath.basename(p)


def _is_gzip(fs: Any, path: str) -> bool:
    with fs.open(path, "rb") as f:
        return sniff_gzip(f)[0]


def _scan(task: tuple[str, int, int, dict[str, Any]]) -> tuple[int, int | None]:
    """Newlines in bytes ``[lo, hi)`` of a file and the position of the last one (or None)."""
    url, lo, hi, storage_options = task
    fs, path = fsspec.core.url_to_fs(url, **storage_options)
    count = 0
    last = None
    with fs.open(path, "rb") as f:
        f.seek(lo)
        pos = lo
        while pos < hi:
            data = f.read(min(DEFAULT_CHUNK_BYTES * 4, hi - pos))
            if not data:
                break
            n = data.count(b"\n")
            if n:
                count += n
                last = pos + data.rfind(b"\n")
            pos += len(data)
    return count, last


def plan_blocks(
    inputs: Sequence[str],
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    storage_options: dict[str, Any] | None = None,
    scheduler: Any = None,
) -> list[Block]:
    """The blocks of *inputs*, in order: each on line boundaries and knowing its first line number.

    >>> import tempfile, os, pathlib
    >>> p = os.path.join(tempfile.mkdtemp(), "a.jsonl")
    >>> _ = pathlib.Path(p).write_bytes(b"{}\\n" * 10)
    >>> [(b.start, b.end, b.first_line) for b in plan_blocks([p], block_bytes=10, scheduler="sync")]
    [(0, 9, 1), (9, 18, 4), (18, 30, 7)]
    """
    opts = storage_options or {}
    plans: list[tuple[str, str, int | None]] = []  # url, name, size (None: one gzip block)
    for url, name in _expand(inputs, opts):
        fs, path = fsspec.core.url_to_fs(url, **opts)
        size = fs.size(path)
        plans.append((url, name, None if _is_gzip(fs, path) else int(size)))
    tasks: list[tuple[str, int, int, dict[str, Any]]] = []
    for url, _name, size in plans:
        if size is None:
            continue
        for lo in range(0, size, block_bytes):
            tasks.append((url, lo, min(lo + block_bytes, size), opts))
    scans = _compute(_from_sequence(tasks, npartitions=max(1, len(tasks))).map(_scan), scheduler) if tasks else []
    blocks: list[Block] = []
    k = 0
    for url, name, size in plans:
        if size is None:
            blocks.append(Block(url, name, 0, None, 1, gzip=True))
            continue
        n = (size + block_bytes - 1) // block_bytes
        mine = scans[k : k + n]
        k += n
        starts = [0]
        last_nl: int | None = None
        for count_last in mine[:-1]:
            if count_last[1] is not None:
                last_nl = count_last[1]
            starts.append(0 if last_nl is None else last_nl + 1)
        starts.append(size)
        line = 1
        for i in range(n):
            if starts[i] < starts[i + 1]:  # a block inside one long line owns no line
                blocks.append(Block(url, name, starts[i], starts[i + 1], line))
            # block i+1 starts after the last newline before byte (i+1)*B, so the lines before
            # it are exactly the newlines of byte ranges 0..i
            line += mine[i][0]
    return blocks


def _compute(bag: Any, scheduler: Any) -> list[Any]:
    if scheduler is None:
        return list(bag.compute())
    if hasattr(scheduler, "compute") and hasattr(scheduler, "gather"):  # a distributed Client
        return list(scheduler.compute(bag).result())
    return list(bag.compute(scheduler=scheduler))


# --------------------------------------------------------------------------- the work on a worker


_OPS: dict[OpSpec, Operation] = {}


def _operation(spec: OpSpec) -> Operation:
    op = _OPS.get(spec)
    if op is None:
        import warnings

        from convo.profiles import UnknownModelWarning

        warnings.simplefilter("ignore", UnknownModelWarning)  # `validate_for` reports rules instead
        op = _OPS[spec] = build_operation(spec)
    return op


@frozen
class _Task:
    index: int
    block: Block
    spec: OpSpec
    out_dir: str
    rejects_dir: str
    chunk_bytes: int
    compress: bool
    storage_options: Any
    parquet: bool = False


@define
class _PartResult:
    index: int
    n_in: int = 0
    n_out: int = 0
    n_rejected: int = 0
    n_blank: int = 0
    n_bytes: int = 0
    tally: Any = None
    problems: list[str] = field(factory=list)


@contextlib.contextmanager
def _atomic(fs: Any, path: str, compress: bool) -> Iterator[BinaryIO]:
    """A file on *fs* written under a temporary name and moved to *path* on success."""
    tmp = path + ".tmp"
    try:
        with fs.open(tmp, "wb", compression="gzip" if compress else None) as f:
            yield f
        fs.mv(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):
            fs.rm(tmp)
        raise


def _run_block(task: _Task) -> _PartResult:
    """Transform one block into its part file (and its rejects part, when there are rejects)."""
    op = _operation(task.spec)
    b = task.block
    opts = dict(task.storage_options)
    in_fs, in_path = fsspec.core.url_to_fs(b.url, **opts)
    out_fs, out_dir = fsspec.core.url_to_fs(task.out_dir, **opts)
    rej_fs, rej_dir = fsspec.core.url_to_fs(task.rejects_dir, **opts)
    suffix = ".parquet" if task.parquet else ".jsonl.gz" if task.compress else ".jsonl"
    part = posixpath.join(out_dir, f"part-{task.index:05d}{suffix}")
    rej_part = posixpath.join(rej_dir, f"part-{task.index:05d}.rejects.jsonl")
    res = _PartResult(task.index, tally=op.new_stats())
    reader = ChunkReader([], chunk_bytes=task.chunk_bytes, max_line_bytes=op.max_line_bytes, views=op.takes_views)
    rej_cm: Any = None
    rej_f: BinaryIO | None = None
    try:
        with in_fs.open(in_path, "rb", compression="gzip" if b.gzip else None) as raw, \
                _atomic(out_fs, part, task.compress and not task.parquet) as out_file:
            out: Any = out_file
            if task.parquet:  # rows built by the operation (IPC), row groups written here
                from convo.stream.parquet import RowWriter

                out = RowWriter(out_file, source=b.name)
            if not b.gzip:
                raw.seek(b.start)
            length = None if b.end is None else b.end - b.start
            stream = ByteRange(raw, length)
            for item in reader.read_stream(b.name, stream, first_line=b.first_line):
                r = op.run(item)
                res.n_in += r.n_in
                res.n_out += r.n_out
                res.n_rejected += r.n_rejected
                res.n_blank += r.n_blank
                res.tally = op.merge_stats(res.tally, r.stats)
                if r.out:
                    out.write(r.out)
                if r.rejects or r.spool:
                    if rej_f is None:
                        rej_fs.makedirs(rej_dir, exist_ok=True)
                        rej_cm = _atomic(rej_fs, rej_part, False)
                        rej_f = rej_cm.__enter__()
                    if r.rejects:
                        rej_f.write(r.rejects)
                    if r.spool:
                        with open(r.spool, "rb") as sp:
                            while piece := sp.read(1 << 20):
                                rej_f.write(piece)
                        rej_f.write(b"\n")
                        os.unlink(r.spool)
            if task.parquet:
                out.close()
        res.n_bytes = reader.bytes_read
        res.problems = list(reader.problems)
        if rej_cm is not None:
            rej_cm.__exit__(None, None, None)
            rej_cm = None
    except BaseException as e:
        if rej_cm is not None:
            rej_cm.__exit__(type(e), e, e.__traceback__)
        raise
    finally:
        reader.cleanup()
    return res


# --------------------------------------------------------------------------- the run


def transform(
    inputs: Sequence[str],
    output: str,
    *,
    specs: Sequence[str] = (),
    pipeline_path: str | None = None,
    validate_for: str | None = None,
    api_version: str | None = None,
    betas: Sequence[str] = (),
    allow: Sequence[str] = (),
    kind: str | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    rejects: str | None = None,
    address: str | None = None,
    client: Any = None,
    scheduler: Any = None,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    compress: bool = False,
    storage_options: dict[str, Any] | None = None,
    out_format: str = "jsonl",
) -> DaskSummary:
    """Run a transform pipeline over *inputs* on Dask, writing ``OUTPUT/part-NNNNN.jsonl``.

    *specs* and *pipeline_path* are what ``convo transform`` takes (``-t`` texts, ``--pipeline``;
    a pipeline file must be readable at the same path on every worker); *validate_for*,
    *api_version*, *betas* and *allow* its ``--validate-for``, ``--api-version``, ``--beta`` and
    ``--allow``. Where it runs:
    *client* (a ``distributed.Client``), else *address* (``"local"`` starts a LocalCluster for the
    run, anything else is a scheduler address), else *scheduler* (a dask scheduler name such as
    ``"sync"`` or ``"processes"``), else dask's default. Rejects go to *rejects* (default
    ``OUTPUT/rejects``). Part files of an earlier run beyond this run's count are removed, so the
    directory always holds exactly this run's output. *out_format* ``"parquet"`` writes
    ``OUTPUT/part-NNNNN.parquet`` in :mod:`convo.arrow`'s schema instead (the extra
    ``convo[arrow]``): a partitioned dataset that DuckDB, polars and ``datasets`` read whole, whose
    rows in part order are those of ``convo transform -o OUT.parquet``.
    """
    spec = OpSpec(
        "transform",
        {
            "specs": tuple(specs),
            "pipeline_path": pipeline_path,
            "validate_for": validate_for,
            "api_version": api_version,
            "betas": tuple(betas),
            "allow": tuple(allow),
            "kind": kind,
            "max_line_bytes": max_line_bytes,
            "run_key": RunKey.new(),  # scrub_secrets(keyed=True): one key for every worker
            "out_format": out_format,
        },
    )
    build_operation(spec)  # fail here, not on a worker, for a bad spec
    start = time.perf_counter()
    opts = dict(storage_options or {})
    rejects_dir = rejects or posixpath.join(output.rstrip("/"), "rejects")
    with contextlib.ExitStack() as stack:
        sched: Any = scheduler
        if client is not None:
            sched = client
        elif address is not None:
            import distributed

            Client: Any = distributed.Client
            LocalCluster: Any = distributed.LocalCluster
            if address == "local":
                cluster = stack.enter_context(LocalCluster(processes=False, dashboard_address=":0"))
                sched = stack.enter_context(Client(cluster))
            else:
                sched = stack.enter_context(Client(address))
        blocks = plan_blocks(inputs, block_bytes=block_bytes, storage_options=opts, scheduler=sched)
        out_fs, out_dir = fsspec.core.url_to_fs(output, **opts)
        out_fs.makedirs(out_dir, exist_ok=True)
        tasks = [
            _Task(i, b, spec, output, rejects_dir, chunk_bytes, compress, opts, out_format == "parquet")
            for i, b in enumerate(blocks)
        ]
        results: list[_PartResult] = (
            _compute(_from_sequence(tasks, npartitions=len(tasks)).map(_run_block), sched)
            if tasks else []
        )
    results.sort(key=lambda r: r.index)
    summary = DaskSummary(output=output, rejects_dir=rejects_dir, parts=len(results))
    summary.files = len({b.url for b in blocks})
    tally = TransformTally()
    for r in results:
        summary.count(r)
        summary.bytes_in += r.n_bytes
        tally.merge(r.tally)
    summary.changed = tally.changed
    summary.changes = tally.changes_by_text()
    summary.notes = tally.notes_by_text()
    summary.reject_codes = tally.rejects
    _remove_stale(out_fs, out_dir, len(results), keep_rejects=set())
    rej_fs, rej_dir = fsspec.core.url_to_fs(rejects_dir, **opts)
    with_rejects = {r.index for r in results if r.n_rejected}
    if rej_fs.exists(rej_dir):
        _remove_stale(rej_fs, rej_dir, 0, keep_rejects=with_rejects)
    summary.seconds = time.perf_counter() - start
    return summary


def _remove_stale(fs: Any, directory: str, count: int, *, keep_rejects: set[int]) -> None:
    """Delete part files of an earlier run: index >= *count*, and rejects parts not in *keep*."""
    for p in fs.ls(directory, detail=False):
        mt = _PART.search(posixpath.basename(p))
        if mt is None:
            continue
        idx = int(mt.group(1))
        is_rejects = ".rejects." in posixpath.basename(p)
        if (is_rejects and idx not in keep_rejects) or (not is_rejects and idx >= count):
            fs.rm(p)
