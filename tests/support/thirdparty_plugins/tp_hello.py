"""A well-behaved third-party plugin: a route, a counting job, health and a typed config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.config import AreaRef
from core.hookspecs import hookimpl
from core.interfaces import Job


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    greeting: str = "hello"
    every_s: float = Field(default=0.05, gt=0)
    area: AreaRef | None = None


class Hello:
    manifest = {
        "name": "tp_hello",
        "version": "0.1.0",
        "description": "Test plugin: a route, a job, health",
        "provides": ["routes", "jobs"],
    }
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.config = config
        self.runs = 0
        self.started = False

    async def ping(self, request):
        return JSONResponse({"greeting": self.config.greeting, "runs": self.runs})

    def count(self) -> None:
        self.runs += 1

    @hookimpl
    def bconnect_register_routes(self, register):
        register(Route("/api/tp_hello/ping", self.ping, methods=["GET"]))

    @hookimpl
    def bconnect_register_jobs(self, register):
        register(Job(id="count", func=self.count, seconds=self.config.every_s))

    @hookimpl
    def bconnect_startup(self, services):
        async def start():
            self.started = True

        return start()

    @hookimpl
    def bconnect_health(self, services):
        return {"status": "ok", "runs": self.runs}
