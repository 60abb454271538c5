"""Frames and ground truth for one simulated camera.

:class:`Renderer` draws frame ``i`` of the loop as RGB pixels and says where
every object is in it. Nothing here reads the clock or global state: the same
spec always gives the same pixels and the same truth.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from plugins.traffic_sim.background import build_backdrop, glow_into
from plugins.traffic_sim.camera import Camera
from plugins.traffic_sim import junction as junctions
from plugins.traffic_sim.geometry import BUILDING_X, HAZE_DAY, HAZE_NIGHT, haze, lamp_light
from plugins.traffic_sim.body import draw_lying
from plugins.traffic_sim import photo_people
from plugins.traffic_sim.people import draw_person, draw_rider
from plugins.traffic_sim.plate_art import FONT_DIR, PlateArt
from plugins.traffic_sim.scenarios import SCENARIOS
from plugins.traffic_sim.vehicles import Glow, VehiclePainter
from plugins.traffic_sim.visibility import IdLayer
from plugins.traffic_sim.world import Actor, build_world

# Bump when a change alters pixels or truth: cached renders are then redone.
RENDERER_VERSION = "13"
TRUTH_FORMAT = "bconnect-sim-truth/1"


@dataclass(frozen=True)
class RenderSpec:
    """Everything that decides a rendered loop (and hence its cache key)."""

    scenario: str
    seed: int
    width: int = 960
    height: int = 540
    fps: int = 15
    loop_seconds: int = 30
    keyframe_seconds: int = 2
    night: bool | None = None  # None: the scenario's own lighting
    label: str = ""  # drawn in the top-left corner, like a camera's on-screen name

    @property
    def frames(self) -> int:
        return self.fps * self.loop_seconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Renderer:
    def __init__(self, spec: RenderSpec, font_dir=FONT_DIR):
        if spec.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {spec.scenario!r}")
        self.spec = spec
        scenario = SCENARIOS[spec.scenario]
        self.night = scenario.night if spec.night is None else spec.night
        self.world = build_world(scenario, spec.seed, spec.width, spec.height, float(spec.loop_seconds), self.night)
        self.view = self.world.view
        # the backdrop draws from its own stream, so adding an actor never repaints the street
        side_rng = np.random.default_rng([spec.seed, 1])
        self.backdrop = build_backdrop(self.view, self.night, side_rng, spec.label)
        self.junction = junctions.paint(self.backdrop, self.view, scenario.junction) if scenario.junction else None
        self.plates = PlateArt(font_dir)
        for actor in self.world.actors:
            if actor.plate is not None:
                self.plates.add(actor.id, actor.plate, actor.plate_style)
        self.painter = VehiclePainter(self.view, self.night, self.plates)
        self.haze_color = HAZE_NIGHT if self.night else HAZE_DAY
        self.camera = Camera(spec.width, spec.height, self.night, spec.seed)

    def frame(self, i: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Pixels (height, width, 3) uint8 and the objects seen in frame ``i``."""
        spec = self.spec
        t = i / spec.frames
        t_s = i / spec.fps
        img = self.backdrop.image.copy()
        draw = ImageDraw.Draw(img)
        glows: list[Glow] = []
        beams: list[list[tuple[float, float]]] = []
        items = []
        for actor in self.world.actors:
            if not actor.track.visible(t):
                continue
            pose = actor.track.pose(t)
            if actor.kind == "person" and abs(pose.x) > BUILDING_X + 0.05:
                continue  # still inside a doorway
            depth = float(self.view.to_camera(np.array([[pose.x, 0.0, pose.z]]))[0, 2])
            if depth < 1.0:
                continue
            items.append((depth, actor, pose))
        if items:
            farthest = max(it[0] for it in items)
            items += [(prop.depth, None, prop) for prop in self.backdrop.props if prop.depth < farthest]
        items.sort(key=lambda it: -it[0])
        seen: list[dict[str, Any]] = []
        layer = IdLayer(spec.width, spec.height)  # which object each pixel shows: the truth's `visible`
        for depth, actor, pose in items:
            if actor is None:  # a lamp post or sign in front of something
                img.paste(pose.patch, pose.origin, pose.patch)
                layer.cover(pose.origin, pose.patch)
            elif actor.kind == "person":
                snap = layer.snap(img, self._region(pose.x, pose.z, actor.look.height + 0.15, 1.05))
                found = self._person(draw, actor, pose, depth, t_s, img)
                layer.mark(actor.id, layer.changed(img, snap))
                seen += found
            else:
                seen += self._vehicle(draw, img, actor, pose, t_s, glows, beams, layer)
        for record in seen:
            record["visible"] = round(layer.visible(record["id"]), 2)
        if self.junction is not None:
            self.junction.light(draw, t)
        if self.night and (glows or beams):
            pixels = self._light_up(img, glows, beams)
        else:
            pixels = np.asarray(img)
        return self.camera.expose(pixels, i), seen

    def frame_facts(self, i: int) -> dict[str, Any]:
        """What the truth tells of frame ``i`` besides its objects: the signal's lit lamp, at a junction."""
        if self.junction is None or not self.spec.frames:
            return {}
        lit = self.junction.phase(i / self.spec.frames)
        return {"signal": lit} if lit else {}

    def _light_up(self, img: Image.Image, glows: list[Glow], beams: list[list[tuple[float, float]]]) -> np.ndarray:
        """Add headlight beams and lamp glows, working only on the part of the frame they touch."""
        w, h = img.size
        spans = [(g.u - g.radius, g.v - g.radius, g.u + g.radius, g.v + g.radius) for g in glows]
        spans += [(min(p[0] for p in b), min(p[1] for p in b), max(p[0] for p in b), max(p[1] for p in b)) for b in beams]
        x0 = max(0, int(min(s[0] for s in spans)))
        y0 = max(0, int(min(s[1] for s in spans)))
        x1 = min(w, int(max(s[2] for s in spans)) + 2)
        y1 = min(h, int(max(s[3] for s in spans)) + 2)
        pixels = np.array(img)
        if x0 >= x1 or y0 >= y1:
            return pixels
        region = pixels[y0:y1, x0:x1].astype(np.float32)
        if beams:
            layer = Image.new("L", (x1 - x0, y1 - y0), 0)
            ld = ImageDraw.Draw(layer)
            for b in beams:
                ld.polygon([(u - x0, v - y0) for u, v in b], fill=18)  # the camera's gain doubles it
            region += (np.asarray(layer, dtype=np.float32) / 255.0)[..., None] * np.array([255, 240, 200], dtype=np.float32)
        glow_into(region, [(g.u - x0, g.v - y0, g.radius, g.color) for g in glows])
        pixels[y0:y1, x0:x1] = np.clip(region, 0, 255).astype(np.uint8)
        return pixels

    def _box(self, box) -> list[int] | None:
        w, h = self.spec.width, self.spec.height
        x0, y0, x1, y1 = (max(0, min(w, round(box[0]))), max(0, min(h, round(box[1]))), max(0, min(w, round(box[2]))), max(0, min(h, round(box[3]))))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        return [x0, y0, x1, y1]

    def _record(self, oid: str, box, depth: float) -> dict[str, Any] | None:
        """An object's truth: its box clipped to the picture, the share of its box inside the picture
        (``in_frame``: a car driving out of the side of the picture falls towards 0), depth and clarity."""
        clipped = self._box(box)
        if not clipped:
            return None
        w, h = self.spec.width, self.spec.height
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        whole = (x1 - x0) * (y1 - y0)
        inside = max(0.0, min(x1, w) - max(x0, 0.0)) * max(0.0, min(y1, h) - max(y0, 0.0))
        in_frame = 1.0 if whole <= 0 or inside >= whole else round(inside / whole, 2)
        return {"id": oid, "bbox": clipped, "in_frame": in_frame, **self._seen(depth)}

    def _seen(self, depth: float) -> dict[str, float]:
        """Distance in metres, and how much of the object the haze leaves (1: all, 0: none)."""
        return {"depth": round(depth, 1), "clarity": round(1.0 - float(haze(depth, self.night)), 2)}

    def _light(self, x: float, z: float) -> float:
        return 0.2 + 0.8 * float(lamp_light(x, z)) if self.night else 1.0

    def _person(self, draw, actor: Actor, pose, depth: float, t_s: float, img) -> list[dict[str, Any]]:
        light, hz = self._light(pose.x, pose.z), float(haze(depth, self.night))
        walkers = photo_people.in_use()
        if actor.down is not None and actor.down[0] <= t_s / self.spec.loop_seconds < actor.down[1]:
            box = draw_lying(img, self.view, pose.x, pose.z, actor.look, light, self.haze_color, hz, key=actor.id)
        elif walkers is not None:  # a real walker, photographed
            box = photo_people.walk(img, self.view, walkers, actor.id, pose.x, pose.z, actor.look.height, pose.heading,
                                    pose.speed, t_s, hash_phase(actor.id), light, self.haze_color, hz)
        else:  # no footage to cut walkers from: a drawn figure
            phase = 2 * math.pi * t_s * pose.speed / 1.4 + hash_phase(actor.id)
            back = math.cos(math.radians(pose.heading)) > 0.3
            box = draw_person(draw, self.view, pose.x, pose.z, actor.look, phase, min(1.0, pose.speed / 1.2), light, self.haze_color, hz, back, not self.night)
        record = self._record(actor.id, box, depth) if box else None
        return [record] if record else []

    def _region(self, x: float, z: float, up: float, half: float) -> tuple[float, float, float, float]:
        """The pixel box of a block ``2 half`` metres square and ``up`` tall standing at (x, z), a few pixels wider."""
        pts = np.array([(x + dx, y, z + dz) for dx in (-half, half) for y in (0.0, up) for dz in (-half, half)])
        cam = self.view.to_camera(pts)
        cam[:, 2] = np.maximum(cam[:, 2], 0.5)
        px = self.view.to_pixels(cam)
        return (px[:, 0].min() - 4, px[:, 1].min() - 4, px[:, 0].max() + 4, px[:, 1].max() + 4)

    def _vehicle(self, draw, img, actor: Actor, pose, t_s: float, glows, beams, layer: IdLayer) -> list[dict[str, Any]]:
        outline = self.painter.bbox(actor.shape, pose.x, pose.z, pose.heading)
        if outline is None:
            return []
        corners, depth = outline
        region = (corners[:, 0].min() - 4, corners[:, 1].min() - 4, corners[:, 0].max() + 4, corners[:, 1].max() + 4)
        if actor.kind == "motorcycle":  # room for the rider above the machine
            above = self._region(pose.x, pose.z, 2.3, 1.2)
            region = (min(region[0], above[0]), min(region[1], above[1]), max(region[2], above[2]), max(region[3], above[3]))
        snap = layer.snap(img, region)
        rider_drawn: list = []
        blink = actor.hazard_from is not None and t_s >= actor.hazard_from * self.spec.loop_seconds and int(t_s * 3) % 2 == 0
        rider: list = []

        def seat_rider() -> None:
            # between the body and the plate: the rider sits over the machine, the plate is at its end
            back = math.cos(math.radians(pose.heading)) > 0
            seat_z = pose.z - 0.15 * math.cos(math.radians(pose.heading))
            hz = float(haze(depth, self.night))
            before = layer.snap(img, region)
            light = self._light(pose.x, pose.z)
            walkers, upper_body, look = photo_people.in_use(), None, actor.look
            if walkers is not None:  # a real person's head and body on the seat
                walker, _ = walkers.pick(actor.id, 0.0, -1.0 if back else 1.0)
                look = dataclasses.replace(look, pants=walker.trousers)

                def upper_body(u: float, v_seat: float, height_px: float) -> None:
                    photo_people.seat(img, walker, 0, u, v_seat, height_px, False, light, self.haze_color, hz)

            box = draw_rider(draw, self.view, pose.x, seat_z, look, light, self.haze_color, hz, back, upper_body)
            rider_drawn.append(layer.changed(img, before))
            if box:
                rider.append(box)

        overlay = seat_rider if actor.kind == "motorcycle" and actor.look is not None else None
        plate_box = self.painter.draw(draw, img, actor.shape, pose.x, pose.z, pose.heading, actor.color, actor.id, blink, glows, beams, overlay)
        drawn = layer.changed(img, snap)
        if drawn is not None and rider_drawn and rider_drawn[0] is not None:
            layer.mark(actor.id, (drawn[0], drawn[1] & ~rider_drawn[0][1]))  # the machine: what the rider does not cover
            layer.mark(f"{actor.id}.rider", rider_drawn[0])
        else:
            layer.mark(actor.id, drawn)
        out = []
        boxes = [corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max()]
        if plate_box:  # the plate stands a little proud of the body
            boxes = [min(boxes[0], plate_box[0]), min(boxes[1], plate_box[1]), max(boxes[2], plate_box[2]), max(boxes[3], plate_box[3])]
        if rider:  # the rider is an object of its own; the motorcycle's box is the machine, as COCO boxes it
            rider_record = self._record(f"{actor.id}.rider", rider[0], depth)
            if rider_record:
                out.append(rider_record)
        record = self._record(actor.id, boxes, depth)
        if not record:
            return out
        if plate_box:
            pb = self._box(plate_box)
            if pb:
                record["plate_bbox"] = pb
        return [record, *out]

    def truth_header(self) -> dict[str, Any]:
        spec, view, n = self.spec, self.view, self.spec.frames
        objects = []
        for a in self.world.actors:
            obj: dict[str, Any] = {"id": a.id, "class": a.kind}
            if a.plate is not None:
                obj.update(plate=a.plate.normalised, plate_text=a.plate.text, plate_style=a.plate_style)
            if a.role:
                obj["role"] = a.role
            objects.append(obj)
            if a.kind == "motorcycle" and a.look is not None:
                objects.append({"id": f"{a.id}.rider", "class": "person", "riding": a.id})
        events = []
        for ev in self.world.events:
            events.append(
                {
                    "type": ev.type,
                    "objects": list(ev.actors),
                    "start_s": round(ev.start * spec.loop_seconds, 3),
                    "end_s": round(ev.end * spec.loop_seconds, 3),
                    "start_frame": min(n - 1, math.ceil(ev.start * n - 1e-9)),
                    "end_frame": min(n - 1, math.floor(ev.end * n + 1e-9)),
                    **({"zone": ev.zone} if ev.zone else {}),
                }
            )
        zone = [[round(u, 1), round(v, 1)] for u, v in self.backdrop.zone_polygon]
        junction = self.junction.truth() if self.junction is not None else {}
        return {
            "format": TRUTH_FORMAT,
            "renderer": RENDERER_VERSION,
            **spec.as_dict(),
            "frames_total": n,
            "night": self.night,
            "camera": {
                "fov_deg": round(view.fov_deg, 3),
                "x_m": round(view.x, 3),
                "height_m": round(view.height_m, 3),
                "pitch_deg": round(view.pitch_deg, 3),
                "yaw_deg": round(view.yaw_deg, 3),
            },
            "zones": ([{"id": "no_parking", "kind": "no_parking", "polygon": zone}] if zone else [])
            + junction.pop("zones", []) + self._scenario_zones(),
            **junction,  # signal_head, calibration
            "objects": objects,
            "events": events,
        }

    def _scenario_zones(self) -> list[dict[str, Any]]:
        """The scenario's own zones (ground rectangles), in pixels, as the painted one."""
        out = []
        for z in SCENARIOS[self.spec.scenario].zones:
            corners = np.array([(z.x0, 0.0, z.z0), (z.x1, 0.0, z.z0), (z.x1, 0.0, z.z1), (z.x0, 0.0, z.z1)])
            polygon = clip_to_picture(self.view.polygon(corners) or [], self.spec.width, self.spec.height)
            if len(polygon) >= 3:
                out.append({"id": z.id, "kind": z.kind, "polygon": [[round(u, 1), round(v, 1)] for u, v in polygon]})
        return out


