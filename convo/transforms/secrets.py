"""Secrets in conversations: the detectors, one scan per string, and ``scrub_secrets()``.

Layer: transforms (the executor's cassette scrubbing uses the same detectors through
:func:`scrub_json`). Three parts:

- **Detectors** (:data:`DETECTORS`, :data:`PII_DETECTORS`, :class:`Detector`): regular expressions
  for the credentials people leak. Every built-in one is written as *branches* that each begin
  with one literal character, its *anchor* (a lookbehind after the anchor checks what comes
  before it: ``k(?<=sk)-ant-...``). All branches of all detectors are joined into ONE regular
  expression, so a string is scanned once however many detectors there are, and because every
  branch starts with a literal, the regex engine skips every character that is no anchor in C
  without entering the pattern at all (``benchmarks/scrub.py`` measures it against one scan
  per detector and against the same branches without anchors).
- **The scanner** (:class:`Scanner`, :func:`find_secrets`, :func:`scrub_text`): finds the secrets
  of a string and replaces each with a typed marker, ``[REDACTED:aws-access-key]``.
- **The walker** behind :func:`scrub_secrets`: it finds every string of a conversation from the
  model itself, walking every attrs field of every object and every JSON value (object keys
  too) generically, so ``extra``, unknown blocks and a field added next month are scanned with
  no list of places to keep up to date. What it cannot walk (a value of a type that is not
  JSON and not a model object) raises :class:`~convo.errors.TransformError`: the line goes to the
  rejects, never to the output (fail closed). The few places that need a decision are declared:
  identifiers (tool ids, names, types: a secret there refuses the line, since a rewritten id
  would break its pair), signed ``thinking`` blocks (dropped or refused, never edited), and
  opaque base64 data (images, PDFs, redacted thinking: not text; kept or dropped).

No secret is ever put in a repr, an error message, a path or a change record: :class:`Secret`
holds positions only, paths are built from keys after their scrubbing, and the dry run's
previews are masked (:func:`mask`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from convo._frozen import field_names, has
from convo._json import UNSET, FrozenDict
from convo.errors import TransformError
from convo.model import (
    Base64Source,
    BatchResult,
    Conversation,
    Document,
    Image,
    RedactedThinking,
    Text,
    Thinking,
)
from convo.transforms._base import NULL_LOG, ChangeLog, Pipeline, Transform, register, replace

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import frozen
else:
    from convo._frozen import frozen


__all__ = [
    "DETECTORS",
    "PII_DETECTORS",
    "Detector",
    "RunKey",
    "Scanner",
    "Secret",
    "find_secrets",
    "hit_of",
    "mask",
    "scrub_json",
    "scrub_secrets",
    "scrub_text",
    "with_run_key",
]

# --------------------------------------------------------------------------- detectors


@frozen
class Detector:
    """A named detector: regex *branches* whose matches are secrets of one kind.

    A branch's secret is its group ``v`` when the branch has one (the value of
    ``password=...``), else the whole match, widened by ``back`` characters to the left (what
    the lookbehind after the anchor checked: the ``sk`` of ``k(?<=sk)-ant-...``). ``accept``, when
    given, is asked about each candidate secret and may turn it down (a placeholder such as
    ``$API_KEY``). A user's pattern is one branch; a branch that begins with a literal character
    keeps the one scan fast.

    >>> d = Detector.of("employee-id", r"EMP-\\d{6}")
    >>> d.name, d.branches
    ('employee-id', ('EMP-\\\\d{6}',))
    """

    name: str
    branches: tuple[str, ...]
    back: tuple[int, ...]
    accept: Callable[[str, str, int], bool] | None = None
    pii: bool = False

    @classmethod
    def of(cls, name: str, pattern: str) -> Detector:
        """A detector from a user's regular expression (checked: see :func:`scrub_secrets`)."""
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(
                f"a detector name is lowercase letters, digits and dashes (it goes in the marker "
                f"[REDACTED:name]), got {name!r}"
            )
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"detector {name!r}: the pattern must be a non-empty regular expression")
        try:
            compiled = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"detector {name!r}: not a valid regular expression: {e}") from None
        if compiled.groupindex:
            raise ValueError(f"detector {name!r}: named groups are not allowed (use (?:...))")
        if _BACKREF.search(pattern):
            raise ValueError(f"detector {name!r}: backreferences are not allowed")
        if compiled.match(""):
            raise ValueError(f"detector {name!r}: the pattern matches the empty string")
        return cls(name, (pattern,), (0,))

    @property
    def pattern(self) -> str:
        """The detector's branches as one regular expression."""
        return "|".join(self.branches)


_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
_BACKREF = re.compile(r"\\[1-9]|\(\?P=")

_TOKEN_TAIL = r"(?![A-Za-z0-9_-])"  # noqa: S105 - a regex, not a password

# The keywords of `password=...`-style assignments, matched case-insensitively and at the end
# of a name (DB_PASSWORD, client_secret, X-Api-Key and GITHUB_TOKEN all end in one).
_KEYWORDS = (
    "password", "passwd", "passphrase", "secret", "secret_key", "secret-key", "secretkey",
    "api_key", "api-key", "apikey", "access_key", "access-key", "accesskey", "token",
    "private_key", "private-key",
)
_KEY_NAME = re.compile(
    "(?i:" + "|".join(sorted((re.escape(k) for k in _KEYWORDS), key=len, reverse=True)) + ")$"
)
_AWS_SECRET_NAME = re.compile(r"(?i:aws_?secret|secret_?access_?key)")
_AWS_KEYWORDS = ("secret_access_key", "secretaccesskey", "secret-access-key", "aws_secret_key")
_AWS_VALUE = r"[ \t]*\\?[\"']?(?P<v>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
_AWS_SECRET_VALUE = re.compile(r"[A-Za-z0-9/+]{40}")


