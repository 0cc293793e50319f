"""Compass's Connectivity Adapter: the REST API of the seed tutorials, served over the Director's and the
Connector's services (DATAPLANE.md section D.3). It lives in the composition root because it needs both."""
