"""Model profiles: what each model accepts. The facts live in ``profiles.json``; this is its reader.

Layer: above ``errors`` and ``_json``, beside the model; ``rules``, ``transforms``, ``strategies``
and the emulator read it. A :class:`Profile` says what one model accepts (facts §2, §3.3, §3.5):
prefill, sampling parameters, mid-conversation ``system`` messages, thinking modes, forced tool
choice, effort levels, context window, max output, image limits and the cache minimum.

The model lineup changes month to month, so the facts are data, not code. :func:`get_profile`
finds a model by exact id, then by alias (``claude-sonnet-4-5-20250929``), then by family prefix
(``claude-opus-4-8-20261101``, ``us.anthropic.claude-opus-4-6-v1``); a model convo does not know
gets a permissive default and an :class:`UnknownModelWarning`, never an exception, so ``validate``
stays usable on transcripts of models released after convo. Users layer their own file
(:func:`load_profiles`) or a ``GET /v1/models`` response (:func:`profiles_from_models_response`)
over the built-ins.

>>> get_profile("claude-opus-4-8").prefill
False
>>> get_profile("claude-sonnet-4-5-20250929").model
'claude-sonnet-4-5'
"""

from __future__ import annotations

import functools
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import orjson

from convo import _frozen
from convo._json import EMPTY, UNSET, FrozenDict, Unset
from convo.errors import ProfileError, UnknownModelError

if TYPE_CHECKING:  # for mypy's attrs plugin: attrs classes (convo._frozen makes them, without attrs)
    from attrs import field, frozen
else:
    from convo._frozen import field, frozen


__all__ = [
    "API_VERSIONS",
    "DEFAULT_API_VERSION",
    "EFFORT_LEVELS",
    "LIFECYCLES",
    "SOURCE_TAGS",
    "THINKING_MODES",
    "Profile",
    "ProfileRegistry",
    "UnknownModelWarning",
    "builtin_profiles",
    "get_profile",
    "load_profiles",
    "profiles_from_models_response",
    "require_known",
    "suggest_models",
    "read_data_source",
]

API_VERSIONS = ("2023-06-01", "2026-10-21")
DEFAULT_API_VERSION = "2026-10-21"
THINKING_MODES = ("enabled", "adaptive", "disabled", "between_tools")
"""The thinking types convo knows (``between_tools``: SDK 2.17, facts §11). The set is open: a
profile may list any other type a newer API adds, and the rules follow the profile."""
LIFECYCLES = ("active", "deprecated", "retired")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
SOURCE_TAGS = ("DOC", "SDK", "OBS", "UNCONFIRMED", "API")
"""Where a fact comes from: Anthropic's docs, the official SDK, observed API behaviour, nowhere
(a guess from the model's family), or a ``GET /v1/models`` response."""


class UnknownModelWarning(UserWarning):
    """A model id convo has no profile for: it is checked with the permissive default."""


@frozen(kw_only=True)
class Profile:
    """What one model accepts (facts §2, §3.3, §3.5).

    >>> p = get_profile("claude-opus-4-8")
    >>> p.sampling, p.mid_conversation_system, p.thinking_modes
    ('default_only', True, ('adaptive', 'disabled'))
    >>> p.source_of("prefill"), p.source_of("context_window")
    ('DOC', 'UNCONFIRMED')
    """

    model: str
    known: bool = True  # False for the permissive default given to unknown models
    # the model's lifecycle (GET /v1/models, SDK 2.17): a retired model fails every request (404)
    lifecycle: Literal["active", "deprecated", "retired"] = "active"
    retires_at: str | None = None  # RFC 3339 date of the (scheduled) retirement, when known
    prefill: bool = True  # a final assistant turn is accepted
    sampling: Literal["any", "default_only"] = "any"  # default_only: temperature 1.0, top_p >= 0.99, no top_k
    mid_conversation_system: bool = False
    thinking_modes: tuple[str, ...] = ("enabled", "disabled")  # of enabled / adaptive / disabled
    # effort levels at which thinking cannot be disabled (Opus 5: xhigh and max, facts §2.5)
    thinking_required_efforts: tuple[str, ...] = ()
    forced_tool_choice: bool = True  # tool_choice any / tool accepted
    effort_levels: tuple[str, ...] = ()
    default_effort: str | None = None
    context_window: int = 200_000
    max_output: int = 64_000
    max_images: int = 100
    max_image_bytes: int = 10 * 1024 * 1024  # base64 length, Claude API (facts §3.3)
    max_image_px: int = 8000
    many_images_px: int = 2000
    many_images_threshold: int = 20
    image_long_edge: int = 1568  # downscale limit; 2576 on Claude 4.7 and later
    cache_min_tokens: int | None = None
    # field -> source tag ("*" for every field not named); kept out of eq and repr: it is provenance
    sources: FrozenDict = field(default=EMPTY, eq=False, repr=False)

    def source_of(self, name: str) -> str:
        """The source tag (DOC, SDK, OBS, UNCONFIRMED, API) of the fact in field *name*.

        >>> get_profile("claude-haiku-4-5").source_of("effort_levels")
        'UNCONFIRMED'
        """
        tag = self.sources.get(name) or self.sources.get("*")
        return tag if isinstance(tag, str) else "UNCONFIRMED"


