"""The steps of the demo, each printing what it did and what it proved.

1. Compass: `compass tenant create`, `compass serve`, `compass token`, and the operator's first GraphQL call.
2. A runtime: registered, its one-time token redeemed by `compass-agent run`; `compass-gateway serve` and
   `compass-events serve` over what the agent writes; a subscriber and its Subscription.
3. The shop: started, registered by the operator, connected by itself through the REST API of the tutorials,
   registering its API (with OAuth credentials) and its events.
4. The runtime uses it: a workload calls the API through the gateway, the subscriber receives the shop's event.
"""

from __future__ import annotations

import secrets
import ssl
import sys
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import yaml
from cryptography.x509.oid import NameOID

from demo import application as shop_client
from demo.checks import expect, wait_for
from demo.operator import (
    APPLICATION,
    APPLICATION_TOKEN,
    ASSIGN_FORMATION,
    CREATE_FORMATION,
    REGISTER_APPLICATION,
    REGISTER_RUNTIME,
    RUNTIME,
    RUNTIME_TOKEN,
    VIEWER,
    Operator,
)
from demo.processes import LOOPBACK, Processes, Started, command, free_port
from demo.report import Report, compact
from demo.subscriber import Subscriber, write_subscription

REPOSITORY = Path(__file__).resolve().parent.parent
TENANT = "demo"
FORMATION = "demo"
RUNTIME_NAME = "demo-runtime"
SHOP = "shop"
# How runtimes know the shop: the Director's normalized name ("mp-" + the name), in manifests, paths and events.
SHOP_IN_RUNTIME = "mp-shop"
SHOP_CLIENT_ID = "shop-orders-client"
EVENT_TYPE, EVENT_VERSION = "order.created", "v1"
# The ingress's type: <EVENTS_TYPE_PREFIX>.<application, letters and digits>.<type>.<version>.
DELIVERED_TYPE = f"sap.kyma.custom.{SHOP_IN_RUNTIME.replace('-', '')}.{EVENT_TYPE}.{EVENT_VERSION}"
EVENT_SERVICE_LABEL = "runtime_eventServiceUrl"
CONNECTION_RECORD = "compassconnection-compass-connection.yaml"
AGENT_SYNC_PERIOD = "0.5"
START_SECONDS = 60.0
SYNC_SECONDS = 30.0
DELIVERY_SECONDS = 30.0


def _url(scheme: str, port: int) -> str:
    return f"{scheme}://{LOOPBACK}:{port}"


def _short(token: str) -> str:
    return f"{token[:8]}…"


def _wait_ready(process: Started, url: str, verify: ssl.SSLContext | bool = True) -> None:
    """Until ``url`` answers 200; at once ``StepFailed`` with the log's end if the process exits meanwhile."""

    def up() -> bool | None:
        process.check_alive()
        try:
            return httpx.get(url, timeout=2, verify=verify).status_code == HTTPStatus.OK or None
        except httpx.HTTPError:
            return None

    wait_for(up, seconds=START_SECONDS, what=f"{process.name} to answer {url}", detail=process.tail)


@dataclass(frozen=True)
class Ports:
    """Every listener of the run, free loopback ports picked when the run starts."""

    compass_http: int
    compass_https: int
    gateway: int  # the standalone form, /<app>/<bundle>/<path>: unused, but the gateway listens on it
    gateway_compass: int
    gateway_api: int
    events: int
    events_api: int
    shop: int

    @classmethod
    def pick(cls) -> Ports:
        return cls(*(free_port() for _ in range(8)))


