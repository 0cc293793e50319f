"""CSRF tokens for targets that want one on every call (SAP systems): fetched from the Application's
``csrfInfo.tokenEndpointURL`` with the call's own credentials, then sent as ``X-csrf-token`` with the cookies the
fetch set (the target's session, to which it bound the token).

Kyma keeps one token per endpoint URL, for every API that uses that URL, forever (until a 401/403). A token
and its session cookies belong to the identity that fetched them, so here they are kept per endpoint URL AND
identity: two APIs with other credentials on one endpoint never send each other's session, which at best makes
the target refuse (and the two evict each other on every retry) and at worst acts in the other's session. They
are kept ``csrf_token_ttl`` seconds, so a token the target let expire is not offered until it refuses a call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

from multidict import CIMultiDict
from yarl import URL

from gateway.auth.cache import Expiring, TokenCache
from gateway.auth.calls import call, unexpected_status
from gateway.auth.strategies import Strategy
from gateway.lookup import ResolvedApi
from gateway.outgoing import Outgoing
from gateway.upstream import Upstream

CSRF_HEADER = "X-csrf-token"
FETCH_HEADERS = ((CSRF_HEADER, "fetch"), ("Accept", "*/*"), ("cache-control", "no-cache"))


@dataclass(frozen=True)
class CsrfToken:
    token: str  # may be empty: Kyma does not check it either
    cookies: tuple[tuple[str, str], ...]  # name, value of every Set-Cookie of the fetch


class CsrfTokens:
    def __init__(self, upstream: Upstream, cache: TokenCache[CsrfToken], *, ttl: float) -> None:
        self._upstream = upstream
        self._cache = cache
        self._ttl = ttl

    async def apply(self, api: ResolvedApi, url: str, strategy: Strategy, request: Outgoing) -> None:
        async def fetch() -> Expiring[CsrfToken]:
            fetching = Outgoing("GET", URL(url), CIMultiDict(FETCH_HEADERS))
            await strategy.apply(fetching)
            answer = await call(self._upstream, fetching, body=None, api=api, url=url)
            if answer.status != HTTPStatus.OK:  # only 200 is success, as in Kyma
                raise unexpected_status(answer.status, url)
            cookies = tuple(
                cookie
                for header in answer.headers.getall("Set-Cookie", ())
                if (cookie := _set_cookie(header))
            )
            return Expiring(CsrfToken(answer.headers.get(CSRF_HEADER, ""), cookies), self._ttl)

        csrf = await self._cache.get((url, strategy.identity), fetch)
        request.headers[CSRF_HEADER] = csrf.token
        if csrf.cookies:
            request.headers["Cookie"] = merge_cookies(request.headers.getall("Cookie", ()), csrf.cookies)

    def invalidate(self, url: str, strategy: Strategy) -> None:
        self._cache.drop((url, strategy.identity))


def merge_cookies(sent: Iterable[str], fetched: tuple[tuple[str, str], ...]) -> str:
    """One ``Cookie`` header: the fetched cookies, then the caller's cookies of other names, as they came."""
    names = {name for name, _ in fetched}
    kept = [
        pair
        for header in sent
        for pair in (part.strip() for part in header.split(";"))
        if pair and pair.partition("=")[0].strip() not in names
    ]
    return "; ".join([*(f"{name}={value}" for name, value in fetched), *kept])


def _set_cookie(header: str) -> tuple[str, str] | None:
    """The name and value of a ``Set-Cookie`` header (its attributes concern the client's jar, not us)."""
    name, equals, value = header.partition(";")[0].partition("=")
    name = name.strip()
    return (name, value.strip()) if equals and name else None
