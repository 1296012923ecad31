"""What tokens cost: the dated, sourced price table in ``profiles.json`` and the cost of a usage.

Layer: beside :mod:`convo.profiles` (it reads the same data file's ``"pricing"`` section); the
command's ``stats`` and ``diff`` and :mod:`convo.view` price usage with it. Prices are USD per
million tokens for input, output, 5-minute and 1-hour cache writes and cache reads; the Batch
API's discount and the server tools' per-request fees are in the table too. Every price says where
it comes from (``sources``) and when the table was checked (``as_of``). A model the table does not
know is *not priced* (:meth:`PriceTable.cost` returns None), never guessed from a neighbour.
Users override or add prices with a file of the same shape (:func:`load_prices`).

>>> usage = TokenCounts(input=1_000_000, output=100_000)
>>> cost = builtin_prices().cost(usage, "claude-opus-4-8")
>>> cost.input, cost.output, cost.total
(5.0, 2.5, 7.5)
>>> builtin_prices().cost(usage, "claude-opus-4-8", batch=True).total
3.75
>>> builtin_prices().cost(usage, "gpt-4o") is None
True
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import orjson
from attrs import field, frozen

from convo._json import UNSET
from convo.errors import ProfileError
from convo.profiles import read_data_source

__all__ = [
    "Cost",
    "PriceTable",
    "Rates",
    "TokenCounts",
    "builtin_prices",
    "counts_of_usage",
    "load_prices",
]

_RATE_KEYS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
_MODEL_KEYS = frozenset((*_RATE_KEYS, "long_context", "aliases"))
_FAMILY_PREFIX = re.compile(r"^(?:[a-z]+\.)?anthropic\.")  # Bedrock ids, as in convo.profiles
_SMALL_NUMBER = re.compile(r"\d{1,2}(?:$|[-@:.\[])")  # "-7" after a known id is another version


@frozen
class TokenCounts:
    """Billable counts of one response (or a sum of many): tokens by kind and server-tool requests.

    ``cache_write_5m`` / ``cache_write_1h`` split ``cache_creation_input_tokens`` by TTL when the
    usage says (``usage.cache_creation``); otherwise every cache write counts as 5-minute, the
    default TTL (facts §3.5).

    >>> TokenCounts(input=3, output=2) + TokenCounts(input=1, cache_read=5)
    TokenCounts(input=4, output=2, cache_write_5m=0, cache_write_1h=0, cache_read=5, web_search=0, web_fetch=0)
    """

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    web_search: int = 0
    web_fetch: int = 0

    def __add__(self, other: TokenCounts) -> TokenCounts:
        return TokenCounts(self.input + other.input, self.output + other.output,
                           self.cache_write_5m + other.cache_write_5m, self.cache_write_1h + other.cache_write_1h,
                           self.cache_read + other.cache_read, self.web_search + other.web_search,
                           self.web_fetch + other.web_fetch)

    @property
    def total_input(self) -> int:
        """Input tokens of every kind: uncached, cache writes and cache reads (facts §4)."""
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read

    @property
    def cache_write(self) -> int:
        """Cache writes of both TTLs."""
        return self.cache_write_5m + self.cache_write_1h


def _int(v: Any) -> int:
    return v if type(v) is int and v > 0 else 0


def counts_of_usage(usage: Any) -> TokenCounts:
    """The billable counts of a response's usage: a :class:`convo.model.Usage` or its JSON object.

    >>> counts_of_usage({"input_tokens": 3, "output_tokens": 9, "cache_creation_input_tokens": 100,
    ...                  "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60},
    ...                  "server_tool_use": {"web_search_requests": 2}})
    TokenCounts(input=3, output=9, cache_write_5m=40, cache_write_1h=60, cache_read=0, web_search=2, web_fetch=0)
    """
    if usage is None or usage is UNSET:
        return TokenCounts()
    get: Callable[[str], Any]
    if isinstance(usage, dict):  # JSON (a FrozenDict too): plain dict look-ups, no ABC checks
        get = usage.get
    else:
        if getattr(usage, "cache_creation", None) is UNSET and getattr(usage, "server_tool_use", None) is UNSET:
            # the common case (a convo.model.Usage without the detail objects): four fields
            return TokenCounts(input=_int(usage.input_tokens), output=_int(usage.output_tokens),
                               cache_write_5m=_int(usage.cache_creation_input_tokens),
                               cache_read=_int(usage.cache_read_input_tokens))

        def get(key: str) -> Any:
            return getattr(usage, key, None)

    write = _int(get("cache_creation_input_tokens"))
    w5, w1 = write, 0
    split = get("cache_creation")
    if isinstance(split, dict):
        s5, s1 = _int(split.get("ephemeral_5m_input_tokens")), _int(split.get("ephemeral_1h_input_tokens"))
        if s5 or s1:
            # the split is the detail of the total; where they disagree, the total wins for 5m
            w1 = s1
            w5 = max(write - s1, s5) if write else s5
    tools = get("server_tool_use")
    ws = wf = 0
    if isinstance(tools, dict):
        ws, wf = _int(tools.get("web_search_requests")), _int(tools.get("web_fetch_requests"))
    return TokenCounts(_int(get("input_tokens")), _int(get("output_tokens")), w5, w1,
                       _int(get("cache_read_input_tokens")), ws, wf)


@frozen
class Rates:
    """USD per million tokens of one model; *long_context* applies to every token of a request
    whose total input is above *long_context_above* tokens (Sonnet 4 and 4.5 with 1M context)."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    long_context: Rates | None = None
    long_context_above: int | None = None


