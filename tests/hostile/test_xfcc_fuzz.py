"""X-Forwarded-Client-Cert parser fuzzing, against an oracle that serializes the way Envoy documents.

Random element lists, written with Envoy's quoting and escaping (tests/security/envoy_xfcc.py), parse back
to exactly what was written, and the proxy's element (the last) to exactly its fields. Whatever a client puts
before the element a proxy appends, the parser returns that element's fields or refuses: it never lets the
client's text decide. Random strings parse or are refused (UNAUTHENTICATED), never crash.
tests/security/test_xfcc.py has the attacks over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from compass.auth.certificates import XFCCElement, parse_xfcc, proxy_element
from kernel.errors import UnauthenticatedError
from tests.hostile.support import count_case
from tests.security import envoy_xfcc

ENVOY_KEYS = ["By", "Hash", "Cert", "Chain", "Subject", "URI", "DNS"]
REPEATABLE = frozenset({"by", "uri", "dns"})
# The characters the grammar gives a meaning to, and a few others, for strings that exercise every path.
GRAMMAR_ALPHABET = 'Cert=";,\\ \tab%-'

keys = st.sampled_from(ENVOY_KEYS) | st.from_regex(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}", fullmatch=True)
values = st.text(max_size=40) | st.text(alphabet=GRAMMAR_ALPHABET, max_size=20)
elements = st.lists(st.tuples(keys, values), min_size=1, max_size=6)
# What Envoy itself appends: By (its own URI), Hash, the URL-encoded PEM in Cert, maybe Subject and URI.
envoy_elements = st.builds(
    lambda by, digest, cert, subject: [("By", by), ("Hash", digest), ("Cert", cert), *subject],
    st.from_regex(r"spiffe://[a-z.]{1,10}/ns/[a-z]{1,8}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
    st.from_regex(r"[-A-Za-z0-9%]{1,80}", fullmatch=True),
    st.lists(st.tuples(st.sampled_from(["Subject", "URI"]), values), max_size=2, unique_by=lambda kv: kv[0]),
)


def fuzz_settings(max_examples: int) -> Any:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )


def normalized(pairs: list[envoy_xfcc.Pair]) -> XFCCElement:
    return [(key.lower(), value) for key, value in pairs]


def fields_of(pairs: list[envoy_xfcc.Pair]) -> dict[str, str]:
    """What proxy_element must return for an element without repeated single-valued keys."""
    return {key: value for key, value in normalized(pairs) if key not in REPEATABLE}


def has_repeated_key(pairs: list[envoy_xfcc.Pair]) -> bool:
    single = [key for key, _ in normalized(pairs) if key not in REPEATABLE]
    return len(single) != len(set(single))


def parse_or_refuse(header: str) -> list[XFCCElement] | None:
    try:
        return parse_xfcc(header)
    except UnauthenticatedError:
        return None


# 200 headers of one to four elements of up to six pairs: over a thousand pairs, each key and value drawn half the
# time from the grammar's own characters, so every escape and separator is written in many of them.
@fuzz_settings(200)
@given(written=st.lists(elements, min_size=1, max_size=4), quote_all=st.booleans())
def test_envoy_serialized_elements_parse_back_exactly(
    written: list[list[envoy_xfcc.Pair]], quote_all: bool
) -> None:
    count_case("xfcc: Envoy-serialized elements", "parser")
    header = ",".join(envoy_xfcc.element(pairs, quote_all=quote_all) for pairs in written)

    assert parse_xfcc(header) == [normalized(pairs) for pairs in written]


# 200: as above; a repeated single-valued key in the last element (a refusal) comes in a good share of them.
@fuzz_settings(200)
@given(before=st.lists(elements, max_size=3), last=elements)
def test_proxy_element_is_exactly_the_last_elements_fields_or_refused_when_a_key_repeats(
    before: list[list[envoy_xfcc.Pair]], last: list[envoy_xfcc.Pair]
) -> None:
    count_case("xfcc: proxy element", "parser")
    header = envoy_xfcc.header([*before, last])

    if has_repeated_key(last):
        with pytest.raises(UnauthenticatedError):
            proxy_element(header)
    else:
        assert proxy_element(header) == fields_of(last)


# 300: a hundred of each kind of client text (any text, the grammar's characters, a serialized element).
@fuzz_settings(300)
@given(
    client=st.text(max_size=60)
    | st.text(alphabet=GRAMMAR_ALPHABET, max_size=60)
    | elements.map(envoy_xfcc.element),
    appended=envoy_elements | elements,
)
def test_whatever_the_client_sends_before_the_proxys_element_never_replaces_it(
    client: str, appended: list[envoy_xfcc.Pair]
) -> None:
    # given: APPEND_FORWARD: the client's header, a comma, the proxy's own element
    assume(not has_repeated_key(appended))
    count_case("xfcc: client text before the proxy's element", "parser")
    header = f"{client},{envoy_xfcc.element(appended)}"

    # when
    parsed = parse_or_refuse(header)

    # then: refused, or the last element is the proxy's, exactly
    if parsed is not None:
        assert parsed[-1] == normalized(appended)
        assert proxy_element(header) == fields_of(appended)


# 300 strings of up to 200 characters, half of them from the grammar's 15 characters: every pair of those
# characters comes many times over.
@fuzz_settings(300)
@given(header=st.text(max_size=200) | st.text(alphabet=GRAMMAR_ALPHABET, max_size=200))
def test_random_strings_parse_or_are_refused_never_crash(header: str) -> None:
    count_case("xfcc: random strings", "parser")

    parsed = parse_or_refuse(header)

    if parsed is not None:
        assert parsed and all(parsed)
        assert all(key == key.lower() and key for element in parsed for key, _ in element)


@pytest.mark.parametrize(
    "header",
    [
        "",
        ",",
        'Cert="abc',
        'Cert="abc\\"',
        'Cert="abc\\',
        'Cert="a"b',
        'Cert=a"b"',
        "Cert",
        "=abc",
        "Hash=a;;Cert=b",
        "Hash=a,,Cert=b",
        "Hash=a;",
        "Hash=a,",
        "Hash=a b",
        'Cert="victim";x=",Hash=h;Cert="attacker"',
    ],
)
def test_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(UnauthenticatedError):
        parse_xfcc(header)


def test_escapes_and_separators_inside_quotes_are_kept_as_text() -> None:
    header = 'hash=h;SUBJECT="CN=a\\"b\\\\,O=c;d=e" , URI=;Cert="x"'

    assert parse_xfcc(header) == [
        [("hash", "h"), ("subject", 'CN=a"b\\,O=c;d=e')],
        [("uri", ""), ("cert", "x")],
    ]
