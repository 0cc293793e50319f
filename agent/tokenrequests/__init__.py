"""TokenRequests: connecting an application from inside the runtime, as Kyma 1.x's connection-token-handler did.

A user (or a workload) creates a ``TokenRequest`` (``applicationconnector.kyma-project.io/v1alpha1``, namespaced,
named after the application, Kyma's ``context`` optional and not used) in the agent's sink; the agent fills its
``status`` with Kyma's fields: ``token``, ``url`` (the Connector's info URL with the token, Compass's
``legacyConnectorURL``), ``expireAfter`` (when the token expires, as the Director says), ``application`` (the
name) and ``state`` (``OK``, or ``Error`` as Kyma's controller writes it), plus pycompass's ``connectorURL``
(the Connector's GraphQL URL, for Compass's flow: ``configuration`` then ``signCertificateSigningRequest``) and,
with ``Error``, ``message`` (why).

The token comes from the Director's ``requestOneTimeTokenForApplicationFromRuntime`` called with the runtime's
certificate for the application whose Compass id the agent's last complete fetch holds under that resource name
(the runtime's ``Application`` of that name); the Director refuses applications outside the runtime's
formations. A name the runtime has no Application of gets ``Error`` without a call, and so does a request whose
namespace has no ``ApplicationMapping`` of that application (the broker's rule): the token connects the
application (its certificate sets its credentials, target URLs and events), so only a namespace the
application is mapped into may ask for it.

When: after every successful sync (``controller.TokenRequests.reconcile``), and at once when a request without
a status appears (``follow``: the Kubernetes store watches, the directory store looks at the directory's
mtime every second; either nudges the agent's loop into an iteration). A request is filled once: an ``OK``
status is left alone until ``expireAfter`` has passed; then the agent deletes the TokenRequest, as Kyma's
controller did (the token is of no use any more; a new TokenRequest asks for a new one). An ``Error`` is asked
again at each sync (Kyma's controller asked again while the token was empty) and written only when its message
changes, so an application that joins the runtime's formations gets its token at the next sync. A request
whose status cannot be written (the store refuses: RBAC, a CRD without the status subresource, a read-only
file) is logged and not asked for again until the object changes (its uid and resourceVersion, or the file's
bytes): every token is a new system auth in the Director, so a failing write must not ask at every sync.

Stores: ``directory.DirectoryTokenRequests`` (files ``tokenrequest-*.yaml`` the user drops in the manifest
directory) and ``kubernetes.KubernetesTokenRequests`` (the ``status`` subresource); ``make_store`` picks the one
of the agent's sink.
"""

from __future__ import annotations

from pathlib import Path

from agent.settings import AgentSettings
from agent.tokenrequests.base import TokenRequest, TokenRequestStore
from agent.tokenrequests.controller import TokenRequests

__all__ = ["TokenRequest", "TokenRequestStore", "TokenRequests", "make_store"]


def make_store(settings: AgentSettings) -> TokenRequestStore:
    """The store of the agent's sink: its manifest directory, or the Kubernetes API it writes to."""
    if settings.sink == "kubernetes":
        from agent.tokenrequests.kubernetes import (  # noqa: PLC0415 - lightkube loads only for this sink
            KubernetesTokenRequests,
        )

        return KubernetesTokenRequests.from_config(
            kubeconfig=settings.kubeconfig, context=settings.kube_context
        )
    from agent.tokenrequests.directory import DirectoryTokenRequests  # noqa: PLC0415 - as the sinks load

    return DirectoryTokenRequests(Path(str(settings.manifest_dir)))
