"""The event ingress's and the delivery's Prometheus metrics (served on the API listener's ``/metrics``).

The delivery's live in a registry of their own: they are counted in the delivery process, which hands their text
to serve for each scrape (events/delivery_process.py).

Labels name only applications that exist in the catalog (others are counted under ``application=""``), so a
caller cannot grow the series with made-up paths; delivery's are labelled by subscription (namespace/name), as many
series as Subscriptions, which the operator writes.
"""

from __future__ import annotations

import functools

from prometheus_client import CollectorRegistry, Counter, Histogram

_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

REQUESTS = Counter(
    "events_requests_total",
    "Requests to the ingress by application, format (legacy, cloudevents, subscribed, unknown) and the status the "
    "application got: 200 and 204 are events accepted, anything else refused.",
    ["application", "format", "code"],
)
STORED = Counter(
    "events_stored_total",
    "Events stored durably (and acknowledged), by application and format.",
    ["application", "format"],
)
APPEND_SECONDS = Histogram(
    "events_append_duration_seconds",
    "From handing an event to the log until it was stored durably.",
    buckets=_SECONDS,
)
DELIVERY_RESTARTS = Counter(
    "events_delivery_process_restarts_total",
    "Times the delivery process exited unexpectedly and was started again.",
)

DELIVERY_REGISTRY = CollectorRegistry()
DELIVERED = Counter(
    "events_delivered_total", "Events a sink took (2xx).", ["subscription"], registry=DELIVERY_REGISTRY
)
RETRIED = Counter(
    "events_delivery_retries_total",
    "Deliveries tried again after a failure.",
    ["subscription"],
    registry=DELIVERY_REGISTRY,
)
DEAD_LETTERED = Counter(
    "events_dead_lettered_total",
    "Events given up on after the last attempt.",
    ["subscription"],
    registry=DELIVERY_REGISTRY,
)
DELIVERY_LAG = Histogram(
    "events_delivery_lag_seconds",
    "From an event's acknowledgement to the sink taking it.",
    ["subscription"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=DELIVERY_REGISTRY,
)


# An event's series, looked up once per (application, format, code) rather than per event: labels() costs as much
# as the increment. Bounded like the series themselves: applications that exist, their formats and codes.
@functools.lru_cache(maxsize=4096)
def requests(application: str, kind: str, code: int) -> Counter:
    return REQUESTS.labels(application, kind, str(code))


@functools.lru_cache(maxsize=4096)
def stored(application: str, kind: str) -> Counter:
    return STORED.labels(application, kind)
