"""`make demo`: the workflow of the seed tutorials on one machine, driven over HTTP and through the project's
commands (`compass`, `compass-agent`, `compass-gateway`, `compass-events`), never through their internals.

It starts a server, connects a runtime, connects a sample external application (``demo.shop``) through the
REST API of the tutorials, and shows a workload calling the application's API through the gateway and a
subscriber receiving the application's event. Every step prints what it proved; everything runs on loopback,
on free ports, with its state in a temporary directory removed at the end.
"""