def _behind_keyword(sep: str, keywords: Sequence[str] = _KEYWORDS) -> str:
    """Lookbehinds (one per width) for a keyword right before the separator *sep* just
    matched, the keyword maybe followed by a quote, an escaped quote or a space: ``password=``,
    ``"password":``, ``\\"password\\":``, ``password =``. A cheap gate goes first: the keywords'
    last two letters, which most separators (``"type":``, ``x = 1``) fail at once."""
    ends = "(?i:" + "|".join(sorted({re.escape(k[-2:]) for k in keywords})) + ")"
    gate = f"(?:(?<={ends}{sep})|(?<={ends}[\"' ]{sep})|(?<={ends}\\\\\"{sep}))"
    by_len: dict[int, list[str]] = {}
    for k in keywords:
        by_len.setdefault(len(k), []).append(re.escape(k))
    looks = []
    for n in sorted(by_len, reverse=True):
        words = "(?i:" + "|".join(by_len[n]) + ")"
        looks += [f"(?<={words}{sep})", f"(?<={words}[\"' ]{sep})", f'(?<={words}\\\\"{sep})']
    return gate + "(?:" + "|".join(looks) + ")"


_VALUE = (
    r"[ \t]*(?:\\?\"(?P<v>[^\"\\\s]{4,})\\?\""
    r"|'(?P<v2>[^'\\\s]{4,})'"
    r"|(?P<v3>[^\s\"'`,;(){}\[\]<>\\|]{6,}))"
)

_PLACEHOLDER_WORDS = frozenset(
    (
        "none", "null", "nil", "true", "false", "undefined", "str", "string", "int", "bytes",
        "any", "optional", "required", "password", "passwd", "secret", "token", "apikey",
        "api_key", "changeme", "example", "redacted", "hidden", "masked", "your_api_key",
        "your-api-key", "your_token", "your_password",
    )
)


# GitLab's token prefixes (glpat-, gldt-, ...) by length: one lookbehind has one width
_GITLAB_PREFIXES = (("dt", "rt", "ft"), ("pat", "ptt", "cbt", "oas", "imt"), ("soat", "ffct"), ("agent",))


def _real_value(value: str, unquoted: bool) -> bool:
    """Whether an assigned value looks like a credential rather than a placeholder, a variable,
    an expression or a number."""
    low = value.lower()
    if low in _PLACEHOLDER_WORDS or value.isdigit():
        return False
    if value[0] in "$%{<*[#&@!.~/" or "${" in value or "{{" in value:
        return False
    if low.startswith(("os.", "process.", "env.", "self.", "config.", "settings.", "getenv", "secrets.")):
        return False
    if low.startswith(("your", "<your", "my_", "my-")):  # password="yourpassword"
        return False
    if len(set(value)) < 3:  # "xxxxxxxx", "--------"
        return False
    # an unquoted word without a digit is far more often a name in code than a password
    return not (unquoted and not any(c.isdigit() for c in value))


def _accept_assignment(text: str, value: str, group: int) -> bool:
    return _real_value(value, unquoted=group == 2)


def _accept_email(text: str, value: str, group: int) -> bool:
    return not value.startswith("git@")  # an SSH remote (git@github.com:org/repo), nobody's address


def _accept_url(text: str, value: str, group: int) -> bool:
    password = value.partition(":")[2]
    return bool(password) and password[0] not in "$%{<*" and "${" not in password


DETECTORS: tuple[Detector, ...] = (
    Detector(
        "anthropic-api-key",
        (r"-(?<=sk-)(?<![A-Za-z0-9_-]sk-)ant-[a-z]{2,8}\d\d-[A-Za-z0-9_-]{16,}",),
        (2,),
    ),
    Detector(
        "openai-api-key",
        (
            r"-(?<=sk-)(?<![A-Za-z0-9_-]sk-)(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"
            r"|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9_-]{20,}|[A-Za-z0-9]{48}" + _TOKEN_TAIL + ")",
        ),
        (2,),
    ),
    Detector(
        "aws-access-key",
        (r"A(?<![A-Za-z0-9]A)(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16}(?![A-Za-z0-9])",),
        (0,),
    ),
    Detector(
        "aws-secret-key",
        (
            ":" + _behind_keyword(":", _AWS_KEYWORDS) + "=?" + _AWS_VALUE,
            "=" + _behind_keyword("=", _AWS_KEYWORDS) + ">?" + _AWS_VALUE,
        ),
        (0, 0),
    ),
    Detector(
        "github-token",
        (
            r"_(?<=gh[pousr]_)(?<![A-Za-z0-9]gh[pousr]_)[A-Za-z0-9]{36,}",
            r"_(?<=github_)(?<![A-Za-z0-9]github_)pat_[A-Za-z0-9_]{22,}",
        ),
        (3, 6),
    ),
    Detector(
        "gitlab-token",
        tuple(
            rf"-(?<=gl(?:{'|'.join(group)})-)(?<![A-Za-z0-9]gl(?:{'|'.join(group)})-)[A-Za-z0-9_-]{{20,}}"
            for group in _GITLAB_PREFIXES
        ),
        tuple(3 + len(group[0]) for group in _GITLAB_PREFIXES),
    ),
    Detector(
        "slack-token",
        (
            r"-(?<=xox[abposr]-)(?<![A-Za-z0-9]xox[abposr]-)[A-Za-z0-9-]{10,}",
            r"-(?<=xapp-)(?<![A-Za-z0-9]xapp-)\d-[A-Za-z0-9-]{10,}",
        ),
        (4, 4),
    ),
    Detector(
        "slack-webhook",
        (r"://(?P<v>hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,})",),
        (0,),
    ),
    Detector(
        "stripe-key",
        (r"_(?<=[sr]k_)(?<![A-Za-z0-9][sr]k_)(?:live|test)_[A-Za-z0-9]{16,}",),
        (2,),
    ),
    Detector("google-api-key", (r"AIza[0-9A-Za-z_-]{35}",), (0,)),
    Detector("google-oauth-token", (r"9(?<=ya29)(?<![A-Za-z0-9]ya29)\.[0-9A-Za-z_-]{20,}",), (3,)),
    Detector(
        "huggingface-token", (r"_(?<=hf_)(?<![A-Za-z0-9]hf_)[A-Za-z]{34}(?![A-Za-z0-9])",), (2,)
    ),
    Detector("npm-token", (r"_(?<=npm_)(?<![A-Za-z0-9]npm_)[A-Za-z0-9]{36}(?![A-Za-z0-9])",), (3,)),
    Detector("jwt", (r"J(?<=eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",), (2,)),
    Detector(
        "private-key",
        (
            r"B(?<=-----B)EGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:[\s\S]*?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*)",
        ),
        (5,),
    ),
    Detector(
        "url-credentials",
        (r"://(?P<v>[^\s/?#@:'\"<>\[\]]+:[^\s/?#@'\"<>\[\]]+)(?=@[A-Za-z0-9.\[-])",),
        (0,),
        _accept_url,
    ),
    Detector(
        "bearer-token",
        # "Bearer" as HTTP writes it; a lowercase "bearer" would make every "b" a candidate
        (r"Bearer[ \t]+(?P<v>[A-Za-z0-9._~+/-]{20,}=*)",),
        (0,),
    ),
    Detector(
        "assigned-secret",
        (":" + _behind_keyword(":") + "=?" + _VALUE, "=" + _behind_keyword("=") + ">?" + _VALUE),
        (0, 0),
        _accept_assignment,
    ),
)
"""The built-in detectors, in the order they are tried at one position."""

