"""A fleet shipped as data: what every driver of an agency's camera inventory does when it is built.

Such a plugin ships its cameras as a TOML inventory (ids, names, areas,
positions; never a URL or a credential) and takes their addresses from the
deployment: :class:`core.inventory.StreamSettings` (URL templates over
per-camera fields) plus per-camera overrides. At construction it must refuse,
with a one-line reason that ``bconnect check-config`` shows against its table:
a camera in an area the deployment does not declare, an override for a camera
the inventory lacks, a template that uses a field the plugin does not give.
:func:`build_fleet` does all three and renders each camera's streams.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.areas import unknown_area
from core.config import CameraId, Deployment, check_unique
from core.interfaces import CameraInfo, Capability, Preset, StreamSource
from core.inventory import StreamOverride, StreamSettings


class FleetEntry(BaseModel):
    """One camera of an inventory file; a plugin's entry adds its own keys."""

    model_config = ConfigDict(extra="forbid")

    id: CameraId
    name: str
    area: str | None = None  # a rollout area of the deployment; None: outside them
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class FleetFile(BaseModel):
    """An inventory file: a subclass declares ``cameras: list[ItsEntry]``."""

    model_config = ConfigDict(extra="forbid")

    placeholder: bool  # names and positions are not surveyed
    cameras: Sequence[FleetEntry]

    @model_validator(mode="after")
    def _unique_ids(self) -> FleetFile:
        check_unique(c.id for c in self.cameras)
        return self


E = TypeVar("E", bound=FleetEntry)
Fields = Mapping[str, object]


def numbering(entry: FleetEntry, fleet: Sequence[E], group: Callable[[E], Hashable]) -> dict[str, object]:
    """Template fields every fleet gives: ``id``, ``number`` (1.. in the inventory) and
    ``index`` (1.. among the cameras of the same ``group``, e.g. the area)."""
    same = [x.id for x in fleet if group(x) == group(entry)]  # type: ignore[arg-type]
    return {"id": entry.id, "number": [x.id for x in fleet].index(entry.id) + 1, "index": same.index(entry.id) + 1}


@dataclass(frozen=True)
class Fleet(Generic[E]):
    """The cameras a deployment takes from an inventory, with where their streams are."""

    entries: tuple[E, ...]
    fields: Mapping[str, Fields]  # camera id -> its template fields
    settings: StreamSettings
    overrides: Mapping[str, StreamOverride]

    def entry(self, camera_id: str) -> E | None:
        return next((c for c in self.entries if c.id == camera_id), None)

    def sources(self, camera_id: str) -> tuple[StreamSource, StreamSource | None]:
        """The main and sub stream of one camera of the fleet."""
        return self.settings.sources(self.fields[camera_id], self.overrides.get(camera_id))

    def info(
        self,
        entry: E,
        *,
        agency: str,
        driver: str,
        capabilities: frozenset[Capability] = frozenset(),
        presets: tuple[Preset, ...] = (),
    ) -> CameraInfo:
        """How the driver describes one camera of the fleet to the core."""
        main, sub = self.sources(entry.id)
        return CameraInfo(
            id=entry.id,
            name=entry.name,
            agency=agency,
            driver=driver,
            main=main,
            sub=sub,
            area=entry.area,
            lat=entry.lat,
            lon=entry.lon,
            capabilities=capabilities,
            presets=presets,
        )


def build_fleet(
    inventory: Sequence[E],
    settings: StreamSettings,
    overrides: Mapping[str, StreamOverride],
    deployment: Deployment,
    fields: Callable[[E, Sequence[E]], Fields],
    *,
    take: Callable[[E], bool] = lambda entry: True,
    sample: Fields | None = None,
    area_hint: str = "",
) -> Fleet[E]:
    """Check an inventory against the deployment and the plugin's config; ``ValueError`` says what is wrong.

    ``take`` picks the cameras this deployment wants (all by default);
    ``fields(entry, inventory)`` gives one camera's template fields;
    ``sample`` stands in for them to check the templates when ``take`` leaves
    no camera; ``area_hint`` ends the reason for a camera in an undeclared area.
    """
    strange = sorted(set(overrides) - {c.id for c in inventory})
    entries = tuple(c for c in inventory if take(c))
    for c in entries:
        reason = unknown_area(deployment, c.area)
        if reason:
            raise ValueError(f"camera {c.id!r}: {reason}{area_hint}")
    if strange:
        raise ValueError(f"cameras: unknown camera id(s) {', '.join(strange)}")
    by_id = {c.id: fields(c, inventory) for c in entries}
    example = next(iter(by_id.values()), sample)
    if example is not None:
        settings.check_templates(example)
    return Fleet(entries, by_id, settings, overrides)
