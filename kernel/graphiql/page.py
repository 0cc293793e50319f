"""Strawberry's GraphiQL page, loading its JS/CSS from our own ``/static/vendor`` instead of unpkg.com.

The html is strawberry's own (``strawberry.http.ides.get_graphql_ide_html``, what its views'
``render_graphql_ide`` serves), post-processed: only the unpkg.com URLs change. The files are put in
place by ``python -m kernel.graphiql.assets``; they are byte-identical to unpkg's, so the SRI attributes stay.
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
    """Strawberry's GraphiQL page with every unpkg.com URL pointing at ``<static_prefix>/vendor/...``.

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
    return assets.UNPKG_URL_RE.sub(lambda url_match: vendor_prefix + url_match.group("path"), html)


def static_mount(path: str = "/static") -> Mount:
    """Serve ``compass/static`` (hence ``<path>/vendor/...``) at ``path``.

    ``check_dir=False``: the app still starts if ``python -m kernel.graphiql.assets`` has never run (only the
    GraphiQL page is then broken: requests under ``path`` fail saying the directory does not exist).
    """
    if not assets.STATIC_DIR.is_dir():
        logger.warning("%s does not exist; run `python -m kernel.graphiql.assets`", assets.STATIC_DIR)
    return Mount(path, app=StaticFiles(directory=assets.STATIC_DIR, check_dir=False), name="static")
