"""Claude Code session transcripts (convo.codec.formats.claude_code): every file in
realworld/claude-code-jsonl, sessions, tool pairing across lines, and malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convo._json import UNSET
from convo.codec.formats import get
from convo.codec.formats.claude_code import read, read_file
from convo.errors import DecodeError
from convo.model import Message, Text, Thinking, ToolResult, ToolUse
from tests._helpers_formats import REALWORLD, pairing_problems, whats

FILES = REALWORLD / "claude-code-jsonl"


def _sessions(name: str) -> dict[str, object]:
    return {c.source.rsplit("#", 1)[-1] if "#" in c.source else "": c for c in read_file(FILES / name)}


class TestRealFiles:
    def test_every_file_reads_into_sessions(self) -> None:
        """Each file yields its sessions, with the documented turn counts."""
        got = {p.name: [(c.source.rsplit("#", 1)[-1], len(c.conversation.messages)) for c in read_file(p)]
               for p in sorted(FILES.glob("*.json*"))}
        assert got == {
            "claude-code-log__edge_cases.jsonl": [("edge_cases", 7), ("todowrite_session", 1)],
            "claude-code-log__representative_messages.jsonl": [("test_session", 11)],
            "claude-code-log__session_b.jsonl": [("session_b", 3)],
            "claude-code-log__todowrite_examples.jsonl": [("todowrite_session", 7)],
            # 33 loglines; three user lines follow a user line and join it
            "claude-code-transcripts__sample_session.json": [(str(FILES / "claude-code-transcripts__sample_session.json"), 30)],
            "claude-code-transcripts__sample_session.jsonl": [("test-session-id", 6)],
        }

    def test_tool_pairs_are_intact_across_lines(self) -> None:
        """In every well-formed session each tool_use is answered in the next turn, by id."""
        for name in ("claude-code-log__representative_messages.jsonl", "claude-code-log__todowrite_examples.jsonl",
                     "claude-code-transcripts__sample_session.jsonl", "claude-code-transcripts__sample_session.json"):
            for c in read_file(FILES / name):
                assert pairing_problems(c.conversation) == [], name
        (c,) = read_file(FILES / "claude-code-transcripts__sample_session.jsonl")
        msgs = c.conversation.messages
        assert msgs[1].content[1] == ToolUse("toolu_001", "Write", {
            "file_path": "/project/hello.py", "content": "def hello():\n    return 'Hello, World!'\n"})
        assert msgs[2].content == (ToolResult("toolu_001", content="File written successfully"),)

    def test_lines_of_one_reply_join_into_one_turn(self) -> None:
        """Consecutive assistant lines (text, then tool_use) are one turn; a tool result and the
        user's next words are one user turn, results first."""
        (c,) = read_file(FILES / "claude-code-log__todowrite_examples.jsonl")
        msgs = c.conversation.messages
        assert [m.role for m in msgs] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
        assert [type(b).__name__ for b in msgs[1].content] == ["Text", "ToolUse"]
        assert [type(b).__name__ for b in msgs[4].content] == ["ToolResult", "Text"]
        assert c.conversation.model == "claude-sonnet-4"

    def test_summary_lines_and_metadata_are_reported(self) -> None:
        """The summary line is skipped with a loss naming its line; metadata is counted once."""
        (c,) = read_file(FILES / "claude-code-transcripts__sample_session.jsonl")
        assert whats(c.losses) == ["$.summary: summary 'Test session for JSONL parsing'",
                                   "$.cwd: cwd on 1 line", "$.gitBranch: gitBranch on 1 line",
                                   "$.timestamp: timestamp on 7 lines", "$.uuid: uuid on 7 lines"]
        assert c.losses[0].line == 1

    def test_malformed_lines_never_stop_the_read(self) -> None:
        """edge_cases: the bare string, number, list, typeless object, contentless and string
        messages are each skipped with a loss at their line; the rest reads."""
        sessions = _sessions("claude-code-log__edge_cases.jsonl")
        edge = sessions["edge_cases"]
        lines = {(loss.line, loss.what) for loss in edge.losses if loss.line is not None}
        assert {(10, "message without content"), (11, "message a string"), (13, "a line holding a string"),
                (14, "a line without a type"), (15, "a line holding an integer"), (16, "a line holding an array"),
                (18, "a bare string in a content list")} <= lines
        assert edge.conversation.messages[-1].content[-1] == Text("wow error")
        # the result line with the misspelt key is lost, so its tool_use is reported unanswered
        assert (9, "tool_use 'tool_edge_002' (MultiEdit)") in lines
        assert edge.conversation.model == "claude-3-sonnet-20240229"

    def test_unicode_survives(self) -> None:
        """Non-ASCII text and emoji read unchanged."""
        edge = _sessions("claude-code-log__edge_cases.jsonl")["edge_cases"]
        texts = "".join(b.text for m in edge.conversation.messages for b in m.blocks if isinstance(b, Text))
        assert "café, naïve, résumé, 中文, العربية, русский, 🎉 emojis 🚀" in texts

    def test_a_line_of_another_session_is_its_own_conversation(self) -> None:
        """The todowrite line inside edge_cases.jsonl forms a second session."""
        other = _sessions("claude-code-log__edge_cases.jsonl")["todowrite_session"]
        assert [m.role for m in other.conversation.messages] == ["assistant"]
        assert other.conversation.messages[0].content[0].id == "toolu_todowrite_002"

    def test_loglines_export_with_unsigned_thinking(self) -> None:
        """The loglines export reads as one session; its unsigned thinking block is kept and reported."""
        (c,) = read_file(FILES / "claude-code-transcripts__sample_session.json")
        first = c.conversation.messages[1].content[0]
        assert isinstance(first, Thinking) and first.signature == "" and first.thinking.startswith("The user wants")
        assert whats(c.losses)[0] == "$.loglines[1].message.content[0]: thinking signature"
        assert c.conversation.model is UNSET

    def test_one_conversation_per_file_on_request(self) -> None:
        """split_sessions=False reads every session of a file as one conversation."""
        (c,) = read_file(FILES / "claude-code-log__edge_cases.jsonl", split_sessions=False)
        # the other session's assistant line now sits between two user turns of edge_cases
        assert [m.role for m in c.conversation.messages][-3:] == ["user", "assistant", "user"]
        assert len(c.conversation.messages) == 9