# --------------------------------------------------------------------------- reading entries

_BOOL, _INT, _OPT_INT, _MODES, _EFFORTS, _OPT_EFFORT, _SAMPLING, _LIFECYCLE, _OPT_DATE = range(9)
_FIELDS: dict[str, int] = {
    "known": _BOOL,
    "lifecycle": _LIFECYCLE,
    "retires_at": _OPT_DATE,
    "prefill": _BOOL,
    "sampling": _SAMPLING,
    "mid_conversation_system": _BOOL,
    "thinking_modes": _MODES,
    "thinking_required_efforts": _EFFORTS,
    "forced_tool_choice": _BOOL,
    "effort_levels": _EFFORTS,
    "default_effort": _OPT_EFFORT,
    "context_window": _INT,
    "max_output": _INT,
    "max_images": _INT,
    "max_image_bytes": _INT,
    "max_image_px": _INT,
    "many_images_px": _INT,
    "many_images_threshold": _INT,
    "image_long_edge": _INT,
    "cache_min_tokens": _OPT_INT,
}
_ENTRY_KEYS = frozenset(_FIELDS) | {"source", "aliases", "extends"}
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODE_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))?$")


def _key_path(base: str, key: str) -> str:
    return f"{base}.{key}" if _KEY_RE.fullmatch(key) else f"{base}[{orjson.dumps(key).decode()}]"


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(v), type(v).__name__)


def _fail(where: str, path: str, expected: str, got: Any = UNSET) -> ProfileError:
    if got is UNSET:
        tail = ""
    elif isinstance(got, str) and expected.startswith(("one of", '"', "null or one of")):
        tail = f", got {got!r}"  # a wrong name: show it
    else:
        tail = f", got {_kind(got)}"
    return ProfileError(f"{where}: {path}: expected {expected}{tail}")


def _read_fields(entry: Mapping[str, Any], where: str, path: str) -> dict[str, Any]:
    """The Profile keyword arguments an entry gives, checked; raises ProfileError with the path."""
    out: dict[str, Any] = {}
    for key, v in entry.items():
        kp = _key_path(path, key)
        if key.startswith("_"):  # "_note" and friends: comments
            continue
        if key not in _ENTRY_KEYS:
            raise ProfileError(f"{where}: {kp}: unknown key (known: {', '.join(sorted(_ENTRY_KEYS))})")
        kind = _FIELDS.get(key)
        if kind is None:
            continue  # source / aliases / extends: read by the caller
        if kind == _BOOL:
            if type(v) is not bool:
                raise _fail(where, kp, "a boolean", v)
        elif kind in (_INT, _OPT_INT):
            if v is None and kind == _OPT_INT:
                pass
            elif type(v) is not int or v < 0:
                raise _fail(where, kp, "a non-negative integer" + (" or null" if kind == _OPT_INT else ""), v)
        elif kind == _SAMPLING:
            if v not in ("any", "default_only"):
                raise _fail(where, kp, '"any" or "default_only"', v)
        elif kind == _LIFECYCLE:
            if v not in LIFECYCLES:
                raise _fail(where, kp, f"one of {', '.join(LIFECYCLES)}", v)
        elif kind == _OPT_DATE:
            if v is not None and (not isinstance(v, str) or not _DATE.match(v)):
                raise _fail(where, kp, "null or an RFC 3339 date (2027-01-22 or 2027-01-22T00:00:00Z)", v)
        elif kind == _OPT_EFFORT:
            if v is not None and v not in EFFORT_LEVELS:
                raise _fail(where, kp, f"null or one of {', '.join(EFFORT_LEVELS)}", v)
        elif kind == _MODES:  # an open set: any thinking type name (facts §11)
            if not isinstance(v, list | tuple):
                raise _fail(where, kp, f"an array of thinking types ({', '.join(THINKING_MODES)}, ...)", v)
            for i, x in enumerate(v):
                if not isinstance(x, str) or not _MODE_NAME.fullmatch(x):
                    raise _fail(where, f"{kp}[{i}]", "a thinking type name (lowercase letters and _)", x)
            v = tuple(v)
        else:
            allowed = EFFORT_LEVELS
            if not isinstance(v, list | tuple):
                raise _fail(where, kp, f"an array of {', '.join(allowed)}", v)
            for i, x in enumerate(v):
                if x not in allowed:
                    raise _fail(where, f"{kp}[{i}]", f"one of {', '.join(allowed)}", x)
            v = tuple(v)
        out[key] = v
    return out


