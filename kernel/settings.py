"""The one typed settings class of a pycompass server process.

Only this module reads the environment: everything else receives a ``Settings`` instance.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Server settings, read from ``COMPASS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="COMPASS_", case_sensitive=False, extra="ignore")

    data_dir: Path = Field(Path(".compass"), description="Database, keys and certificates live here.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite in the data directory."
    )
    host: str = Field("127.0.0.1", description="Address the server listens on.")
    http_port: int = Field(3000, description="Port of the plain HTTP listener.")
    https_port: int = Field(3443, description="Port of the mTLS listener (Connector issue).")
    public_url: str | None = Field(None, description="Base URL handed to clients; default http://HOST:PORT.")

    jwt_issuer: str = Field("pycompass", description="Issuer of the JWTs that `compass token` signs.")
    oidc_issuer: str | None = Field(None, description="Issuer of external OIDC JWTs that are accepted too.")
    oidc_jwks_url: str | None = Field(None, description="JWKS URL of the external OIDC issuer.")
    oidc_audience: str | None = Field(None, description="Audience external JWTs must carry, if set.")
    oidc_tenant_claim: str = Field("tenant", description="Claim of external JWTs naming the tenant id.")
    oidc_scopes_claim: str = Field("scopes", description="Claim of external JWTs listing the scopes.")

    runtime_token_ttl_seconds: int = Field(3600, description="Lifetime of one-time tokens for runtimes.")
    application_token_ttl_seconds: int = Field(300, description="Lifetime of one-time tokens for applications.")
    oauth_token_ttl_seconds: int = Field(
        3600, gt=0, le=86_400,
        description="Lifetime of the JWTs the OAuth token endpoint issues for client credentials (Hydra's default).",
    )

    ca_cert_file: Path | None = Field(None, description="Operator-supplied CA (or intermediate) certificate.")
    ca_key_file: Path | None = Field(None, description="Key of the operator-supplied CA.")
    ca_chain_file: Path | None = Field(None, description="Certificates above an intermediate CA, issuer last.")
    tls_cert_file: Path | None = Field(None, description="Operator-supplied server certificate for HTTPS.")
    tls_key_file: Path | None = Field(None, description="Key of the operator-supplied server certificate.")
    tls_hostnames: list[str] = Field(
        ["localhost", "127.0.0.1"], description="Names the generated HTTPS server certificate carries."
    )
    public_mtls_url: str | None = Field(None, description="Base URL of the mTLS listener; default https://HOST:HTTPS_PORT.")
    certificate_validity_days: int = Field(90, description="Validity of client certificates.")
    signing_token_ttl_seconds: int = Field(300, description="Lifetime of the token `configuration` returns.")
    subject_organization: str = Field("Org", description="O of client certificates.")
    subject_organizational_unit: str = Field("OrgUnit", description="OU of client certificates.")
    subject_locality: str = Field("Locality", description="L of client certificates.")
    subject_province: str = Field("State", description="ST of client certificates.")
    subject_country: str = Field("PL", description="C of client certificates.")
    revoked_certificates: str = Field(
        "refuse", description="refuse: revoked certificates authenticate nothing; renewal-only: only renewal is refused."
    )
    trusted_proxies: list[str] = Field(
        [], description="Addresses allowed to pass the client certificate in X-Forwarded-Client-Cert."
    )
    external_client_ca_file: Path | None = Field(
        None,
        description="PEM bundle of CAs whose client certificates the Director also admits, as the certificate "
        "subject mappings say (Compass's externally issued certificates); pycompass's own CA is trusted anyway.",
    )
    max_certificates_per_client: int = Field(5, description="Unexpired certificates one client id may get per window.")
    certificate_issue_window_seconds: int = Field(86_400, description="The window of max_certificates_per_client.")
    redemptions_per_second: int = Field(5, description="Token-authenticated Connector calls per second and client address.")
    certificate_calls_per_minute: int = Field(
        30, ge=1, description="Certificate-authenticated Connector calls per minute and client id (per process)."
    )
    max_csr_bytes: int = Field(16_384, description="Larger CSRs are refused.")

    poll_cache_entries: int = Field(4096, description="Serialized runtime answers kept in memory.")
    poll_cache_bytes: int = Field(268_435_456, description="Memory the kept runtime answers may take.")
    shared_view_entries: int = Field(
        256, description="applicationsForRuntime results kept for every runtime in the same formations (0: none)."
    )
    last_seen_flush_seconds: float = Field(5.0, description="How often runtimes' last poll times are written.")
    kept_identities: int = Field(
        50_000, ge=0, description="Client certificates whose client (runtime, application, tenant, revocation) is "
        "kept in memory, so that a poll reads none of it from the database (0: none)."
    )
    kept_revisions: int = Field(
        50_000, ge=0, description="Runtimes whose view revisions are kept in memory (0: none)."
    )
    max_change_streams: int = Field(
        0, ge=0, description="Runtimes' change streams (push) one process holds at most; past it a runtime is "
        "refused (503 TOO_MANY_CHANGE_STREAMS) and polls. 0: half of COMPASS_MAX_CONNECTIONS, so that polls always "
        "find connections."
    )
    change_stream_heartbeat_seconds: float = Field(
        20.0, gt=0, description="How often a runtime's change stream (push) sends a heartbeat comment."
    )
    kept_revalidate_seconds: float = Field(
        5.0, gt=0, description="How often what is kept in memory is read again from the database, and the "
        "PostgreSQL listener that keeps it current pinged: the bound on staleness if a change notification is lost."
    )
    agent_sync_period_seconds: int = Field(
        15, description="The agents' sync period: a runtime silent for five periods is shown as SILENT."
    )

    maintenance_interval_seconds: float = Field(
        60.0, description="How often expired certificates, old tokens and old audit events are pruned, and the "
        "expiring-soon gauge refreshed."
    )
    token_retention_days: int = Field(
        7, ge=0, description="Spent or expired one-time tokens are deleted this many days later (0: kept forever)."
    )
    audit_retention_days: int = Field(
        90, ge=0, description="Audit events are deleted when older than this many days (0: kept forever)."
    )

    max_watchers: int = Field(
        100, ge=1, description="Watchers per tenant, and global ones: each is a webhook in every runtime's "
        "ValidatingWebhookConfiguration, which etcd refuses past 1.5 MiB (a few KiB per webhook with its caBundle)."
    )
    watch_events_kept: int = Field(
        1000, ge=1, description="Watch events kept per runtime (the Runtime Watcher's): older ones are deleted when "
        "a new one is stored."
    )

    max_body_bytes: int = Field(1_048_576, description="Larger request bodies are refused with 413.")
    request_header_timeout_seconds: float = Field(
        20.0,
        description="A request line and its headers must arrive within this time of the connection or of the "
        "request's first byte; otherwise the connection is closed (408 if part of a request came).",
    )
    request_body_timeout_seconds: float = Field(
        60.0, description="A request body must arrive whole within this time of its headers; otherwise the connection is closed."
    )
    keep_alive_timeout_seconds: float = Field(
        100.0,
        description="An idle connection between requests is closed after this time. Longer than an agent's "
        "period, so that a polling agent keeps its connection (no TLS handshake per poll), and than Go's idle "
        "timeout (90 s), so that the agent, not the server, closes an idle one: never as a request is sent.",
    )
    max_connections: int = Field(
        1000,
        gt=0,
        description="Open connections per listener and process; one more closes the longest-idle connection (or, "
        "when all are busy, the new one). Lowered to what the open-file limit (ulimit -n) leaves room for.",
    )
    metrics_max_operation_names: int = Field(
        100, ge=0, description="Distinct GraphQL operation names labelled per API and process; later ones count as 'other'."
    )
    max_query_depth: int = Field(12, description="Deeper GraphQL documents are refused.")
    max_query_tokens: int = Field(5000, description="GraphQL documents with more tokens are refused.")
    max_query_aliases: int = Field(30, description="GraphQL documents with more aliases are refused.")
    max_label_value_bytes: int = Field(
        131_072, gt=0, description="Label values longer than this as compact UTF-8 JSON are refused with INVALID_INPUT."
    )
    graphql_document_cache_entries: int = Field(
        256, ge=0, description="Distinct GraphQL documents kept parsed and validated, per API and process."
    )
    graphql_document_cache_bytes: int = Field(
        33_554_432,
        ge=0,
        description="Memory the kept GraphQL documents may take, per API and process (estimated: twice the text "
        "plus 600 bytes a token).",
    )

    spec_fetch_allowed_networks: list[str] = Field(
        [],
        description="Networks (CIDR) specs may be fetched from although they are loopback, private, link-local or "
        "otherwise not global, e.g. 10.0.0.0/8 for an internal registry; every other such address is refused.",
    )
    spec_fetch_timeout_seconds: float = Field(
        10.0, gt=0, description="A spec fetch (every redirect and an OAuth token included) must end within this time."
    )
    spec_fetch_max_bytes: int = Field(5_242_880, gt=0, description="Larger fetched specs are refused (FAILED).")
    spec_fetch_max_redirects: int = Field(5, ge=0, description="Redirects a spec fetch follows, each checked anew.")
    notification_sweep_seconds: float = Field(
        10.0,
        gt=0,
        description="How often the formation notifier looks for notifications owed (besides right after each "
        "write that owes some): what another server process recorded, or a claim whose holder died.",
    )
    notification_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a notifier holds a formation notification it claimed; past it, another may send it "
        "again. A webhook's timeout is capped to it.",
    )
    self_register_distinguish_label_key: str = Field(
        "",
        description="Compass's APP_SELF_REGISTER_DISTINGUISH_LABEL_KEY: applications of a template carrying this "
        "label are not merged (mergeApplications); empty: no template is refused for a label.",
    )
    subscription_provider_label_key: str = Field(
        "subscriptionProviderId",
        description="Compass's APP_SUBSCRIPTION_PROVIDER_LABEL_KEY: the label (with `region`) of the runtime or "
        "application template a subscribeTenant reaches.",
    )
    subscription_global_subaccount_id_label_key: str = Field(
        "global_subaccount_id",
        description="Compass's APP_GLOBAL_SUBACCOUNT_ID_LABEL_KEY: the label naming the consumer subaccount on what a "
        "subscription makes (runtime context, application).",
    )
    subscription_label_key: str = Field(
        "subscription",
        description="Compass's APP_SUBSCRIPTION_LABEL_KEY: the key of the runtime context a subscription to a "
        "runtime makes.",
    )
    subscription_runtime_type_label_key: str = Field(
        "runtimeType",
        description="Compass's APP_RUNTIME_TYPE_LABEL_KEY: the runtime label a subscription sets to the subscribed "
        "application's name.",
    )

    auto_migrate: bool = Field(
        True, description="Migrate the embedded SQLite database on start (never a PostgreSQL one)."
    )
    transaction_attempts: int = Field(
        5,
        ge=1,
        description="Times a Director mutation is run when PostgreSQL aborts its transaction to break a deadlock "
        "or a serialization conflict (1: never again); then it answers TRANSACTION_CONFLICT.",
    )
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    log_json: bool = Field(True, description="Emit logs as JSON lines (false: console format).")

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'compass.db').resolve()}"

    @property
    def refuses_revoked(self) -> bool:
        """Whether a revoked certificate authenticates nothing (else it may still call all but renewal)."""
        return self.revoked_certificates != "renewal-only"

    @property
    def is_embedded_database(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.http_port}").rstrip("/")

    @property
    def effective_public_mtls_url(self) -> str:
        return (self.public_mtls_url or f"https://{self.host}:{self.https_port}").rstrip("/")

    @property
    def connector_url(self) -> str:
        """The token-secured Connector URL that one-time tokens point to."""
        return f"{self.effective_public_url}/connector/graphql"

    @property
    def legacy_connector_url(self) -> str:
        """The REST API's info URL (the Connectivity Adapter's) that application tokens point to, with ?token=."""
        return f"{self.effective_public_url}/v1/applications/signingRequests/info"

    @property
    def certificate_secured_connector_url(self) -> str:
        return f"{self.effective_public_mtls_url}/connector/graphql"

    @property
    def oauth_token_url(self) -> str:
        """The OAuth 2.0 token endpoint that client credentials name (Hydra's path)."""
        return f"{self.effective_public_url}/oauth2/token"

    @property
    def mtls_director_url(self) -> str:
        return f"{self.effective_public_mtls_url}/director/graphql"

    @property
    def jwt_key_file(self) -> Path:
        return self.data_dir / "jwt-signing-key.pem"
