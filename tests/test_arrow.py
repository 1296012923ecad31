"""convo.arrow and convo.hf: the schema, lossless round trips through Parquet, the query columns
checked against convo's own counts, DuckDB, polars, and ``datasets`` with a chat template."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded at test time
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

pa = pytest.importorskip("pyarrow")  # the optional extra convo[arrow]
pq = pytest.importorskip("pyarrow.parquet")

import convo  # noqa: E402
from convo import model as m  # noqa: E402
from convo import strategies as cs  # noqa: E402
from convo.arrow import (  # noqa: E402
    COLUMNS,
    SCHEMA,
    batch_of_lines,
    from_batches,
    from_table,
    json_lines,
    row_of,
    to_batches,
    to_polars,
    to_table,
)
from convo.codec.lines import RawLine, decode_line, decode_value, detect_kind, encode_value  # noqa: E402
from convo.errors import DecodeError  # noqa: E402
from convo.stream.ops import StatsOp  # noqa: E402
from convo.stream.sources import Chunk  # noqa: E402
from tests._helpers_codec import SHARED  # noqa: E402

REALWORLD = SHARED / "realworld"
TEMPLATES = Path(__file__).parent / "data" / "chat_templates"


# --------------------------------------------------------------------------- the realworld tree


def _found(obj: Any, out: list[Any]) -> None:
    """Every JSON object inside *obj* that convo reads as a line (responses as exchanges)."""
    if isinstance(obj, list):
        for v in obj:
            _found(v, out)
        return
    if not isinstance(obj, dict):
        return
    try:
        decode_value(obj, detect_kind(obj))
    except (DecodeError, TypeError, ValueError, RecursionError):
        if obj.get("type") == "message" and isinstance(obj.get("content"), list):
            record = {"id": len(out), "request": {"messages": []}, "response": obj}
            try:
                decode_value(record, "exchange")
                out.append(record)
            except DecodeError:
                pass
    else:
        out.append(obj)
    for v in obj.values():
        _found(v, out)


@cache
def realworld_values() -> tuple[Any, ...]:
    """Every line convo reads anywhere in ``../shared/realworld`` (a walk of the whole tree:
    JSONL lines, JSON documents, and the objects nested in them), parsed exactly."""
    out: list[Any] = []
    for path in sorted(REALWORLD.rglob("*")):
        if not path.is_file() or path.suffix not in (".json", ".jsonl"):
            continue
        text = path.read_text(encoding="utf-8", errors="strict")
        docs: list[Any] = []
        try:
            docs.append(json.loads(text))
        except ValueError:
            for line in text.splitlines():
                try:
                    docs.append(json.loads(line))
                except ValueError:
                    continue
        for d in docs:
            _found(d, out)
    return tuple(out)


def exact_lines(values: Any) -> bytes:
    return b"".join(json.dumps(v, ensure_ascii=False).encode() + b"\n" for v in values)


def parquet_bytes(table: Any) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def through_parquet(values: list[Any]) -> list[Any]:
    """Values -> table -> Parquet bytes -> table -> values."""
    return from_table(pq.read_table(io.BytesIO(parquet_bytes(to_table(values)))))


class TestSchema:
    def test_columns_are_the_documented_ones(self) -> None:
        """Every column of SCHEMA is in the module docstring's table, and json is last."""
        import convo.arrow

        doc = convo.arrow.__doc__ or ""
        for name in COLUMNS:
            assert f"``{name}``" in doc
        assert COLUMNS[-1] == "json" and SCHEMA.field("json").type == pa.large_string()
        assert orjson.loads(SCHEMA.metadata[b"convo"]) == {"schema_version": 1}

    def test_import_convo_loads_neither_pyarrow_nor_datasets(self) -> None:
        """``import convo`` stays light: the datasets layer is imported only when used."""
        code = "import sys, convo; print(sorted(m for m in ('pyarrow', 'datasets', 'convo.arrow', 'convo.hf', 'polars') if m in sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "[]"

    def test_a_table_read_back_from_parquet_has_the_schema(self) -> None:
        """Parquet keeps every type, the JSON ones included (DuckDB sees JSON, not text)."""
        t = to_table([convo.Conversation(model="m").user("Hi")])
        back = pq.read_table(io.BytesIO(parquet_bytes(t)))
        assert back.schema.equals(SCHEMA, check_metadata=False)
        assert back.equals(t)

    def test_anything_else_is_refused(self) -> None:
        """A Response alone is not a line: the error says what is expected."""
        with pytest.raises(TypeError, match="Conversation, BatchRequest, BatchResult or Exchange"):
            row_of(m.Response(id="msg_1"))  # type: ignore[arg-type]