def _read_source(entry: Mapping[str, Any], where: str, path: str) -> dict[str, str] | None:
    if "source" not in entry:
        return None
    v = entry["source"]
    kp = _key_path(path, "source")
    if isinstance(v, str):
        if v not in SOURCE_TAGS:
            raise _fail(where, kp, f"one of {', '.join(SOURCE_TAGS)}", v)
        return {"*": v}
    if not isinstance(v, dict):
        raise _fail(where, kp, "a source tag or an object of field -> tag", v)
    for k, tag in v.items():
        if k != "*" and k not in _FIELDS:
            raise ProfileError(f"{where}: {_key_path(kp, k)}: not a profile field")
        if tag not in SOURCE_TAGS:
            raise _fail(where, _key_path(kp, k), f"one of {', '.join(SOURCE_TAGS)}", tag)
    return dict(v)


def _with_fields(base: Profile, model: str, fields: Mapping[str, Any], source: Mapping[str, str] | None,
                 known: bool) -> Profile:
    """*base* with *fields* set; each field set is tagged with its source (``*`` for the rest of
    the fields set; none given: UNCONFIRMED), and inherited fields keep their tags."""
    sources = base.sources
    if fields or source:
        given = source or {}
        star = given.get("*", "UNCONFIRMED")
        merged = dict(sources)
        for name in fields:
            if name != "known":
                merged[name] = given.get(name, star)
        merged.update((k, v) for k, v in given.items() if k != "*")
        sources = FrozenDict(merged)
    return _frozen.evolve(base, model=model, sources=sources, **{**fields, "known": known})


# --------------------------------------------------------------------------- the registry

_FAMILY_PREFIX = re.compile(r"^(?:[a-z]+\.)?anthropic\.")  # Bedrock: "anthropic." / "us.anthropic."
_SMALL_NUMBER = re.compile(r"\d{1,2}(?:$|[-@:.\[])")  # "-7" after a known id is another version
_CACHE_LIMIT = 4096  # distinct model ids remembered per registry (bounds memory on hostile input)


