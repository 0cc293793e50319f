"""Where the agent's manifests go: ``make_sink(settings)`` picks a directory (the default) or Kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.sinks.base import OWNERSHIP_LABEL, Sink
from dataplane.names import DEFAULT_SECRET_NAMESPACE

__all__ = ["DEFAULT_SECRET_NAMESPACE", "OWNERSHIP_LABEL", "Sink", "make_sink"]


def make_sink(settings: Any) -> Sink:
    """A sink as ``settings`` say.

    Reads ``settings.sink`` (``"directory"`` or ``"kubernetes"``) and ``settings.manifest_dir``; optionally
    ``secret_namespace`` (default ``kyma-system``), ``ca_secret_ref`` ((namespace, name) of the CA Secret),
    ``kubeconfig`` (a path; None: in-cluster config, then
    $KUBECONFIG or ~/.kube/config), ``kube_context`` and ``kube_watch_timeout`` (seconds). Both sinks have
    ``aclose()``.
    """
    kind = str(getattr(settings, "sink", "directory") or "directory").lower()
    if kind == "directory":
        from agent.sinks.directory import DirectorySink  # noqa: PLC0415 - a sink loads only when chosen

        return DirectorySink(Path(settings.manifest_dir))
    if kind == "kubernetes":
        from agent.sinks.kubernetes import (  # noqa: PLC0415 - lightkube loads only for this sink
            DEFAULT_WATCH_TIMEOUT,
            KubernetesSink,
        )

        kubeconfig = getattr(settings, "kubeconfig", None)
        ca_secret = getattr(settings, "ca_secret_ref", None)
        return KubernetesSink.from_config(
            kubeconfig=Path(kubeconfig) if kubeconfig else None,
            context=getattr(settings, "kube_context", None),
            secret_namespace=getattr(settings, "secret_namespace", None) or DEFAULT_SECRET_NAMESPACE,
            secrets_elsewhere={ca_secret[1]: ca_secret[0]} if ca_secret else None,
            watch_timeout=getattr(settings, "kube_watch_timeout", None) or DEFAULT_WATCH_TIMEOUT,
        )
    raise ValueError(f"unknown sink {kind!r}: use 'directory' or 'kubernetes'")
