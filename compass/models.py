"""Every table of pycompass in one metadata, for alembic and the migration tests."""

from __future__ import annotations

import credentials.models  # noqa: F401 - registers the Connector's tables on the shared Base
import director.watcher.models  # noqa: F401 - registers the Runtime Watcher's tables
from director.models import Base

metadata = Base.metadata
