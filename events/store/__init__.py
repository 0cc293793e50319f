"""Where events are kept until every subscriber has them: the embedded SQLite log (default) or NATS JetStream."""