_DIGIT_BRANCHES = tuple(
    rf"{d}(?<![\d+(]{d})\d\d[ .-]\d{{3}}[ .-]\d{{4}}(?![\d])" for d in "0123456789"
)

PII_DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        (r"@(?<=[A-Za-z0-9._%+-]@)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])",),
        (-1,),  # -1: widen left over the local part (a lookbehind cannot: it has no fixed width)
        _accept_email,
        pii=True,
    ),
    Detector(
        "phone",
        (
            r"\+(?<![\w+]\+)\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,3}(?![\d])",
            r"\((?<![\w(]\()\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?![\d])",
            *_DIGIT_BRANCHES,
        ),
        (0, 0, *(0 for _ in _DIGIT_BRANCHES)),
        pii=True,
    ),
)
"""Personal data, off by default: ``scrub_secrets(pii=True)`` adds them."""

_EMAIL_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")

# --------------------------------------------------------------------------- the scanner


@frozen
class Secret:
    """One secret found in a string: which detector, and where (never the text itself).

    >>> find_secrets("key AKIAIOSFODNN7EXAMPLE here")
    [Secret(detector='aws-access-key', start=4, end=24)]
    """

    detector: str
    start: int
    end: int


class _Branch(NamedTuple):
    detector: Detector
    regex: re.Pattern[str]
    back: int
    values: tuple[str, ...]  # the names of its value groups, in the combined regex


class Scanner:
    """Every detector's branches compiled into one regular expression; one scan per string.

    >>> s = Scanner(DETECTORS)
    >>> [x.detector for x in s.find("export GITHUB_TOKEN=ghp_" + "a1" * 18)]
    ['github-token']
    """

    __slots__ = ("_branches", "detectors", "regex")

    def __init__(self, detectors: Sequence[Detector]) -> None:
        names = [d.name for d in detectors]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two detectors are named {dup[0]!r}")
        self.detectors = tuple(detectors)
        parts: list[str] = []
        branches: list[_Branch] = []
        counter = 0
        for d in detectors:
            for text, back in zip(d.branches, d.back, strict=True):
                values: list[str] = []

                def rename(m: re.Match[str], values: list[str] = values) -> str:
                    nonlocal counter
                    counter += 1
                    values.append(f"v{counter}")
                    return f"(?P<v{counter}>"

                unique = re.sub(r"\(\?P<v\d*>", rename, text)
                parts.append(unique)
                branches.append(_Branch(d, re.compile(unique), back, tuple(values)))
        self.regex = re.compile("|".join(parts)) if parts else re.compile(r"(?!x)x")
        self._branches = tuple(branches)

    def _branch_at(self, text: str, m: re.Match[str]) -> tuple[_Branch, re.Match[str]] | None:
        start, end = m.span()
        # the combined regex took the first branch that matched here; so does this loop (it
        # runs once per candidate, which is rare: a few per megabyte of ordinary text)
        for b in self._branches:
            m2 = b.regex.match(text, start)
            if m2 is not None and m2.end() == end:
                return b, m2
        return None  # pragma: no cover - the same regexes, in the same order

    def find(self, text: str) -> list[Secret]:
        """Every secret in *text*, left to right, not overlapping."""
        out: list[Secret] = []
        search = self.regex.search
        m = search(text)
        last = 0
        while m is not None:
            secret = self._resolve(text, m)
            if secret is None or _in_marker(text, secret.start, secret.end):
                m = search(text, m.start() + 1)  # turned down: another branch may start inside
                continue
            start = max(secret.start, last)
            if secret.end > start:
                out.append(Secret(secret.detector, start, secret.end) if start != secret.start else secret)
                last = secret.end
            m = search(text, max(m.end(), m.start() + 1))
        return out

    def _resolve(self, text: str, m: re.Match[str]) -> Secret | None:
        found = self._branch_at(text, m)
        if found is None:  # pragma: no cover
            return Secret("unknown", m.start(), m.end())
        b, m2 = found
        d = b.detector
        for i, g in enumerate(b.values):
            if m2.group(g) is not None:
                start, end = m2.span(g)
                value = text[start:end]
                if d.accept is not None and not d.accept(text, value, i):
                    return None
                return Secret(self._refine(text, d.name, start, end), start, end)
        start, end = m2.span()
        if b.back > 0:
            start -= b.back
        elif b.back < 0:
            while start > 0 and text[start - 1] in _EMAIL_LOCAL:
                start -= 1
            if start == m2.start():
                return None
        if d.accept is not None and not d.accept(text, text[start:end], -1):
            return None
        return Secret(d.name, start, end)

    def _refine(self, text: str, name: str, start: int, end: int) -> str:
        """The detector to report for a value found by its context (an assignment, a bearer
        token, a URL's password): a specific token inside it names it (``api_key=sk-ant-...`` is
        an Anthropic key)."""
        value = text[start:end]
        for s in self.find(value):
            if s.detector != name and s.end - s.start >= (end - start) // 2:
                return s.detector
        return name

    def sub(self, text: str, marker: Callable[[str, str], str]) -> tuple[str, list[Secret]]:
        """*text* with every secret replaced by ``marker(detector, secret)``, and the secrets.

        >>> Scanner(DETECTORS).sub("pw: hunter22", lambda d, s: f"[{d}]")[0]
        'pw: hunter22'
        >>> Scanner(DETECTORS).sub("password: hunter22", lambda d, s: f"[{d}]")[0]
        'password: [assigned-secret]'
        """
        found = self.find(text)
        if not found:
            return text, found
        pieces: list[str] = []
        last = 0
        for s in found:
            pieces.append(text[last : s.start])
            pieces.append(marker(s.detector, text[s.start : s.end]))
            last = s.end
        pieces.append(text[last:])
        return "".join(pieces), found

    def key_context(self, key: str) -> str | None:
        """The detector a JSON key names for the string under it, or None: under
        ``"password"`` or ``"GITHUB_TOKEN"`` the whole value is a secret.

        >>> Scanner(DETECTORS).key_context("DB_PASSWORD"), Scanner(DETECTORS).key_context("query")
        ('assigned-secret', None)
        """
        try:
            return _KEY_CONTEXT[key]
        except KeyError:
            pass
        found = None
        if _KEY_NAME.search(key) is not None:
            found = "aws-secret-key" if _AWS_SECRET_NAME.search(key) else "assigned-secret"
        if len(_KEY_CONTEXT) >= 4096:  # keys repeat ("type", "text", "query"): a small cache
            _KEY_CONTEXT.clear()
        _KEY_CONTEXT[key] = found
        return found

    def keyed_value(self, key: str, value: str) -> Secret | None:
        """The secret a whole *value* is under a sensitive *key* (None: not one, or a placeholder)."""
        name = self.key_context(key)
        if name is None or len(value) < 4 or any(c.isspace() for c in value):
            return None
        if not _real_value(value, unquoted=False) or value.lower() == key.lower():
            return None  # a placeholder, or the key's own name ("authorization_token": "authorization_token")
        if name == "aws-secret-key" and not _AWS_SECRET_VALUE.fullmatch(value):
            name = "assigned-secret"
        return Secret(name, 0, len(value))