def clip_to_picture(polygon: list[tuple[float, float]], width: int, height: int) -> list[tuple[float, float]]:
    """The part of a convex polygon inside the picture (Sutherland-Hodgman against its four edges)."""
    edges = ((0, 0.0, 1), (0, float(width), -1), (1, 0.0, 1), (1, float(height), -1))  # axis, limit, inside side
    for axis, limit, side in edges:
        if not polygon:
            break
        out: list[tuple[float, float]] = []
        for a, b in zip(polygon, polygon[1:] + polygon[:1]):
            a_in, b_in = (a[axis] - limit) * side >= 0, (b[axis] - limit) * side >= 0
            if a_in:
                out.append(a)
            if a_in != b_in:
                k = (limit - a[axis]) / (b[axis] - a[axis])
                out.append((a[0] + k * (b[0] - a[0]), a[1] + k * (b[1] - a[1])))
        polygon = out
    kept: list[tuple[float, float]] = []
    for point in polygon:  # corners that clipping put on top of each other
        if not kept or abs(point[0] - kept[-1][0]) + abs(point[1] - kept[-1][1]) >= 1.0:
            kept.append(point)
    if len(kept) > 1 and abs(kept[0][0] - kept[-1][0]) + abs(kept[0][1] - kept[-1][1]) < 1.0:
        kept.pop()
    return kept


def hash_phase(text: str) -> float:
    """A fixed phase per id (Python's ``hash`` of a str changes per process)."""
    return (sum(ord(c) * (i + 1) for i, c in enumerate(text)) % 628) / 100.0
