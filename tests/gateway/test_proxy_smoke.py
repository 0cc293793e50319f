"""The shortest path through the gateway: a Basic-protected API called on both listeners."""

from __future__ import annotations

import httpx

from testing.applications import api_entry, application, secret, service
from testing.gateway import ServedGateway
from testing.upstream import UpstreamStandIn


def test_a_call_on_the_compass_listener_reaches_the_target_with_basic_credentials(
    gateway: ServedGateway, upstream_stand_in: UpstreamStandIn
) -> None:
    user, password = next(iter(upstream_stand_in.users.items()))
    gateway.manifests.put(
        application(
            "smoke",
            service(
                "Orders API",
                api_entry(
                    "Orders V1",
                    upstream_stand_in.http_url + "/basic/api",
                    credentials={"type": "Basic", "secretName": "smoke-basic"},
                ),
            ),
        ),
        secret("smoke-basic", username=user, password=password),
    )
    answer = httpx.post(f"{gateway.compass_url}/smoke/orders-api/orders-v1/items/1?x=1", content=b"hello")
    assert answer.status_code == 200
    assert answer.json()["path"] == "/basic/api/items/1"
    assert answer.json()["body"] == "hello"
