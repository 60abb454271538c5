"""A third-party plugin that raises wherever its config says: for containment tests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.hookspecs import hookimpl
from core.interfaces import Job

Place = Literal["routes", "jobs", "job", "startup", "startup_async", "health", "shutdown"]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_in: list[Place] = []
    every_s: float = 0.05


class Faulty:
    manifest = {
        "name": "tp_faulty",
        "version": "0.1.0",
        "description": "Test plugin that fails on purpose",
        "provides": ["routes", "jobs"],
    }
    Config = Config

    def __init__(self, config: Config, context) -> None:
        self.fail_in = set(config.fail_in)
        self.every_s = config.every_s
        self.job_calls = 0

    def _maybe_fail(self, place: str) -> None:
        if place in self.fail_in:
            raise RuntimeError(f"tp_faulty broke in {place}")

    async def ping(self, request):
        return JSONResponse({"faulty": True})

    def job(self) -> None:
        self.job_calls += 1
        self._maybe_fail("job")

    @hookimpl
    def bconnect_register_routes(self, register):
        register(Route("/api/tp_faulty/ping", self.ping, methods=["GET"]))
        self._maybe_fail("routes")

    @hookimpl
    def bconnect_register_jobs(self, register):
        self._maybe_fail("jobs")
        register(Job(id="explode", func=self.job, seconds=self.every_s))

    @hookimpl
    def bconnect_startup(self, services):
        self._maybe_fail("startup")

        async def later():
            self._maybe_fail("startup_async")

        return later()

    @hookimpl
    def bconnect_health(self, services):
        self._maybe_fail("health")
        return {"status": "ok"}

    @hookimpl
    def bconnect_shutdown(self, services):
        self._maybe_fail("shutdown")