class TestRealworldRoundTrip:
    def test_the_walk_finds_every_kind(self) -> None:
        """The walk finds well over a thousand lines: requests, exchanges and batch requests (the
        tree holds no batch result line; the property tests below make them)."""
        kinds = {detect_kind(v) for v in realworld_values()}
        assert len(realworld_values()) > 1500
        assert kinds == {"request", "batch_request", "exchange"}

    def test_every_realworld_line_round_trips_through_parquet(self) -> None:
        """JSONL -> Parquet -> JSONL gives the same JSON value (parsed exactly) for every line."""
        values = realworld_values()
        decoded = [decode_line(RawLine("rw", i, json.dumps(v).encode())).value for i, v in enumerate(values, 1)]
        table = pq.read_table(io.BytesIO(parquet_bytes(to_table(decoded))))
        lines = json_lines(table)
        assert len(lines) == len(values)
        for want, line in zip(values, lines, strict=True):
            assert json.loads(line) == want
        assert from_table(table) == decoded


# --------------------------------------------------------------------------- Hypothesis


_JSON_LEAVES = (
    st.none() | st.booleans() | st.text(max_size=8)
    | st.integers(min_value=-(1 << 80), max_value=1 << 80)  # beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=8,
)
_UNKNOWN_KEYS = st.dictionaries(st.text(min_size=1, max_size=6).map(lambda k: "x-" + k), _JSON, max_size=2)


@st.composite
def lines(draw: st.DrawFn) -> Any:
    """A line of any kind: a generated conversation (with unknown fields and an unknown block),
    alone, as a batch request, or in an exchange with a generated response; or a batch result."""
    conv = draw(cs.conversations(tools=draw(st.booleans()), thinking=draw(st.booleans()),
                                 images=draw(st.booleans())))
    extra = draw(_UNKNOWN_KEYS)
    if extra:
        conv = attrs.evolve(conv, extra={**conv.extra, **extra})
    if draw(st.booleans()) and conv.messages:
        last = conv.messages[-1]
        odd = m.UnknownBlock("x_future_block", extra={"payload": draw(_JSON)})
        conv = attrs.evolve(conv, messages=(*conv.messages[:-1], last.with_blocks((*last.blocks, odd))))
    resp = draw(cs.responses())
    which = draw(st.sampled_from(["request", "batch_request", "exchange", "batch_result", "error"]))
    if which == "request":
        return conv
    if which == "batch_request":
        return m.BatchRequest(custom_id="r-1", params=conv)
    if which == "batch_result":
        return m.BatchResult(custom_id="r-2", result_type="succeeded", message=resp)
    if which == "error":
        return m.Exchange(id=draw(st.integers(-(1 << 70), 1 << 70)), request=conv,
                          error={"type": "overloaded_error", "n": draw(_JSON)})
    return m.Exchange(id=draw(st.text(max_size=5)), request=conv, response=resp)


