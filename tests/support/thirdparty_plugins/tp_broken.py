"""A third-party plugin whose module raises at import."""

raise RuntimeError("tp_broken cannot find its vendor SDK")
