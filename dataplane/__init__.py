"""The runtime side's shared code: what the gateway and the event ingress both read (the agent's Applications and
Secrets) and how their processes serve. Imports nothing of the server and nothing of the agent."""
