"""PTZ control: one service per app that routes, arbitrates and remembers.

``service`` holds :class:`~core.ptz.service.PtzService` (no hooks, no HTTP),
``api`` the HTTP routes, ``plugin`` the core plugin that wires both into an
app. Imports go one way: ``plugin`` -> ``api`` -> ``service``.
"""
