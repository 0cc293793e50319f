"""The labels eventing reads and writes (Compass's ``eventing`` domain): their keys, and which of them change what
runtimes other than their own see."""

from __future__ import annotations

from director.normalization import IS_NORMALIZED_LABEL

# Set by the runtime's agent: where the runtime's event ingress listens.
RUNTIME_EVENTING_URL_LABEL = "runtime_eventServiceUrl"
DEFAULT_EVENTING_SUFFIX = "_defaultEventing"


def default_eventing_label(application_id: str) -> str:
    """The runtime label that makes that runtime the application's default for eventing."""
    return application_id + DEFAULT_EVENTING_SUFFIX


def feeds_other_views(key: str) -> bool:
    """A runtime label an application's ``eventingConfiguration`` is computed from: every runtime sharing a
    formation with the application may show that field, so changing the label is a change of the tenant's views."""
    return key in {RUNTIME_EVENTING_URL_LABEL, IS_NORMALIZED_LABEL} or key.endswith(DEFAULT_EVENTING_SUFFIX)
