"""The Application Broker (``compass-broker``): offers the runtime's applications to its workloads through the
Open Service Broker API."""
