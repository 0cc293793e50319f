"""Vendor the JS/CSS that strawberry's GraphiQL page loads from unpkg.com, so we can serve it ourselves.

Why: strawberry's ``graphiql.html`` pulls React, GraphiQL and friends from unpkg.com (with SRI hashes).
Hosts that only reach the npm registry, PyPI and apt (ours) then render a blank page. This module reads
the unpkg URLs out of the installed strawberry's html (so a strawberry upgrade brings its new versions
along), fetches exactly those package versions with ``npm install`` into a throw-away prefix, and copies
just the referenced files into ``compass/static/vendor/``, mirroring unpkg's layout:
``https://unpkg.com/<pkg>@<ver>/<file>`` -> ``compass/static/vendor/<pkg>@<ver>/<file>``.
``kernel.graphiql.page`` rewrites the page to point there.

``python -m kernel.graphiql.assets`` runs on every ``make run``/``make test``: when every file is present and
matches its SRI hash it only hashes a few MB and exits, without npm or network. Files in the vendor dir
that the page no longer references are removed, so it holds exactly what the page needs.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from strawberry.http.ides import get_graphql_ide_html

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"

NPM_TIMEOUT_SECONDS = 600

# An unpkg URL, absolute or protocol-relative; `path` is everything after the host.
UNPKG_URL_RE = re.compile(r"""(?:https?:)?//unpkg\.com/(?P<path>[^\s"'<>()?#]+)""")
# `<pkg>@<version>/<file>`, pkg possibly scoped (`@scope/name`).
_UNPKG_PATH_RE = re.compile(r"^(?P<package>(?:@[^/@]+/)?[^/@]+)@(?P<version>[^/]+)/(?P<file>.+)$")
# A <script ...> or <link ...> start tag; quoted attribute values may contain `>` (e.g. data: URLs).
TAG_RE = re.compile(r"""<(?:script|link)\b(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)
INTEGRITY_ATTR_RE = re.compile(
    r"""\s+integrity\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'>]+))""", re.IGNORECASE
)
_SRI_ALGORITHMS = ("sha256", "sha384", "sha512")  # weakest to strongest, as the SRI spec orders them
_EXACT_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]+)?$")


class AssetsError(Exception):
    """The vendor files could not be put in place; the message says why."""


@dataclass(frozen=True)
class VendorFile:
    """One file the GraphiQL page loads from unpkg.com."""

    url: str  # as written in strawberry's html
    package: str  # e.g. "@graphiql/plugin-explorer"
    version: str  # e.g. "1.0.2"
    file: str  # path inside the package, e.g. "dist/index.umd.js"
    integrity: str | None  # the tag's SRI attribute, if any

    @property
    def rel_path(self) -> str:
        """Path under the vendor dir (and under ``<static>/vendor/`` in URLs): unpkg's own path."""
        return f"{self.package}@{self.version}/{self.file}"

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    def local_path(self, vendor_dir: Path = VENDOR_DIR) -> Path:
        return vendor_dir / self.rel_path


def strawberry_graphiql_html() -> str:
    """The GraphiQL page exactly as strawberry's views serve it (strawberry fills in no placeholders)."""
    return get_graphql_ide_html(graphql_ide="graphiql")


def tag_integrity(tag: str) -> str | None:
    match = INTEGRITY_ATTR_RE.search(tag)
    if match is None:
        return None
    return match.group("dq") or match.group("sq") or match.group("bare")


def parse_unpkg_url(url: str, integrity: str | None = None) -> VendorFile:
    match = UNPKG_URL_RE.fullmatch(url)
    path_match = _UNPKG_PATH_RE.match(match.group("path")) if match else None
    if path_match is None:
        raise AssetsError(
            f"cannot vendor {url!r}: expected https://unpkg.com/<package>@<version>/<file> "
            "(a pinned version and an explicit file)"
        )
    return VendorFile(
        url=url,
        package=path_match.group("package"),
        version=path_match.group("version"),
        file=path_match.group("file"),
        integrity=integrity,
    )


