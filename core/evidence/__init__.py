"""Evidence files (clips, snapshots): their hashes, their check, their retention (see docs/audit.md)."""
