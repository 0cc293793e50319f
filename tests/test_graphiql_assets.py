"""The GraphiQL page loads nothing from unpkg.com: every asset comes from our app, SRI-intact."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from strawberry.http.ides import get_graphql_ide_html

from kernel.graphiql import assets
from kernel.graphiql.page import WAIT_FOR_HEADERS, graphiql_html, static_mount


class _AssetRefs(HTMLParser):
    """Collects (tag, url, integrity) for every <script src> and <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        url = attributes.get("src") if tag == "script" else attributes.get("href") if tag == "link" else None
        if url:
            self.refs.append((tag, url, attributes.get("integrity")))


def asset_refs(html: str) -> list[tuple[str, str, str | None]]:
    parser = _AssetRefs()
    parser.feed(html)
    parser.close()
    # The favicon is an inline data: URL; everything else must be fetched from the app.
    return [ref for ref in parser.refs if not ref[1].startswith("data:")]


@pytest.fixture(scope="module", autouse=True)
def vendored() -> list[assets.VendorFile]:
    files = assets.required_files()
    missing = [str(f.local_path()) for f in files if not assets.is_intact(f)]
    if missing:
        pytest.fail(f"vendor files missing or corrupt, run `python -m kernel.graphiql.assets`: {missing}")
    return files


def make_app(static_path: str = "/static", static_prefix: str = "/static") -> Starlette:
    async def graphiql(request: Request) -> HTMLResponse:
        return HTMLResponse(graphiql_html(static_prefix=static_prefix))

    return Starlette(routes=[Route("/graphql", graphiql), static_mount(static_path)])


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def test_page_loads_every_asset_from_the_app_with_matching_sri(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql")
    assert page.status_code == 200
    assert "unpkg.com" not in page.text

    refs = asset_refs(page.text)
    assert len(refs) == len(assets.required_files()) == 7
    for tag, url, integrity in refs:
        assert url.startswith("/static/vendor/"), url
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.content, url
        expected_type = "text/css" if tag == "link" else "javascript"
        assert expected_type in response.headers["content-type"], (url, response.headers["content-type"])
        assert integrity is not None and integrity.startswith("sha384-"), (url, integrity)
        assert assets.sri_matches(response.content, integrity), f"{url} does not hash to {integrity}"


async def test_page_is_strawberrys_own_but_for_the_urls_and_the_script_that_waits_for_headers() -> None:
    ours = graphiql_html()
    assert ours.count(WAIT_FOR_HEADERS) == 1
    strawberrys = ours.replace(WAIT_FOR_HEADERS, "").replace("/static/vendor/", "https://unpkg.com/")
    assert strawberrys == get_graphql_ide_html("graphiql")


async def test_custom_static_prefix() -> None:
    transport = httpx.ASGITransport(app=make_app(static_path="/assets", static_prefix="/assets/"))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/graphql")
        refs = asset_refs(page.text)
        assert refs and all(url.startswith("/assets/vendor/") for _, url, _ in refs)
        for _, url, _ in refs:
            assert (await http.get(url)).status_code == 200, url


def test_vendor_dir_holds_exactly_the_page_files(vendored: list[assets.VendorFile]) -> None:
    on_disk = {
        Path(root, name).relative_to(assets.VENDOR_DIR).as_posix()
        for root, _, names in os.walk(assets.VENDOR_DIR)
        for name in names
    }
    assert on_disk == {f.rel_path for f in vendored}


def test_integrity_dropped_only_for_a_mismatching_file(
    vendored: list[assets.VendorFile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(assets.VENDOR_DIR, tmp_path, dirs_exist_ok=True)
    tampered = next(f for f in vendored if f.package == "js-cookie")
    tampered.local_path(tmp_path).write_bytes(tampered.local_path().read_bytes() + b"\n")
    monkeypatch.setattr(assets, "VENDOR_DIR", tmp_path)

    html = graphiql_html()
    assert f"integrity dropped for vendor/{tampered.rel_path}" in html
    for _, url, integrity in asset_refs(html):
        if url.endswith(tampered.rel_path):
            assert integrity is None
        else:
            assert integrity is not None, url
