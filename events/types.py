"""Event types as Kyma's publisher names them (DATAPLANE.md C.1, C.2), and the time format both ingress formats
accept.

A type is ``<prefix>.<application>.<event type>``: the application segment is the Application's
``application-type`` label, else its name, without anything but ASCII letters and digits (Kyma's ``\\W|_``);
the event type (legacy: ``<event-type>.<event-type-version>``) loses whitespace, ``>`` and ``*`` (Kyma's
JetStream cleaner: they cannot be part of a NATS subject). A CloudEvent whose type already starts with the
prefix is only cleaned, and its application segment must be this application's: an application may not publish
under another's name (Kyma lets it). Whatever comes out must not have an empty segment.
"""

from __future__ import annotations

import re
from datetime import datetime

from dataplane.catalog.model import Application

TYPE_LABEL = "application-type"

_NOT_IN_APPLICATION_SEGMENT = re.compile(r"\W|_", re.ASCII)
_NOT_IN_TYPE = re.compile(r"[\s>*]", re.ASCII)
# Go's time.RFC3339 as it parses: fractional seconds allowed, an offset or Z required, upper-case T and Z.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", re.ASCII)
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")  # what datetime.fromisoformat reads of a fraction


class EventTypeError(ValueError):
    """The type has an empty segment once cleaned: the message is the one the caller gets."""


class ForeignApplicationType(ValueError):
    """A prefixed type names another application than the sender's."""


def clean_application(name: str) -> str:
    """The application segment of a type: ASCII letters and digits only (Kyma's ``\\W|_``)."""
    return _NOT_IN_APPLICATION_SEGMENT.sub("", name)


def clean_type(event_type: str) -> str:
    """What a type may not carry (a NATS subject's whitespace, ``>`` and ``*``) removed."""
    return _NOT_IN_TYPE.sub("", event_type)


def application_segment(application: Application) -> str:
    return clean_application(application.labels.get(TYPE_LABEL) or application.name)


def legacy_type(prefix: str, application: Application, event_type: str, version: str) -> str:
    return _checked(f"{prefix}.{application_segment(application)}.{clean_type(f'{event_type}.{version}')}")


def cloud_type(prefix: str, application: Application, event_type: str) -> str:
    if event_type.startswith(prefix + "."):
        cleaned = _checked(clean_type(event_type))
        named = cleaned[len(prefix) + 1 :].partition(".")[0]
        if named != application_segment(application):
            raise ForeignApplicationType(
                f"the event type '{event_type}' names the application '{named}', not '{application.name}'"
            )
        return cleaned
    return _checked(f"{prefix}.{application_segment(application)}.{clean_type(event_type)}")


def is_rfc3339(value: str) -> bool:
    if _RFC3339.fullmatch(value) is None:
        return False
    try:
        # Only the ranges are left to check (month 13, hour 24, February 30); Python reads at most 6 digits of
        # a fraction, which are irrelevant to the ranges.
        datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", value))
    except ValueError:
        return False
    return True


def _checked(event_type: str) -> str:
    if "" in event_type.split("."):
        raise EventTypeError(f"event type cannot have empty segments after cleaning: {event_type}")
    return event_type