class Demo:
    """One run: the state under ``root``, the processes in ``processes``, the output in ``report``."""

    def __init__(self, root: Path, processes: Processes, report: Report) -> None:
        self.root = root
        self.processes = processes
        self.report = report
        self.ports = Ports.pick()
        self.compass_data_dir = root / "compass"
        self.agent_state_dir = root / "runtime" / "agent"
        self.manifest_dir = self.agent_state_dir / "manifests"
        self.events_data_dir = root / "runtime" / "events"
        self.shop_dir = root / "shop"
        self.gateway_url = _url("http", self.ports.gateway_compass)
        self.events_url = _url("https", self.ports.events)
        self.shop_url = _url("http", self.ports.shop)
        self.shop_secret = secrets.token_urlsafe(24)
        self.subscriber = Subscriber()

    def run(self) -> None:
        operator = self.compass()
        agent = self.runtime(operator)
        info, certificate = self.application(operator)
        self.use(agent, info, certificate)

    def close(self) -> None:
        self.subscriber.close()

    def _start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> Started:
        return self.processes.start(name, argv, env=env, cwd=cwd or self.root)

    # --- 1 ---------------------------------------------------------------------------------------------------

    def compass(self) -> Operator:
        self.report.step("Compass: the Director and the Connector on an embedded SQLite database")
        env = {
            "COMPASS_DATA_DIR": str(self.compass_data_dir),
            "COMPASS_HOST": LOOPBACK,
            "COMPASS_HTTP_PORT": str(self.ports.compass_http),
            "COMPASS_HTTPS_PORT": str(self.ports.compass_https),
        }
        compass = command("compass")
        tenant = self.processes.run("compass tenant create", [compass, "tenant", "create", TENANT], env=env, cwd=self.root)
        self.report.ran(f"compass tenant create {TENANT}", f"tenant {tenant} (and the SQLite database)")

        http_url, https_url = _url("http", self.ports.compass_http), _url("https", self.ports.compass_https)
        server = self._start("compass serve", [compass, "serve"], env)
        _wait_ready(server, f"{http_url}/readyz")
        # The mTLS listener's certificate comes from the CA the server made at its first start.
        verify = ssl.create_default_context(cafile=str(self.compass_data_dir / "tls" / "client-ca.pem"))
        _wait_ready(server, f"{https_url}/readyz", verify)
        self.report.ran("compass serve", f"{http_url} (tokens), {https_url} (client certificates)")

        jwt = self.processes.run("compass token", [compass, "token", "--tenant", TENANT], env=env, cwd=self.root)
        self.report.ran(f"compass token --tenant {TENANT}", f"an operator JWT {_short(jwt)} (every scope, 1 hour)")
        operator = Operator(f"{http_url}/director/graphql", jwt, tenant)
        self.report.did("{ viewer { id type } }", compact(operator.query(VIEWER)))
        self.report.proved("the Director serves the operator with the JWT `compass token` signed")
        return operator

    # --- 2 ---------------------------------------------------------------------------------------------------

    def runtime(self, operator: Operator) -> Started:
        self.report.step("A runtime: compass-agent, compass-gateway and compass-events, connected with a token")
        runtime_id = operator.query(REGISTER_RUNTIME, name=RUNTIME_NAME)["id"]
        operator.query(CREATE_FORMATION, name=FORMATION)
        operator.query(ASSIGN_FORMATION, id=runtime_id, type="RUNTIME", formation=FORMATION)
        self.report.did(f'registerRuntime "{RUNTIME_NAME}", formation "{FORMATION}"', f"runtime {runtime_id}")
        token = operator.query(RUNTIME_TOKEN, id=runtime_id)
        self.report.did("requestOneTimeTokenForRuntime", f"token {_short(token['token'])} for {token['connectorURL']}")

        agent = self._start(
            "compass-agent",
            [command("compass-agent"), "run"],
            {
                "CONNECTOR_URL": token["connectorURL"],
                "RUNTIME_ID": runtime_id,
                "TENANT": operator.tenant,
                "TOKEN": token["token"],
                "AGENT_STATE_DIR": str(self.agent_state_dir),
                "AGENT_SYNC_PERIOD": AGENT_SYNC_PERIOD,
                "AGENT_KEY_TYPE": "ec-p256",
                "AGENT_GATEWAY_URL": self.gateway_url,
                "AGENT_EVENT_GATEWAY_URL": self.events_url,
            },
        )
        self.report.ran("compass-agent run", f"syncs every {AGENT_SYNC_PERIOD} s into {self.manifest_dir}")
        state = wait_for(
            lambda: self._synchronized(agent), seconds=SYNC_SECONDS, what="compass-agent to sync", detail=agent.tail
        )
        labelled = wait_for(
            lambda: self._labelled(operator, runtime_id),
            seconds=SYNC_SECONDS,
            what=f"the runtime's label {EVENT_SERVICE_LABEL}",
            detail=agent.tail,
        )
        condition = labelled["status"]["condition"]
        self.report.proved(f"the agent redeemed the token and synced: connectionState {state}, runtime {condition}")
        self.report.proved(f"the agent labelled the runtime {EVENT_SERVICE_LABEL} = {self.events_url}")

        gateway = self._start(
            "compass-gateway",
            [command("compass-gateway"), "serve"],
            {
                "GATEWAY_MANIFEST_DIR": str(self.manifest_dir),
                "GATEWAY_PORT": str(self.ports.gateway),
                "GATEWAY_COMPASS_PORT": str(self.ports.gateway_compass),
                "GATEWAY_API_PORT": str(self.ports.gateway_api),
            },
        )
        _wait_ready(gateway, f"{_url('http', self.ports.gateway_api)}/readyz")
        self.report.ran("compass-gateway serve", f"{self.gateway_url} (reads the agent's manifests)")

        # Written before the ingress starts: a Subscription it lists at start covers every event it accepts.
        sink = self.subscriber.start()
        types = [f"{EVENT_TYPE}.{EVENT_VERSION}"]
        write_subscription(self.manifest_dir, name="shop-orders", sink=sink, source=SHOP_IN_RUNTIME, types=types)
        self.report.did(
            f"subscriber {sink}",
            f"Subscription default/shop-orders: source {SHOP_IN_RUNTIME}, types {', '.join(types)}",
        )
        events = self._start(
            "compass-events",
            [command("compass-events"), "serve"],
            {
                "EVENTS_MANIFEST_DIR": str(self.manifest_dir),
                "EVENTS_CA_FILE": str(self.agent_state_dir / "ca.crt"),
                "EVENTS_DATA_DIR": str(self.events_data_dir),
                "EVENTS_PORT": str(self.ports.events),
                "EVENTS_API_PORT": str(self.ports.events_api),
            },
        )
        _wait_ready(events, f"{_url('http', self.ports.events_api)}/readyz")
        self.report.ran("compass-events serve", f"{self.events_url} (trusts the CA the agent stored)")
        self.report.proved("the gateway and the event ingress are ready on what the agent wrote")
        return agent

    def _synchronized(self, agent: Started) -> str | None:
        """The agent's connectionState once it synced (its CompassConnection, beside its manifests) and stored
        the Connector's CA."""
        agent.check_alive()
        try:
            record = yaml.safe_load((self.manifest_dir / CONNECTION_RECORD).read_text(encoding="utf-8"))
            state = str(record["status"]["connectionState"])
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            return None
        return state if state == "Synchronized" and (self.agent_state_dir / "ca.crt").exists() else None

    def _labelled(self, operator: Operator, runtime_id: str) -> dict[str, Any] | None:
        runtime: dict[str, Any] = operator.query(RUNTIME, id=runtime_id)
        return runtime if runtime["labels"].get(EVENT_SERVICE_LABEL) == self.events_url else None

    # --- 3 ---------------------------------------------------------------------------------------------------

    def application(self, operator: Operator) -> tuple[shop_client.Info, shop_client.Certificate]:
        self.report.step("The shop connects through the REST API of the tutorials")
        shop = self._start(
            "shop",
            [sys.executable, "-m", "demo.shop"],
            {"SHOP_PORT": str(self.ports.shop), "SHOP_CLIENT_ID": SHOP_CLIENT_ID, "SHOP_CLIENT_SECRET": self.shop_secret},
            cwd=REPOSITORY,  # where ``demo`` is importable
        )
        _wait_ready(shop, f"{self.shop_url}/healthz")
        self.report.ran("python -m demo.shop", f"{self.shop_url}: POST /oauth/token, GET /api/orders (bearer token)")

        application_id = operator.query(REGISTER_APPLICATION, name=SHOP, provider="ACME")["id"]
        operator.query(ASSIGN_FORMATION, id=application_id, type="APPLICATION", formation=FORMATION)
        self.report.did(f'registerApplication "{SHOP}", formation "{FORMATION}"', f"application {application_id}")
        info_url = operator.query(APPLICATION_TOKEN, id=application_id)["legacyConnectorURL"]
        base, _, token = info_url.partition("?token=")
        self.report.did("requestOneTimeTokenForApplication", f"legacyConnectorURL {base}?token={_short(token)}")

        info = shop_client.Info.read(info_url)
        self.report.did("shop: GET legacyConnectorURL", f"csrUrl, metadataUrl, eventsUrl; subject {info.subject}")
        ingress = f"{self.events_url}/{SHOP_IN_RUNTIME}/v1/events"
        expect(info.events_url == ingress, f"eventsUrl is {info.events_url!r}, not the runtime's ingress {ingress!r}")
        self.report.proved(f"eventsUrl is the runtime's event ingress: {info.events_url}")

        key, csr = shop_client.key_and_csr(info.subject)
        self.shop_dir.mkdir(mode=0o700)
        certificate = shop_client.request_certificate(info.csr_url, key, csr, self.shop_dir)
        issued = certificate.client
        common_name = issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        self.report.did(
            "shop: POST csrUrl (key made here, RSA 2048)",
            f"201: certificate CN={common_name!s}, valid until {issued.not_valid_after_utc:%Y-%m-%d}",
        )
        identity = shop_client.management_info(info.management_info_url, certificate)["clientIdentity"]
        self.report.did("shop: GET management/info over mTLS", f"clientIdentity {compact(identity)}")
        expect(identity.get("application") == SHOP_IN_RUNTIME, f"management/info names {identity}, not {SHOP_IN_RUNTIME}")
        self.report.proved("the Connector's certificate identifies the shop on the mTLS listener")

        details = shop_client.service_details(shop_url=self.shop_url, client_id=SHOP_CLIENT_ID, client_secret=self.shop_secret)
        service_id = shop_client.register_service(info.metadata_url, certificate, details)
        self.report.did("shop: POST metadataUrl over mTLS", f'service "{details["name"]}" (API, OAuth, events, docs): id {service_id}')
        self._check_bundle(operator, application_id, service_id, details["name"])
        return info, certificate

    def _check_bundle(self, operator: Operator, application_id: str, service_id: str, name: str) -> None:
        """The registered service is a bundle of the application: its API with the shop's URL, one event
        definition, the documentation."""
        registered = operator.query(APPLICATION, id=application_id)
        bundles = [bundle for bundle in registered["bundles"]["data"] if bundle["id"] == service_id]
        expect(len(bundles) == 1, f"the Director has no bundle {service_id}: {compact(registered)}")
        [bundle] = bundles
        apis = [(api["name"], api["targetURL"]) for api in bundle["apiDefinitions"]["data"]]
        events = [event["name"] for event in bundle["eventDefinitions"]["data"]]
        documents = len(bundle["documents"]["data"])
        expect(apis == [(name, f"{self.shop_url}/api")], f"the bundle's APIs are {apis}")
        expect(len(events) == 1 and documents == 1, f"the bundle has event definitions {events}, {documents} documents")
        self.report.proved(
            f'the Director holds the service as bundle "{bundle["name"]}": API {name} -> {apis[0][1]}, '
            f"event definition {events[0]}, 1 document"
        )

    # --- 4 ---------------------------------------------------------------------------------------------------

    def use(self, agent: Started, info: shop_client.Info, certificate: shop_client.Certificate) -> None:
        self.report.step("The runtime uses the shop: its API through the gateway, its event at a subscriber")
        url, credentials = wait_for(
            lambda: self._api_entry(agent),
            seconds=SYNC_SECONDS,
            what=f"compass-agent to write the shop's API into application-{SHOP_IN_RUNTIME}.yaml",
            detail=agent.tail,
        )
        self.report.did("compass-agent synced", f"centralGatewayUrl {url}, credentials {credentials}")
        answer = httpx.get(f"{url}/orders/1001", timeout=30)
        self.report.did(f"workload: GET {url}/orders/1001", f"{answer.status_code} {answer.text}")
        expect(answer.status_code == HTTPStatus.OK, f"the gateway answered {answer.status_code}: {answer.text[:300]}")
        served_to = answer.json().get("servedTo")
        expect(served_to == SHOP_CLIENT_ID, f"the shop served {served_to!r}, not {SHOP_CLIENT_ID}")
        self.report.proved(
            f"the workload sent no credentials: the gateway got a token for {SHOP_CLIENT_ID} at the shop's "
            "/oauth/token (client credentials), and the API answered it"
        )

        event = shop_client.legacy_event(EVENT_TYPE, EVENT_VERSION, {"orderId": "1003"})
        ingress_ca = self.events_data_dir / "tls" / "serving-ca.crt"
        accepted = shop_client.send_event(info.events_url, certificate, ingress_ca, event)
        self.report.did(f"shop: POST eventsUrl ({EVENT_TYPE} {EVENT_VERSION})", f"200 {compact(accepted)}")
        event_id = event["event-id"]
        expect(accepted.get("event-id") == event_id, f"the ingress answered {compact(accepted)}")
        received = wait_for(
            lambda: self.subscriber.event(event_id),
            seconds=DELIVERY_SECONDS,
            what=f"the subscriber to receive event {event_id}",
        )
        received_type = received.attributes.get("type")
        self.report.did(
            "subscriber: POST /orders (CloudEvent)",
            f"ce-type {received_type}, ce-source {received.attributes.get('source')}, data {received.body.decode()}",
        )
        expect(received_type == DELIVERED_TYPE, f"the subscriber received type {received_type}, not {DELIVERED_TYPE}")
        self.report.proved("the shop's event reached the subscriber through the runtime's event ingress")

    def _api_entry(self, agent: Started) -> tuple[str, str] | None:
        """The shop's API entry (its centralGatewayUrl and credentials) once the agent wrote it and the Secret
        it names."""
        agent.check_alive()
        try:
            manifest = yaml.safe_load((self.manifest_dir / f"application-{SHOP_IN_RUNTIME}.yaml").read_text("utf-8"))
        except (OSError, yaml.YAMLError):
            return None
        for service in manifest["spec"]["services"]:
            for entry in service["entries"]:
                credentials = entry.get("credentials") or {}
                secret = self.manifest_dir / f"secret-{credentials.get('secretName')}.yaml"
                if entry["type"] == "API" and credentials.get("type") == "OAuth" and secret.exists():
                    return str(entry["centralGatewayUrl"]), f"OAuth ({credentials['authenticationUrl']})"
        return None
