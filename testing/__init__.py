"""What tests/ and bench/ both need to run pycompass for real: free loopback ports, waiting with a deadline,
throwaway databases, `compass serve` as a subprocess, and TLS certificates for stand-in servers.

Nothing of the server (kernel, credentials, director, connector, compass, agent) imports this package.
"""
