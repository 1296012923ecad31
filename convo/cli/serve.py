"""``convo serve``: the local Messages API emulator, until interrupted.

Layer: cli (the emulator is :mod:`convo.testing.emulator`).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from convo.cli._common import EXIT_OK, UsageError, command_parser
from convo.testing._faults import SPEC_SYNTAX
from convo.testing._ratelimit import RATE_LIMITS_SYNTAX, RateLimits, parse_rate_limits

__all__ = ["add_parser", "command"]

EPILOG = """\
A local Messages API emulator on 127.0.0.1 (for tests and dry runs): the API's rules, errors,
streaming and batches, with faults injected on a schedule. Point a client at it with
ANTHROPIC_BASE_URL=http://127.0.0.1:PORT (any non-empty key unless --api-key restricts them).

Replies are deterministic: the echo of the last user turn; for a structured-output request
(output_config.format) JSON that validates against its schema; for a tool call an input that
validates against the tool's input_schema. A forced tool_choice (any, tool) always calls a tool.
--tool-policy says what an offered but unforced tool (tool_choice auto) gets: text (the default:
answer text) or call (call the first tool with an input_schema until a tool_result comes back,
then answer text: one round trip of an agent loop).

--faults SPEC: each request takes the first pending fault whose scope matches it; requests that
match none are answered normally.

""" + textwrap.indent(SPEC_SYNTAX, "  ") + """

--rate-limits LIMITS: the limits that the anthropic-ratelimit-* headers of every /v1/messages
answer report, counted per window (fixed, opened by its first request; default: a tier-1
organization's). --enforce-rate-limits answers a 429 rate_limit_error with retry-after (seconds
to the window's end) once one is spent (default: reported only).

""" + textwrap.indent(RATE_LIMITS_SYNTAX, "  ") + """

examples:
  convo serve --port 8123
  convo serve --port 8123 --faults '529,429:retry-after=1,reset'
  convo serve --port 0 --faults '429:retry-after=2*3@/v1/messages' --api-key test-key
  convo serve --port 8123 --tool-policy call
  convo serve --port 8123 --rate-limits requests=5,window=10 --enforce-rate-limits
"""


def add_parser(sub: Any) -> None:
    """Register ``convo serve`` on the ``convo`` subparsers *sub*."""
    p = command_parser(sub, "serve", "run the local Messages API emulator", EPILOG)
    p.add_argument("--host", default="127.0.0.1",
                   help="the loopback address to listen on (default 127.0.0.1; only loopback is allowed)")
    p.add_argument("--port", type=int, default=8123, help="the port (default 8123; 0 picks a free one, printed)")
    p.add_argument("--faults", metavar="SPEC", help="faults to inject, in order (syntax below)")
    p.add_argument("--api-key", action="append", dest="api_keys", default=None, metavar="KEY",
                   help="accept only this key (repeatable; default: any non-empty key)")
    p.add_argument("--batch-delay", type=float, default=0.5, metavar="S",
                   help="seconds a batch stays in progress (default 0.5)")
    p.add_argument("--lenient", action="store_true",
                   help="accept unknown keys, block types and model ids (the real API refuses them: "
                        "400 / 404; strict is the default)")
    p.add_argument("--tool-policy", choices=("text", "call"), default="text",
                   help="what a reply does when tools are offered and tool_choice is auto: "
                        "text (default) or call the first tool (see below)")
    p.add_argument("--rate-limits", metavar="LIMITS",
                   help="the limits the anthropic-ratelimit-* headers report, e.g. "
                        "requests=50,input_tokens=30000,output_tokens=8000 (syntax below)")
    p.add_argument("--enforce-rate-limits", action="store_true",
                   help="answer 429 with retry-after once a limit is spent (default: report only)")
    p.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    """``convo serve``: the local emulator, until interrupted."""
    try:
        from convo.testing.emulator import serve
    except ImportError as e:
        raise UsageError(f"convo serve is not available in this build ({e})") from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        raise UsageError("the emulator listens on the loopback interface only (127.0.0.1)")

    enforce = bool(args.enforce_rate_limits)
    try:
        limits = (RateLimits(enforce=enforce) if args.rate_limits is None
                  else parse_rate_limits(args.rate_limits, enforce=enforce))
    except ValueError as e:
        raise UsageError(f"--rate-limits: {e}") from None

    def ready(url: str) -> None:
        print(f"convo serve: listening on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        serve(args.host, args.port, faults=args.faults, batch_delay=args.batch_delay, on_ready=ready,
              api_keys=args.api_keys, strict=not args.lenient, tool_policy=args.tool_policy,
              rate_limits=limits)
    except ValueError as e:  # a fault schedule that does not parse
        raise UsageError(str(e)) from None
    return EXIT_OK
