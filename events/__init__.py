"""The event ingress (``compass-events``): connected applications send events over mTLS, the validator checks the
certificate belongs to the application in the path, events are stored durably, then delivered to the runtime's
subscribers. Runtime side: imports nothing of the server nor of the agent."""
