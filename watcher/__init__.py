"""The Runtime Watcher: admission webhook server, durable spool and delivery to the control plane."""