_KEY_CONTEXT: dict[str, str | None] = {}


def _in_marker(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] lies inside a marker (``[REDACTED:github-token:3f9a1c2b]``): a
    marker is never a secret, so scrubbing twice changes nothing.

    >>> _in_marker("x [REDACTED:github-token:3f9a1c2b] y", 25, 33), _in_marker("3f9a1c2b", 0, 8)
    (True, False)
    """
    i = text.rfind("[REDACTED:", 0, start + 1)
    if i < 0:
        return False
    j = text.find("]", i)
    return j >= end - 1


def _detectors(pii: bool, patterns: Mapping[str, str] | None) -> tuple[Detector, ...]:
    found = list(DETECTORS)
    if pii:
        found += PII_DETECTORS
    for name, pattern in (patterns or {}).items():
        if any(d.name == name for d in (*DETECTORS, *PII_DETECTORS)):
            raise ValueError(f"{name!r} is a built-in detector's name; name your pattern otherwise")
        found.append(Detector.of(name, pattern))
    return tuple(found)


_DEFAULT: Scanner | None = None


def default_scanner() -> Scanner:
    """The scanner of the built-in detectors (built once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Scanner(DETECTORS)
    return _DEFAULT


def find_secrets(
    text: str, *, pii: bool = False, patterns: Mapping[str, str] | None = None
) -> list[Secret]:
    """The secrets in *text* (which detector, where), left to right.

    >>> [s.detector for s in find_secrets("Authorization: Bearer " + "abcd1234" * 4)]
    ['bearer-token']
    >>> find_secrets("mail ann@example.com", pii=True)
    [Secret(detector='email', start=5, end=20)]
    """
    scanner = default_scanner() if not pii and not patterns else Scanner(_detectors(pii, patterns))
    return scanner.find(text)


def marker(detector: str, tag: str | None = None) -> str:
    """The typed marker that replaces a secret: ``[REDACTED:aws-access-key]`` (with a tag when keyed).

    >>> marker("aws-access-key"), marker("jwt", "3f9a1c2b")
    ('[REDACTED:aws-access-key]', '[REDACTED:jwt:3f9a1c2b]')
    """
    return f"[REDACTED:{detector}]" if tag is None else f"[REDACTED:{detector}:{tag}]"


def scrub_text(text: str, *, pii: bool = False, patterns: Mapping[str, str] | None = None) -> str:
    """*text* with every secret replaced by its typed marker.

    >>> scrub_text("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    'aws_secret_access_key = [REDACTED:aws-secret-key]'
    """
    scanner = default_scanner() if not pii and not patterns else Scanner(_detectors(pii, patterns))
    return scanner.sub(text, lambda d, s: marker(d))[0]


def mask(secret: str) -> str:
    """A secret as a preview may show it: at most its first four characters (fewer for a short
    one) and its length.

    >>> mask("AKIAIOSFODNN7EXAMPLE"), mask("hunter22")
    ('AKIA… (20 chars)', 'h… (8 chars)')
    """
    keep = min(4, len(secret) // 5)
    return f"{secret[:keep]}… ({len(secret)} chars)"


# --------------------------------------------------------------------------- run keys


class RunKey:
    """The random key of one run's keyed markers. Its repr hides it; it is never written.

    It travels to worker processes with the operation's options (pickled through a pipe), so
    every worker of one run gives one secret the same marker.

    >>> RunKey.new()
    RunKey(<hidden>)
    """

    __slots__ = ("key",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise ValueError("a run key is at least 16 random bytes")
        self.key = key

    @classmethod
    def new(cls) -> RunKey:
        """A fresh random key (32 bytes from the OS)."""
        return cls(os.urandom(32))

    def tag(self, secret: str) -> str:
        """Eight hex digits of HMAC-SHA256(key, secret): equal secrets, equal tags."""
        import hashlib  # (here: hashlib loads OpenSSL's libcrypto, 3.7 MB, which a run without
        import hmac  # redaction never needs)

        digest = hmac.new(self.key, secret.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return digest.hexdigest()[:8]

    def __repr__(self) -> str:
        return "RunKey(<hidden>)"

    def __eq__(self, other: object) -> bool:
        import hmac

        return isinstance(other, RunKey) and hmac.compare_digest(self.key, other.key)

    def __hash__(self) -> int:
        import hashlib

        return hash(hashlib.sha256(self.key).digest())

    def __reduce__(self) -> tuple[Any, ...]:
        return (RunKey, (self.key,))


# --------------------------------------------------------------------------- the walker

# Model fields that name or link things rather than hold text: a secret found in one refuses the
# line (a rewritten tool id would no longer pair with its result, a rewritten name or type would
# no longer mean anything to the API).
_IDENT_FIELDS = frozenset(
    {"id", "tool_use_id", "name", "type", "role", "model", "media_type", "file_id", "custom_id",
     "tool_name", "result_type"}
)
# The same inside JSON values (server tool results, unknown blocks, tool definitions), except
# under an "input" key: a tool's input is the caller's own data, where "name" is just a word.
_IDENT_KEYS = frozenset({"id", "tool_use_id", "name", "type", "tool_name", "file_id", "media_type"})

# Opaque fields: encrypted or signed data that is not text (base64 sources: see _Walk.base64).
_OPAQUE = frozenset({(Thinking, "signature"), (RedactedThinking, "data")})

# Fields whose JSON name differs from the attribute (``BatchResult`` nests under "result").
_JSON_NAMES: dict[tuple[type[Any], str], str] = {
    (BatchResult, "message"): "result.message",
    (BatchResult, "error"): "result.error",
    (BatchResult, "result_type"): "result.type",
    (BatchResult, "result_extra"): "result",
}
_MERGED = frozenset({"extra", "result_extra"})  # mappings whose keys are an object's own keys

_ATOMS = frozenset({int, float, bool, type(None), type(UNSET)})

_HIT = re.compile(r"redacted (?P<detector>[a-z][a-z0-9-]*) in (?P<kind>\$.*)")


def hit_of(what: str) -> tuple[str, str] | None:
    """``(detector, place)`` of a change :func:`scrub_secrets` logged for a secret, else None
    (the command's summary counts them by detector and by place).

    >>> hit_of("redacted aws-access-key in $.messages[].content[text].text")
    ('aws-access-key', '$.messages[].content[text].text')
    >>> hit_of("dropped an image") is None
    True
    """
    m = _HIT.fullmatch(what)
    return None if m is None else (m["detector"], m["kind"])


class _Field(NamedTuple):
    name: str
    json_name: str  # "" for `extra`: its keys are the object's own
    ident: bool
    merged: bool


_PLANS: dict[type[Any], tuple[_Field, ...]] = {}


def _plan(cls: type[Any]) -> tuple[_Field, ...]:
    """The fields of model class *cls* to walk, found from attrs (built once per class)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = tuple(
            _Field(
                n,
                _JSON_NAMES.get((cls, n), "" if n in _MERGED else n),
                n in _IDENT_FIELDS,
                n in _MERGED,
            )
            for n in field_names(cls)
            if (cls, n) not in _OPAQUE
        )
    return plan


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_WALKERS: dict[type[Any], Callable[[_Walk, Any], Any]] = {}


def _make_walker(cls: type[Any]) -> Callable[[_Walk, Any], Any]:
    """A walker for model class *cls*, generated from its attrs fields (as attrs generates
    ``__init__``): one straight run of inline checks per field, so a string with no candidate
    costs one regex search and an atom nothing. Measured on 20 MB of transcripts: about half
    the time of a loop over the fields. The names come from ``attrs.fields``: identifiers."""
    plan = _plan(cls)
    lines = ["def walk(w, obj):", "    search = w.search", "    changes = None"]
    namespace: dict[str, Any] = {"_ATOMS": _ATOMS, "replace": replace, "str": str}
    for i, f in enumerate(plan):
        namespace[f"_f{i}"] = f
        lines += [
            f"    v = obj.{f.name}",
            "    c = v.__class__",
            "    if (c is str and search(v) is not None) or (c is not str and c not in _ATOMS):",
            f"        nv = w.field(v, _f{i})",
            "        if nv is not v:",
            "            if changes is None:",
            "                changes = {}",
            f"            changes[{f.name!r}] = nv",
        ]
    lines.append("    return obj if changes is None else replace(obj, **changes)")
    exec(compile("\n".join(lines), f"<convo scrub {cls.__name__}>", "exec"), namespace)  # noqa: S102
    fn: Callable[[_Walk, Any], Any] = namespace["walk"]
    return fn


class _Walk:
    """One scrubbing pass over one value: rebuilds only what changed and logs what it did.

    ``stack`` holds the way to the value being walked, as raw parts formatted only when a path
    is wanted (a hit, an error): ``("f", name)`` a field, ``("m", j, item)`` a block or message,
    ``("j", j)`` a JSON array item, ``("k", key)`` an object key's value, ``("K",)`` the key
    itself. A *place* is the path without indices, with block types, stopped at the first JSON
    level (``$.messages[].content[tool_use].input.*``): the summary counts by place.

    The hot path (a string with no secret) is one regex search, inline: most strings of a
    transcript hold none.
    """

    __slots__ = ("keyctx", "log", "search", "skip_conversations", "stack", "t", "why")

    def __init__(self, t: _ScrubSecrets, log: ChangeLog, *, skip_conversations: bool = False) -> None:
        self.t = t
        self.log = log
        self.stack: list[tuple[Any, ...]] = []
        self.why = t.text
        self.skip_conversations = skip_conversations
        self.search = t.scanner.regex.search
        self.keyctx = t.scanner.key_context

    # -- where we are
    def path(self) -> str:
        out = ["$"]
        for part in self.stack:
            kind = part[0]
            if kind == "f":
                out.append(f".{part[1]}")
            elif kind == "m" or kind == "j":
                out.append(f"[{part[1]}]")
            elif kind == "k":
                key = part[1]
                out.append(f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{key!r}]")
            else:
                out.append(" (a key)")
        return "".join(out)

    def place(self) -> str:
        out = ["$"]
        for part in self.stack:
            kind = part[0]
            if kind == "f":
                out.append(f".{part[1]}")
            elif kind == "m":
                t = getattr(part[2], "type", None)
                out.append(f"[{t}]" if type(t) is str else "[]")
            else:
                out.append(".*")  # inside a JSON value: one place for all of it
                break
        return "".join(out)

    def error(self, message: str) -> TransformError:
        path = self.path()
        return TransformError(f"{self.why}: {message}, at {path}", path=path)

    # -- strings
    def text(self, s: str, ident: bool, key: str | None = None) -> str:
        """*s* scrubbed (the caller found a candidate, or *key* names a secret)."""
        scanner = self.t.scanner
        found = scanner.find(s)
        if not found and key is not None:
            whole = scanner.keyed_value(key, s)
            if whole is not None:
                found = [whole]
        if not found:
            return s
        if ident:
            names = ", ".join(sorted({f.detector for f in found}))
            raise self.error(
                f"found {names} in an identifier (an id, a name or a type), which cannot be "
                "rewritten without breaking the conversation"
            )
        pieces: list[str] = []
        last = 0
        log = self.log
        for f in found:
            secret = s[f.start : f.end]
            pieces.append(s[last : f.start])
            pieces.append(self.t.marker(f.detector, secret))
            last = f.end
            if log.enabled:
                log.add(
                    f"redacted {f.detector} in {self.place()}",
                    self.path() if log.paths else "",
                    f"{self.why}: matched {mask(secret)}",
                )
        pieces.append(s[last:])
        return "".join(pieces)

    # -- values
    def value(self, v: Any, ident: bool = False, key: str | None = None, in_input: bool = False) -> Any:
        t = type(v)
        if t is str:
            if self.search(v) is None and (key is None or self.keyctx(key) is None):
                return v
            return self.text(v, ident, key)
        if t is FrozenDict or t is dict:
            return self.obj(v, in_input)
        if t is tuple or t is list:
            return self.seq(v, in_input)
        if t in _ATOMS:
            return v
        if t in _WALKERS or has(t):
            return self.model(v)
        if isinstance(v, tuple):  # a tuple that means more (the model's "absent" empty tuples)
            return self.seq(v, in_input)
        raise self.error(f"cannot scan a value of type {t.__name__}")

    def obj(self, d: dict[str, Any], in_input: bool) -> Any:
        out: dict[str, Any] | None = None
        stack = self.stack
        search = self.search
        for i, (k, v) in enumerate(d.items()):
            if type(k) is not str:
                raise self.error(f"cannot scan an object key of type {type(k).__name__}")
            nk = k
            if search(k) is not None:
                stack.append(("K",))
                nk = self.text(k, False)
                stack.pop()
            if type(v) is str and search(v) is None and self.keyctx(k) is None:
                nv = v
            else:
                stack.append(("k", nk))
                nv = self.value(v, not in_input and k in _IDENT_KEYS, k, in_input or k == "input")
                stack.pop()
            if out is None and (nk is not k or nv is not v):
                out = dict(list(d.items())[:i])
            if out is not None:
                if nk in out or (nk != k and nk in d):
                    raise self.error(
                        "two keys of one object would become the same marker "
                        "(scrub_secrets(keyed=True) keeps different secrets apart)"
                    )
                out[nk] = nv
        if out is None:
            return d
        return out if type(d) is dict else FrozenDict(out)

    def seq(self, items: Sequence[Any], in_input: bool = False) -> Any:
        out: list[Any] | None = None
        stack = self.stack
        search = self.search
        dropped_thinking = False
        model_seq = bool(items) and (type(items[0]) in _WALKERS or has(type(items[0])))
        for j, item in enumerate(items):
            cls = type(item)
            new: Any = item
            if cls is str:
                if search(item) is not None:
                    stack.append(("j", j))
                    new = self.text(item, False)
                    stack.pop()
            elif cls in _ATOMS:
                pass
            else:
                stack.append(("m", j, item) if model_seq else ("j", j))
                if cls is Thinking and item.signature:
                    new = self.signed_thinking(item)
                    dropped_thinking = dropped_thinking or new is None
                elif (cls is Image or cls is Document) and type(item.source) is Base64Source:
                    new = self.base64_block(item)
                elif model_seq and cls in _WALKERS:
                    new = _WALKERS[cls](self, item)
                else:
                    new = self.value(item, False, None, in_input)
                stack.pop()
            if new is not item and out is None:
                out = list(items[:j])
            if out is not None and new is not None:
                out.append(new)
        if out is None:
            return items
        if dropped_thinking and all(type(b) in (Thinking, RedactedThinking) for b in out):
            out.append(self.t.thinking_marker)  # a turn is never left empty, nor thinking only
        return tuple(out) if isinstance(items, tuple) else out

    def model(self, obj: Any) -> Any:
        cls = type(obj)
        fn = _WALKERS.get(cls)
        if fn is None:
            if cls is Base64Source:
                return self.base64_source(obj)
            fn = _WALKERS[cls] = _make_walker(cls)
        return fn(self, obj)

    def field(self, v: Any, f: _Field) -> Any:
        """The scrubbed value of one field (the generated walkers call it for anything but a
        string without a candidate and an atom)."""
        stack = self.stack
        if type(v) is str:
            stack.append(("f", f.json_name))
            nv: Any = self.text(v, f.ident)
        elif f.merged:  # extra: its keys are this object's own keys
            if not v:
                return v
            if f.json_name:
                stack.append(("f", f.json_name))
            nv = self.obj(v, False)
            if not f.json_name:
                return nv
        elif type(v) is Conversation and self.skip_conversations:
            return v  # a line's request: apply() scrubbed it already
        else:
            stack.append(("f", f.json_name))
            if type(v) is tuple and not f.ident:
                nv = self.seq(v, f.name == "input")
            else:
                nv = self.value(v, f.ident, None, f.name == "input")
        stack.pop()
        return nv

    # -- the places that need a decision
    def signed_thinking(self, block: Thinking) -> Thinking | None:
        """A signed thinking block: as it is when it holds no secret, else dropped or refused."""
        if self.search(block.thinking) is None and not block.extra:
            return block  # the usual case, without a probe (same answer)
        unsigned = replace(block, signature="")
        probe = _Walk(self.t, NULL_LOG)
        probe.stack = list(self.stack)
        if probe.model(unsigned) is unsigned:
            return block
        if self.t.thinking == "refuse":
            raise self.error(
                "a signed thinking block holds a secret and editing it would break its signature "
                "(scrub_secrets(thinking='drop') drops such blocks)"
            )
        if self.log.enabled:
            self.model(unsigned)  # logs the secrets it held, by detector and place
            self.log.add(
                f"dropped a signed thinking block in {self.place()}",
                self.path() if self.log.paths else "",
                f"{self.why}: it held a secret, and its signature forbids editing it",
            )
        return None

    def base64_block(self, block: Image | Document) -> Any:
        if self.t.base64 == "drop":
            if self.log.enabled:
                what = "an image" if type(block) is Image else "a base64 document"
                self.log.add(
                    f"dropped {what} in {self.place()}",
                    self.path() if self.log.paths else "",
                    f"{self.why}: base64 data cannot be scanned (base64='drop')",
                )
            return self.t.base64_markers[type(block)]
        return self.model(block)

    def base64_source(self, src: Base64Source) -> Any:
        if self.t.base64 == "drop":
            raise self.error("base64 data outside an image or a document cannot be dropped")
        stack = self.stack
        if self.log.enabled:
            stack.append(("f", "data"))
            self.log.note(
                f"kept base64 data unscanned in {self.place()}",
                self.path() if self.log.paths else "",
                f"{self.why}: base64 data cannot be scanned (base64='keep' keeps it)",
            )
            stack.pop()
        extra = self.obj(src.extra, False) if src.extra else src.extra
        media = src.media_type
        if self.search(media) is not None:
            stack.append(("f", "media_type"))
            media = self.text(media, True)
            stack.pop()
        if extra is src.extra and media is src.media_type:
            return src
        return replace(src, extra=extra, media_type=media)


# --------------------------------------------------------------------------- the transform


class _ScrubSecrets(Transform):
    __slots__ = (
        "base64",
        "base64_markers",
        "keyed",
        "patterns",
        "pii",
        "run_key",
        "scanner",
        "text",
        "thinking",
        "thinking_marker",
    )

    outside = True

    def __init__(
        self,
        *,
        pii: bool,
        patterns: Mapping[str, str] | None,
        keyed: bool,
        thinking: str,
        base64: str,
        run_key: RunKey | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if pii:
            kwargs["pii"] = True
        if patterns:
            kwargs["patterns"] = dict(patterns)
        if keyed:
            kwargs["keyed"] = True
        if thinking != "drop":
            kwargs["thinking"] = thinking
        if base64 != "keep":
            kwargs["base64"] = base64
        super().__init__("scrub_secrets", **kwargs)
        self.pii = pii
        self.patterns = dict(patterns or {})
        self.keyed = keyed
        self.thinking = thinking
        self.base64 = base64
        self.scanner = (
            default_scanner() if not pii and not patterns else Scanner(_detectors(pii, patterns))
        )
        self.run_key = run_key if run_key is not None else (RunKey.new() if keyed else None)
        self.text = repr(self)
        self.thinking_marker = Text(marker("thinking"))
        self.base64_markers = {Image: Text(marker("image")), Document: Text(marker("document"))}

    def marker(self, detector: str, secret: str) -> str:
        """The marker for *secret*: typed, and tagged by the run's key when keyed."""
        if self.run_key is None:
            return marker(detector)
        return marker(detector, self.run_key.tag(secret))

    def keyed_copy(self, key: RunKey) -> _ScrubSecrets:
        """The same transform with the run's key *key* (keyed markers agree across workers)."""
        if not self.keyed:
            return self
        return _ScrubSecrets(
            pii=self.pii, patterns=self.patterns, keyed=True, thinking=self.thinking,
            base64=self.base64, run_key=key,
        )

    def apply(self, conv: Conversation, log: ChangeLog) -> Conversation:
        result: Conversation = self._walk(_Walk(self, log), conv)
        return result

    def apply_outside(self, line: Any, log: ChangeLog) -> Any:
        if isinstance(line, Conversation):
            return line
        return self._walk(_Walk(self, log, skip_conversations=True), line)

    def _walk(self, walk: _Walk, value: Any) -> Any:
        try:
            return walk.model(value)
        except RecursionError:  # fail closed, with a reason, rather than a bare RecursionError
            raise TransformError(
                f"{self.text}: nested too deeply to scan (past Python's recursion limit)"
            ) from None


@register
def scrub_secrets(
    *,
    pii: bool = False,
    patterns: dict[str, str] | None = None,
    keyed: bool = False,
    thinking: Literal["drop", "refuse"] = "drop",
    base64: Literal["keep", "drop"] = "keep",
) -> Transform:
    """Replace every credential in every string of a conversation with a typed marker.

    Built-in detectors (:data:`DETECTORS`): Anthropic, OpenAI, AWS access key ids and secret keys
    (by their name), GitHub, GitLab, Slack tokens and webhooks, Stripe, Google API keys and OAuth
    tokens, Hugging Face, npm, JWTs, PEM private keys, bearer tokens, URLs with a password, and
    ``password=`` / ``api_key: ...`` assignments (in text, and any string under a JSON key such as
    ``"password"`` or ``"GITHUB_TOKEN"``). *pii* adds emails and phone numbers; *patterns* adds
    your own, by name (``{"employee-id": r"EMP-\\d{6}"}``).

    Every string is scanned (message and system text, tool inputs, keys included, tool results,
    documents, search results, citations, server tool results, metadata, ``extra`` and unknown
    blocks) and each secret becomes ``[REDACTED:detector]``; with *keyed*,
    ``[REDACTED:detector:tag]``, where the tag is an HMAC of the secret under a random key of
    this run, never stored: equal secrets get equal markers within a run. A signed ``thinking``
    block that holds a secret is dropped (*thinking* ``"drop"``) or refuses the line
    (``"refuse"``); it is never edited. Base64 images and PDFs cannot be scanned: *base64*
    ``"keep"`` keeps them (the report counts them), ``"drop"`` puts ``[REDACTED:image]`` /
    ``[REDACTED:document]`` in their place.

    It fails closed: a secret in an identifier (a tool id, a name), a value of a type it cannot
    walk, or two keys of one object that would become one raise
    :class:`~convo.errors.TransformError`, which sends the line to the rejects (kept locally, with
    its original bytes). In ``convo transform`` it also scrubs what a line holds beside its
    request (an exchange's response and error, a batch result).

    >>> from convo import Conversation, ToolUse
    >>> conv = (Conversation(model="claude-opus-4-8", max_tokens=64).user("deploy it")
    ...         .assistant(ToolUse("toolu_1", "sh", {"cmd": "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"})))
    >>> scrub_secrets()(conv).messages[1].content[0].input["cmd"]
    'export AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]'
    >>> scrub_secrets(keyed=True)
    scrub_secrets(keyed=True)
    """
    if thinking not in ("drop", "refuse"):
        raise ValueError(f"scrub_secrets(thinking=...) is 'drop' or 'refuse', got {thinking!r}")
    if base64 not in ("keep", "drop"):
        raise ValueError(f"scrub_secrets(base64=...) is 'keep' or 'drop', got {base64!r}")
    if patterns is not None and (
        not isinstance(patterns, Mapping) or not all(isinstance(k, str) for k in patterns)
    ):
        raise ValueError("scrub_secrets(patterns=...) is a dict of name -> regular expression")
    return _ScrubSecrets(
        pii=bool(pii), patterns=patterns, keyed=bool(keyed), thinking=thinking, base64=base64
    )


def with_run_key(transform: Transform, key: RunKey) -> Transform:
    """*transform* with every keyed :func:`scrub_secrets` in it using *key* (one run, one key,
    however many worker processes).

    >>> a = with_run_key(scrub_secrets(keyed=True), RunKey(bytes(32)))
    >>> b = with_run_key(scrub_secrets(keyed=True), RunKey(bytes(32)))
    >>> a.marker("jwt", "x") == b.marker("jwt", "x")
    True
    """
    if isinstance(transform, _ScrubSecrets):
        return transform.keyed_copy(key)
    if isinstance(transform, Pipeline):
        parts = tuple(with_run_key(p, key) for p in transform.parts)
        if all(a is b for a, b in zip(parts, transform.parts, strict=True)):
            return transform
        return Pipeline(parts)
    return transform


# --------------------------------------------------------------------------- plain JSON


def scrub_json(
    value: Any, *, scanner: Scanner | None = None, found: list[str] | None = None
) -> Any:
    """A plain JSON value (dicts, lists, strings, numbers) with every secret replaced by its
    marker, keys included; the names of the detectors that fired are appended to *found*. What
    the cassettes of the pytest plugin go through before they are written.

    >>> scrub_json({"headers": {"x-api-key": "sk-ant-api03-" + "A" * 40}, "n": 1})
    {'headers': {'x-api-key': '[REDACTED:anthropic-api-key]'}, 'n': 1}
    """
    sc = scanner or default_scanner()
    return _json(value, sc, found, None)


def _json(v: Any, sc: Scanner, found: list[str] | None, key: str | None) -> Any:
    if isinstance(v, str):
        secrets = sc.find(v)
        if not secrets and key is not None:
            whole = sc.keyed_value(key, v)
            secrets = [whole] if whole is not None else []
        if not secrets:
            return v
        if found is not None:
            found.extend(s.detector for s in secrets)
        pieces: list[str] = []
        last = 0
        for s in secrets:
            pieces += [v[last : s.start], marker(s.detector)]
            last = s.end
        pieces.append(v[last:])
        return "".join(pieces)
    if isinstance(v, dict):
        return {_json(k, sc, found, None): _json(x, sc, found, k) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_json(x, sc, found, None) for x in v]
    if v is None or isinstance(v, int | float):
        return v
    raise TypeError(f"scrub_json: cannot scan a value of type {type(v).__name__}")


# --------------------------------------------------------------------------- masked previews


class _MaskWalk(_Walk):
    """A walk for the eyes only (``--dry-run``'s "before"): each secret becomes its
    :func:`mask`, everywhere, signed thinking and identifiers included; nothing is dropped or
    refused. Its result is never written anywhere."""

    __slots__ = ()

    def text(self, s: str, ident: bool, key: str | None = None) -> str:
        scanner = self.t.scanner
        found = scanner.find(s)
        if not found and key is not None:
            whole = scanner.keyed_value(key, s)
            found = [whole] if whole is not None else []
        if not found:
            return s
        pieces: list[str] = []
        last = 0
        for f in found:
            pieces += [s[last : f.start], mask(s[f.start : f.end])]
            last = f.end
        pieces.append(s[last:])
        return "".join(pieces)

    def signed_thinking(self, block: Thinking) -> Thinking | None:
        new: Thinking = self.model(block)
        return new

    def base64_block(self, block: Image | Document) -> Any:
        return self.model(block)

    def base64_source(self, src: Base64Source) -> Any:
        return src


def scrubbers_of(transform: Transform) -> list[Transform]:
    """The :func:`scrub_secrets` transforms in *transform* (a pipeline or one transform).

    >>> from convo.transforms import drop_images, pipeline
    >>> scrubbers_of(pipeline(drop_images(), scrub_secrets()))
    [scrub_secrets()]
    """
    if isinstance(transform, _ScrubSecrets):
        return [transform]
    if isinstance(transform, Pipeline):
        return [t for p in transform.parts for t in scrubbers_of(p)]
    return []


def mask_line(value: Any, transform: Transform) -> Any:
    """*value* (a line's value, or a conversation) with every secret the scrubbers of
    *transform* find shown masked, for a person to look at; None when *transform* holds no
    scrubber.

    >>> from convo import Conversation
    >>> mask_line(Conversation().user("key AKIAIOSFODNN7EXAMPLE"), scrub_secrets()).messages[0].content
    'key AKIA… (20 chars)'
    """
    scrubbers = scrubbers_of(transform)
    if not scrubbers:
        return None
    for t in scrubbers:
        assert isinstance(t, _ScrubSecrets)
        value = _MaskWalk(t, NULL_LOG).model(value)
    return value
