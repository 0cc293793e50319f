"""Where the control plane serves its APIs: kept apart from the app so that the CLI names them without importing it."""

DIRECTOR_PATH = "/director/graphql"
CHANGES_PATH = "/director/changes"
CONNECTOR_PATH = "/connector/graphql"
