"""Rollout areas: where analytics enforce, and where they only educate.

A deployment switches areas on one by one (``[areas.<id>] enabled = true``).
Every camera stays viewable wherever it stands; only the analytics mode
differs: in an area not switched on (or a camera with no area) events are
warnings, never tickets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from core.config import Deployment, unknown_agency
from core.hookspecs import hookimpl
from core.interfaces import CameraInfo

Mode = Literal["enforcement", "education"]


def enforcement_mode(deployment: Deployment, area: str | None) -> Mode:
    """``"enforcement"`` if ``area`` is switched on in the deployment, else ``"education"``."""
    if area is None:
        return "education"
    known = deployment.areas.get(area)
    return "enforcement" if known is not None and known.enabled else "education"


def unknown_area(deployment: Deployment, area: str | None) -> str | None:
    """A one-line reason if ``area`` is not declared by the deployment, else ``None``."""
    if area is None or area in deployment.areas:
        return None
    known = ", ".join(sorted(deployment.areas)) or "none"
    return f"area {area!r} is not declared in [areas] (declared: {known})"


def check_camera_areas(deployment: Deployment, cameras: Iterable[CameraInfo]) -> list[str]:
    """One reason per camera whose area the deployment does not declare."""
    problems = []
    for cam in cameras:
        reason = unknown_area(deployment, cam.area)
        if reason:
            problems.append(f"camera {cam.id!r} ({cam.driver}): {reason}")
    return problems


class AreasPlugin:
    """Core plugin: once the camera registry has listed the cameras, report each one in an undeclared
    area, or of an agency the deployment does not declare.

    Drivers refuse such a camera in their constructor (or their config, through
    ``AgencyRef``), so that ``check-config`` catches it; one that does not is
    reported against its plugin here (degraded in ``/api/health``). The camera
    stays viewable and its analytics stay in education mode.
    """

    def __init__(self, config, context) -> None:
        self.context = context

    @hookimpl
    def bconnect_startup(self, services):
        if services.cameras is None:
            return
        agencies = services.deployment.agencies
        for runtime in services.cameras.all():
            reason = unknown_area(services.deployment, runtime.info.area)
            if reason:
                services.plugins.report_failure(runtime.plugin, "cameras", ValueError(f"camera {runtime.id!r}: {reason}"))
            if runtime.info.agency not in agencies:
                # only its own agency's users (and no admin) would see it
                reason = unknown_agency(runtime.info.agency, agencies)
                services.plugins.report_failure(runtime.plugin, "cameras", ValueError(f"camera {runtime.id!r}: {reason}"))
