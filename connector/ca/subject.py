"""The Compass certificate subject: six attributes, compared one by one, printed in Compass order.

Compass clients read the subject as the string ``O=Org,OU=OrgUnit,L=Locality,ST=State,C=PL,CN=<client id>``
and split it on ``,`` and ``=`` themselves, so that string is built here rather than with
``Name.rfc4514_string()`` (which prints the attributes in reverse, CN first). CSRs carry the attributes in
whatever order their tool emits (openssl ``-subj`` keeps the given order, Go's ``pkix.Name`` puts C first), so
comparison ignores order but refuses anything that is not exactly one single-valued O, OU, L, ST, C and CN.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

# (dataclass field, OID, short name), in the order of the Compass subject string.
_ATTRIBUTES: tuple[tuple[str, ObjectIdentifier, str], ...] = (
    ("organization", NameOID.ORGANIZATION_NAME, "O"),
    ("organizational_unit", NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"),
    ("locality", NameOID.LOCALITY_NAME, "L"),
    ("province", NameOID.STATE_OR_PROVINCE_NAME, "ST"),
    ("country", NameOID.COUNTRY_NAME, "C"),
    ("common_name", NameOID.COMMON_NAME, "CN"),
)
_FIELD_BY_OID = {oid: (field, short) for field, oid, short in _ATTRIBUTES}
_FIELD_BY_SHORT = {short: field for field, _, short in _ATTRIBUTES}
_OID_NAMES = {oid: name.lower() for name, oid in vars(NameOID).items() if isinstance(oid, ObjectIdentifier)}
COMMON_NAME_MAX_LENGTH = 64  # ub-common-name, RFC 5280
# Characters that would make the comma/equals-separated Compass string ambiguous for clients.
_UNPRINTABLE = frozenset(',=+"\\\n\r')


class SubjectError(ValueError):
    """A distinguished name or subject string that is not a Compass subject; the message says why."""


def _attribute_label(attribute: x509.NameAttribute[str | bytes]) -> str:
    label = attribute.rfc4514_attribute_name
    if label[:1].isdigit():
        return _OID_NAMES.get(attribute.oid, label)
    return label


def _compass_attributes(name: x509.Name) -> dict[str, str]:
    """The Compass attributes of ``name`` by field; SubjectError if multi-valued, duplicated or foreign."""
    values: dict[str, str] = {}
    for rdn in name.rdns:
        if len(rdn) != 1:
            labels = "+".join(sorted(_attribute_label(attribute) for attribute in rdn))
            raise SubjectError(f"subject must not contain multi-valued attributes ({labels})")
        (attribute,) = rdn
        known = _FIELD_BY_OID.get(attribute.oid)
        if known is None:
            raise SubjectError(f"subject must not contain {_attribute_label(attribute)}")
        field, short = known
        if field in values:
            raise SubjectError(f"subject must contain {short} once, got it more than once")
        if not isinstance(attribute.value, str):  # pragma: no cover - only for bit-string attributes
            raise SubjectError(f"subject {short} must be a string")
        values[field] = attribute.value
    return values


@dataclass(frozen=True, slots=True)
class CertificateSubject:
    """The subject of every Connector client certificate: values from settings, CN the client id."""

    organization: str
    organizational_unit: str
    locality: str
    province: str
    country: str
    common_name: str

    def __post_init__(self) -> None:
        for field, _, short in _ATTRIBUTES:
            value = getattr(self, field)
            if not isinstance(value, str) or not value:
                raise SubjectError(f"subject {short} must be a non-empty string")
            if _UNPRINTABLE.intersection(value):
                raise SubjectError(f'subject {short} must not contain any of , = + " \\ or line breaks')
        if len(self.common_name) > COMMON_NAME_MAX_LENGTH:
            raise SubjectError(f"subject CN must be at most {COMMON_NAME_MAX_LENGTH} characters (RFC 5280)")
        if len(self.country) != 2:  # noqa: PLR2004 - ISO 3166 alpha-2
            raise SubjectError(f"subject C must be a two-letter country code, got {self.country!r}")

    def with_common_name(self, common_name: str) -> CertificateSubject:
        """The same O, OU, L, ST and C for another client id."""
        return replace(self, common_name=common_name)

    def to_compass_string(self) -> str:
        return ",".join(f"{short}={getattr(self, field)}" for field, _, short in _ATTRIBUTES)

    @classmethod
    def from_compass_string(cls, text: str) -> CertificateSubject:
        values: dict[str, str] = {}
        for part in text.split(","):
            short, separator, value = part.partition("=")
            field = _FIELD_BY_SHORT.get(short.strip())
            if not separator or field is None:
                raise SubjectError(f"subject part {part!r} is not one of O=, OU=, L=, ST=, C=, CN=")
            if field in values:
                raise SubjectError(f"subject must contain {short.strip()} once, got it more than once")
            values[field] = value
        missing = [short for field, _, short in _ATTRIBUTES if field not in values]
        if missing:
            raise SubjectError(f"subject {missing[0]} is missing")
        return cls(**values)

    def to_x509_name(self) -> x509.Name:
        """One single-valued RDN per attribute, encoded in Compass order (O first)."""
        return x509.Name(
            x509.RelativeDistinguishedName([x509.NameAttribute(oid, getattr(self, field))])
            for field, oid, _ in _ATTRIBUTES
        )

    @classmethod
    def from_x509_name(cls, name: x509.Name) -> CertificateSubject:
        """The subject of a certificate or CSR; SubjectError unless it has the six attributes once each."""
        values = _compass_attributes(name)
        for field, _, short in _ATTRIBUTES:
            if field not in values:
                raise SubjectError(f"subject {short} is missing")
        return cls(**values)

    def difference(self, name: x509.Name) -> str | None:
        """The first way ``name`` differs from this subject, as a message for the caller; None when equal.

        Order of attributes is ignored; structure problems (multi-valued, repeated or foreign attributes) come
        first, then attributes in Compass order, so the message names the first differing one.
        """
        try:
            values = _compass_attributes(name)
        except SubjectError as error:
            return str(error)
        for field, _, short in _ATTRIBUTES:
            expected = getattr(self, field)
            if field not in values:
                return f'subject {short} is missing, must be "{expected}"'
            if values[field] != expected:
                return f'subject {short} must be "{expected}", got "{values[field]}"'
        return None

    def matches(self, name: x509.Name) -> bool:
        return self.difference(name) is None