class TestEvents:
    def test_sidechain_and_system_lines_are_skipped(self) -> None:
        """Sidechain lines, system lines and unknown event types are skipped with losses."""
        c = read([{"type": "user", "message": {"role": "user", "content": "go"}},
                  {"type": "assistant", "isSidechain": True, "message": {"role": "assistant", "content": "sub"}},
                  {"type": "system", "content": "hook ran"},
                  {"type": "file-history-snapshot"},
                  {"type": "assistant", "message": {"role": "assistant", "model": "<synthetic>", "content": "ok"}}])
        assert c.conversation.messages == (Message("user", "go"), Message("assistant", "ok"))
        assert c.conversation.model is UNSET
        assert whats(c.losses) == ["$[1]: a sidechain assistant line", "$[2].type: a 'system' line",
                                   "$[3].type: a 'file-history-snapshot' line", "$.message.model: message model on 1 line"]

    def test_malformed_blocks_are_skipped(self) -> None:
        """A block the codec cannot read is skipped with a loss naming its path."""
        c = read([{"type": "user", "message": {"role": "user", "content": [
            {"type": "text"}, {"type": "text", "text": "fine"}]}}])
        assert c.conversation.messages[0].content == (Text("fine"),)
        assert whats(c.losses) == ["$[0].message.content[0].text: a malformed text block"]

    def test_bad_json_lines(self, tmp_path: Path) -> None:
        """A line that is not JSON is skipped with a loss at its line."""
        p = tmp_path / "s.jsonl"
        p.write_text('{"type":"user","sessionId":"a","message":{"role":"user","content":"hi"}}\n{oops\n')
        (c,) = read_file(p)
        assert c.conversation.messages == (Message("user", "hi"),)
        assert [(loss.line, loss.why) for loss in c.losses] == [(2, "not JSON; skipped")]
        assert c.losses[0].what.startswith("a line that is not JSON (")

    def test_read_needs_lines_or_loglines(self) -> None:
        """read() takes a list of lines or a loglines export, and nothing else."""
        with pytest.raises(DecodeError) as e:
            read({"lines": []})
        assert e.value.path == "$"

    def test_registry_entry(self) -> None:
        """The registry's claude-code format reads files with this module."""
        fmt = get("claude-code")
        assert not fmt.writes
        assert len(list(fmt.read_file(FILES / "claude-code-log__session_b.jsonl"))) == 1
        assert json.loads((FILES / "claude-code-log__session_b.jsonl").read_text().splitlines()[0])["type"] == "user"


