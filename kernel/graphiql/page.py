"""Strawberry's GraphiQL page, loading its JS/CSS from our own ``/static/vendor`` instead of unpkg.com.

The html is strawberry's own (``strawberry.http.ides.get_graphql_ide_html``, what its views'
``render_graphql_ide`` serves), post-processed: the unpkg.com URLs change, and ``WAIT_FOR_HEADERS`` goes in
before the page's own script. The files are put in place by ``python -m kernel.graphiql.assets``; they are
byte-identical to unpkg's, so the SRI attributes stay.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from pathlib import Path

from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from kernel.graphiql import assets

logger = logging.getLogger(__name__)

# GraphiQL asks for the schema (its introspection query) as soon as the page loads, before anyone could enter
# headers. The Director refuses that as UNAUTHENTICATED, and GraphiQL showed the refusal in the result pane; nor
# did it ask again once headers were entered. Here the schema request waits instead: refused as UNAUTHENTICATED,
# it is sent again with each headers text entered next that parses, until accepted (GraphiQL's spinner turns
# meanwhile). Strawberry's script is left as it is: it finds GraphiQL (its createFetcher, its component) wrapped.
WAIT_FOR_HEADERS = """<script>
      (function () {
        const BaseGraphiQL = window.GraphiQL;
        const waiting = [];

        function nextHeaders() {
          return new Promise(function (resolve) { waiting.push(resolve); });
        }

        function parsedHeaders(text) {
          try {
            const headers = JSON.parse(text);
            return headers && typeof headers === "object" && !Array.isArray(headers) ? headers : null;
          } catch (error) {
            return null;
          }
        }

        function isUnauthenticated(result) {
          return ((result && result.errors) || []).some(function (error) {
            return Boolean(error && error.extensions && error.extensions.code === "UNAUTHENTICATED");
          });
        }

        function waitingForHeaders(schemaFetcher) {
          return async function (params, options) {
            let result = await schemaFetcher(params, options);
            while (isUnauthenticated(result)) {
              const headers = parsedHeaders(await nextHeaders());
              if (headers !== null) {
                result = await schemaFetcher(params, Object.assign({}, options, { headers: headers }));
              }
            }
            return result;
          };
        }

        function CompassGraphiQL(props) {
          function onEditHeaders(text) {
            waiting.splice(0).forEach(function (resolve) { resolve(text); });
            if (props.onEditHeaders) {
              props.onEditHeaders(text);
            }
          }
          return React.createElement(BaseGraphiQL, Object.assign({}, props, { onEditHeaders: onEditHeaders }));
        }

        Object.assign(CompassGraphiQL, BaseGraphiQL);
        CompassGraphiQL.createFetcher = function (options) {
          // createFetcher sends the introspection query to its schemaFetcher (and writes into its options).
          const schemaFetcher = waitingForHeaders(BaseGraphiQL.createFetcher(Object.assign({}, options)));
          return BaseGraphiQL.createFetcher(Object.assign({}, options, { schemaFetcher: schemaFetcher }));
        };
        window.GraphiQL = CompassGraphiQL;
      })();
    </script>
    """
_PAGE_SCRIPT = "<script>"


@lru_cache(maxsize=64)
def _sri_matches_file(path: str, _mtime_ns: int, _size: int, integrity: str) -> bool:
    return assets.sri_matches(Path(path).read_bytes(), integrity)


def _local_file_fails_sri(vendor_file: assets.VendorFile) -> bool:
    """True only if the vendored file exists and its bytes do not match the page's SRI hash."""
    if not vendor_file.integrity:
        return False
    path = vendor_file.local_path(assets.VENDOR_DIR)
    try:
        stat = path.stat()
    except OSError:
        return False  # not vendored yet: keep the page as strawberry wrote it
    return not _sri_matches_file(str(path), stat.st_mtime_ns, stat.st_size, vendor_file.integrity)


def graphiql_html(*, static_prefix: str = "/static") -> str:
    """Strawberry's GraphiQL page with every unpkg.com URL pointing at ``<static_prefix>/vendor/...``, and
    ``WAIT_FOR_HEADERS`` before its script.

    Integrity attributes are kept; one is dropped (with an html comment saying so) only if the vendored
    file's bytes do not match it, as the browser would refuse the file otherwise.
    """
    html = assets.strawberry_graphiql_html()
    by_url = {vendor_file.url: vendor_file for vendor_file in assets.required_files(html)}
    vendor_prefix = f"{static_prefix.rstrip('/')}/vendor/"

    def local_tag(tag_match: re.Match[str]) -> str:
        tag = tag_match.group(0)
        urls = [url_match.group(0) for url_match in assets.UNPKG_URL_RE.finditer(tag)]
        failing = [by_url[url] for url in urls if _local_file_fails_sri(by_url[url])]
        if not failing:
            return tag
        names = ", ".join(vendor_file.rel_path for vendor_file in failing)
        logger.warning(
            "vendored %s does not match strawberry's SRI hash; serving it without integrity", names
        )
        comment = (
            f"<!-- compass: integrity dropped for vendor/{names}: "
            "the vendored bytes do not match strawberry's SRI hash -->"
        )
        return f"{comment}\n    {assets.INTEGRITY_ATTR_RE.sub('', tag, count=1)}"

    html = assets.TAG_RE.sub(local_tag, html)
    html = assets.UNPKG_URL_RE.sub(lambda url_match: vendor_prefix + url_match.group("path"), html)
    if html.count(_PAGE_SCRIPT) != 1:
        logger.warning("strawberry's GraphiQL page has no single inline script: its schema request does not wait")
        return html
    return html.replace(_PAGE_SCRIPT, WAIT_FOR_HEADERS + _PAGE_SCRIPT)


def static_mount(path: str = "/static") -> Mount:
    """Serve ``compass/static`` (hence ``<path>/vendor/...``) at ``path``.

    ``check_dir=False``: the app still starts if ``python -m kernel.graphiql.assets`` has never run (only the
    GraphiQL page is then broken: requests under ``path`` fail saying the directory does not exist).
    """
    if not assets.STATIC_DIR.is_dir():
        logger.warning("%s does not exist; run `python -m kernel.graphiql.assets`", assets.STATIC_DIR)
    return Mount(path, app=StaticFiles(directory=assets.STATIC_DIR, check_dir=False), name="static")
