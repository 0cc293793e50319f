"""The GraphQL documents the agent sends to the Director (tested against director/schema.graphql).

The sync document asks for what ``agent.resources`` turns into manifests and nothing more (no specs: the
``Application`` resource does not carry them), beside the runtime's own labels. Values travel as variables so
that the document is one constant: the Director's ETag is computed per (runtime, document, variables,
revision).
"""

from __future__ import annotations

from dataplane.names import PROXY_TIMEOUT_ANNOTATION

_PAGE_INFO = "pageInfo { startCursor endCursor hasNextPage } totalCount"
# The application's label of this key only, under an alias (a label key may hold "/" and ".").
PROXY_TIMEOUT_ALIAS = "proxyTimeout"
_PROXY_TIMEOUT = f'{PROXY_TIMEOUT_ALIAS}: labels(key: "{PROXY_TIMEOUT_ANNOTATION}")'

APPLICATIONS_FOR_RUNTIME = f"""
query ($runtimeID: ID!, $first: Int, $after: PageCursor) {{
  runtime(id: $runtimeID) {{ labels }}
  result: applicationsForRuntime(runtimeID: $runtimeID, first: $first, after: $after) {{
    data {{
      id name description {_PROXY_TIMEOUT}
      auths {{ id }}
      bundles {{
        data {{
          id name description instanceAuthRequestInputSchema
          apiDefinitions {{ data {{ id name description targetURL }} {_PAGE_INFO} }}
          eventDefinitions {{ data {{ id name description }} {_PAGE_INFO} }}
          defaultInstanceAuth {{
            credential {{
              ... on BasicCredentialData {{ username password }}
              ... on OAuthCredentialData {{ clientId clientSecret url }}
              ... on CertificateOAuthCredentialData {{ clientId certificate url }}
            }}
            additionalHeaders
            additionalQueryParams
            requestAuth {{ csrf {{ tokenEndpointURL }} }}
          }}
        }}
        {_PAGE_INFO}
      }}
    }}
    {_PAGE_INFO}
  }}
}}
"""

RUNTIME_LABELS = """
query ($runtimeID: ID!) {
  result: runtime(id: $runtimeID) { labels }
}
"""

SET_RUNTIME_LABEL = """
mutation ($runtimeID: ID!, $key: String!, $value: Any!) {
  result: setRuntimeLabel(runtimeID: $runtimeID, key: $key, value: $value) { key value }
}
"""

RUNTIME_STATUS = """
query ($runtimeID: ID!) {
  result: runtime(id: $runtimeID) { name description status { condition } }
}
"""

MARK_CONNECTED = """
mutation ($runtimeID: ID!, $name: String!, $description: String) {
  result: updateRuntime(id: $runtimeID, in: {name: $name, description: $description, statusCondition: CONNECTED}) {
    status { condition }
  }
}
"""

# The watchers whose webhooks the agent registers (part of the Runtime Watcher; Compass's Director has no such field).
WATCHERS = """
query {
  result: watchers { id name module resourceToWatch { group version resource } labelsToWatch field }
}
"""

# A one-time token of an application in the runtime's formations, for a TokenRequest (agent.tokenrequests); the
# Director's own operation for runtimes (Compass has none: Kyma 1.x asked its runtime's Connector Service).
REQUEST_APPLICATION_TOKEN = """
mutation ($applicationID: ID!) {
  result: requestOneTimeTokenForApplicationFromRuntime(id: $applicationID) {
    token connectorURL legacyConnectorURL expiresAt
  }
}
"""

ALL_DOCUMENTS: dict[str, str] = {
    "APPLICATIONS_FOR_RUNTIME": APPLICATIONS_FOR_RUNTIME,
    "RUNTIME_LABELS": RUNTIME_LABELS,
    "SET_RUNTIME_LABEL": SET_RUNTIME_LABEL,
    "RUNTIME_STATUS": RUNTIME_STATUS,
    "MARK_CONNECTED": MARK_CONNECTED,
    "WATCHERS": WATCHERS,
    "REQUEST_APPLICATION_TOKEN": REQUEST_APPLICATION_TOKEN,
}