SESSIONS = REALWORLD / "claude-code-sessions"
BIG = SESSIONS / "spotter__ae4a77f8-aedd-4bc1-888f-c94edc91af04.jsonl"
AGENT = SESSIONS / "spotter__ae4a77f8__subagents__agent-aac57f5.jsonl"


class TestRealSessions:
    def test_parallel_tool_calls_are_one_turn_and_results_pair_by_id(self) -> None:
        """Lines 1757-1774 of the 2,385-line session: one API message (text + 3 parallel
        tool_use) written as four lines among progress lines and the first results is one
        assistant turn, answered by one user turn; the rebuilt session has no unpaired tool_use."""
        from convo import validate

        (c,) = read_file(BIG)
        msgs = c.conversation.messages
        at = next(i for i, m in enumerate(msgs) for b in m.blocks
                  if isinstance(b, ToolUse) and b.id == "toolu_01MB4CJvxS7EhxSp8w4RSZRw")
        assert [type(b).__name__ for b in msgs[at].blocks] == ["Text", "ToolUse", "ToolUse", "ToolUse"]
        ids = [b.id for b in msgs[at].blocks if isinstance(b, ToolUse)]
        assert ids == ["toolu_01MB4CJvxS7EhxSp8w4RSZRw", "toolu_01WKdPBcQVFrHm9Lca9LVB5h",
                       "toolu_01KPdC2GhErhKnfqeiSsYdrn"]
        assert {b.tool_use_id for b in msgs[at + 1].blocks if isinstance(b, ToolResult)} == set(ids)
        assert pairing_problems(c.conversation) == []
        rules = {v.rule for v in validate(c.conversation).errors}
        assert "tool-use.missing-result" not in rules and "tool-result.orphan" not in rules
        assert not [loss for loss in c.losses if "tool_use" in loss.what or "tool_result" in loss.what]

    def test_every_session_keeps_its_tool_pairs(self) -> None:
        """Every main session in claude-code-sessions/ pairs each tool_use with its result."""
        for p in sorted(SESSIONS.glob("spotter__*.jsonl")):
            for c in read_file(p):
                assert pairing_problems(c.conversation) == [], (p.name, c.source)

    def test_progress_lines_are_counted_not_listed(self) -> None:
        """1,697 progress lines are one loss with their count and first line, not 1,697 losses."""
        (c,) = read_file(BIG)
        (progress,) = [loss for loss in c.losses if "'progress'" in loss.what]
        assert progress.what == "1697 'progress' lines (the first at line 3)" and progress.line == 3
        assert len(c.losses) < 40

    def test_a_subagent_file_is_a_conversation(self) -> None:
        """A subagent file (every line isSidechain) reads as the subagent's conversation, with its
        session and agent ids; before, it read as an empty conversation."""
        (c,) = read_file(AGENT)
        assert len(c.conversation.messages) == 6
        assert c.conversation.messages[0].content.startswith("Search hex.pm")
        assert c.meta == {"sidechain": True, "session_id": "ae4a77f8-aedd-4bc1-888f-c94edc91af04",
                          "agent_id": "aac57f5"}
        assert pairing_problems(c.conversation) == []

    def test_a_subagent_is_linked_to_the_task_call_that_started_it(self, tmp_path: Path) -> None:
        """Laid out as Claude Code lays it out, the subagent file names the parent's Task tool_use."""
        sid = "ae4a77f8-aedd-4bc1-888f-c94edc91af04"
        (tmp_path / sid / "subagents").mkdir(parents=True)
        (tmp_path / f"{sid}.jsonl").write_bytes(BIG.read_bytes())
        agent = tmp_path / sid / "subagents" / "agent-aac57f5.jsonl"
        agent.write_bytes(AGENT.read_bytes())
        (c,) = read_file(agent)
        assert c.meta["parent_tool_use_id"] == "toolu_01Hf8v1Za7y4af8VUwSR4CXU"
        parent = next(read_file(tmp_path / f"{sid}.jsonl"))
        assert any(isinstance(b, ToolUse) and b.id == c.meta["parent_tool_use_id"] and b.name == "Task"
                   for m in parent.conversation.messages for b in m.blocks)

    def test_inline_sidechains_are_conversations_of_their_own(self, tmp_path: Path) -> None:
        """Older files keep sidechain lines in the session's file: they form a second
        conversation, linked by the Task call's prompt."""
        lines = [
            {"type": "user", "sessionId": "s", "uuid": "u1", "message": {"role": "user", "content": "plan it"}},
            {"type": "assistant", "sessionId": "s", "uuid": "a1", "message": {"id": "m1", "role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_T", "name": "Task", "input": {"prompt": "look around"}}]}},
            {"type": "user", "sessionId": "s", "isSidechain": True, "uuid": "x1", "parentUuid": None,
             "message": {"role": "user", "content": "look around"}},
            {"type": "assistant", "sessionId": "s", "isSidechain": True, "uuid": "x2", "parentUuid": "x1",
             "message": {"id": "m2", "role": "assistant", "content": [{"type": "text", "text": "found it"}]}},
            {"type": "user", "sessionId": "s", "uuid": "u2", "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_T", "content": "found it"}]}},
        ]
        p = tmp_path / "s.jsonl"
        p.write_text("".join(json.dumps(x) + "\n" for x in lines))
        main, side = read_file(p)
        assert [m.role for m in main.conversation.messages] == ["user", "assistant", "user"]
        assert side.conversation.messages == (Message("user", "look around"),
                                              Message("assistant", (Text("found it"),)))
        assert side.meta == {"sidechain": True, "session_id": "s", "parent_tool_use_id": "toolu_T"}
        assert side.source == f"{p}#agent-x1"

    def test_results_before_the_rest_of_their_reply(self) -> None:
        """A result written before the last tool_use line of the same reply still pairs: the
        reply stays one turn and the results follow it."""
        c = read([
            {"type": "user", "message": {"role": "user", "content": "go"}},
            {"type": "assistant", "message": {"id": "m", "role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "A", "input": {}}]}},
            {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "1"}]}},
            {"type": "assistant", "message": {"id": "m", "role": "assistant", "content": [
                {"type": "tool_use", "id": "t2", "name": "B", "input": {}}]}},
            {"type": "user", "message": {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t2", "content": "2"}, {"type": "text", "text": "and?"}]}},
        ])
        msgs = c.conversation.messages
        assert [m.role for m in msgs] == ["user", "assistant", "user"]
        assert [b.tool_use_id for b in msgs[2].blocks if isinstance(b, ToolResult)] == ["t1", "t2"]
        assert msgs[2].blocks[-1] == Text("and?")
        assert whats(c.losses) == ["$.message.id: message id on 2 lines"]

    def test_a_json_array_of_lines_reads_like_jsonl(self, tmp_path: Path) -> None:
        """The same lines as one JSON array (pretty-printed) read as the JSONL file does."""
        lines = [json.loads(x) for x in (SESSIONS / "spotter__short.jsonl").read_text().splitlines() if x.strip()]
        p = tmp_path / "session.json"
        p.write_text(json.dumps(lines, indent=2))
        (a,) = read_file(p)
        (b,) = read_file(SESSIONS / "spotter__short.jsonl")
        assert a.conversation == b.conversation and len(a.conversation.messages) == 3
