"""A linear-time planning step for httpcore 1.x's connection pool, on the clients convo builds.

Layer: executor (private). httpcore 1.x re-plans its pool every time a request starts or ends,
with a pass that is quadratic in the number of connections (a list of every connection is built
for each idle one) and that probes every idle socket with a ``poll`` on every pass; it also hands
one idle HTTP/1.1 connection to several queued requests, which then retry. At 16 to 128
concurrent requests that bookkeeping costs more client CPU than building and parsing the
request. httpcore2 (the fork the official SDK ships) rewrote the step as one linear pass; this
module ports that algorithm (BSD-3-Clause, github.com/pydantic/httpx2,
``src/httpcore2/_async/connection_pool.py``) onto httpcore 1.x, whose pool keeps the same state
(``_connections``, ``_requests`` of pool requests with ``connection`` / ``is_queued()`` /
``assign_to_connection()``).

It is installed only on the default transport of a client convo creates itself, only for an
HTTP/1.1 pool of httpcore 1.x, and only when that pool has exactly the expected class and state;
anything else is left untouched (a user's injected client, HTTP/2, another httpcore).
"""

from __future__ import annotations

from typing import Any

import httpcore
import httpx

__all__ = ["install"]


def _plan(pool: Any) -> list[Any]:
    """Drop dead connections, trim idle surplus, assign queued requests: one linear pass."""
    closing: list[Any] = []
    retained: list[Any] = []
    # connections a request holds (in flight, or assigned and about to send) are not probed,
    # trimmed or handed out again
    reserved = {r.connection for r in pool._requests if r.connection is not None}
    for conn in pool._connections:
        if conn.is_closed():
            continue
        if conn not in reserved and conn.has_expired():
            closing.append(conn)
        else:
            retained.append(conn)

    surplus = sum(1 for c in retained if c not in reserved and c.is_idle()) - pool._max_keepalive_connections
    if surplus > 0:
        kept = []
        for conn in retained:
            if surplus > 0 and conn not in reserved and conn.is_idle():
                closing.append(conn)
                surplus -= 1
            else:
                kept.append(conn)
        retained = kept
    pool._connections = retained

    available = [c for c in retained if c.is_available() and not (c.is_idle() and c in reserved)]
    budget = pool._max_connections - len(retained)
    for request in pool._requests:
        if not available and budget <= 0:
            break  # a saturated pool: nothing more can be assigned in this pass
        if not request.is_queued():
            continue
        origin = request.request.url.origin
        for i, conn in enumerate(available):
            if conn.can_handle_request(origin):
                request.assign_to_connection(conn)
                del available[i]  # HTTP/1.1: one request per connection until it is released
                break
        else:
            if budget > 0:
                conn = pool.create_connection(origin)
                pool._connections.append(conn)
                request.assign_to_connection(conn)
                budget -= 1
                continue
            for i, conn in enumerate(available):
                if conn.is_idle():  # full pool: replace an idle connection to another origin
                    del available[i]
                    pool._connections.remove(conn)
                    closing.append(conn)
                    conn = pool.create_connection(origin)
                    pool._connections.append(conn)
                    request.assign_to_connection(conn)
                    break
    return closing


class _AsyncPool(httpcore.AsyncConnectionPool):
    _assign_requests_to_connections = _plan


class _Pool(httpcore.ConnectionPool):
    _assign_requests_to_connections = _plan


_EXPECTED = ("_connections", "_requests", "_max_connections", "_max_keepalive_connections", "_http2")


def install(client: httpx.Client | httpx.AsyncClient) -> bool:
    """Give *client*'s default transport the linear planning step; True when it was installed.

    >>> import httpx
    >>> c = httpx.Client()
    >>> install(c) == httpcore.__version__.startswith("1.")
    True
    >>> c.close()
    """
    if not httpcore.__version__.startswith("1."):
        return False
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if pool is None or any(not hasattr(pool, name) for name in _EXPECTED) or pool._http2:
        return False
    if type(pool) is httpcore.AsyncConnectionPool:
        pool.__class__ = _AsyncPool
        return True
    if type(pool) is httpcore.ConnectionPool:
        pool.__class__ = _Pool
        return True
    return False
