"""A third-party plugin whose manifest claims an analyzer: it registers what its config says."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from core.hookspecs import hookimpl


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    analyzers: int = 0
    sinks: int = 0


@dataclass(frozen=True)
class Registered:
    """A stand-in for an analyzer or a sink: only the host's bookkeeping is under test."""

    kind: str
    number: int


class Claims:
    manifest = {
        "name": "tp_claims",
        "version": "0.1.0",
        "description": "Test plugin that claims an analyzer",
        "provides": ["analyzer"],
    }
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config

    @hookimpl
    def bconnect_register_analyzers(self, register):
        for n in range(self.config.analyzers):
            register(Registered("analyzer", n))

    @hookimpl
    def bconnect_register_sinks(self, register):
        for n in range(self.config.sinks):
            register(Registered("sink", n))
