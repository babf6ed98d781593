"""Idempotency keys for the API: a retried POST gets the first answer instead of a duplicate."""
