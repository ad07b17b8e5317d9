"""Schemathesis hooks for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

Two things the stock checks cannot do for this service:

1. `rejected_request_changes_nothing`: every response with a 4xx status is checked
   against the ledger. The ledger's size (`/readyz` reports it; the ledger is
   append-only, so an unchanged size means nothing was written) is read just before the
   request is sent and again when the response is checked. The script runs one worker,
   so nothing else writes in between. A 4xx with a different size is a failure.

2. Spread client addresses. The service locks an address out after five failed
   authentications in fifteen minutes (CJIS; tested in tests/it/http_api.rs). Schemathesis'
   `ignored_auth` check sends an invalid token for every operation, so from one address
   the run would be locked out after five operations and the rest would be 429s. Every
   request therefore goes out on a new connection from its own address in 127.0.0.0/8,
   as many clients would.
"""

from __future__ import annotations

import json
import os
import random
import urllib.request

import schemathesis
import urllib3.connection
import urllib3.connectionpool

BASE = os.environ["ICAC_FUZZ_BASE"]
_LOOPBACK = {"127.0.0.1", "localhost"}
# The generators reseed Python's global `random` for every test case (--seed), which
# would hand out the same few addresses again and again; this one is the OS's.
_rng = random.SystemRandom()
_original_new_conn = urllib3.connection.HTTPConnection._new_conn


def _new_conn_from_spread_address(self):
    # urllib3 reuses a connection object when it reconnects, so the address is drawn
    # for every new socket, not once per object.
    if self.host in _LOOPBACK:
        self.source_address = (
            f"127.{_rng.randint(1, 254)}.{_rng.randint(0, 255)}.{_rng.randint(1, 254)}",
            0,
        )
    return _original_new_conn(self)


urllib3.connection.HTTPConnection._new_conn = _new_conn_from_spread_address

_original_put_conn = urllib3.connectionpool.HTTPConnectionPool._put_conn


def _put_closed_conn(self, conn):
    # No keep-alive: the checks' own probes do not carry the run's headers, so
    # `Connection: close` alone would leave them on one address.
    if conn is not None:
        conn.close()
    return _original_put_conn(self, conn)


urllib3.connectionpool.HTTPConnectionPool._put_conn = _put_closed_conn


def ledger_size() -> int:
    """The ledger's size, from `/v1/ledger/status` with the auditor's token (`/readyz`
    no longer tells the unauthenticated)."""
    request = urllib.request.Request(
        f"{BASE}/v1/ledger/status",
        headers={"Authorization": f"Bearer {os.environ['ICAC_FUZZ_AUDITOR_TOKEN']}"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        return int(json.load(r)["size"])


# Size before each case's request, by case id; read back by the check.
_before: dict[str, int] = {}


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    _before[case.id] = ledger_size()


@schemathesis.check
def rejected_request_changes_nothing(ctx, response, case):
    """A request answered with a 4xx must not have appended anything to the ledger."""
    if not 400 <= response.status_code < 500:
        return None
    before = _before.get(case.id)
    if before is None:
        return None
    after = ledger_size()
    if after != before:
        raise AssertionError(
            f"the request was refused with {response.status_code}, "
            f"yet the ledger grew from {before} to {after} events"
        )
    return None
