"""Every hook B-Connect calls, in one module, grouped by lifecycle.

All hook names share the prefix ``bconnect_``. ``docs/plugins.md`` documents each
hook and each argument; ``tests/test_hook_docs.py`` fails when one is missing.

How async work is done
----------------------
pluggy is synchronous. Hooks here are therefore of two kinds:

* **Registration hooks** (``bconnect_register_*``) are called once while the app
  is built. They receive a ``register`` callback and hand the core objects that
  implement the small interfaces of :mod:`core.interfaces`. Those objects may
  have ``async`` methods; the core awaits them on its own event loop.
* **Lifecycle hooks** (``bconnect_startup``, ``bconnect_shutdown``) may return
  ``None``, a coroutine or any awaitable; the core awaits what it got before
  calling the next implementation.

The core calls every implementation on its own (see
:meth:`core.plugin_host.PluginHost.call`), so one plugin that raises is logged
with its name, counted and marked degraded while the other plugins still run.
No hook is ``firstresult``: an un-awaited coroutine is not ``None`` and would
always "win".
"""

from __future__ import annotations

import pluggy

PROJECT = "bconnect"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registration: called once while the app is built ----------------------


@hookspec
def bconnect_register_camera_drivers(register):
    """Hand the core camera drivers.

    :param register: call ``register(driver)`` once per driver; ``driver``
        implements :class:`core.interfaces.CameraDriver`.
    :return: ignored.
    """


@hookspec
def bconnect_register_analyzers(register):
    """Hand the core video analyzers (parking, accident, crime ...).

    :param register: call ``register(analyzer)``; ``analyzer`` implements
        :class:`core.interfaces.Analyzer`.
    :return: ignored.
    """


@hookspec
def bconnect_register_sinks(register):
    """Hand the core event sinks (ticketing, a prosecutor's export ...).

    Each sink gets every event stored from its first start on, through the
    outbox (:mod:`core.events.outbox`): in order, at least once, retried with
    backoff while it raises.

    :param register: call ``register(sink)``; ``sink`` implements
        :class:`core.interfaces.Sink` (a unique ``name`` and
        ``async deliver(event)``).
    :return: ignored.
    """


@hookspec
def bconnect_register_detectors(register):
    """Hand the core object detectors that analyzers share (ONNX models ...).

    :param register: call ``register(detector)``; ``detector`` implements
        :class:`core.analytics.detector.Detector`.
    :return: ignored.
    """


@hookspec
def bconnect_register_plate_validators(register):
    """Hand the core the validator of a country's number plates.

    The violation workflow normalises every plate with it and refuses to
    verify a violation whose plate it finds invalid until an officer has
    entered or confirmed the plate. Without one the core only normalises
    (:class:`core.violations.plates.PermissiveValidator`); the first one
    registered is used, any other is reported against its plugin.

    :param register: call ``register(validator)``; ``validator`` implements
        :class:`core.violations.plates.PlateValidator`.
    :return: ignored.
    """


@hookspec
def bconnect_register_plate_readers(register):
    """Hand the core a plate reader, which analyzers use through ``services.plates``.

    An analyzer that caught a vehicle hands it the pictures of the vehicle's
    track; the reading goes into the event's ``detail`` (``plate``,
    ``plate_confidence``), from which the violation workflow takes it. The
    first one registered is used, any other is reported against its plugin.

    :param register: call ``register(reader)``; ``reader`` implements
        :class:`core.analytics.plates.PlateReader` (a ``name`` and
        ``async read(crops, vehicle_class)``).
    :return: ignored.
    """


@hookspec
def bconnect_register_routes(register):
    """Hand the core HTTP routes.

    Every route a plugin adds requires an authenticated user; only the core
    declares public paths.

    :param register: call ``register(route)`` with a starlette ``Route``,
        ``WebSocketRoute`` or ``Mount``.
    :return: ignored.
    """


@hookspec
def bconnect_register_jobs(register):
    """Hand the scheduler periodic jobs.

    :param register: call ``register(job)`` with a :class:`core.interfaces.Job`.
        A job that raises is logged with the plugin's name and counted; the
        scheduler keeps running.
    :return: ignored.
    """


@hookspec
def bconnect_register_models(register):
    """Hand the database models a plugin keeps, with their migrations.

    :param register: call ``register(models)`` with a
        :class:`core.interfaces.ModelSet` (tortoise app label, models module,
        migrations module).
    :return: ignored.
    """


@hookspec
def bconnect_register_commands(register):
    """Hand the ``bconnect`` command line subcommands of a plugin.

    Called only when the command line names a subcommand the core does not
    have: the core reads the deployment (``--config``, default
    ``plugins.toml``), builds its plugins and offers theirs.

    :param register: call ``register(command)`` with a
        :class:`core.interfaces.Command` (a ``name`` no core subcommand has,
        ``help``, ``configure(parser)`` adding its arguments, ``run(args, cfg)``
        returning the exit status).
    :return: ignored.
    """


@hookspec
def bconnect_register_pages(register):
    """Hand the core web pages of a plugin to link from the live view's top bar.

    :param register: call ``register(page)`` with a :class:`core.interfaces.Page`
        (``path``, one of the plugin's routes; ``title``; ``visible(principal)``,
        whether a user gets the link). ``GET /api/me`` lists the pages the user
        gets under ``pages``; a ``visible`` that raises is reported against its
        plugin and the link left out.
    :return: ignored.
    """


# --- lifecycle ---------------------------------------------------------------


@hookspec
def bconnect_startup(services):
    """The app has started: the database is migrated, the scheduler runs.

    :param services: a deployment plugin's view, :class:`core.services.PluginServices`
        (the core's own plugins get :class:`core.services.Services`).
    :return: ``None`` or an awaitable, which the core awaits.
    """


@hookspec
def bconnect_shutdown(services):
    """The app is stopping; release what ``bconnect_startup`` took.

    :param services: as for ``bconnect_startup``.
    :return: ``None`` or an awaitable, which the core awaits.
    """


# --- operations --------------------------------------------------------------


@hookspec
def bconnect_health(services):
    """Report a plugin's own health for ``GET /api/health``.

    :param services: as for ``bconnect_startup``.
    :return: ``None``, a ``dict`` of JSON values (with a ``status`` of ``ok``,
        ``degraded`` or ``down``) or an awaitable of one.
    """
