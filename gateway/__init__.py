"""The Application Gateway (``compass-gateway``): workloads call an application's API through it, and it adds
the credentials the Runtime Agent stored. Runtime side: imports nothing of the server nor of the agent."""