def required_files(html: str | None = None) -> list[VendorFile]:
    """Every unpkg.com file the page references, in page order, with the SRI of the tag that loads it."""
    if html is None:
        html = strawberry_graphiql_html()
    integrity_by_url: dict[str, str] = {}
    for tag_match in TAG_RE.finditer(html):
        tag = tag_match.group(0)
        integrity = tag_integrity(tag)
        if integrity:
            for url_match in UNPKG_URL_RE.finditer(tag):
                integrity_by_url[url_match.group(0)] = integrity
    files: dict[str, VendorFile] = {}
    for url_match in UNPKG_URL_RE.finditer(html):
        url = url_match.group(0)
        if url not in files:
            files[url] = parse_unpkg_url(url, integrity_by_url.get(url))
    versions: dict[str, str] = {}
    for vendor_file in files.values():
        if versions.setdefault(vendor_file.package, vendor_file.version) != vendor_file.version:
            raise AssetsError(
                f"the page loads {vendor_file.package} at two versions "
                f"({versions[vendor_file.package]} and {vendor_file.version}); one npm prefix holds one"
            )
    return list(files.values())


def sri_matches(data: bytes, integrity: str) -> bool:
    """Whether ``data`` passes the SRI check a browser would do for this ``integrity`` value."""
    expected: dict[str, set[str]] = {}
    for token in integrity.split():
        algorithm, _, rest = token.partition("-")
        if algorithm.lower() in _SRI_ALGORITHMS and rest:
            expected.setdefault(algorithm.lower(), set()).add(rest.split("?", 1)[0])
    if not expected:
        return True  # no hash a browser understands: browsers load the resource unchecked
    strongest = max(expected, key=_SRI_ALGORITHMS.index)
    digest = base64.b64encode(hashlib.new(strongest, data).digest()).decode("ascii")
    return digest in expected[strongest]