@frozen
class Cost:
    """What one usage (or a sum) cost, in USD, by kind.

    >>> Cost(input=1.0, output=2.0) + Cost(server_tools=0.01)
    Cost(input=1.0, output=2.0, cache_write=0.0, cache_read=0.0, server_tools=0.01)
    """

    input: float = 0.0
    output: float = 0.0
    cache_write: float = 0.0
    cache_read: float = 0.0
    server_tools: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(*(a + b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True)))

    @property
    def total(self) -> float:
        """The sum of every kind."""
        return self.input + self.output + self.cache_write + self.cache_read + self.server_tools


@frozen
class PriceTable:
    """Prices by model id, with where they come from and when they were checked.

    Look-ups resolve ids the way :mod:`convo.profiles` does: exact id, alias, then a dated or
    platform build of a known id (``claude-opus-4-8-20261101``, ``us.anthropic.claude-opus-4-6-v1``),
    never a neighbouring version (``claude-opus-4-9`` is not priced as 4.8).

    >>> t = builtin_prices()
    >>> t.resolve("claude-sonnet-4-5-20250929"), t.resolve("us.anthropic.claude-opus-4-6-v1:0")
    ('claude-sonnet-4-5', 'claude-opus-4-6')
    >>> t.resolve("claude-opus-4-9") is None
    True
    """

    models: Mapping[str, Rates]
    aliases: Mapping[str, str] = field(factory=dict)
    as_of: str = ""
    sources: Mapping[str, str] = field(factory=dict)
    origin: tuple[str, ...] = ()  # the files the table was read from, built-ins first
    batch_discount: float = 0.5
    server_tools: Mapping[str, float] = field(factory=dict)  # USD per 1,000 requests
    _prefixes: tuple[str, ...] = field(init=False, repr=False, eq=False)
    _cache: dict[str, Rates | None] = field(init=False, repr=False, eq=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        # longest first, so "claude-opus-4-1" wins over "claude-opus-4" for "claude-opus-4-1-2025"
        ids = sorted((*self.models, *self.aliases), key=len, reverse=True)
        object.__setattr__(self, "_prefixes", tuple(ids))

    def resolve(self, model: str) -> str | None:
        """The id of the table's entry that prices *model*, or None."""
        if model in self.models:
            return model
        target = self.aliases.get(model)
        if target is not None:
            return target
        name = _FAMILY_PREFIX.sub("", model, count=1)
        if name != model and name in self.models:
            return name
        for known in self._prefixes:
            if len(name) > len(known) and name.startswith(known) and name[len(known)] in "-@:[":
                if _SMALL_NUMBER.match(name[len(known) + 1 :]):
                    continue
                return self.aliases.get(known, known)
        return None

    def rates(self, model: str) -> Rates | None:
        """The rates of *model* (resolved), or None when it is not priced."""
        try:
            return self._cache[model]
        except KeyError:
            pass
        key = self.resolve(model)
        found = None if key is None else self.models[key]
        if len(self._cache) < 4096:  # bounded on hostile input (a new id per line)
            self._cache[model] = found
        return found

    def cost(self, counts: TokenCounts, model: Any, *, batch: bool = False) -> Cost | None:
        """What *counts* cost on *model* (None: the model is not priced); *batch*: the Batch API's
        discount on every token (server-tool fees are not discounted)."""
        rates = self.rates(model) if isinstance(model, str) else None
        if rates is None:
            return None
        if rates.long_context is not None and rates.long_context_above is not None \
                and counts.total_input > rates.long_context_above:
            rates = rates.long_context
        k = (1.0 - self.batch_discount if batch else 1.0) / 1e6
        tools = self.server_tools
        return Cost(
            input=counts.input * rates.input * k,
            output=counts.output * rates.output * k,
            cache_write=(counts.cache_write_5m * rates.cache_write_5m + counts.cache_write_1h * rates.cache_write_1h) * k,
            cache_read=counts.cache_read * rates.cache_read * k,
            server_tools=(counts.web_search * tools.get("web_search_requests", 0.0)
                          + counts.web_fetch * tools.get("web_fetch_requests", 0.0)) / 1000,
        )

    def describe(self) -> str:
        """One line for reports: when the prices were checked and where they were read.

        >>> builtin_prices().describe()
        'prices as of 2026-12-07 (USD per MTok; convo/profiles.json)'
        """
        return f"prices as of {self.as_of or 'an unknown date'} (USD per MTok; {', '.join(self.origin)})"


def _fail(where: str, path: str, expected: str) -> ProfileError:
    return ProfileError(f"{where}: {path}: expected {expected}")


def _number(v: Any, where: str, path: str) -> float:
    if type(v) not in (int, float) or v < 0:
        raise _fail(where, path, "a non-negative number (USD per million tokens)")
    return float(v)


def _rates(entry: Any, where: str, path: str, base: Rates | None) -> Rates:
    if not isinstance(entry, Mapping):
        raise _fail(where, path, "an object of prices")
    for key in entry:
        if key not in _MODEL_KEYS and not key.startswith("_"):
            raise ProfileError(f"{where}: {path}.{key}: unknown key (known: {', '.join(sorted(_MODEL_KEYS))})")
    given: dict[str, Any] = {k: _number(entry[k], where, f"{path}.{k}") for k in _RATE_KEYS if k in entry}
    if base is not None:
        rates = attrs.evolve(base, **given)
    else:
        missing = [k for k in _RATE_KEYS if k not in given]
        if missing:
            raise ProfileError(f"{where}: {path}: missing {', '.join(missing)} (a new model needs every price)")
        rates = Rates(**given)
    lc = entry.get("long_context", UNSET)
    if lc is not UNSET:
        if lc is None:
            return attrs.evolve(rates, long_context=None, long_context_above=None)
        if not isinstance(lc, Mapping):
            raise _fail(where, f"{path}.long_context", "an object or null")
        above = lc.get("above_input_tokens")
        if type(above) is not int or above < 0:
            raise _fail(where, f"{path}.long_context.above_input_tokens", "a non-negative integer")
        inner = {k: v for k, v in lc.items() if k != "above_input_tokens"}
        rates = attrs.evolve(rates, long_context=_rates(inner, where, f"{path}.long_context", None),
                             long_context_above=above)
    return rates


def _table(data: Any, where: str, base: PriceTable | None) -> PriceTable:
    if not isinstance(data, Mapping):
        raise _fail(where, "$", "an object")
    section, path = data, "$"
    if "pricing" in data:
        section, path = data["pricing"], "$.pricing"
    if not isinstance(section, Mapping):
        raise _fail(where, path, "an object")
    models_in = section.get("models", {})
    if not isinstance(models_in, Mapping):
        raise _fail(where, f"{path}.models", "an object of model id -> prices")
    models = dict(base.models) if base is not None else {}
    aliases = dict(base.aliases) if base is not None else {}
    for mid, entry in models_in.items():
        mpath = f"{path}.models[{orjson.dumps(mid).decode()}]"
        known = base.resolve(mid) if base is not None else None
        start = models.get(mid) or (models[known] if known is not None else None)
        models[mid] = _rates(entry, where, mpath, start)
        al = entry.get("aliases", [])
        if not isinstance(al, list) or not all(isinstance(a, str) for a in al):
            raise _fail(where, f"{mpath}.aliases", "an array of model ids")
        aliases.update(dict.fromkeys(al, mid))
    tools = dict(base.server_tools) if base is not None else {}
    st = section.get("server_tools", {})
    if not isinstance(st, Mapping):
        raise _fail(where, f"{path}.server_tools", "an object of usage field -> USD per 1,000 requests")
    tools.update({k: _number(v, where, f"{path}.server_tools.{k}") for k, v in st.items()})
    discount = section.get("batch_discount", base.batch_discount if base is not None else 0.5)
    if type(discount) not in (int, float) or not 0 <= discount <= 1:
        raise _fail(where, f"{path}.batch_discount", "a number from 0 to 1")
    as_of = section.get("as_of", base.as_of if base is not None else "")
    if not isinstance(as_of, str):
        raise _fail(where, f"{path}.as_of", "a date string")
    sources = dict(base.sources) if base is not None else {}
    src = section.get("sources", {})
    if isinstance(src, Mapping):
        sources.update({str(k): str(v) for k, v in src.items()})
    return PriceTable(
        models=models, aliases=aliases, as_of=as_of, sources=sources,
        origin=(*(base.origin if base is not None else ()), where), batch_discount=float(discount),
        server_tools=tools,
    )


@functools.cache
def builtin_prices() -> PriceTable:
    """The price table shipped with convo (``convo/profiles.json``, section ``pricing``).

    >>> builtin_prices().rates("claude-haiku-4-5-20251001").output
    5.0
    """
    from convo import _resources

    raw = _resources.read("profiles.json")
    return _table(orjson.loads(raw), "convo/profiles.json", None)


def load_prices(source: str | os.PathLike[str] | Mapping[str, Any], *, base: PriceTable | None = None) -> PriceTable:
    """A price table with a user's prices (a JSON file or a mapping) over *base* (the built-ins).

    The shape is that of ``profiles.json``'s ``pricing`` section, alone or under a ``"pricing"``
    key: ``{"as_of": "2027-01-01", "models": {id: {"input": 3, "output": 15, ...}}}``. An entry for
    a priced id changes only the prices it names; a new id needs all five. A bad file raises
    :class:`~convo.errors.ProfileError` naming the file and the JSON path.

    >>> t = load_prices({"models": {"claude-opus-4-8": {"output": 20}, "my-model": {"input": 1,
    ...     "output": 2, "cache_write_5m": 1.25, "cache_write_1h": 2, "cache_read": 0.1}}})
    >>> t.rates("claude-opus-4-8").output, t.rates("claude-opus-4-8").input, t.rates("my-model").output
    (20.0, 5.0, 2.0)
    >>> load_prices({"models": {"x": {"input": "cheap"}}})
    Traceback (most recent call last):
    ...
    convo.errors.ProfileError: <mapping>: $.models["x"].input: expected a non-negative number (USD per million tokens)
    """
    base = base if base is not None else builtin_prices()
    data, where = read_data_source(source)
    return _table(data, where, base)
