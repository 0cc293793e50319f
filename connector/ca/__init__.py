"""The Connector's certificate authority: Compass subjects, CSR checks and certificate signing."""

from connector.ca.authority import (
    CAConfigurationError,
    CertificateAuthority,
    IssuedCertificate,
    ServerCredentials,
    random_serial_number,
)
from connector.ca.csr import (
    CSRError,
    CSRKeyRejectedError,
    CSRSignatureError,
    CSRSubjectMismatchError,
    InvalidCSRError,
    check_public_key,
    describe_public_key,
    parse_and_validate_csr,
)
from connector.ca.files import write_private_file, write_public_file
from connector.ca.subject import CertificateSubject, SubjectError

__all__ = [
    "CAConfigurationError",
    "CSRError",
    "CSRKeyRejectedError",
    "CSRSignatureError",
    "CSRSubjectMismatchError",
    "CertificateAuthority",
    "CertificateSubject",
    "InvalidCSRError",
    "IssuedCertificate",
    "ServerCredentials",
    "SubjectError",
    "check_public_key",
    "describe_public_key",
    "parse_and_validate_csr",
    "random_serial_number",
    "write_private_file",
    "write_public_file",
]