class ProfileRegistry(Mapping[str, Profile]):
    """Profiles by model id, with aliases, family matching and a permissive default.

    A read-only mapping of canonical id -> :class:`Profile`; :meth:`get_profile` resolves any id.
    Built from data with :func:`load_profiles` or :func:`profiles_from_models_response`.

    >>> reg = builtin_profiles()
    >>> "claude-opus-4-8" in reg, reg.resolve("claude-haiku-4-5-20251001")
    (True, 'claude-haiku-4-5')
    """

    def __init__(
        self,
        profiles: Mapping[str, Profile],
        *,
        aliases: Mapping[str, str] | None = None,
        default: Profile | None = None,
    ) -> None:
        self._profiles = dict(profiles)
        self._aliases = {a: t for a, t in (aliases or {}).items() if t in self._profiles}
        self._default = default if default is not None else _DEFAULT_FALLBACK
        # longest first, so "claude-opus-5-5" wins over "claude-opus-5" for "claude-opus-5-5-2027"
        self._prefixes = sorted((*self._profiles, *self._aliases), key=len, reverse=True)
        self._cache: dict[str, Profile] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    # Mapping protocol: canonical ids only
    def __getitem__(self, model: str) -> Profile:
        return self._profiles[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def __repr__(self) -> str:
        return f"ProfileRegistry({len(self._profiles)} models, {len(self._aliases)} aliases)"

    @property
    def aliases(self) -> Mapping[str, str]:
        """alias -> canonical id (dated ids and the like)."""
        return dict(self._aliases)

    @property
    def default(self) -> Profile:
        """The permissive profile (``known=False``) given to unknown models, as a template."""
        return self._default

    def resolve(self, model: str) -> str | None:
        """The canonical id *model* stands for (exact, alias, then family prefix), or None.

        >>> builtin_profiles().resolve("us.anthropic.claude-opus-4-6-v1:0")
        'claude-opus-4-6'
        >>> builtin_profiles().resolve("claude-opus-5-7") is None
        True
        """
        if model in self._profiles:
            return model
        target = self._aliases.get(model)
        if target is not None:
            return target
        name = _FAMILY_PREFIX.sub("", model, count=1)
        if name != model:
            found = self.resolve(name)
            if found is not None:
                return found
        for known in self._prefixes:
            if len(name) > len(known) and name.startswith(known) and name[len(known)] in "-@:[":
                rest = name[len(known) + 1 :]
                # "claude-opus-5" + "-7" is another model, "-20261101" or "-v1" a build of this one
                if _SMALL_NUMBER.match(rest):
                    continue
                return self._aliases.get(known, known)
        return None

    def get_profile(self, model: str | Unset | None) -> Profile:
        """The profile for *model*; unknown ids get the permissive default and one warning each.

        >>> builtin_profiles().get_profile("claude-opus-4-8-20261101").model
        'claude-opus-4-8'
        """
        key = model if isinstance(model, str) else ""
        hit = self._cache.get(key)
        if hit is not None:
            if not hit.known and key:
                self._warn(key)
            return hit
        canonical = self.resolve(key) if key else None
        prof = self._profiles[canonical] if canonical is not None else _frozen.evolve(self._default, model=key)
        with self._lock:
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[key] = prof
        if not prof.known and key:
            self._warn(key)
        return prof

    def _warn(self, model: str) -> None:
        if model in self._warned:
            return
        with self._lock:
            if model in self._warned:
                return
            if len(self._warned) < _CACHE_LIMIT:
                self._warned.add(model)
        warnings.warn(
            f"no profile for model {model!r}: checking it with the permissive default "
            "(load a profiles file or a /v1/models response to teach convo about it)",
            UnknownModelWarning,
            stacklevel=_caller_level(),
        )

    def merged(
        self,
        profiles: Mapping[str, Profile],
        *,
        aliases: Mapping[str, str] | None = None,
        default: Profile | None = None,
    ) -> ProfileRegistry:
        """A new registry: these profiles, aliases and default over this registry's.

        >>> reg = builtin_profiles().merged({"my-model": Profile(model="my-model", prefill=False)})
        >>> reg.get_profile("my-model").prefill, len(reg) == len(builtin_profiles()) + 1
        (False, True)
        """
        return ProfileRegistry(
            {**self._profiles, **profiles},
            aliases={**self._aliases, **(aliases or {})},
            default=default if default is not None else self._default,
        )


_DEFAULT_FALLBACK = Profile(
    model="", known=False, prefill=True, sampling="any", mid_conversation_system=True,
    thinking_modes=THINKING_MODES, forced_tool_choice=True, effort_levels=EFFORT_LEVELS,
    context_window=10_000_000, max_output=1_000_000, max_images=600, image_long_edge=2576,
    # the per-image limits are the API's, not a model's (facts §3.3)
    sources=FrozenDict({"*": "UNCONFIRMED", "max_image_bytes": "DOC", "max_image_px": "DOC",
                        "many_images_px": "DOC", "many_images_threshold": "DOC"}),
)


def _registry_from_data(data: Any, where: str, base: ProfileRegistry | None) -> ProfileRegistry:
    """Read the profiles-file format (see ``profiles.json``) over *base*."""
    if not isinstance(data, Mapping):
        raise _fail(where, "$", "an object with a \"models\" object", data)
    for key in data:
        # "pricing" is convo.pricing's (a profiles file may carry prices too)
        if key not in ("format", "default", "models", "pricing") and not key.startswith("_"):
            raise ProfileError(f"{where}: {_key_path('$', key)}: unknown key (known: default, format, models, pricing)")
    fmt = data.get("format", 1)
    if fmt != 1:
        raise _fail(where, "$.format", "1", fmt)
    default = base.default if base is not None else _DEFAULT_FALLBACK
    if "default" in data:
        d = data["default"]
        if not isinstance(d, Mapping):
            raise _fail(where, "$.default", "an object", d)
        for bad in ("aliases", "extends"):
            if bad in d:
                raise ProfileError(f"{where}: $.default.{bad}: not allowed in the default")
        fields = _read_fields(d, where, "$.default")
        fields.setdefault("known", False)
        default = _with_fields(default, "", fields, _read_source(d, where, "$.default"), fields["known"])
    models = data.get("models", {})
    if not isinstance(models, Mapping):
        raise _fail(where, "$.models", "an object of model id -> profile", models)
    profiles: dict[str, Profile] = {}
    aliases: dict[str, str] = {}
    pending = dict(models)
    # entries may "extend" one another in any order; resolve until nothing moves
    while pending:
        progressed = False
        for mid, entry in list(pending.items()):
            path = _key_path("$.models", mid)
            if not isinstance(entry, Mapping):
                raise _fail(where, path, "an object", entry)
            parent = entry.get("extends", UNSET)
            if parent is not UNSET:
                if not isinstance(parent, str):
                    raise _fail(where, _key_path(path, "extends"), "a model id", parent)
                if parent in pending and parent != mid:
                    continue  # its parent is read first
                if parent in profiles:
                    start = profiles[parent]
                elif base is not None and base.resolve(parent) is not None:
                    start = base.get_profile(parent)
                else:
                    raise ProfileError(f"{where}: {_key_path(path, 'extends')}: unknown model {parent!r}")
            elif base is not None and base.resolve(mid) is not None:
                start = base.get_profile(mid)  # an entry for a known id changes only the fields it names
            else:
                start = _frozen.evolve(default, known=True)
            fields = _read_fields(entry, where, path)
            known = fields.pop("known", True)
            profiles[mid] = _with_fields(start, mid, fields, _read_source(entry, where, path), known)
            al = entry.get("aliases", [])
            if not isinstance(al, list | tuple) or not all(isinstance(a, str) for a in al):
                raise _fail(where, _key_path(path, "aliases"), "an array of model ids", al)
            for a in al:
                aliases[a] = mid
            del pending[mid]
            progressed = True
        if not progressed:
            raise ProfileError(f"{where}: $.models: \"extends\" goes round in a circle ({', '.join(pending)})")
    if base is None:
        return ProfileRegistry(profiles, aliases=aliases, default=default)
    return base.merged(profiles, aliases=aliases, default=default)


@functools.cache
def builtin_profiles() -> ProfileRegistry:
    """The profiles shipped with convo (``convo/profiles.json``), read once, on first use.

    >>> builtin_profiles()["claude-sonnet-4-5"].prefill
    True
    """
    from convo import _resources

    raw = _resources.read("profiles.json")
    return _registry_from_data(orjson.loads(raw), "convo/profiles.json", None)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _caller_level() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside convo: the user's line
    that called into convo, however deep the call went inside (``skip_file_prefixes`` is 3.12+)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def suggest_models(model: str, *, registry: ProfileRegistry | None = None, n: int = 3) -> tuple[str, ...]:
    """The known model ids (and aliases) closest to *model*, closest first: for typos.

    >>> suggest_models("claude-opus-48")[0], suggest_models("claude-opus-4.8")[0]
    ('claude-opus-4-8', 'claude-opus-4-8')
    """
    import difflib

    reg = registry if registry is not None else builtin_profiles()
    names = [*reg, *reg.aliases]
    dashed = model.replace(".", "-").replace("_", "-").lower()
    if dashed != model and reg.resolve(dashed) is not None:  # "claude-opus-4.8": the same id, dashed
        return (reg.resolve(dashed) or dashed,)
    scored = sorted(
        ((difflib.SequenceMatcher(None, model, name).ratio(), name) for name in names), reverse=True
    )
    if not scored or scored[0][0] < 0.6:
        return ()
    best = scored[0][0]  # only the ids about as close as the closest: a typo has one answer
    return tuple(name for ratio, name in scored[:n] if ratio >= best - 0.03)


def require_known(
    model: str, *, what: str, allow_unknown: bool = False, registry: ProfileRegistry | None = None
) -> Profile:
    """The profile of a model the user names as a TARGET (*what* says where: ``migrate(model=...)``,
    ``--validate-for``): an id no profile knows is most often a typo, so it raises
    :class:`~convo.errors.UnknownModelError` with the closest ids, unless *allow_unknown*.

    >>> require_known("claude-opus-4-8", what="migrate(model=...)").model
    'claude-opus-4-8'
    >>> require_known("claude-opus-48", what="migrate(model=...)")
    Traceback (most recent call last):
    ...
    convo.errors.UnknownModelError: migrate(model=...): no profile knows 'claude-opus-48'; did you mean claude-opus-4-8? (if the id is intended, allow unknown models: it is then checked with the permissive default)
    """
    reg = registry if registry is not None else builtin_profiles()
    if reg.resolve(model) is not None:
        return reg.get_profile(model)
    if not allow_unknown:
        close = suggest_models(model, registry=reg)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise UnknownModelError(
            f"{what}: no profile knows {model!r}{hint} (if the id is intended, allow unknown "
            "models: it is then checked with the permissive default)",
            model=model, suggestions=close,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownModelWarning)  # asked for: no warning
        return reg.get_profile(model)


def get_profile(model: str | Unset | None, *, registry: ProfileRegistry | None = None) -> Profile:
    """The profile of *model*: exact id, alias, family prefix, else the permissive default.

    An unknown model gets ``known=False`` (everything model-specific allowed) and one
    :class:`UnknownModelWarning` per model id; never an exception.

    >>> get_profile("claude-haiku-4-5-20251001").model
    'claude-haiku-4-5'
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     p = get_profile("claude-next-1")
    >>> p.known, p.prefill, caught[0].category.__name__
    (False, True, 'UnknownModelWarning')
    """
    return (registry if registry is not None else builtin_profiles()).get_profile(model)


def load_profiles(
    source: str | os.PathLike[str] | Mapping[str, Any], *, base: ProfileRegistry | None = None
) -> ProfileRegistry:
    """A registry with the profiles in a JSON file (or an already-parsed mapping) over *base*.

    *base* defaults to the built-ins. The format is that of ``convo/profiles.json``:
    ``{"models": {id: {field: value, "aliases": [...], "extends": id, "source": tag}}, "default": {...}}``;
    an entry for a known id changes only the fields it names. A bad file raises
    :class:`~convo.errors.ProfileError` naming the file and the JSON path.

    >>> reg = load_profiles({"models": {"claude-opus-4-8": {"max_output": 300000}}})
    >>> reg.get_profile("claude-opus-4-8").max_output, reg.get_profile("claude-opus-4-8").prefill
    (300000, False)
    >>> load_profiles({"models": {"x": {"prefill": "no"}}})
    Traceback (most recent call last):
    ...
    convo.errors.ProfileError: <mapping>: $.models.x.prefill: expected a boolean, got a string
    """
    base = base if base is not None else builtin_profiles()
    data, where = read_data_source(source)
    return _registry_from_data(data, where, base)


def read_data_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[Any, str]:
    """The JSON data of a profiles or prices *source* (a mapping as it is, or a file's JSON) and
    the name errors give it; a file that cannot be read or is not JSON is a ProfileError.

    >>> read_data_source({"models": {}})
    ({'models': {}}, '<mapping>')
    """
    if isinstance(source, Mapping):
        return source, "<mapping>"
    where = os.fspath(source)
    try:
        with open(where, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ProfileError(f"{where}: cannot read: {e.strerror or e}") from None
    try:
        return orjson.loads(raw), where
    except orjson.JSONDecodeError as e:
        raise ProfileError(f"{where}: $: invalid JSON: {e}") from None


# --------------------------------------------------------------------------- GET /v1/models


def _supported(caps: Mapping[str, Any], key: str) -> bool | None:
    v = caps.get(key)
    if isinstance(v, Mapping):
        s = v.get("supported")
        return s if isinstance(s, bool) else None
    return None


def _profile_from_model_info(info: Any, path: str, where: str, base: ProfileRegistry) -> Profile:
    if not isinstance(info, Mapping):
        raise _fail(where, path, "a ModelInfo object", info)
    mid = info.get("id")
    if not isinstance(mid, str) or not mid:
        raise _fail(where, f"{path}.id", "a model id string", mid)
    canonical = base.resolve(mid)
    start = base[canonical] if canonical is not None else _frozen.evolve(base.default, known=True)
    fields: dict[str, Any] = {}
    said: dict[str, str] = {}
    for key, name in (("max_input_tokens", "context_window"), ("max_tokens", "max_output")):
        v = info.get(key)
        if v is None:
            continue
        if type(v) is not int or v < 0:
            raise _fail(where, f"{path}.{key}", "a non-negative integer or null", v)
        fields[name] = v
        said[name] = "API"
    if canonical is None and "context_window" in fields:
        # facts §3.3: 100 images for 200K-context models, 600 for the others
        fields["max_images"] = 100 if fields["context_window"] <= 200_000 else 600
        said["max_images"] = "API"
    lifecycle = info.get("lifecycle")
    if lifecycle is not None:
        if lifecycle not in LIFECYCLES:
            raise _fail(where, f"{path}.lifecycle", f"one of {', '.join(LIFECYCLES)}", lifecycle)
        fields["lifecycle"] = lifecycle
        said["lifecycle"] = "API"
    retires = info.get("retires_at")
    if isinstance(retires, str):
        fields["retires_at"] = retires
        said["retires_at"] = "API"
    caps = info.get("capabilities")
    if caps is not None and not isinstance(caps, Mapping):
        raise _fail(where, f"{path}.capabilities", "an object or null", caps)
    if caps:
        thinking = caps.get("thinking")
        if isinstance(thinking, Mapping):
            types = thinking.get("types")
            types = types if isinstance(types, Mapping) else {}
            modes = [m for m in ("enabled", "adaptive") if _supported(types, m)]
            said_off = _supported(types, "disabled")  # SDK 2.17 says it; older responses do not
            if said_off is None:  # then keep what we knew
                said_off = "disabled" in start.thinking_modes or thinking.get("supported") is False
            if said_off:
                modes.append("disabled")
            # any other type the response names (between_tools, and newer ones): an open set
            modes.extend(m for m in types if m not in ("enabled", "adaptive", "disabled")
                         and isinstance(m, str) and _MODE_NAME.fullmatch(m) and _supported(types, m))
            fields["thinking_modes"] = tuple(modes)
            said["thinking_modes"] = "API"
        effort = caps.get("effort")
        if isinstance(effort, Mapping):
            if effort.get("supported") is False:
                levels: tuple[str, ...] = ()
            else:
                levels = tuple(lv for lv in EFFORT_LEVELS if _supported(effort, lv))
            fields["effort_levels"] = levels
            said["effort_levels"] = "API"
            if start.default_effort is not None and start.default_effort not in levels:
                fields["default_effort"] = None
                said["default_effort"] = "API"
        if _supported(caps, "image_input") is False:
            fields["max_images"] = 0
            said["max_images"] = "API"
    return _with_fields(start, mid, fields, said, True)


def profiles_from_models_response(
    data: Any, *, base: ProfileRegistry | None = None
) -> ProfileRegistry:
    """A registry with the models of a ``GET /v1/models`` (or ``/v1/models/{id}``) response.

    *data* is the response body (bytes, str, or parsed). Context window, max output, thinking
    types, effort levels and image input come from the response (source tag ``API``); what it
    does not say comes from the built-in profile of that id (or the permissive default).

    >>> reg = profiles_from_models_response({"data": [{"id": "claude-opus-4-8",
    ...     "max_input_tokens": 2000000, "max_tokens": 256000, "capabilities": None}]})
    >>> p = reg.get_profile("claude-opus-4-8")
    >>> p.context_window, p.max_output, p.prefill, p.source_of("max_output")
    (2000000, 256000, False, 'API')
    """
    base = base if base is not None else builtin_profiles()
    where = "<GET /v1/models>"
    if isinstance(data, bytes | bytearray | memoryview | str):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ProfileError(f"{where}: $: invalid JSON: {e}") from None
    if isinstance(data, Mapping) and "data" in data:
        items = data["data"]
        if not isinstance(items, list | tuple):
            raise _fail(where, "$.data", "an array of ModelInfo objects", items)
        infos = [(info, f"$.data[{i}]") for i, info in enumerate(items)]
    elif isinstance(data, Mapping) and "id" in data:
        infos = [(data, "$")]
    else:
        raise _fail(where, "$", "a models list ({\"data\": [...]}) or one ModelInfo", data)
    profiles = {}
    for info, path in infos:
        prof = _profile_from_model_info(info, path, where, base)
        profiles[prof.model] = prof
    return base.merged(profiles)
