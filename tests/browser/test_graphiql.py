"""GraphiQL at /director/graphql, used in a real browser as an operator would: headers, a query, the answer."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Page, WebSocket
from playwright.async_api import Request as BrowserRequest

from tests.connector.support import RunningServer
from tests.support import Operator

DIRECTOR = "/director/graphql"
VIEWER = "{ viewer { id type } }"

# GraphiQL 3 edits with CodeMirror 5: each editor's element carries its CodeMirror instance.
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESPONSE_EDITOR = ".graphiql-response .CodeMirror"
EXECUTE_BUTTON = ".graphiql-execute-button"
INLINE_SCHEMES = ("data", "blob")  # the page's own favicon is a data: URL; nothing is fetched for these

SET_EDITOR = "([selector, value]) => document.querySelector(selector).CodeMirror.setValue(value)"
READ_EDITOR = "(selector) => document.querySelector(selector).CodeMirror.getValue()"
# The pane may hold an earlier answer: wait for one that differs from it.
NEW_ANSWER = """([selector, before]) => {
  const value = document.querySelector(selector).CodeMirror.getValue().trim();
  return value !== before && value.startsWith("{");
}"""


async def open_graphiql(page: Page, server: RunningServer) -> None:
    await page.goto(f"{server.http_url}{DIRECTOR}")
    await page.wait_for_selector(QUERY_EDITOR)
    await page.wait_for_selector(EXECUTE_BUTTON)


async def set_editor(page: Page, selector: str, value: str) -> None:
    await page.evaluate(SET_EDITOR, [selector, value])


async def read_editor(page: Page, selector: str) -> str:
    return str(await page.evaluate(READ_EDITOR, selector))


async def test_graphiql_runs_a_query_with_the_operators_headers(
    page: Page, server: RunningServer, browser_operator: Operator, tmp_path: Path
) -> None:
    # given GraphiQL, with the query and the operator's headers put into its editors
    await open_graphiql(page, server)
    await set_editor(page, QUERY_EDITOR, VIEWER)
    await page.get_by_role("button", name="Headers").click()
    await page.wait_for_selector(HEADERS_EDITOR)
    await set_editor(page, HEADERS_EDITOR, json.dumps(browser_operator.headers, indent=2))
    before = (await read_editor(page, RESPONSE_EDITOR)).strip()

    # when the run button is pressed
    await page.click(EXECUTE_BUTTON)
    await page.wait_for_function(NEW_ANSWER, arg=[RESPONSE_EDITOR, before])

    # then the result pane shows the viewer, as the API answers it
    answer = json.loads(await read_editor(page, RESPONSE_EDITOR))
    screenshot = tmp_path / "graphiql.png"
    await page.screenshot(path=screenshot)
    assert answer == {"data": {"viewer": {"id": "operator", "type": "USER"}}}
    assert screenshot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


async def test_graphiql_loads_nothing_from_outside_the_server(page: Page, server: RunningServer) -> None:
    # given every request and websocket the page makes, recorded
    urls: list[str] = []

    def record_request(request: BrowserRequest) -> None:
        urls.append(request.url)

    def record_websocket(websocket: WebSocket) -> None:
        urls.append(websocket.url)

    page.on("request", record_request)
    page.on("websocket", record_websocket)

    # when the page has loaded and gone quiet
    await page.goto(f"{server.http_url}{DIRECTOR}", wait_until="networkidle")

    # then every one went to the server itself, GraphiQL's scripts among them, and GraphiQL rendered
    server_origin = urlsplit(server.http_url).netloc
    fetched = [urlsplit(url) for url in urls if urlsplit(url).scheme not in INLINE_SCHEMES]
    outside = [part.geturl() for part in fetched if part.netloc != server_origin]
    assert outside == []
    assert any("/static/vendor/graphiql@" in url for url in urls), urls
    await page.wait_for_selector(QUERY_EDITOR)
