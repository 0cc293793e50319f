"""GraphiQL before and after an operator pastes the headers: no error nobody asked for, then the schema, no reload.

GraphiQL fetches the schema (its introspection query) as soon as the page loads. The Director answers that with
UNAUTHENTICATED until the headers carry a token; the page waits for the headers instead of showing that answer.
"""

from __future__ import annotations

import json

from playwright.async_api import Page, Response

from tests.browser.test_graphiql import (
    DIRECTOR,
    HEADERS_EDITOR,
    QUERY_EDITOR,
    RESPONSE_EDITOR,
    read_editor,
    set_editor,
)
from tests.connector.support import RunningServer
from tests.support import Operator

DOCS_BUTTON = "button[aria-label='Show Documentation Explorer']"
DOCS_EXPLORER = ".graphiql-doc-explorer"
MARK_THE_PAGE = "() => { window.compassLoadedOnce = true; }"
PAGE_IS_MARKED = "() => window.compassLoadedOnce === true"
# Two frames: whatever React renders for an answer already received is on the page by then.
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def is_introspection(response: Response) -> bool:
    return response.request.method == "POST" and "IntrospectionQuery" in (response.request.post_data or "")


async def open_and_wait_for_introspection(page: Page, server: RunningServer) -> Response:
    async with page.expect_response(is_introspection) as answered:
        await page.goto(f"{server.http_url}{DIRECTOR}")
    await page.wait_for_selector(QUERY_EDITOR)
    await page.wait_for_load_state("networkidle")
    await page.evaluate(NEXT_FRAMES)
    return await answered.value


async def enter_headers(page: Page, headers: dict[str, str]) -> None:
    await page.get_by_role("button", name="Headers").click()
    await page.wait_for_selector(HEADERS_EDITOR)
    await set_editor(page, HEADERS_EDITOR, json.dumps(headers, indent=2))


async def test_first_load_shows_no_unauthenticated_error_in_the_result_pane(page: Page, server: RunningServer) -> None:
    # given GraphiQL, loaded without headers, its schema request answered by the Director
    introspection = await open_and_wait_for_introspection(page, server)

    # then the Director refused it, and the result pane does not show that refusal
    assert (await introspection.json())["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "UNAUTHENTICATED" not in await read_editor(page, RESPONSE_EDITOR)
    assert (await read_editor(page, RESPONSE_EDITOR)).strip() == ""


async def test_the_schema_loads_once_the_headers_are_entered_without_a_reload(
    page: Page, server: RunningServer, browser_operator: Operator
) -> None:
    # given GraphiQL, loaded without headers and marked, so that a reload would show
    await open_and_wait_for_introspection(page, server)
    await page.evaluate(MARK_THE_PAGE)

    # when the operator's headers are entered
    async with page.expect_response(is_introspection) as answered:
        await enter_headers(page, browser_operator.headers)

    # then the schema is fetched with them, and the docs explorer lists the Query type's fields
    assert "__schema" in (await (await answered.value).json())["data"]
    await page.click(DOCS_BUTTON)
    explorer = page.locator(DOCS_EXPLORER)
    await explorer.get_by_role("link", name="Query", exact=True).click()
    await explorer.get_by_text("labelDefinitions", exact=True).wait_for()
    await explorer.get_by_text("runtimes", exact=True).wait_for()
    assert await page.evaluate(PAGE_IS_MARKED)
    assert "UNAUTHENTICATED" not in await read_editor(page, RESPONSE_EDITOR)