class TestProperties:
    @pytest.mark.slow
    @pytest.mark.slow
    @given(st.lists(lines(), min_size=1, max_size=4))
    def test_values_round_trip_through_parquet(self, values: list[Any]) -> None:
        """Generated lines of every kind (unknown fields and blocks, signatures, big integers)
        come back equal from Parquet, and their JSON is the codec's, byte for byte."""
        table = pq.read_table(io.BytesIO(parquet_bytes(to_table(values))))
        assert from_table(table) == values
        assert json_lines(table) == [encode_value(v) for v in values]

    @pytest.mark.slow
    @given(st.lists(lines(), min_size=1, max_size=4))
    def test_rows_from_lines_equal_rows_from_values(self, values: list[Any]) -> None:
        """The engine's path (JSON lines decoded in a worker) builds the same rows as values."""
        data = [encode_value(v) for v in values]
        assert batch_of_lines(data).equals(next(to_batches(values)))

    @given(lines())
    def test_counts_agree_with_convo_stats(self, value: Any) -> None:
        """n_turns, n_images, n_tool_calls and est_tokens are the figures `convo stats` gives."""
        row = row_of(value)
        tally = StatsOp().process(Chunk.of("x", 1, encode_value(value) + b"\n")).stats
        resp = value.response if isinstance(value, m.Exchange) else value.message if isinstance(value, m.BatchResult) else None
        has_resp = isinstance(resp, m.Response)
        # the response is a turn of the row's dialogue; `stats` counts the request only
        assert row["n_turns"] == tally.turns + has_resp
        assert row["est_tokens"] == tally.tokens
        blocks = resp.blocks if has_resp else ()
        assert row["n_images"] == tally.images + sum(isinstance(b, m.Image) for b in blocks)
        assert row["n_tool_calls"] == tally.tool_calls + sum(isinstance(b, m.ToolUse | m.ServerToolUse) for b in blocks)


# --------------------------------------------------------------------------- the views


