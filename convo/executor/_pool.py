"""The connection pool under the httpx clients convo builds: httpcore2's, through httpx's transports.

Layer: executor (private). httpx hands every request to a transport (``httpx.BaseTransport``, a
public, documented seam); its own transport drives an httpcore 1.x pool whose planning step, run
twice per request, is quadratic in the connections and polls every idle socket through anyio's
``extra()`` (a dict of every socket attribute, ``getpeername`` included) on every pass.
httpcore2, the maintained fork the official SDK 2.17 ships, plans in one linear pass and polls a
socket once, when it hands it out. This module adapts: an httpx request in, an httpcore2 request
to its public ``ConnectionPool`` / ``AsyncConnectionPool``, an httpx response out, and
httpcore2's errors raised as httpx's, so everything above (``except httpx.TransportError``,
``httpx.Timeout``, injected clients, ``httpx.MockTransport``) works unchanged.

Client CPU per request (``benchmarks/executor.py``: async, against the emulator, median of 5
interleaved runs, ratio to the SDK's ``AsyncAnthropic``; 2 CPUs, load 4-7 from other work) at
concurrency 1 / 16 / 64 / 128: httpx's own pool 0.83 / 1.14 / 2.15 / 1.54; the patch of httpcore
1.x's private planner that this replaces 0.92 / 0.60 / 0.97 / 0.88 (it ported the linear pass but
kept the per-pass poll: 36 % of client CPU at 128 under py-spy); this adapter 0.76 / 0.52 / 0.73 /
0.59; ``httpx2`` itself 0.64 / 0.47 / 0.64 / 0.58 (a second run, load 10-15: this adapter 0.67 /
0.62 / 0.59 / 0.60, ``httpx2`` 0.51 / 0.65 / 0.46 / 0.55). ``httpx2`` cannot be convo's client: its
``URL``, ``Timeout``, exceptions and ``MockTransport`` are other classes than httpx's, so injected
httpx clients and ``except httpx.TransportError`` would break.

Used only by clients convo builds, and only when no proxy is configured in the environment
(httpx honours ``HTTP_PROXY`` and friends only with its own transport; see :func:`env_proxies`).
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpcore2
import httpx

__all__ = ["AsyncTransport", "Transport", "env_proxies"]

# most specific first: the first match wins (httpcore2's classes mirror httpx's tree)
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore2.PoolTimeout, httpx.PoolTimeout),
    (httpcore2.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore2.ReadTimeout, httpx.ReadTimeout),
    (httpcore2.WriteTimeout, httpx.WriteTimeout),
    (httpcore2.TimeoutException, httpx.TimeoutException),
    (httpcore2.ConnectError, httpx.ConnectError),
    (httpcore2.ReadError, httpx.ReadError),
    (httpcore2.WriteError, httpx.WriteError),
    (httpcore2.NetworkError, httpx.NetworkError),
    (httpcore2.ProxyError, httpx.ProxyError),
    (httpcore2.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore2.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore2.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore2.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx() -> Iterator[None]:
    """Raise httpcore2's transport errors as httpx's (what ``httpx.HTTPTransport`` does for httpcore)."""
    try:
        yield
    except Exception as e:
        for theirs, ours in _EXCEPTIONS:
            if isinstance(e, theirs):
                raise ours(str(e)) from e
        raise


def env_proxies() -> bool:
    """True when the environment names a proxy, which only httpx's own transport would use.

    >>> import os
    >>> env_proxies() == any(k.lower() in ("http_proxy", "https_proxy", "all_proxy") for k in os.environ)
    True
    """
    proxies = urllib.request.getproxies()  # what httpx reads too
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


def _request(request: httpx.Request) -> httpcore2.Request:
    url = request.url
    return httpcore2.Request(
        method=request.method,
        url=httpcore2.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
        headers=request.headers.raw,
        content=request.stream,  # httpx's byte streams are plain (async) iterables of bytes
        extensions=request.extensions,
    )


def _pool_kwargs(limits: httpx.Limits) -> dict[str, Any]:
    return {
        "ssl_context": httpx.create_ssl_context(),  # httpx's trust (certifi, SSL_CERT_FILE), as before
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
    }


class _Stream(httpx.SyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx():
            yield from self._stream

    def close(self) -> None:
        self._stream.close()


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        await self._stream.aclose()


class Transport(httpx.BaseTransport):
    """An httpx transport over ``httpcore2.ConnectionPool`` (HTTP/1.1, no proxy).

    >>> with httpx.Client(transport=Transport(httpx.Limits())) as c:
    ...     c.get("http://127.0.0.1:9/")
    Traceback (most recent call last):
    httpx.ConnectError: [Errno 111] Connection refused
    """

    def __init__(self, limits: httpx.Limits) -> None:
        self._pool = httpcore2.ConnectionPool(**_pool_kwargs(limits))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx():
            resp = self._pool.handle_request(_request(request))
        return httpx.Response(
            resp.status, headers=resp.headers, stream=_Stream(resp.stream), extensions=resp.extensions
        )

    def close(self) -> None:
        self._pool.close()


class AsyncTransport(httpx.AsyncBaseTransport):
    """:class:`Transport` for async clients, over ``httpcore2.AsyncConnectionPool``."""

    def __init__(self, limits: httpx.Limits) -> None:
        self._pool = httpcore2.AsyncConnectionPool(**_pool_kwargs(limits))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        with _as_httpx():
            resp = await self._pool.handle_async_request(_request(request))
        return httpx.Response(
            resp.status,
            headers=resp.headers,
            stream=_AsyncStream(resp.stream),
            extensions=resp.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
