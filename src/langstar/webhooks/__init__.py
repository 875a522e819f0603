"""Webhooks: a run's outcome POSTed to a URL, from a durable outbox."""