WEATHER_TOOL = {"name": "get_weather", "description": "Weather now",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def tool_conversation() -> m.Conversation:
    return (
        convo.Conversation(model="claude-opus-4-8", max_tokens=256)
        .with_system("You are terse.")
        .with_params(tools=[WEATHER_TOOL])
        .user("Weather in Paris?")
        .assistant(m.Thinking("They want weather.", "sig-abc"), m.Text("Checking."),
                   m.ToolUse("toolu_1", "get_weather", {"city": "Paris"}))
        .user(m.ToolResult("toolu_1", content="18C"))
    )


def tool_exchange() -> m.Exchange:
    resp = m.Response(id="msg_1", model="claude-opus-4-8", content=(m.Text("18C in Paris."),),
                      stop_reason="end_turn", usage=m.Usage(input_tokens=30, output_tokens=6))
    return m.Exchange(id="run-1", request=tool_conversation(), response=resp)


class TestViews:
    def test_messages_follow_the_chat_convention(self) -> None:
        """System first, tool calls with JSON arguments, tool results as `tool` messages named
        after their call, thinking as reasoning_content, the response as the last turn."""
        row = to_table([tool_exchange()]).to_pylist()[0]
        msgs = [{k: v for k, v in x.items() if v is not None} for x in row["messages"]]
        assert msgs == [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "Checking.", "reasoning_content": "They want weather.",
             "tool_calls": [{"id": "toolu_1", "type": "function",
                             "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
            {"role": "tool", "content": "18C", "tool_call_id": "toolu_1", "name": "get_weather"},
            {"role": "assistant", "content": "18C in Paris."},
        ]
        assert (row["kind"], row["id"], row["model"], row["stop_reason"]) == ("exchange", "run-1", "claude-opus-4-8", "end_turn")
        assert row["usage"] == {"input_tokens": 30, "output_tokens": 6,
                                "cache_creation_input_tokens": None, "cache_read_input_tokens": None}
        assert (row["n_turns"], row["n_tool_calls"], row["n_images"]) == (4, 1, 0)
        assert [orjson.loads(t) for t in row["tools"]] == [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather now", "parameters": WEATHER_TOOL["input_schema"]}}]

    def test_big_integers_are_floats_in_the_views_and_exact_in_json(self) -> None:
        """A 2**70 in tool arguments: a float where `datasets` decodes, exact in `json`."""
        conv = convo.Conversation(model="m").assistant(m.ToolUse("t1", "f", {"n": 2**70}))
        row = row_of(conv)
        assert orjson.loads(row["messages"][0]["tool_calls"][0]["function"]["arguments"]) == {"n": float(2**70)}
        assert json.loads(row["json"])["messages"][0]["content"][0]["input"]["n"] == 2**70
        assert from_table(to_table([conv])) == [conv]

    def test_values_outside_int64_leave_usage_null(self) -> None:
        """A usage count beyond int64 is null in the column, exact in json."""
        ex = m.Exchange(id=1, request=convo.Conversation(), response=m.Response(usage=m.Usage(input_tokens=2**64)))
        row = row_of(ex)
        assert row["usage"]["input_tokens"] is None
        assert json.loads(row["json"])["response"]["usage"]["input_tokens"] == 2**64

    def test_a_broken_row_names_source_and_row(self) -> None:
        """A row whose json does not decode raises a DecodeError at ``source:row`` and $.path."""
        table = to_table([convo.Conversation(model="a"), convo.Conversation(model="b")])
        bad = table.set_column(table.schema.get_field_index("json"), "json",
                               pa.array(['{"model": "a"}', '{"model": 7}'], pa.large_string()))
        with pytest.raises(DecodeError, match=r"t\.parquet:2: \$\.model"):
            list(from_batches(bad.to_batches(), source="t.parquet"))

    def test_batches_stream(self) -> None:
        """to_batches yields bounded batches from an iterator, consumed lazily."""
        consumed = []

        def gen() -> Any:
            for i in range(7):
                consumed.append(i)
                yield convo.Conversation(model=f"m{i}")

        it = to_batches(gen(), rows=3)
        first = next(it)
        assert first.num_rows == 3 and len(consumed) <= 4
        assert [b.num_rows for b in it] == [3, 1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """Logged conversations for older models (tools, images, thinking) and a tool exchange."""
    from convo.testing.fixtures import logged_conversations

    values: list[Any] = list(logged_conversations(120, "arrow-q", max_turns=10))
    values.append(tool_exchange())
    path = tmp_path_factory.mktemp("q") / "corpus.parquet"
    pq.write_table(to_table(values), path)
    return path, values


class TestQueryEngines:
    def test_duckdb_counts_tool_calls_per_model(self, corpus: tuple[Path, list[Any]]) -> None:
        """The README's query, checked against a count over the values themselves, and the
        same from the json column (DuckDB's JSON functions on the lossless part)."""
        duckdb = pytest.importorskip("duckdb")
        path, values = corpus
        want: dict[str, int] = {}
        for v in values:
            conv = v.request.with_response(v.response) if isinstance(v, m.Exchange) else v
            n = sum(1 for msg in conv.messages for b in msg.blocks if isinstance(b, m.ToolUse | m.ServerToolUse))
            want[conv.model] = want.get(conv.model, 0) + n
        got = dict(duckdb.sql(f"SELECT model, sum(n_tool_calls) FROM '{path}' GROUP BY model").fetchall())
        assert got == want
        ex = duckdb.sql(f"SELECT id, json->>'$.response.usage.output_tokens', usage.output_tokens "
                        f"FROM '{path}' WHERE kind = 'exchange'").fetchall()
        assert ex == [("run-1", "6", 6)]
        typed = duckdb.sql(f"SELECT DISTINCT typeof(tools[1]) FROM '{path}' WHERE tools IS NOT NULL").fetchall()
        assert typed == [("JSON",)]  # tool definitions and call arguments are JSON to DuckDB

    def test_a_subset_written_by_duckdb_reads_back_losslessly(self, corpus: tuple[Path, list[Any]], tmp_path: Path) -> None:
        """Filter in DuckDB, write Parquet with DuckDB, read the values back: the rows kept,
        equal to the values they came from."""
        duckdb = pytest.importorskip("duckdb")
        path, values = corpus
        sub = tmp_path / "with-tools.parquet"
        duckdb.sql(f"COPY (SELECT * FROM '{path}' WHERE n_tool_calls > 0) TO '{sub}' (FORMAT parquet)")
        back = from_table(pq.read_table(sub))
        assert back == [v for v in values if row_of(v)["n_tool_calls"] > 0] and back

    def test_polars_frame(self, corpus: tuple[Path, list[Any]]) -> None:
        """to_polars gives the same rows as the table, JSON columns as text."""
        pl = pytest.importorskip("polars")
        path, values = corpus
        frame = to_polars(pq.read_table(path))
        assert frame.columns == list(COLUMNS)
        assert frame.height == len(values)
        by_model = frame.group_by("model").agg(pl.col("n_tool_calls").sum()).sort("model")
        assert by_model["n_tool_calls"].sum() == sum(row_of(v)["n_tool_calls"] for v in values)
        assert frame["json"].to_list() == [encode_value(v).decode() for v in values]
        assert to_polars(values[:3])["model"].to_list() == [v.model for v in values[:3]]


# --------------------------------------------------------------------------- datasets


def render(messages: list[dict[str, Any]], tools: Any) -> str:
    """A chat template rendered as transformers' apply_chat_template renders it."""
    pytest.importorskip("jinja2")
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda x, indent=None: json.dumps(x, ensure_ascii=False, indent=indent)
    template = env.from_string((TEMPLATES / "qwen2_5.jinja").read_text(encoding="utf-8"))
    return template.render(messages=messages, tools=tools, add_generation_prompt=False)


@pytest.fixture(scope="module")
def datasets() -> Any:
    return pytest.importorskip("datasets")


class TestDatasets:
    def test_load_dataset_parquet_renders_with_a_chat_template(self, datasets: Any, tmp_path: Path) -> None:
        """`datasets.load_dataset("parquet")` reads the messages column as chat messages whose
        tool arguments are objects, and Qwen2.5's chat template renders them as it should (content
        is always a string: string-only templates such as this one take every row)."""
        path = tmp_path / "chat.parquet"
        pq.write_table(to_table([tool_exchange()]), path)
        ds = datasets.load_dataset("parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
        row = ds[0]
        call = row["messages"][2]["tool_calls"][0]
        assert call["function"]["arguments"] == {"city": "Paris"}
        text = render(row["messages"], row["tools"])
        tools = ('{"type": "function", "function": {"name": "get_weather", "description": "Weather now", '
                 '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}')
        assert text == (
            "<|im_start|>system\nYou are terse.\n\n# Tools\n\nYou may call one or more functions to assist "
            "with the user query.\n\nYou are provided with function signatures within <tools></tools> XML "
            f"tags:\n<tools>\n{tools}\n</tools>\n\nFor each function call, return a json object with "
            "function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
            "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
            "<|im_start|>assistant\nChecking.\n<tool_call>\n"
            '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n'
            "<|im_start|>user\n<tool_response>\n18C\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n18C in Paris.<|im_end|>\n"
        )

    def test_to_dataset_from_values_and_paths(self, datasets: Any, tmp_path: Path) -> None:
        """to_dataset takes values or files (JSONL and Parquet); from_dataset gives the values
        back; the features are convo's, set, not inferred."""
        from convo.hf import features, from_dataset, to_dataset

        values = [tool_exchange(), convo.Conversation(model="m", metadata={"n": 2**70}).user("Hi")]
        jsonl = tmp_path / "a.jsonl"
        jsonl.write_bytes(b"".join(encode_value(v) + b"\n" for v in values))
        parquet = tmp_path / "b.parquet"
        pq.write_table(to_table(values), parquet)
        cache = str(tmp_path / "cache")
        for data in (values, iter(values), str(jsonl), [jsonl, parquet], tmp_path):
            ds = to_dataset(data, cache_dir=cache)
            assert ds.features == features()
            back = list(from_dataset(ds))
            assert back == values * (len(back) // len(values))
            assert len(back) in (2, 4)
        ds = to_dataset(str(jsonl), cache_dir=cache)
        assert ds[0]["messages"][2]["tool_calls"][0]["function"]["arguments"] == {"city": "Paris"}

    def test_a_changed_file_is_not_served_from_the_cache(self, datasets: Any, tmp_path: Path) -> None:
        """The cache key of files is their name, size and time: new content, new dataset."""
        from convo.hf import to_dataset

        path = tmp_path / "a.jsonl"
        cache = str(tmp_path / "cache")
        path.write_bytes(convo.dumps(convo.Conversation(model="one")) + b"\n")
        assert to_dataset(str(path), cache_dir=cache)["model"] == ["one"]
        path.write_bytes(convo.dumps(convo.Conversation(model="two-two")) + b"\n")
        assert to_dataset(str(path), cache_dir=cache)["model"] == ["two-two"]

    def test_from_dataset_refuses_a_foreign_dataset(self, datasets: Any) -> None:
        """A dataset convo did not write has no json column: the error says how to read it."""
        from convo.hf import from_dataset

        ds = datasets.Dataset.from_list([{"messages": [{"role": "user", "content": "hi"}]}])
        with pytest.raises(ValueError, match="no 'json' column"):
            list(from_dataset(ds))
