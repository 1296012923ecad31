"""scrub_secrets(): the detectors, the one-scan scanner, the walker that finds every string from
the model, failing closed, keyed markers, and the property that no canary survives."""

from __future__ import annotations

import itertools
import pickle
import re
from pathlib import Path

import attrs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import convo
from convo import Conversation, Message, Text, TransformError, validate
from convo import transforms as t
from convo._json import FrozenDict
from convo.model import (
    Base64Source,
    BatchResult,
    ContentSource,
    Document,
    Exchange,
    Image,
    MidConvSystem,
    RedactedThinking,
    Response,
    SearchResult,
    ServerToolUse,
    TextSource,
    Thinking,
    ToolResult,
    ToolUse,
    UnknownBlock,
    URLSource,
    WebFetchToolResult,
)
from convo.strategies import conversations
from convo.transforms.secrets import (
    DETECTORS,
    PII_DETECTORS,
    RunKey,
    Scanner,
    find_secrets,
    hit_of,
    mask,
    mask_line,
    scrub_json,
    with_run_key,
)
from tests._helpers_secrets import (
    CANARIES,
    PII_CANARIES,
    USER_CANARIES,
    USER_PATTERNS,
    all_strings,
    embed,
    places,
    put,
)

PNG = Image.from_bytes(bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"))
AWS = "AKIAZ7Q4N2XJ5EXAMPL3"
GH = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"


def base(*parts: str | object) -> Conversation:
    return Conversation(model="claude-opus-4-8", max_tokens=64).user(*parts)  # type: ignore[arg-type]


def out_strings(conv: Conversation) -> list[str]:
    """Every string of *conv* as the codec writes it (keys included)."""
    return list(all_strings(orjson.loads(convo.dumps(conv))))


class TestDetectors:
    def test_every_builtin_detector_has_a_canary(self) -> None:
        """The canaries of the tests cover every built-in and PII detector."""
        assert {d.name for d in DETECTORS} == {c.detector for c in CANARIES}
        assert {d.name for d in PII_DETECTORS} == {c.detector for c in PII_CANARIES}

    @pytest.mark.parametrize("canary", CANARIES, ids=lambda c: c.detector)
    def test_each_canary_is_found_by_its_detector_in_prose(self, canary: object) -> None:
        """Each canary, in a sentence, is found by its own detector, and its secret goes."""
        text = f"here it is: {canary.text} (do not share)"  # type: ignore[attr-defined]
        found = find_secrets(text)
        assert [s.detector for s in found] == [canary.detector]  # type: ignore[attr-defined]
        assert canary.secret not in t.scrub_text(text)  # type: ignore[attr-defined]
        assert f"[REDACTED:{canary.detector}]" in t.scrub_text(text)  # type: ignore[attr-defined]

    @pytest.mark.parametrize("canary", PII_CANARIES, ids=lambda c: c.detector)
    def test_pii_is_found_only_when_asked(self, canary: object) -> None:
        """Emails and phone numbers are left alone by default and found with pii=True."""
        text = f"call {canary.text} now"  # type: ignore[attr-defined]
        assert find_secrets(text) == []
        assert [s.detector for s in find_secrets(text, pii=True)] == [canary.detector]  # type: ignore[attr-defined]

    def test_user_patterns_by_name(self) -> None:
        """A user's pattern is a detector by its name, with its own marker."""
        assert t.scrub_text("badge EMP-204817 ok", patterns=USER_PATTERNS) == "badge [REDACTED:employee-id] ok"
        assert t.scrub_text("badge EMP-204817 ok") == "badge EMP-204817 ok"

    @pytest.mark.parametrize(
        "text",
        [
            "api_key: str = Field(...)",
            "token = os.environ['GITHUB_TOKEN']",
            "password = getpass()",
            "max_tokens: 1024",
            'secret: "${SECRET}"',
            "password: ********",
            "self.api_key = api_key",
            "the bearer of bad news",
            "http://localhost:8080/path@v2",
            "see https://example.com/a:b",
            "token_count: 12345",
            "AKIA is a prefix; AKIAshort is not a key",
            "password: [REDACTED:assigned-secret]",
            'password="yourpassword"',
            "clone git@github.com:org/repo.git",
        ],
    )
    def test_code_and_placeholders_are_not_secrets(self, text: str) -> None:
        """Names in code, environment lookups, placeholders and markers are not flagged (SSH
        remotes are no email address either)."""
        assert find_secrets(text, pii=True) == []

    def test_a_turned_down_candidate_does_not_hide_a_token_inside_it(self) -> None:
        """A placeholder turned down is searched again from its next character."""
        text = "token=${ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8}"
        assert [s.detector for s in find_secrets(text)] == ["github-token"]

    def test_an_assignment_of_a_known_token_names_the_token(self) -> None:
        """`api_key=sk-ant-...` is reported as an Anthropic key, not as an assignment."""
        key = next(c.text for c in CANARIES if c.detector == "anthropic-api-key")
        assert [s.detector for s in find_secrets(f"api_key={key}")] == ["anthropic-api-key"]

    def test_escaped_json_in_text(self) -> None:
        """A password inside JSON written into a string (escaped quotes) is found."""
        assert t.scrub_text('{\\"password\\": \\"hunter2x\\"}') == '{\\"password\\": \\"[REDACTED:assigned-secret]\\"}'

    @pytest.mark.parametrize(
        ("name", "pattern", "error"),
        [
            ("Bad Name", "x", "lowercase"),
            ("ok", "(?P<a>x)", "named groups"),
            ("ok", r"(a)\1", "backreferences"),
            ("ok", "a*", "empty string"),
            ("ok", "(", "not a valid regular expression"),
            ("jwt", "x", "built-in"),
        ],
    )
    def test_bad_user_patterns_are_refused(self, name: str, pattern: str, error: str) -> None:
        """A user pattern that would break the one scan, or a name taken, is a ValueError."""
        with pytest.raises(ValueError, match=error):
            t.scrub_secrets(patterns={name: pattern})

    def test_secrets_never_show_their_text(self) -> None:
        """A Secret holds positions only; masks show at most four characters and a length."""
        s = find_secrets(f"k {AWS}")[0]
        assert AWS not in repr(s) and AWS not in str(s)
        assert mask(AWS) == "AKIA… (20 chars)"
        assert mask("hunter2") == "h… (7 chars)"


class TestScanner:
    def test_one_compiled_regex_holds_every_branch(self) -> None:
        """All detectors are one regular expression: one scan per string."""
        sc = Scanner(DETECTORS)
        assert isinstance(sc.regex, re.Pattern)
        for d in DETECTORS:
            for b in d.branches:
                assert re.sub(r"\(\?P<v\d*>", "", b) in re.sub(r"\(\?P<v\d*>", "", sc.regex.pattern)

    def test_every_builtin_branch_starts_with_a_literal_anchor(self) -> None:
        """Every built-in branch begins with one literal character, so the regex engine skips
        each character that starts no branch without entering the pattern (the speed of the
        one scan rests on it: benchmarks/scrub.py)."""
        for d in (*DETECTORS, *PII_DETECTORS):
            for b in d.branches:
                first = b[1] if b.startswith("\\") else b[0]
                assert first.isalnum() or first in ":=_-@+(", (d.name, b)
                rest = b[2:] if b.startswith("\\") else b[1:]
                assert rest[:1] not in ("*", "+", "?", "{", "|"), (d.name, b)

    def test_finds_several_secrets_left_to_right_without_overlap(self) -> None:
        """Secrets come back in order and never overlap."""
        text = f"a {AWS} b {GH} c password=x9y8z7w6v5"
        found = find_secrets(text)
        assert [s.detector for s in found] == ["aws-access-key", "github-token", "assigned-secret"]
        assert all(a.end <= b.start for a, b in itertools.pairwise(found))
        assert [text[s.start : s.end] for s in found][:2] == [AWS, GH]

    def test_json_keys_give_context(self) -> None:
        """A string under a sensitive key is a secret as a whole; under another it is text."""
        sc = Scanner(DETECTORS)
        assert sc.keyed_value("DB_PASSWORD", "hunter22") is not None
        assert sc.keyed_value("AWS_SECRET_ACCESS_KEY", "kX9/aB3+cD5eF7gH9iJ1kL3mN5oP7qR9sT1uV3wX").detector == "aws-secret-key"  # type: ignore[union-attr]
        assert sc.keyed_value("password", "$DB_PASSWORD") is None
        assert sc.keyed_value("max_tokens", "1024") is None
        assert sc.keyed_value("query", "hunter22") is None
        assert sc.keyed_value("authorization_token", "authorization_token") is None  # its own name


class TestPlaces:
    """Every place a string lives is scanned, found from the model."""

    def scrubbed(self, conv: Conversation) -> Conversation:
        out = t.scrub_secrets()(conv)
        assert out is not conv
        assert not any(AWS in s for s in out_strings(out))
        return out

    def test_nothing_found_returns_the_input_itself(self) -> None:
        """A conversation without secrets comes back as the same object."""
        conv = base("Hello", Image.from_url("https://example.com/a.png")).assistant("Hi")
        assert t.scrub_secrets()(conv) is conv

    def test_message_system_and_mid_conversation_system(self) -> None:
        """String content, text blocks, the top-level system and system messages."""
        conv = base(f"k {AWS}").with_system(f"s {AWS}")
        conv = attrs.evolve(conv, messages=(*conv.messages, Message("system", (Text(f"m {AWS}"),))))
        self.scrubbed(conv)
        self.scrubbed(base(Text("x"), MidConvSystem((Text(f"k {AWS}"),))))

    def test_tool_inputs_nested_values_and_keys(self) -> None:
        """Every string in a tool input, at any depth, and the keys themselves."""
        inp = {"cmd": "ls", "env": [{"AWS_KEY": AWS}], AWS: 1, "deep": {"a": [[f"x {AWS}"]]}}
        conv = base("go").assistant(ToolUse("toolu_1", "sh", inp))
        out = self.scrubbed(conv)
        new = out.messages[1].content[0].input
        assert new["env"][0]["AWS_KEY"] == "[REDACTED:aws-access-key]"
        assert "[REDACTED:aws-access-key]" in new and new["deep"]["a"][0][0] == "x [REDACTED:aws-access-key]"

    def test_tool_results_documents_search_results_and_citations(self) -> None:
        """Tool result text (string and blocks), text and content documents (and their title and
        context), search results, citations' cited text, URL sources."""
        self.scrubbed(base("go").assistant(ToolUse("toolu_1", "sh", {})).user(ToolResult("toolu_1", content=f"out {AWS}")))
        self.scrubbed(base("go").assistant(ToolUse("toolu_1", "sh", {})).user(ToolResult("toolu_1", content=(Text(f"out {AWS}"),))))
        self.scrubbed(base(Document(TextSource(f"doc {AWS}")), "read"))
        self.scrubbed(base(Document(ContentSource((Text(f"doc {AWS}"),)), title=f"t {AWS}"), "read"))
        self.scrubbed(base(Document(URLSource("https://x/a.pdf"), context=f"c {AWS}"), "read"))
        self.scrubbed(base(SearchResult("https://s", "S", (Text(f"r {AWS}"),)), "read"))
        cite = {"type": "char_location", "cited_text": f"c {AWS}", "document_index": 0,
                "start_char_index": 0, "end_char_index": 3}
        self.scrubbed(base("q").assistant(Text("a", citations=(cite,))))
        self.scrubbed(base(Image.from_url(f"https://u:{AWS}@x.example.com/a.png"), "look"))

    def test_server_tool_results_metadata_extra_and_unknown_blocks(self) -> None:
        """Server tool use and results (web fetch content), metadata, tools, `extra` on every
        object and unknown block types."""
        fetch = WebFetchToolResult("srvtoolu_1", {"type": "web_fetch_result", "url": "https://x",
                                                  "content": {"type": "document", "source": {
                                                      "type": "text", "media_type": "text/plain",
                                                      "data": f"page {AWS}"}}})
        self.scrubbed(base("q").assistant(ServerToolUse("srvtoolu_1", "web_fetch", {"url": f"https://x/?k={AWS}"}), fetch))
        self.scrubbed(attrs.evolve(base("q"), metadata={"user_id": AWS}))
        self.scrubbed(attrs.evolve(base("q"), tools=({"name": "f", "description": f"uses {AWS}", "input_schema": {"type": "object"}},)))
        self.scrubbed(attrs.evolve(base("q"), extra={"future": {"k": [AWS]}}))
        self.scrubbed(base(Text("q", extra={"note": AWS})))
        self.scrubbed(Conversation(messages=(Message("user", "q", extra={"meta": f"x {AWS}"}),)))
        self.scrubbed(base("q", UnknownBlock("compaction", extra={"content": f"summary {AWS}"})))
        self.scrubbed(base(Image(Base64Source(PNG.source.media_type, PNG.source.data, extra={"k": AWS})), "x"))  # type: ignore[union-attr]

    def test_paths_and_places_in_the_change_log(self) -> None:
        """Each secret is one change: its detector and place kind in `what`, its path in `path`,
        a masked preview in `why`; no change holds the secret."""
        conv = base("go").assistant(ToolUse("toolu_1", "sh", {"env": {"K": AWS}}))
        _, changes = t.scrub_secrets().explain(conv)
        assert [(c.what, c.path) for c in changes] == [
            ("redacted aws-access-key in $.messages[].content[tool_use].input.*", "$.messages[1].content[0].input.env.K")
        ]
        assert hit_of(changes[0].what) == ("aws-access-key", "$.messages[].content[tool_use].input.*")
        assert "AKIA… (20 chars)" in changes[0].why
        assert all(AWS not in f"{c}" for c in changes)

    def test_a_secret_key_never_shows_in_a_path(self) -> None:
        """The path under a key that was a secret names the key's marker, not the key."""
        conv = base("go").assistant(ToolUse("toolu_1", "sh", {AWS: {"x": f"y {GH}"}}))
        _, changes = t.scrub_secrets().explain(conv)
        assert changes and all(AWS not in c.path and GH not in c.path for c in changes)


class TestFailClosed:
    def test_a_secret_in_a_tool_id_refuses_the_line(self) -> None:
        """Tool ids cannot be rewritten (they pair a call with its result): the line is refused."""
        conv = base("go").assistant(ToolUse(f"toolu_{AWS}", "sh", {}))
        with pytest.raises(TransformError, match=r"aws-access-key in an identifier") as e:
            t.scrub_secrets()(conv)
        assert AWS not in str(e.value) and e.value.path == "$.messages[1].content[0].id"

    def test_a_value_it_cannot_walk_refuses_the_line(self) -> None:
        """A value that is neither JSON nor a model object raises rather than pass unscanned."""
        conv = attrs.evolve(base("q"), extra={"blob": b"AKIA..."})
        with pytest.raises(TransformError, match="cannot scan a value of type bytes"):
            t.scrub_secrets()(conv)

    def test_nesting_past_the_recursion_limit_refuses_the_line(self) -> None:
        """A value nested too deeply to walk is a TransformError, not an unscanned pass."""
        deep: object = AWS
        for _ in range(5000):
            deep = FrozenDict({"a": deep})
        from convo.transforms._base import replace

        with pytest.raises(TransformError, match="nested too deeply"):
            t.scrub_secrets()(replace(base("q"), extra=FrozenDict({"x": deep})))

    def test_tuple_subclasses_are_walked(self) -> None:
        """A tuple of a subclass (the model's marker for an absent array) is walked as a tuple
        and, unchanged, kept as the very object."""

        class Absent(tuple):  # type: ignore[type-arg]
            __slots__ = ()

        from convo.transforms._base import replace

        conv = replace(base("q"), messages=Absent())
        assert t.scrub_secrets()(conv) is conv
        conv = replace(base("q"), messages=Absent(base(f"k {AWS}").messages))
        assert t.scrub_secrets()(conv).messages[0].content == "k [REDACTED:aws-access-key]"

    def test_keys_that_would_merge_refuse_the_line_unless_keyed(self) -> None:
        """Two secret keys of one object would both become one marker: refused; keyed markers
        keep them apart."""
        other = "AKIAQ2W3E4R5T6Y7U8I9"
        conv = base("go").assistant(ToolUse("toolu_1", "sh", {AWS: 1, other: 2}))
        with pytest.raises(TransformError, match="same marker"):
            t.scrub_secrets()(conv)
        out = t.scrub_secrets(keyed=True)(conv)
        assert len(out.messages[1].content[0].input) == 2

    def test_signed_thinking_is_dropped_or_refused_never_edited(self) -> None:
        """A signed thinking block holding a secret is dropped (reported) or refuses the line;
        one without a secret stays byte for byte; unsigned thinking text is edited."""
        conv = base("q").assistant(Thinking(f"use {AWS}", "c2lnbmF0dXJl"), Text("done"), Thinking("clean", "c2ln"))
        out, changes = t.scrub_secrets().explain(conv)
        assert [b.type for b in out.messages[1].content] == ["text", "thinking"]
        assert out.messages[1].content[1] is conv.messages[1].content[2]
        assert any(c.what.startswith("dropped a signed thinking block") for c in changes)
        with pytest.raises(TransformError, match="signature"):
            t.scrub_secrets(thinking="refuse")(conv)
        unsigned = base("q").assistant(Thinking(f"use {AWS}", ""), Text("done"))
        assert t.scrub_secrets()(unsigned).messages[1].content[0].thinking == "use [REDACTED:aws-access-key]"

    def test_a_turn_of_thinking_only_keeps_a_marker(self) -> None:
        """Dropping the only thinking block of a turn leaves a text marker, never an empty turn."""
        conv = base("q").assistant(Thinking(f"use {AWS}", "c2ln"), RedactedThinking("ZW5j"))
        out = t.scrub_secrets()(conv)
        assert [b.type for b in out.messages[1].content] == ["redacted_thinking", "text"]
        assert out.messages[1].content[1].text == "[REDACTED:thinking]"

    def test_opaque_data_is_left_as_it_is(self) -> None:
        """Redacted thinking data and signatures are not text: never scanned, never changed."""
        conv = base("q").assistant(RedactedThinking(f"{AWS}"), Thinking("t", f"{AWS}"), Text("a"))
        assert t.scrub_secrets()(conv) is conv

    def test_base64_is_kept_and_counted_or_dropped(self) -> None:
        """Base64 images and PDFs: kept (a note in the log) or replaced by a marker."""
        pdf = Document(Base64Source("application/pdf", "JVBERi0xLjQ="))
        conv = base(PNG, pdf, "look")
        out, changes = t.scrub_secrets().explain(conv)
        assert out is conv and sum("kept base64 data unscanned" in c.what for c in changes) == 2
        dropped = t.scrub_secrets(base64="drop")(conv)
        assert [b.text for b in dropped.messages[0].content] == ["[REDACTED:image]", "[REDACTED:document]", "look"]


class TestKeyed:
    def test_equal_secrets_equal_markers_different_secrets_different_markers(self) -> None:
        """With keyed=True, a secret's marker carries a tag that is the same for the same secret
        within a run and differs between secrets."""
        conv = base(f"a {AWS} b {GH} c {AWS}")
        text = t.scrub_secrets(keyed=True)(conv).messages[0].content
        tags = re.findall(r"\[REDACTED:([a-z-]+):([0-9a-f]{8})\]", text)
        assert tags[0] == tags[2] and tags[0][1] != tags[1][1]

    def test_runs_have_different_keys(self) -> None:
        """Two runs (two transforms) give one secret different tags: nothing links runs."""
        conv = base(f"a {AWS}")
        assert t.scrub_secrets(keyed=True)(conv) != t.scrub_secrets(keyed=True)(conv)

    def test_the_run_key_is_hidden_and_travels(self) -> None:
        """A RunKey's repr hides it; pickled to a worker it gives the same tags."""
        key = RunKey.new()
        assert key.key.hex() not in repr(key) and repr(key) == "RunKey(<hidden>)"
        a = with_run_key(t.pipeline(t.drop_images(), t.scrub_secrets(keyed=True)), key)
        b = with_run_key(t.scrub_secrets(keyed=True), pickle.loads(pickle.dumps(key)))  # noqa: S301 - our own bytes
        assert a.parts[1].marker("jwt", "s") == b.marker("jwt", "s")  # type: ignore[attr-defined]
        assert with_run_key(t.scrub_secrets(), key) == t.scrub_secrets()

    def test_a_transform_says_whether_it_takes_the_run_key(self) -> None:
        """``keyed``: what the command asks before it makes a run key. True exactly where
        with_run_key has something to change: a keyed scrub, alone or in a pipeline."""
        key = RunKey.new()
        for tr in (t.scrub_secrets(keyed=True), t.pipeline(t.drop_images(), t.scrub_secrets(keyed=True)),
                   t.scrub_secrets(), t.drop_images(), t.pipeline(t.drop_images(), t.scrub_secrets()), t.pipeline()):
            assert tr.keyed is (with_run_key(tr, key) is not tr), tr

    def test_repr_parses_back(self) -> None:
        """The repr is the call that built it and parses back (patterns included)."""
        tr = t.scrub_secrets(pii=True, patterns=USER_PATTERNS, keyed=True, thinking="refuse", base64="drop")
        assert t.parse(repr(tr)) == tr
        assert repr(t.scrub_secrets()) == "scrub_secrets()"


class TestLines:
    def test_outside_the_conversation_an_exchange_response_and_a_batch_result(self) -> None:
        """apply_outside scrubs a line's response, error and own keys, not its request twice."""
        tr = t.scrub_secrets()
        resp = Response(id="msg_1", content=(Text(f"here {AWS}"),))
        ex = Exchange(id="r1", request=base("q"), response=resp, error={"message": f"bad {GH}"})
        out = tr.apply_outside(ex, t.ChangeLog("x"))
        assert out.request is ex.request
        assert out.response.content[0].text == "here [REDACTED:aws-access-key]"
        assert out.error["message"] == "bad [REDACTED:github-token]"
        log = t.ChangeLog("x")
        br = tr.apply_outside(BatchResult(custom_id="c", result_type="succeeded", message=resp,
                                          result_extra={"note": AWS}), log)
        assert br.message.content[0].text.endswith("[REDACTED:aws-access-key]") and br.result_extra["note"].startswith("[REDACTED")
        assert {c.path for c in log.changes} == {"$.result.message.content[0].text", "$.result.note"}

    def test_mask_line_shows_masks_everywhere(self) -> None:
        """The dry run's "before": each secret masked, even in places the scrubber refuses."""
        conv = base("go").assistant(ToolUse(f"toolu_{AWS}", "sh", {}))
        shown = mask_line(conv, t.scrub_secrets())
        assert AWS not in convo.dumps(shown).decode()
        assert mask_line(conv, t.drop_images()) is None


class TestScrubJson:
    def test_plain_json_keys_values_and_context(self) -> None:
        """scrub_json (what cassettes go through) scrubs values, keys and sensitive keys' values."""
        found: list[str] = []
        body = {"headers": [["x-api-key", "k"]], "password": "hunter22", AWS: [f"x {GH}"], "n": 1.5, "b": None}
        out = scrub_json(body, found=found)
        assert out == {"headers": [["x-api-key", "k"]], "password": "[REDACTED:assigned-secret]",
                       "[REDACTED:aws-access-key]": ["x [REDACTED:github-token]"], "n": 1.5, "b": None}
        assert sorted(found) == ["assigned-secret", "aws-access-key", "github-token"]
        with pytest.raises(TypeError):
            scrub_json({"x": object()})


# --------------------------------------------------------------------------- the property


def _enrich(draw: st.DrawFn, conv: Conversation) -> Conversation:
    """*conv* with the places the strategy does not generate: documents, search results,
    citations, server tool results, nested tool inputs, metadata, `extra`, unknown blocks."""
    extra_user: list[object] = [
        Document(TextSource("a text document"), title="Doc", context="ctx"),
        Document(ContentSource((Text("custom content"),))),
        SearchResult("https://example.com/r", "Result", (Text("found text"),)),
    ]
    if draw(st.booleans()):
        extra_user.append(UnknownBlock("future_block", extra={"content": "later", "meta": {"k": ["v"]}}))
    msgs = list(conv.messages)
    i = 0 if msgs[0].role == "user" else next(j for j, m in enumerate(msgs) if m.role == "user")
    msgs[i] = attrs.evolve(msgs[i], content=(*msgs[i].blocks, *extra_user))  # type: ignore[arg-type]
    assistant = [j for j, m in enumerate(msgs) if m.role == "assistant"]
    if assistant:
        j = draw(st.sampled_from(assistant))
        blocks = list(msgs[j].blocks)
        for k, b in enumerate(blocks):
            if isinstance(b, ToolUse):
                blocks[k] = attrs.evolve(b, input={**b.input, "opts": {"env": {"HOME": "/root"}, "args": ["a", {"b": "c"}]}})
            elif isinstance(b, Text) and draw(st.booleans()):
                blocks[k] = attrs.evolve(b, citations=({"type": "char_location", "cited_text": "quoted",
                                                         "document_index": 0, "start_char_index": 0,
                                                         "end_char_index": 6},))
        msgs[j] = attrs.evolve(msgs[j], content=tuple(blocks))  # type: ignore[arg-type]
    conv = attrs.evolve(conv, messages=tuple(msgs), metadata={"user_id": "user-abc"})
    if draw(st.booleans()):
        conv = attrs.evolve(conv, extra={"future_param": {"note": "n"}})
    return conv


@st.composite
def scrub_cases(draw: st.DrawFn) -> tuple[Conversation, Conversation, list[str], bool]:
    """(a conversation with canaries at random text-bearing places, its original, the secrets
    that must not survive, whether PII and user patterns are on)."""
    conv = draw(st.one_of(
        conversations(model="claude-opus-4-8", tools=True, thinking=True, images=True, mid_system=True),
        conversations(model="claude-sonnet-4-5", api_version="2023-06-01", tools=True, thinking=True, images=True),
    ))
    conv = _enrich(draw, conv)
    extended = draw(st.booleans())
    pool = CANARIES + (PII_CANARIES + USER_CANARIES if extended else ())
    secrets: list[str] = []
    with_canaries = conv
    for _ in range(draw(st.integers(1, 4))):
        canary = draw(st.sampled_from(pool))
        # a kind of place first (its path without indices), then one place of that kind: rare
        # kinds (extra, citations, metadata, tool input keys) are drawn as often as text blocks
        by_kind: dict[tuple[object, ...], list[tuple[object, ...]]] = {}
        for spot in places(with_canaries):
            by_kind.setdefault(tuple(step for step in spot if step[0] != "item"), []).append(spot)
        kind = draw(st.sampled_from(sorted(by_kind, key=repr)))
        spot = draw(st.sampled_from(by_kind[kind]))
        at = draw(st.integers(0, 200))
        with_canaries = put(with_canaries, spot, lambda s, c=canary, a=at: embed(s, c.text, a))
        secrets.append(canary.secret)
    return with_canaries, conv, secrets, extended


class TestNoSecretSurvives:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=scrub_cases(), keyed=st.booleans(), base64=st.sampled_from(["keep", "drop"]))
    def test_canaries_anywhere_never_survive_and_validity_is_kept(
        self, case: tuple[Conversation, Conversation, list[str], bool], keyed: bool, base64: str
    ) -> None:
        """Canaries of every detector, put at random text-bearing places of generated
        conversations (tool input keys and nested values, results, documents, system, metadata,
        extra, unknown blocks, thinking), never come out of scrub_secrets(); and the output
        validates wherever the input did."""
        conv, _, secrets, extended = case
        tr = t.scrub_secrets(keyed=keyed, base64=base64,  # type: ignore[arg-type]
                             **({"pii": True, "patterns": USER_PATTERNS} if extended else {}))
        out = tr(conv)
        strings = out_strings(out)
        for secret in secrets:
            assert not any(secret in s for s in strings), secret[:12]
        if validate(conv).ok:
            report = validate(out)
            assert report.ok, [(v.rule, v.path, v.message) for v in report.errors]
        assert tr(out) is out  # nothing left to find: scrubbing again changes nothing

    @settings(max_examples=60, deadline=None)
    @given(conv=conversations(model="claude-opus-4-8", tools=True, thinking=True, images=True))
    def test_clean_conversations_come_back_unchanged(self, conv: Conversation) -> None:
        """Generated conversations hold no secret: scrub_secrets returns them as they are."""
        assert t.scrub_secrets()(conv) is conv


