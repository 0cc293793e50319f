"""Compass's scheduled operations (ORD aggregation, system fetching): pycompass runs none (director.operation)."""

from __future__ import annotations

from enum import Enum

import strawberry

from director.graphql.scalars import Timestamp


@strawberry.enum(description="What a scheduled operation does.")
class ScheduledOperationType(Enum):
    ORD_AGGREGATION = "ORD_AGGREGATION"
    SYSTEM_FETCHING = "SYSTEM_FETCHING"


@strawberry.enum(description="Where a scheduled operation stands.")
class OperationStatus(Enum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@strawberry.enum(description="How bad a scheduled operation's error is.")
class OperationErrorSeverity(Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    NONE = "NONE"


@strawberry.enum(description="What an asynchronous lifecycle operation does (Compass's @async directive).")
class OperationType(Enum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


@strawberry.type(description="A scheduled operation (none exist here: pycompass runs no ORD aggregation or system fetching).")
class Operation:
    id: strawberry.ID
    operation_type: ScheduledOperationType
    status: OperationStatus
    error: str | None
    error_severity: OperationErrorSeverity
    created_at: Timestamp | None
    updated_at: Timestamp | None
