"""The tamper-evident audit chain: appending, anchoring, verifying (see docs/audit.md)."""
