"""One ONVIF device, spoken to through ``onvif-zeep-async``.

Every call is bounded by the device's timeout and every failure becomes an
:class:`OnvifError` whose message names the device (host:port), says what
went wrong in words (wrong credentials, unreachable, refused) and never holds
a credential. The connection is made on first use and made again after a
failure, so a camera that reboots is steerable again without a restart.

:class:`OnvifDevice` implements :class:`core.interfaces.PtzControl`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.interfaces import Preset

log = logging.getLogger("bconnect.drivers.onvif")

# after a connection to a device failed (unreachable, or no answer), calls fail at once with that reason for
# this long rather than each waiting out its own timeout (an operator's clicks would queue behind one another)
RETRY_AFTER_S = 10.0

T = TypeVar("T")


class OnvifError(Exception):
    """The device failed; the message says which and why."""


class OnvifAuthError(OnvifError):
    pass


class OnvifUnreachable(OnvifError):
    pass


@dataclass(frozen=True)
class Description:
    """What a device told us about itself, read once when it is described."""

    profile: str
    main_uri: str
    sub_uri: str | None
    snapshot_uri: str | None
    ptz: bool
    presets: tuple[Preset, ...]


class OnvifDevice:
    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        timeout_s: float = 5.0,
        profile: str | None = None,
        sub_profile: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._username = username
        self._password = password
        self.timeout_s = timeout_s
        self._profile_wanted = profile
        self._sub_wanted = sub_profile
        self.profile: str | None = profile
        self._camera: Any = None
        self._connecting = asyncio.Lock()
        self._unreachable: tuple[float, str] | None = None  # (monotonic time to try again, why)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    # --- description -----------------------------------------------------------

    async def describe(self) -> Description:
        """Profiles, stream and snapshot URIs, PTZ presence and presets."""
        camera = await self._connected()
        media = await self._call("connect to the media service", camera.create_media_service)
        profiles = await self._call("GetProfiles", media.GetProfiles)
        if not profiles:
            raise OnvifError(f"{self.where}: the device has no media profile")
        main = self._pick(profiles, self._profile_wanted, "profile") or profiles[0]
        sub = self._pick(profiles, self._sub_wanted, "sub_profile") if self._sub_wanted else None
        if sub is None and not self._sub_wanted:
            sub = _smallest_other(profiles, main)
        self.profile = main.token
        main_uri = await self._stream_uri(media, main.token)
        sub_uri = await self._stream_uri(media, sub.token) if sub is not None else None
        snapshot = await self._snapshot_uri(media, main.token)
        has_ptz = main.PTZConfiguration is not None and _has_service(camera, "ptz")
        presets = tuple(await self.list_presets()) if has_ptz else ()
        return Description(main.token, main_uri, sub_uri, snapshot, has_ptz, presets)

    def _pick(self, profiles: list[Any], wanted: str | None, key: str) -> Any:
        if wanted is None:
            return None
        for p in profiles:
            if wanted in (p.token, p.Name):
                return p
        known = ", ".join(p.token for p in profiles)
        raise OnvifError(f"{self.where}: no media profile {wanted!r} for {key} (profiles: {known})")

    async def _stream_uri(self, media: Any, token: str) -> str:
        setup = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}
        answer = await self._call("GetStreamUri", lambda: media.GetStreamUri({"StreamSetup": setup, "ProfileToken": token}))
        return str(answer.Uri)

    async def _snapshot_uri(self, media: Any, token: str) -> str | None:
        try:
            answer = await self._call("GetSnapshotUri", lambda: media.GetSnapshotUri({"ProfileToken": token}))
        except OnvifError as exc:
            if isinstance(exc, (OnvifAuthError, OnvifUnreachable)):
                raise
            return None  # snapshots are optional in ONVIF
        uri = getattr(answer, "Uri", None)
        return str(uri) if uri else None

    # --- PTZ (core.interfaces.PtzControl) -----------------------------------------------------

    async def list_presets(self) -> list[Preset]:
        ptz = await self._ptz()
        answer = await self._call("GetPresets", lambda: ptz.GetPresets({"ProfileToken": self.profile}))
        return [Preset(id=str(p.token), name=str(p.Name or p.token)) for p in answer or []]

    async def goto_preset(self, preset_id: str) -> None:
        ptz = await self._ptz()
        await self._call("GotoPreset", lambda: ptz.GotoPreset({"ProfileToken": self.profile, "PresetToken": preset_id}))

    async def continuous_move(self, pan: float, tilt: float, zoom: float) -> None:
        ptz = await self._ptz()
        velocity = {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}}
        await self._call("ContinuousMove", lambda: ptz.ContinuousMove({"ProfileToken": self.profile, "Velocity": velocity}))

    async def absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        ptz = await self._ptz()
        position = {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}}
        await self._call("AbsoluteMove", lambda: ptz.AbsoluteMove({"ProfileToken": self.profile, "Position": position}))

    async def zoom(self, level: float) -> None:
        ptz = await self._ptz()
        position = {"Zoom": {"x": level}}  # no PanTilt: the camera keeps its direction
        await self._call("AbsoluteMove", lambda: ptz.AbsoluteMove({"ProfileToken": self.profile, "Position": position}))

    async def stop(self) -> None:
        ptz = await self._ptz()
        await self._call("Stop", lambda: ptz.Stop({"ProfileToken": self.profile, "PanTilt": True, "Zoom": True}))

    # --- connection --------------------------------------------------------------------------

    async def _connected(self) -> Any:
        async with self._connecting:
            if self._camera is None:
                down = self._unreachable
                if down is not None and time.monotonic() < down[0]:
                    raise OnvifUnreachable(f"{down[1]} (tried again in {down[0] - time.monotonic():.0f} s)")
                from onvif import ONVIFCamera  # imported on first use: it configures logging

                # the client always sends a WS-Security token; a device with authentication switched off
                # ignores an empty one (the client cannot build a token from None at all)
                camera = ONVIFCamera(self.host, self.port, self._username or "", self._password or "", no_cache=True)
                try:
                    await self._call("GetServices", camera.update_xaddrs)
                except BaseException as exc:
                    if isinstance(exc, OnvifUnreachable):  # not connected at all: a pause before the next try
                        self._unreachable = (time.monotonic() + max(RETRY_AFTER_S, self.timeout_s), str(exc))
                    await _close_quietly(camera)
                    raise
                self._camera = camera
                self._unreachable = None
            return self._camera

    async def _ptz(self) -> Any:
        camera = await self._connected()
        if self.profile is None:
            media = await self._call("connect to the media service", camera.create_media_service)
            profiles = await self._call("GetProfiles", media.GetProfiles)
            chosen = self._pick(profiles, self._profile_wanted, "profile") or (profiles[0] if profiles else None)
            if chosen is None:
                raise OnvifError(f"{self.where}: the device has no media profile")
            self.profile = chosen.token
        if not _has_service(camera, "ptz"):
            raise OnvifError(f"{self.where}: the device has no PTZ service")
        return await self._call("connect to the PTZ service", camera.create_ptz_service)

    async def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            await _close_quietly(camera)

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await asyncio.wait_for(call(), self.timeout_s)
        except OnvifError:
            raise
        except Exception as exc:
            error = self._explain(what, exc)
        if isinstance(error, (OnvifAuthError, OnvifUnreachable)):
            await self.close()  # connect afresh next time
        raise error

    def _explain(self, what: str, exc: BaseException) -> OnvifError:
        import zeep.exceptions

        if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
            return OnvifUnreachable(f"{self.where}: no answer to {what} within {self.timeout_s:g} s")
        if isinstance(exc, zeep.exceptions.Fault):
            subcodes = [getattr(q, "localname", str(q)) for q in (exc.subcodes or [])]
            message = self._clean(str(exc.message or exc))
            if "NotAuthorized" in subcodes or "not authorized" in message.lower():
                return OnvifAuthError(f"{self.where}: {self._auth_problem()} (the device refused {what})")
            return OnvifError(f"{self.where}: the device refused {what}: {message}")
        if isinstance(exc, zeep.exceptions.TransportError) and exc.status_code == 401:
            return OnvifAuthError(f"{self.where}: {self._auth_problem()} (HTTP 401 on {what})")
        cause = _root_cause(exc)
        if isinstance(cause, OSError) or type(cause).__module__.startswith("aiohttp"):
            reason = getattr(cause, "strerror", None) or self._clean(str(cause)) or type(cause).__name__
            return OnvifUnreachable(f"{self.where}: unreachable ({reason})")
        return OnvifError(f"{self.where}: {what} failed: {type(cause).__name__}: {self._clean(str(cause))}")

    def _auth_problem(self) -> str:
        if not self._username:
            return "the device asks for a username and password, and none is configured"
        return "wrong username or password"

    def _clean(self, text: str) -> str:
        for secret in (self._password,):
            if secret:
                text = text.replace(secret, "***")
        return text.strip()


def _root_cause(exc: BaseException) -> BaseException:
    seen = set()
    while exc.__cause__ is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.__cause__
    return exc


def _has_service(camera: Any, name: str) -> bool:
    from onvif.definition import SERVICES

    return SERVICES[name]["ns"] in camera.xaddrs


def _smallest_other(profiles: list[Any], main: Any) -> Any:
    def pixels(p: Any) -> int:
        enc = getattr(p, "VideoEncoderConfiguration", None)
        res = getattr(enc, "Resolution", None)
        return (res.Width * res.Height) if res is not None else 1 << 40

    others = [p for p in profiles if p.token != main.token]
    return min(others, key=pixels) if others else None


async def _close_quietly(camera: Any) -> None:
    try:
        await camera.close()
    except Exception as exc:  # closing must never hide the real error
        log.debug("closing ONVIF client failed: %s", exc)
