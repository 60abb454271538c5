"""Kejaksaan export: verified tilang cases to the prosecutor as signed batches, and the court's results back.

The sink (:mod:`.sink`) keeps each verified violation of the chosen agencies
as a case; a daily job, the API and ``bconnect kejaksaan-export`` write the
waiting cases as a batch (:mod:`.batch`, the schema in :mod:`.casefile`)
signed with the deployment's Ed25519 key (:mod:`.signing`);
``bconnect verify-export`` checks one offline (:mod:`.verify`). The
prosecutor's users record the court's results (:mod:`.results`), which close
the case. docs/kejaksaan-export.md is the guide.
"""

from __future__ import annotations

import asyncio
import logging

from core.hookspecs import hookimpl
from core.interfaces import Job, Page
from plugins.kejaksaan_export import results, signing
from plugins.kejaksaan_export.api import ExportApi
from plugins.kejaksaan_export.batch import BUILDING, ExportFailed, Exporter
from plugins.kejaksaan_export.cli import commands
from plugins.kejaksaan_export.config import Config
from plugins.kejaksaan_export.models import MODELS, ExportBatch, ExportCase
from plugins.kejaksaan_export.sink import CaseSink

log = logging.getLogger("bconnect.plugin.kejaksaan_export")


class KejaksaanExport:
    Config = Config

    def __init__(self, config: Config, context) -> None:
        # no I/O: check-config builds the plugin too; the key is made at start-up
        self.config = config
        self.data_dir = context.data_dir
        info = context.deployment.deployment
        self.exporter = Exporter(config, context.data_dir, info.name, info.timezone)
        self.sink = CaseSink(config)
        self.api = ExportApi(self)
        self.services = None
        self._task: asyncio.Task | None = None
        self._running: str | None = None

    # --- exports in the server -------------------------------------------------------------

    def running_batch(self) -> str | None:
        return self._running

    async def start(self, trigger: str, by: str) -> ExportBatch | None:
        """Claim a batch and write it in the background; ``None`` when no case waits."""
        if self._task is not None and not self._task.done():
            raise ExportFailed(f"batch {self._running} is being written; try again when it has finished", 409)
        lock = await asyncio.to_thread(self.exporter.lock)
        try:
            batch = await self.exporter.claim(trigger, by)
        except BaseException:
            lock.release()
            raise
        if batch is None:
            lock.release()
            return None
        self._running = batch.name
        self._task = asyncio.create_task(self._build(batch, lock), name=f"kejaksaan-export {batch.name}")
        return batch

    async def _build(self, batch: ExportBatch, lock) -> None:
        try:
            await self.exporter.build(batch)
        except ExportFailed as exc:
            log.warning("batch %s: %s", batch.name, exc)  # kept on the batch (error) and in health
        except Exception as exc:  # a bug: the batch stays building, the next run tries again
            log.exception("batch %s failed", batch.name)
            await ExportBatch.filter(id=batch.id).update(error=f"{type(exc).__name__}: {exc}"[:300])
        finally:
            lock.release()
            self._running = None

    async def daily(self) -> None:
        try:
            batch = await self.start("scheduled", "system")
        except ExportFailed as exc:
            log.warning("daily export not run: %s", exc)
            raise
        if batch is not None and self._task is not None:
            await asyncio.shield(self._task)
        await self.close_ready()

    async def close_ready(self) -> int:
        if self.services is None:
            return 0
        return await results.close_ready(self.services.violations)

    # --- hooks -----------------------------------------------------------------------------

    @hookimpl
    def bconnect_register_sinks(self, register):
        register(self.sink)

    @hookimpl
    def bconnect_register_models(self, register):
        register(MODELS)

    @hookimpl
    def bconnect_register_routes(self, register):
        for route in self.api.routes():
            register(route)

    @hookimpl
    def bconnect_register_jobs(self, register):
        register(Job(id="daily_batch", func=self.daily, cron=self.config.schedule))

    @hookimpl
    def bconnect_register_pages(self, register):
        # the page checks access itself (ExportApi._reader): the same rule decides who gets the link
        agency = self.config.prosecutor_agency
        register(Page("/api/kejaksaan_export/page", "Kejaksaan",
                      visible=lambda who: who.role == "admin" or who.agency == agency))

    @hookimpl
    def bconnect_register_commands(self, register):
        for command in commands(self):
            register(command)

    @hookimpl
    async def bconnect_startup(self, services):
        self.services = services
        self.sink.services = services
        await asyncio.to_thread(signing.load_or_create, self.data_dir)
        await self.close_ready()  # closes a crash cut short

    @hookimpl
    async def bconnect_shutdown(self, services):
        task = self._task
        if task is not None and not task.done():
            task.cancel()  # the batch stays building, hidden: the next run finishes it
            await asyncio.gather(task, return_exceptions=True)

    @hookimpl
    async def bconnect_health(self, services):
        waiting = await ExportCase.filter(batch_id=None).count()
        stuck = await ExportBatch.filter(state=BUILDING).exclude(error="").first()
        report = {"status": "ok", "cases_waiting": waiting, "running": self._running}
        if stuck is not None and stuck.name != self._running:
            report.update(status="degraded", reason=f"batch {stuck.name}: {stuck.error}")
        return report
