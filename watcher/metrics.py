"""The webhook's Prometheus metrics (the spool's and the delivery's are defined beside them, in their modules):
every AdmissionReview answered, by module and outcome, and when each certificate in force expires."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Gauge

# The module is a segment of the webhook's path, which anything that reaches the Service chooses: past this many
# distinct modules the others are counted as "other", so that callers cannot grow the series without bound.
MODULE_LABELS = 64
OTHER_MODULE = "other"
_labelled_modules: set[str] = set()

ADMISSION_REVIEWS = Counter(
    "compass_watcher_admission_reviews",
    'AdmissionReviews answered (always allowed), by module (the first 64 seen, then "other") and outcome: '
    "queued (an event was spooled), unchanged, unsupported (CONNECT), invalid_subresource, dry_run, malformed, "
    "lost (the spool could not take the event).",
    ["module", "outcome"],
)
CERTIFICATE_NOT_AFTER = Gauge(
    "compass_watcher_certificate_not_after_seconds",
    "When a certificate of the webhook expires (Unix time): serving, ca (the one signing it), next_ca (published "
    "during a CA rotation, absent otherwise).",
    ["certificate"],
)


def record_certificate_expiry(*, serving: datetime, ca: datetime, next_ca: datetime | None) -> None:
    CERTIFICATE_NOT_AFTER.labels("serving").set(serving.timestamp())
    CERTIFICATE_NOT_AFTER.labels("ca").set(ca.timestamp())
    if next_ca is None:
        CERTIFICATE_NOT_AFTER.remove("next_ca")  # a no-op when there is none
    else:
        CERTIFICATE_NOT_AFTER.labels("next_ca").set(next_ca.timestamp())


def module_label(module: str) -> str:
    """``module`` while fewer than ``MODULE_LABELS`` modules were counted (and ever after for those), else "other"."""
    if module not in _labelled_modules and len(_labelled_modules) >= MODULE_LABELS:
        return OTHER_MODULE
    _labelled_modules.add(module)
    return module
