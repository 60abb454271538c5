"""The one skeleton of a test deployment file, for the test fixtures and the conformance kit.

It holds what every deployment needs (``[deployment]``, ``[server]``) and
nothing of a city: the areas, agencies and access rules a test needs come in
``tables``, from the test suite (``deployment_tables`` fixture) or the plugin
author.
"""

from __future__ import annotations

from pathlib import Path

SKELETON = """\
[deployment]
name = "{name}"

[server]
host = "127.0.0.1"
port = {port}
data_dir = "{data_dir}"
secure_cookies = false
"""


def deployment_toml(data_dir: str | Path, *, port: int = 8080, name: str = "Test", tables: str = "") -> str:
    """A deployment file's text: the skeleton, then ``tables`` (TOML: areas, agencies, access, plugins)."""
    text = SKELETON.format(name=name, port=port, data_dir=Path(data_dir).as_posix())
    return f"{text}\n{tables}" if tables else text
