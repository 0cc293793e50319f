"""The gateway's authentication to targets: the caller's Access-Token, Basic, OAuth client credentials (with a
secret or a client certificate), client certificates, and CSRF tokens; tokens cached, fetched once at a time."""

from gateway.auth.authenticator import Authenticator

__all__ = ["Authenticator"]
