"""Kyma's Subscriptions (``eventing.kyma-project.io/v1alpha2``): who receives which events, read from the manifest
directory (default) or from Kubernetes."""
