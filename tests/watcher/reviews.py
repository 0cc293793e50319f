"""AdmissionReviews as the API server sends them (``k8s.io/api`` ``admission/v1``), about the resources the
Runtime Watcher is set to watch."""

from __future__ import annotations

import uuid
from copy import deepcopy
from typing import Any

APPLICATION_GROUP, APPLICATION_VERSION = "applicationconnector.kyma-project.io", "v1alpha1"
_OPTIONS = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions", "CONNECT": None}


def application(
    name: str, *, description: str = "shop", status: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An Application as the API server stores it (cluster-scoped, managed by the agent)."""
    return {
        "apiVersion": f"{APPLICATION_GROUP}/{APPLICATION_VERSION}",
        "kind": "Application",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "4711",
            "generation": 1,
            "creationTimestamp": "2026-12-07T10:00:00Z",
            "labels": {"applicationconnector.kyma-project.io/managed-by": "compass-runtime-agent"},
            "managedFields": [
                {
                    "manager": "compass-runtime-agent",
                    "operation": "Apply",
                    "apiVersion": f"{APPLICATION_GROUP}/{APPLICATION_VERSION}",
                    "time": "2026-12-07T10:00:00Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:spec": {"f:description": {}}},
                }
            ],
        },
        "spec": {"description": description, "skipInstallation": False, "services": []},
        **({"status": status} if status is not None else {}),
    }


def admission_review(
    operation: str,
    new: dict[str, Any] | None,
    old: dict[str, Any] | None,
    *,
    resource: str = "applications",
    subresource: str = "",
    dry_run: bool = False,
    uid: str | None = None,
) -> dict[str, Any]:
    """An ``admission.k8s.io/v1`` AdmissionReview with every field the API server fills (``k8s.io/api``
    ``admission/v1`` ``AdmissionRequest``; omitempty fields left out when empty, as Go marshals them)."""
    watched = new or old or {}
    group, _, version = watched["apiVersion"].rpartition("/")
    kind = {"group": group, "version": version, "kind": watched["kind"]}
    resource_of = {"group": group, "version": version, "resource": resource}
    request: dict[str, Any] = {
        "uid": uid or str(uuid.uuid4()),
        "kind": kind,
        "resource": resource_of,
        **({"subResource": subresource} if subresource else {}),
        "requestKind": kind,
        "requestResource": resource_of,
        **({"requestSubResource": subresource} if subresource else {}),
        "name": watched["metadata"]["name"],
        **({"namespace": watched["metadata"]["namespace"]} if "namespace" in watched["metadata"] else {}),
        "operation": operation,
        "userInfo": {
            "username": "system:serviceaccount:kyma-system:compass-runtime-agent",
            "uid": "0d9e5b7c-7f1f-4f3e-9c55-51c0a8b1e2f3",
            "groups": [
                "system:serviceaccounts",
                "system:serviceaccounts:kyma-system",
                "system:authenticated",
            ],
        },
        "object": new,
        "oldObject": old,
        "dryRun": dry_run,
    }
    if _OPTIONS[operation] is not None:
        request["options"] = {"kind": _OPTIONS[operation], "apiVersion": "meta.k8s.io/v1"}
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def changed(document: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """The object after an update: a new resourceVersion, and ``spec`` merged in."""
    updated = deepcopy(document)
    updated["metadata"]["resourceVersion"] = "4712"
    updated["spec"].update(spec)
    return updated
