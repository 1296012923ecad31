"""``convo transform -t 'scrub_secrets()'`` as a person runs it: real subprocesses, real files."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from convo import Conversation, Image, ToolUse
from tests._helpers_cli import read_rejects
from tests.test_secrets import PNG

CONVO = [sys.executable, "-m", "convo.cli"]
AWS = "AKIAZ7Q4N2XJ5EXAMPL3"
GH = "ghp_" + "a1B2c3D4e5" * 3 + "f6G7h8"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n-----END RSA PRIVATE KEY-----"


def convo_run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CONVO, *map(str, argv)], capture_output=True, text=True, cwd=cwd, timeout=300)


def response(text: str) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-8",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 5}}


def request(*parts: Any) -> dict[str, Any]:
    conv = Conversation(model="claude-opus-4-8", max_tokens=64).user(*parts)
    return orjson.loads(conv_bytes(conv))  # type: ignore[no-any-return]


def conv_bytes(conv: Conversation) -> bytes:
    import convo

    return convo.dumps(conv)


def lines_file(path: Path, values: list[Any]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(v) for v in values) + b"\n")
    return path


class TestTransformCommand:
    def test_every_line_kind_is_scrubbed_and_the_counts_add_up(self, tmp_path: Path) -> None:
        """Requests, batch request lines, exchanges (their responses and errors too) and batch
        results come out without a secret; a secret in a tool id sends its line to the rejects;
        the summary counts secrets by detector and by place."""
        tool_line = orjson.loads(conv_bytes(Conversation(model="m", max_tokens=8).user("go").assistant(
            ToolUse("toolu_1", "sh", {"cmd": f"deploy --key {GH}", "env": {"AWS_ACCESS_KEY_ID": AWS}}))))
        bad_id = orjson.loads(conv_bytes(Conversation(model="m", max_tokens=8).user("go").assistant(
            ToolUse(f"toolu_{AWS}", "sh", {}))))
        src = lines_file(tmp_path / "in.jsonl", [
            request(f"my key is {AWS}"),
            {"custom_id": "b1", "params": request(f"pem:\n{PEM}")},
            {"id": "x1", "request": request("hi"), "response": response(f"use {GH}")},
            {"id": "x2", "request": request("hi"), "error": {"type": "error", "message": f"bad token {GH}"}},
            {"custom_id": "r1", "result": {"type": "succeeded", "message": response("password=hunter22x")}},
            tool_line,
            bad_id,
            request("nothing secret here"),
        ])
        p = convo_run("transform", src, "-t", "scrub_secrets()", "-o", "out.jsonl", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        out = (tmp_path / "out.jsonl").read_bytes()
        for secret in (AWS, GH, "MIIEowIBAAKCAQEAu1SU1Lf", "hunter22x"):
            assert secret.encode() not in out
        assert len(out.splitlines()) == 7
        assert b"[REDACTED:private-key]" in out and b"[REDACTED:assigned-secret]" in out
        rejects = read_rejects(tmp_path / "out.rejects.jsonl")
        assert [(r["line"], r["code"], r["path"]) for r in rejects] == [(7, "transform", "$.messages[1].content[0].id")]
        assert AWS not in rejects[0]["reason"]
        assert rejects[0]["bytes"] == orjson.dumps(bad_id)  # original bytes: why the file stays local
        err = p.stderr
        assert "8 lines in = 7 out + 1 rejected" in err
        assert re.search(r"secrets by detector:\n(\s+\S+\s+x \d+\n)+", err)
        for name in ("aws-access-key", "github-token", "private-key", "assigned-secret"):
            assert re.search(rf"^\s+{name}\s+x \d+$", err, re.M), name
        assert re.search(r"^\s+\$\.response\.content\[text\]\.text\s+x 1$", err, re.M)
        assert re.search(r"^\s+\$\.messages\[\]\.content\[tool_use\]\.input\.\*\s+x 2$", err, re.M)

    def test_base64_images_are_counted_as_not_scanned(self, tmp_path: Path) -> None:
        """Kept base64 images are counted in the summary's notes, changed lines or not."""
        src = lines_file(tmp_path / "in.jsonl", [request(PNG, "look"), request(PNG, f"and {AWS}")])
        p = convo_run("transform", src, "-t", "scrub_secrets()", "-o", "out.jsonl", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert re.search(r"notes:\n\s+scrub_secrets: kept base64 data unscanned in \S+\s+x 2", p.stderr)
        p = convo_run("transform", src, "-t", "scrub_secrets(base64='drop')", "-o", "out2.jsonl", cwd=tmp_path)
        assert b"[REDACTED:image]" in (tmp_path / "out2.jsonl").read_bytes()
        assert PNG.source.data.encode() not in (tmp_path / "out2.jsonl").read_bytes()  # type: ignore[union-attr]

    def test_help_says_rejects_are_local_and_may_hold_secrets(self, tmp_path: Path) -> None:
        """--help says plainly that the rejects file keeps original bytes, secrets included."""
        p = convo_run("transform", "--help", cwd=tmp_path)
        text = " ".join(p.stdout.split())
        assert "THE REJECTS FILE IS LOCAL AND MAY HOLD SECRETS" in text
        assert "scrub_secrets()" in text

    def test_dry_run_shows_hits_masked_and_writes_nothing(self, tmp_path: Path) -> None:
        """--dry-run lists the first secrets (detector, $.path, a masked preview) and a diff
        whose before side is masked: the secret itself is printed nowhere."""
        src = lines_file(tmp_path / "in.jsonl", [
            request("clean"),
            {"id": "x1", "request": request(f"key {AWS}"), "response": response(f"use {GH}")},
        ])
        p = convo_run("transform", src, "-t", "scrub_secrets()", "--dry-run", cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        shown = p.stdout + p.stderr
        assert AWS not in shown and GH not in shown
        assert "first secrets found (at most 20; masked):" in shown
        assert "in.jsonl:2: $.request.messages[0].content: aws-access-key AKIA… (20 chars)" in shown
        assert "in.jsonl:2: $.response.content[0].text: github-token ghp_… (40 chars)" in shown
        assert re.search(r'^-\s+"content": "key AKIA… \(20 chars\)"', shown, re.M)
        assert re.search(r'^\+\s+"content": "key \[REDACTED:aws-access-key\]"', shown, re.M)
        assert "redacted aws-access-key in $.messages[].content at $.request.messages[0].content" in shown
        assert sorted(f.name for f in tmp_path.iterdir()) == ["in.jsonl"]

    def test_keyed_markers_agree_across_worker_processes(self, tmp_path: Path) -> None:
        """With keyed=True and several workers, one secret gets one marker in the whole run
        (the run's key goes to every worker), and another run gives it another."""
        filler = [request(f"line {i} " + "word " * 60) for i in range(400)]
        src = lines_file(tmp_path / "in.jsonl", [request(f"first {AWS}"), *filler, request(f"last {AWS} and {GH}")])
        assert src.stat().st_size > 8 * 4096 * 2  # several chunks: the workers share the work
        tags = []
        for name in ("a.jsonl", "b.jsonl"):
            p = convo_run("transform", src, "-t", "scrub_secrets(keyed=True)", "-o", name, "-j", "2",
                          "--chunk-bytes", "4096", cwd=tmp_path)
            assert p.returncode == 0, p.stderr
            found = re.findall(rb"\[REDACTED:([a-z-]+):([0-9a-f]{8})\]", (tmp_path / name).read_bytes())
            assert [d for d, _ in found] == [b"aws-access-key", b"aws-access-key", b"github-token"]
            assert found[0] == found[1] and found[1][1] != found[2][1]
            tags.append(found[0][1])
        assert tags[0] != tags[1]
        assert sorted(f.name for f in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl", "in.jsonl"]

    def test_pipeline_with_other_transforms_and_the_list(self, tmp_path: Path) -> None:
        """scrub_secrets composes with other -t transforms and --list shows it."""
        src = lines_file(tmp_path / "in.jsonl", [request(Image.from_url(f"https://u:{AWS}@x.example/a.png"), "see")])
        p = convo_run("transform", src, "-t", "drop_images()", "-t", "scrub_secrets(pii=True)", "-o", "-", cwd=tmp_path)
        assert p.returncode == 0 and AWS not in p.stdout
        listing = convo_run("transform", "--list", cwd=tmp_path).stdout
        assert "scrub_secrets(*, pii: bool = False" in listing
