"""Adding an API's credentials to the request the proxy is about to send (Kyma's gateway, DATAPLANE.md A.6)."""

from __future__ import annotations

import time

from gateway.auth.cache import Clock, TokenCache
from gateway.auth.csrf import CsrfToken, CsrfTokens
from gateway.auth.oauth import OAuth, TokenRequest
from gateway.auth.strategies import BasicAuth, CallerToken, CertificateGen, Strategy
from gateway.errors import GatewayError
from gateway.lookup import ResolvedApi
from gateway.outgoing import Outgoing
from gateway.upstream import Upstream

# credentials.type values that authenticate (and so may have CSRF tokens); any other means no credentials.
CREDENTIAL_TYPES = frozenset({"Basic", "OAuth", "OAuthWithCert", "CertificateGen"})


class Authenticator:
    """One per gateway: its caches hold the tokens of every API, so APIs with the same client share a token.

    ``authorize`` sets the credentials and the CSRF token on ``outgoing``; after the target refused a call
    (401/403), the proxy calls ``invalidate`` and then ``authorize`` again for its one retry.
    """

    def __init__(
        self,
        upstream: Upstream,
        *,
        oauth_default_ttl: float,
        csrf_token_ttl: float,
        cache_size: int,
        clock: Clock = time.monotonic,
    ) -> None:
        self._upstream = upstream
        self._oauth_default_ttl = oauth_default_ttl
        self._oauth = TokenCache[str]("oauth", size=cache_size, clock=clock)
        self._oauth_cert = TokenCache[str]("oauth_cert", size=cache_size, clock=clock)
        self._csrf = CsrfTokens(
            upstream, TokenCache[CsrfToken]("csrf", size=cache_size, clock=clock), ttl=csrf_token_ttl
        )

    async def authorize(self, api: ResolvedApi, outgoing: Outgoing, *, access_token: str | None) -> None:
        """``access_token``: the caller's ``Access-Token`` header; when not empty it replaces the configured
        credentials (see ``CallerToken``), CSRF tokens still apply."""
        strategy = self._strategy(api, access_token)
        if strategy is None:
            return
        await strategy.apply(outgoing)
        csrf_url = _csrf_url(api)
        if csrf_url:
            await self._csrf.apply(api, csrf_url, strategy, outgoing)

    def invalidate(self, api: ResolvedApi, *, access_token: str | None) -> None:
        """Forgets the API's OAuth token and its CSRF token (the caller's own token is never replaced)."""
        try:
            strategy = self._strategy(api, access_token)
        except GatewayError:  # credentials that cannot authorize a call have no tokens to forget
            return
        if strategy is None:
            return
        strategy.invalidate()
        csrf_url = _csrf_url(api)
        if csrf_url:
            self._csrf.invalidate(csrf_url, strategy)

    def _strategy(self, api: ResolvedApi, access_token: str | None) -> Strategy | None:
        if access_token:
            return CallerToken(access_token)
        kind = api.credentials.type if api.credentials is not None else ""
        if kind == "Basic":
            return BasicAuth.of(api)
        if kind == "OAuth":
            return OAuth(self._upstream, self._oauth, TokenRequest.with_secret(api), self._oauth_default_ttl)
        if kind == "OAuthWithCert":
            return OAuth(
                self._upstream, self._oauth_cert, TokenRequest.with_certificate(api), self._oauth_default_ttl
            )
        if kind == "CertificateGen":
            return CertificateGen.of(self._upstream, api)
        return None


def _csrf_url(api: ResolvedApi) -> str:
    credentials = api.credentials
    if credentials is None or credentials.type not in CREDENTIAL_TYPES:
        return ""
    return credentials.csrf_token_endpoint_url
