"""pytest fixtures shipped for B-Connect and its plugin authors (auto-loaded via the pytest11 entry point)."""

from __future__ import annotations