def is_intact(vendor_file: VendorFile, vendor_dir: Path = VENDOR_DIR) -> bool:
    path = vendor_file.local_path(vendor_dir)
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data:
        return False
    return vendor_file.integrity is None or sri_matches(data, vendor_file.integrity)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise concurrent runs (e.g. ``make -j``) on the vendor dir itself; creates no lock file."""
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:  # not POSIX: no locking
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _copy_atomically(source: Path, destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as tmp, source.open("rb") as src:
            shutil.copyfileobj(src, tmp)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, destination)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _npm_install(specs: Sequence[str], prefix: Path, npm: str) -> None:
    npm_path = shutil.which(npm)
    if npm_path is None:
        raise AssetsError(f"{npm!r} not found on PATH; install Node.js/npm to fetch {', '.join(specs)}")
    command = [
        npm_path, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error",
        "--prefix", str(prefix), *specs,
    ]  # fmt: skip
    try:
        result = subprocess.run(  # noqa: S603 - npm found on PATH, pinned package specs
            command,
            check=False,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssetsError(f"npm install timed out after {NPM_TIMEOUT_SECONDS}s: {' '.join(command)}") from exc
    except OSError as exc:
        raise AssetsError(f"could not run npm: {exc}") from exc
    if result.returncode != 0:
        output = "\n".join((result.stderr or result.stdout).strip().splitlines()[-20:])
        raise AssetsError(f"npm install failed (exit {result.returncode}): {' '.join(command)}\n{output}")


def _installed_version(node_modules: Path, package: str) -> str | None:
    try:
        version = json.loads((node_modules / package / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return version if isinstance(version, str) else None


def fetch(files: Sequence[VendorFile], vendor_dir: Path = VENDOR_DIR, *, npm: str = "npm") -> list[str]:
    """npm-install the packages of ``files`` into a temp prefix and copy the files over; returns warnings."""
    specs = list(dict.fromkeys(vendor_file.spec for vendor_file in files))
    warnings: list[str] = []
    with tempfile.TemporaryDirectory(prefix="compass-assets-") as tmp:
        prefix = Path(tmp)
        _npm_install(specs, prefix, npm)
        node_modules = prefix / "node_modules"
        for vendor_file in files:
            installed = _installed_version(node_modules, vendor_file.package)
            if _EXACT_VERSION_RE.match(vendor_file.version) and installed != vendor_file.version:
                raise AssetsError(
                    f"npm installed {vendor_file.package}@{installed}, wanted {vendor_file.spec}"
                )
            source = node_modules / vendor_file.package / vendor_file.file
            if not source.is_file():
                raise AssetsError(
                    f"{vendor_file.spec} has no file {vendor_file.file!r} (wanted by {vendor_file.url})"
                )
            if vendor_file.integrity and not sri_matches(source.read_bytes(), vendor_file.integrity):
                warnings.append(
                    f"{vendor_file.rel_path} from npm does not match the page's SRI hash; "
                    "kernel.graphiql.page will serve it without the integrity attribute"
                )
            _copy_atomically(source, vendor_file.local_path(vendor_dir))
    return warnings


def prune(keep: Iterable[VendorFile], vendor_dir: Path = VENDOR_DIR) -> list[Path]:
    """Remove every file (and then empty directory) under ``vendor_dir`` that is not in ``keep``."""
    wanted = {vendor_file.local_path(vendor_dir) for vendor_file in keep}
    removed: list[Path] = []
    for root, dirs, names in os.walk(vendor_dir, topdown=False):
        root_path = Path(root)
        for name in names:
            path = root_path / name
            if path not in wanted:
                path.unlink()
                removed.append(path)
        for name in dirs:
            path = root_path / name
            if path.is_symlink():
                path.unlink()
                removed.append(path)
            elif not any(path.iterdir()):
                path.rmdir()
    return removed


def ensure_vendor(
    files: Sequence[VendorFile] | None = None, vendor_dir: Path = VENDOR_DIR, *, npm: str = "npm"
) -> tuple[list[VendorFile], list[str]]:
    """Make ``vendor_dir`` hold exactly ``files`` (default: what strawberry's GraphiQL page loads).

    Returns the files it had to fetch and any warnings. Raises :class:`AssetsError`.
    """
    if files is None:
        files = required_files()
    vendor_dir.mkdir(parents=True, exist_ok=True)
    with _locked(vendor_dir):
        missing = [vendor_file for vendor_file in files if not is_intact(vendor_file, vendor_dir)]
        warnings = fetch(missing, vendor_dir, npm=npm) if missing else []
        prune(files, vendor_dir)
    return missing, warnings


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kernel.graphiql.assets",
        description="Put the JS/CSS of strawberry's GraphiQL page into compass/static/vendor/, via npm.",
    )
    parser.add_argument("--check", action="store_true", help="only report missing files; exit 1 if any")
    parser.add_argument("--list", action="store_true", help="print the vendored paths, one a line")
    args = parser.parse_args(argv)
    try:
        files = required_files()
        if args.check:
            missing = [vendor_file for vendor_file in files if not is_intact(vendor_file)]
            for vendor_file in missing:
                print(f"kernel.graphiql.assets: missing or corrupt: {vendor_file.local_path()}", file=sys.stderr)
            return 1 if missing else 0
        fetched, warnings = ensure_vendor(files)
    except AssetsError as exc:
        print(f"kernel.graphiql.assets: error: {exc}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"kernel.graphiql.assets: warning: {warning}", file=sys.stderr)
    if args.list:
        for vendor_file in files:
            print(vendor_file.local_path())
    where = os.path.relpath(VENDOR_DIR)
    if fetched:
        print(f"kernel.graphiql.assets: fetched {len(fetched)} of {len(files)} GraphiQL files into {where}/")
    else:
        print(f"kernel.graphiql.assets: {len(files)} GraphiQL files up to date in {where}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
