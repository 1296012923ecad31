"""Conversations as Hugging Face ``datasets``: convo's Arrow schema with its features set.

Layer: datasets (with :mod:`convo.arrow`; the optional extra ``convo[hf]``: datasets).
:func:`to_dataset` builds a :class:`datasets.Dataset` through a generator with :func:`features`
given, so nothing is inferred (a tool's arguments never break the schema, whatever their types);
the ``messages`` column is in the chat convention, so ``tokenizer.apply_chat_template(
row["messages"], tools=row["tools"])`` and TRL's trainers take it as is (tool arguments come back
as objects). :func:`from_dataset` gives the values back from the ``json`` column, losslessly.

>>> import convo, tempfile
>>> conv = convo.Conversation(model="claude-opus-4-8", max_tokens=64).user("Hi").assistant("Hello!")
>>> ds = to_dataset([conv], cache_dir=tempfile.mkdtemp())
>>> ds[0]["messages"][1]["content"], ds.features["n_turns"].dtype
('Hello!', 'int32')
>>> list(from_dataset(ds)) == [conv]
True
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convo.arrow import SCHEMA, from_batches, row_of
from convo.codec.lines import Value

if TYPE_CHECKING:
    import datasets

__all__ = ["features", "from_dataset", "to_dataset"]

_PATTERNS = ("*.jsonl", "*.jsonl.gz", "*.parquet")


def features() -> datasets.Features:
    """The ``datasets`` features of :data:`convo.arrow.SCHEMA` (``arguments`` and ``tools`` are
    ``Json()``, ``json`` a ``large_string``).

    >>> features()["messages"].feature["tool_calls"].feature["function"]["arguments"]
    Json(decode=True)
    """
    import datasets

    return datasets.Features.from_arrow_schema(SCHEMA)


def _paths(data: Any) -> list[str] | None:
    """The files *data* names (a path, or a list of paths; directories expanded), or None when
    it is not paths."""
    items: Sequence[Any]
    if isinstance(data, str | os.PathLike):
        items = [data]
    elif isinstance(data, list | tuple) and data and all(isinstance(p, str | os.PathLike) for p in data):
        items = data
    else:
        return None
    out: list[str] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            out.extend(sorted({str(f) for pat in _PATTERNS for f in p.glob(pat) if f.is_file()}))
        elif p.exists():
            out.append(str(p))
        else:
            raise FileNotFoundError(f"{item}: no such file or directory")
    return out


def _rows_of_paths(paths: list[str]) -> Iterator[dict[str, Any]]:
    """The rows of JSONL and Parquet files (a line that does not decode raises, naming it)."""
    import pyarrow.parquet as pq

    from convo.arrow import json_lines
    from convo.codec.jsonl import iter_lines
    from convo.codec.lines import RawLine, decode_json_line

    for path in paths:
        with open(path, "rb") as f:
            parquet = f.read(4) == b"PAR1"
        if parquet:
            with pq.ParquetFile(path) as pf:
                row = 0
                for batch in pf.iter_batches(columns=["json"]):
                    for data in json_lines(batch):
                        row += 1
                        value, _ = decode_json_line(RawLine(path, row, data))
                        yield row_of(value, data)
            continue
        for raw in iter_lines(path):
            value, _ = decode_json_line(raw)
            yield row_of(value, raw.data)


def _generate(paths: list[str] | None = None, values: Any = None) -> Iterator[dict[str, Any]]:
    if paths is not None:
        yield from _rows_of_paths(paths)
    else:
        for v in values:
            yield row_of(v)


def _fingerprint(paths: list[str]) -> str:
    """The dataset's cache id: the files' names, sizes and times (a changed file is new data)."""
    h = hashlib.sha256(b"convo.hf/1")
    for p in paths:
        st = os.stat(p)
        h.update(f"{os.path.abspath(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:32]


def to_dataset(
    data: Iterable[Value] | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    cache_dir: str | None = None,
    keep_in_memory: bool = False,
) -> datasets.Dataset:
    """A :class:`datasets.Dataset` of *data*: convo values, or paths of JSONL (``.gz`` too) and
    Parquet files or directories of them. One row per line, in :data:`convo.arrow.SCHEMA`.

    Built by ``Dataset.from_generator`` with :func:`features`, so it streams into the
    ``datasets`` cache (*cache_dir*, default ``~/.cache/huggingface/datasets``). Values are
    consumed once; paths are fingerprinted by name, size and time, so the cache is reused only
    while the files are unchanged. A line that does not decode raises
    :class:`~convo.errors.DecodeError` naming its file and line (``convo validate`` finds them
    all first).
    """
    import datasets

    paths = _paths(data)
    kwargs: dict[str, Any]
    if paths is not None:
        kwargs = {"gen_kwargs": {"paths": paths}, "fingerprint": _fingerprint(paths)}
    else:
        # values cannot be hashed for the cache (an iterator may be used up): a fresh id each time
        kwargs = {"gen_kwargs": {"values": data}, "fingerprint": uuid.uuid4().hex}
    ds: datasets.Dataset = datasets.Dataset.from_generator(
        _generate, features=features(), cache_dir=cache_dir, keep_in_memory=keep_in_memory, **kwargs
    )
    return ds


def from_dataset(ds: datasets.Dataset, *, batch_size: int = 1024) -> Iterator[Value]:
    """The values of a dataset in convo's schema (from :func:`to_dataset`, or
    ``datasets.load_dataset("parquet", ...)`` on convo's Parquet), decoded from ``json`` alone, as
    Arrow (no Python decoding of the other columns), in order.

    >>> import convo, tempfile
    >>> ds = to_dataset([convo.Conversation(model="m")], cache_dir=tempfile.mkdtemp())
    >>> next(from_dataset(ds)).model
    'm'
    """
    if "json" not in ds.column_names:
        raise ValueError("the dataset has no 'json' column: it was not written by convo "
                         "(read foreign chat data with convo.codec.formats.get('hf'))")
    cols = [c for c in ("kind", "json") if c in ds.column_names]
    table = ds.select_columns(cols).data.table  # the Arrow table under the dataset (memory-mapped)
    yield from from_batches(table.to_batches(max_chunksize=batch_size), source="<dataset>")
