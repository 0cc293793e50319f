"""The gateway's Prometheus metrics (served on the API listener's ``/metrics``).

Labels name only applications and APIs that matched an Application, so a caller cannot grow the series with
made-up paths.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "gateway_requests_total",
    "Calls through the gateway, by application, API and the status the caller got.",
    ["application", "api", "code"],
)
UPSTREAM_SECONDS = Histogram(
    "gateway_upstream_duration_seconds",
    "From sending a call to the target until its response headers arrived.",
    ["application", "api"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TOKEN_FETCHES = Counter(
    "gateway_token_fetches_total",
    "Tokens fetched (oauth, oauth_cert, csrf), by outcome (ok, error).",
    ["kind", "outcome"],
)
TOKEN_CACHE_HITS = Counter(
    "gateway_token_cache_hits_total", "Tokens served from the cache (oauth, oauth_cert, csrf).", ["kind"]
)
RETRIES = Counter(
    "gateway_retries_total",
    "Calls sent a second time after the target answered 401 or 403.",
    ["application", "api"],
)
