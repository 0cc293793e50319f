"""Forged X-Forwarded-Client-Cert behind a trusted proxy that appends (Envoy's APPEND_FORWARD).

The attacker holds a valid certificate of its own and knows the victim's (certificates are not secret). It
sends its own X-Forwarded-Client-Cert naming the victim; the proxy appends ``,<the attacker's element>``.
Whatever the attacker writes, the server answers as the attacker or refuses: never as the victim. The server
is the security suite's, trusting 127.0.0.1 as the proxy; the harness's plain client connects from there.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.connector.support import (
    CONFIGURATION,
    CONNECTOR,
    DIRECTOR,
    JSON_HEADERS,
    Answer,
    Connected,
    Harness,
    csr_b64,
    ec_key,
    sign_document,
)
from tests.security import envoy_xfcc

VIEWER = "query { result: viewer { id type } }"
APPLICATIONS_FOR_RUNTIME = 'query { result: applicationsForRuntime(runtimeID: "%s") { data { id name } } }'
XFCC = "X-Forwarded-Client-Cert"


@dataclass(frozen=True)
class Forgery:
    """How the attacker's header and the proxy's element reach the server: as header lines, in order."""

    name: str

    def lines(self, victim: Connected, attacker: Connected) -> list[str]:
        claimed = f'Cert="{envoy_xfcc.url_encoded_pem(victim.credentials.certificate)}"'
        appended = envoy_xfcc.element(envoy_xfcc.certificate_pairs(attacker.credentials.certificate))
        if self.name == "open quote":
            # The client's unterminated quote would swallow the proxy's ``,Hash=…;Cert="`` to its first quote.
            return [f'{claimed};x=",{appended}']
        return [claimed, appended]  # two header lines, the client's first


FORGERIES = [Forgery("open quote"), Forgery("two header lines")]


@pytest.fixture(params=FORGERIES, ids=[forgery.name for forgery in FORGERIES])
def forgery(request: pytest.FixtureRequest) -> Forgery:
    return request.param


@dataclass(frozen=True)
class Scene:
    victim: Connected
    attacker: Connected
    application_id: str


@pytest.fixture
async def scene(server: Harness) -> Scene:
    """A victim runtime that sees an application, and an attacker runtime of another tenant."""
    victims = await server.operator()
    application_id = await server.register_application(victims, scenarios=["DEFAULT"])
    victim = await server.connect_runtime(victims, scenarios=["DEFAULT"])
    attacker = await server.connect_runtime(await server.operator())
    return Scene(victim, attacker, application_id)


async def forged(server: Harness, path: str, document: str, lines: list[str]) -> Answer:
    headers = [*JSON_HEADERS.items(), *((XFCC, line) for line in lines)]
    response = await server.http.post(path, json={"query": document, "variables": None}, headers=headers)
    return Answer(response.status_code, response.json())


async def test_forged_xfcc_does_not_make_viewer_answer_as_the_victim(
    server: Harness, scene: Scene, forgery: Forgery
) -> None:
    # when
    answer = await forged(server, DIRECTOR, VIEWER, forgery.lines(scene.victim, scene.attacker))

    # then
    assert answer.codes == ["UNAUTHENTICATED"]
    assert scene.victim.object_id not in str(answer.body)


async def test_forged_xfcc_does_not_read_the_victims_applications(
    server: Harness, scene: Scene, forgery: Forgery
) -> None:
    # given: the victim itself sees the application
    document = APPLICATIONS_FOR_RUNTIME % scene.victim.object_id
    own = await server.director(server.mtls(scene.victim.credentials), document)
    assert [item["id"] for item in own.result["data"]] == [scene.application_id]

    # when
    answer = await forged(server, DIRECTOR, document, forgery.lines(scene.victim, scene.attacker))

    # then
    assert answer.codes == ["UNAUTHENTICATED"]
    assert answer.body.get("data") is None


async def test_forged_xfcc_does_not_get_the_victims_identity_signed_for_the_attackers_key(
    server: Harness, scene: Scene, forgery: Forgery
) -> None:
    # given
    lines = forgery.lines(scene.victim, scene.attacker)

    # when: the renewal calls, with a CSR of the attacker's key for the victim's subject
    configuration = await forged(server, CONNECTOR, CONFIGURATION, lines)
    signed = await forged(server, CONNECTOR, sign_document(csr_b64(ec_key(), scene.victim.subject)), lines)

    # then
    assert configuration.codes == signed.codes == ["UNAUTHENTICATED"]
    assert scene.victim.subject not in str(configuration.body)
    assert await server.audit("certificate_renewed", client_id=scene.victim.client_id) == []


async def test_envoy_chain_with_an_escaped_quote_in_a_clients_subject_counts_the_proxys_element(
    server: Harness, scene: Scene
) -> None:
    # given: a well-formed element before the proxy's, whose quoted Subject holds \" , ; and =
    before = envoy_xfcc.element(
        [("Hash", "00"), ("Cert", envoy_xfcc.url_encoded_pem(scene.victim.credentials.certificate)),
         ("Subject", 'CN=a\\"b,O=c;d=e')]
    )  # fmt: skip
    pairs = envoy_xfcc.certificate_pairs(scene.attacker.credentials.certificate, subject=True)
    appended = envoy_xfcc.element(pairs)

    # when
    answer = await forged(server, DIRECTOR, VIEWER, [f"{before},{appended}"])

    # then
    assert answer.result == {"id": scene.attacker.object_id, "type": "RUNTIME"}


@pytest.mark.parametrize(
    ("name", "tail"),
    [
        ("repeated Cert", ';Cert="{victim}"'),
        ("repeated Hash", ";Hash=00"),
        ("text after a closing quote", '"x'),
        ("quote inside a bare value", ';URI=spiffe://a"b'),
        ("empty element", ","),
        ("empty pair", ";"),
        ("key without a value", ";Subject"),
    ],
)
async def test_malformed_or_ambiguous_proxy_element_is_refused(
    server: Harness, scene: Scene, name: str, tail: str
) -> None:
    # given: the proxy's element, made malformed or ambiguous at its end
    appended = envoy_xfcc.element(envoy_xfcc.certificate_pairs(scene.attacker.credentials.certificate))
    header = appended + tail.format(victim=envoy_xfcc.url_encoded_pem(scene.victim.credentials.certificate))

    # when
    answer = await forged(server, DIRECTOR, VIEWER, [header])

    # then
    assert answer.codes == ["UNAUTHENTICATED"], name


async def test_repeated_san_keys_in_the_proxys_element_are_accepted(server: Harness, scene: Scene) -> None:
    # given: Envoy writes one URI= (and DNS=, By=) pair per subject alternative name
    pairs = envoy_xfcc.certificate_pairs(scene.attacker.credentials.certificate)
    pairs += [("URI", "spiffe://a"), ("URI", "spiffe://b"), ("DNS", "a.example"), ("DNS", "b.example")]

    # when
    answer = await forged(server, DIRECTOR, VIEWER, [envoy_xfcc.element(pairs)])

    # then
    assert answer.result == {"id": scene.attacker.object_id, "type": "RUNTIME"}
