"""The runtime's catalog: the Applications and Secrets the Runtime Agent maintains, read from its manifest
directory or from Kubernetes (a watch), for the gateway and the event ingress alike."""
