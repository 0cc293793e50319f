"""The operator: GraphQL calls to the Director with the JWT and tenant `compass token` gave, over plain HTTP as
in the README's GraphQL session."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from demo.checks import StepFailed

VIEWER = "{ result: viewer { id type } }"
REGISTER_RUNTIME = "mutation ($name: String!) { result: registerRuntime(in: {name: $name}) { id name } }"
CREATE_FORMATION = "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { name } }"
ASSIGN_FORMATION = """
mutation ($id: ID!, $type: FormationObjectType!, $formation: String!) {
  result: assignFormation(objectID: $id, objectType: $type, formation: {name: $formation}) { name }
}"""
RUNTIME_TOKEN = "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { token connectorURL } }"
RUNTIME = "query ($id: ID!) { result: runtime(id: $id) { labels status { condition } } }"
REGISTER_APPLICATION = """
mutation ($name: String!, $provider: String!) {
  result: registerApplication(in: {name: $name, providerName: $provider}) { id name }
}"""
APPLICATION_TOKEN = (
    "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { legacyConnectorURL } }"
)
APPLICATION = """
query ($id: ID!) {
  result: application(id: $id) {
    name
    eventingConfiguration { defaultURL }
    bundles { data { id name
      apiDefinitions { data { name targetURL } }
      eventDefinitions { data { name } }
      documents { data { title } } } }
  }
}"""


@dataclass
class Operator:
    """A client of ``director_url`` as the operator of one tenant."""

    director_url: str
    token: str
    tenant: str

    def query(self, document: str, **variables: Any) -> Any:
        """The ``result`` of ``document``; ``StepFailed`` with the Director's errors when there are any."""
        headers = {"Authorization": f"Bearer {self.token}", "Tenant": self.tenant}
        try:
            answer = httpx.post(
                self.director_url, json={"query": document, "variables": variables}, headers=headers, timeout=30
            )
        except httpx.HTTPError as error:
            raise StepFailed(f"the Director at {self.director_url} could not be reached: {error}") from error
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        if answer.status_code != HTTPStatus.OK or body.get("errors"):
            raise StepFailed(f"the Director answered {answer.status_code}: {body.get('errors') or answer.text}")
        return body["data"]["result"]