class TestFrozen:
    def test_rebuilt_json_stays_frozen(self) -> None:
        """Rebuilt JSON objects are FrozenDicts and arrays tuples, as the model holds them."""
        conv = base("go").assistant(ToolUse("toolu_1", "sh", {"a": [AWS]}))
        inp = t.scrub_secrets()(conv).messages[1].content[0].input
        assert type(inp) is FrozenDict and type(inp["a"]) is tuple


class TestCassettes:
    def test_recorded_requests_and_responses_go_through_the_detectors(self, tmp_path: Path) -> None:
        """A cassette recorded through the emulator (which echoes the question) holds no
        credential of the request or of the response, and still replays by key."""
        from convo.executor import HttpExecutor, ReplayExecutor
        from convo.testing import Emulator

        path = tmp_path / "c.jsonl"
        conv = base(f"deploy with {AWS} and password=Tr0ub4dor&3xyz").assistant(
            ToolUse("toolu_1", "sh", {"env": {"GITHUB_TOKEN": GH}})
        ).user(ToolResult("toolu_1", content=f"ok {GH}"))
        with Emulator() as url:
            inner = HttpExecutor("sk-ant-api03-" + "k" * 40, base_url=url)
            with ReplayExecutor(path, mode="record", inner=inner) as rec:
                live = rec.execute(conv)
        assert AWS in live.text or GH in live.text or "Tr0ub4dor" in live.text  # echoed: a leak would show
        data = path.read_text()
        for secret in (AWS, GH, "Tr0ub4dor&3xyz"):
            assert secret not in data
        entry = orjson.loads(data.splitlines()[0])
        assert "[REDACTED:aws-access-key]" in orjson.dumps(entry["request"]).decode()
        assert "[REDACTED:" in orjson.dumps(entry["response"]).decode()
        with ReplayExecutor(path) as rep:
            replayed = rep.execute(conv)
        assert AWS not in replayed.text and GH not in replayed.text

