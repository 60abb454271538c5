"""A small ONVIF device EMULATOR for tests.

A vendor's camera firmware cannot run here, so the tests talk to this
emulator instead: it answers real SOAP 1.2 over HTTP on 127.0.0.1 for the
device, media and PTZ services (the subset the B-Connect driver uses), checks
the WS-Security UsernameToken (PasswordDigest) of every request so wrong
credentials fail as on a real camera, and keeps a PTZ state (presets,
position, motion) that the tests inspect. Faults and hangs can be injected per
operation. It is not a camera: it streams nothing itself; ``GetStreamUri``
answers whatever URL the test gives it (e.g. a real RTSP server's).
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from xml.sax.saxutils import escape

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TDS = "http://www.onvif.org/ver10/device/wsdl"
TRT = "http://www.onvif.org/ver10/media/wsdl"
TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TT = "http://www.onvif.org/ver10/schema"

# operations answered without credentials (ONVIF core spec: pre-auth)
PUBLIC_OPS = {"GetSystemDateAndTime"}

# a valid 1x1 grey JPEG, so a snapshot fetch returns a real image
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5"
    "PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="
)


@dataclass
class EmulatedPreset:
    token: str
    name: str
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0


@dataclass
class OnvifEmulator:
    username: str = "admin"
    password: str = "emulator-secret"
    stream_uri: str = "rtsp://127.0.0.1:8554/main"
    sub_stream_uri: str = "rtsp://127.0.0.1:8554/sub"
    ptz: bool = True
    presets: list[EmulatedPreset] = field(
        default_factory=lambda: [
            EmulatedPreset("1", "Simpang utara", 0.1, 0.0, 0.0),
            EmulatedPreset("2", "Simpang selatan", -0.4, -0.1, 0.2),
            EmulatedPreset("3", "Halte", 0.7, 0.2, 0.5),
        ]
    )
    fail: dict[str, str] = field(default_factory=dict)  # operation -> fault reason
    hang: set[str] = field(default_factory=set)  # operations that never answer
    open_access: bool = False  # authentication switched off: any token, or none, is accepted

    def __post_init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.auth_failures = 0
        self.position = [0.0, 0.0, 0.0]
        self.velocity = [0.0, 0.0, 0.0]
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> OnvifEmulator:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="onvif-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def port(self) -> int:
        assert self._server is not None, "start() first"
        return self._server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]

    # --- request handling --------------------------------------------------------

    def answer(self, path: str, body: bytes) -> tuple[int, str]:
        try:
            envelope = ET.fromstring(body)
        except ET.ParseError:
            return 400, _fault("env:Sender", "ter:WellFormed", "not well-formed XML")
        request = envelope.find(f"{{{SOAP}}}Body/*")
        if request is None:
            return 400, _fault("env:Sender", "ter:InvalidArgs", "empty SOAP body")
        op = request.tag.rpartition("}")[2]
        params = _flatten(request)
        if op not in PUBLIC_OPS and not self.open_access and not self._authorised(envelope):
            self.auth_failures += 1
            return 400, _fault("env:Sender", "ter:NotAuthorized", "Sender not Authorized")
        self.calls.append((op, params))
        if op in self.hang:
            self._stopping.wait(3600)
            return 503, ""
        if op in self.fail:
            return 500, _fault("env:Receiver", "ter:Action", self.fail[op])
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            return 400, _fault("env:Receiver", "ter:ActionNotSupported", f"{op} is not supported by this emulator")
        return 200, _envelope(handler(params))

    def _authorised(self, envelope: ET.Element) -> bool:
        token = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        user = token.findtext(f"{{{WSSE}}}Username")
        password = token.find(f"{{{WSSE}}}Password")
        if user != self.username or password is None:
            return False
        if (password.get("Type") or "").endswith("#PasswordText"):
            return password.text == self.password
        nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
        created = token.findtext(f"{{{WSU}}}Created") or ""
        expected = base64.b64encode(
            hashlib.sha1(base64.b64decode(nonce) + created.encode() + self.password.encode()).digest()
        ).decode()
        return password.text == expected

    # --- device service ---------------------------------------------------------------

    def _op_GetSystemDateAndTime(self, p: dict[str, str]) -> str:
        now = datetime.now(timezone.utc)
        return (
            f'<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>'
            f"<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime>"
            f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute><tt:Second>{now.second}</tt:Second></tt:Time>"
            f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date>"
            f"</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def _op_GetServices(self, p: dict[str, str]) -> str:
        services = [(TDS, "device_service"), (TRT, "media_service")]
        if self.ptz:
            services.append((TPTZ, "ptz_service"))
        items = "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{self.base}/onvif/{path}</tds:XAddr>"
            f"<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for ns, path in services
        )
        return f"<tds:GetServicesResponse>{items}</tds:GetServicesResponse>"

    def _op_GetDeviceInformation(self, p: dict[str, str]) -> str:
        return (
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>B-Connect test emulator</tds:Manufacturer>"
            "<tds:Model>EMU-1</tds:Model><tds:FirmwareVersion>0</tds:FirmwareVersion>"
            "<tds:SerialNumber>EMU0001</tds:SerialNumber><tds:HardwareId>emulator</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    # --- media service -------------------------------------------------------------------

    def _op_GetProfiles(self, p: dict[str, str]) -> str:
        ptz = (
            '<tt:PTZConfiguration token="ptz0"><tt:Name>ptz</tt:Name><tt:UseCount>2</tt:UseCount>'
            "<tt:NodeToken>node0</tt:NodeToken></tt:PTZConfiguration>"
            if self.ptz
            else ""
        )

        def profile(token: str, width: int, height: int) -> str:
            return (
                f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
                f'<tt:VideoEncoderConfiguration token="enc_{token}"><tt:Name>enc_{token}</tt:Name><tt:UseCount>1</tt:UseCount>'
                f"<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
                f"<tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration>{ptz}</trt:Profiles>"
            )

        return f"<trt:GetProfilesResponse>{profile('main', 1920, 1080)}{profile('sub', 640, 360)}</trt:GetProfilesResponse>"

    def _media_uri(self, uri: str) -> str:
        return (
            f"<trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>"
        )

    def _op_GetStreamUri(self, p: dict[str, str]) -> str:
        uri = self.sub_stream_uri if p.get("ProfileToken") == "sub" else self.stream_uri
        return f"<trt:GetStreamUriResponse>{self._media_uri(uri)}</trt:GetStreamUriResponse>"

    def _op_GetSnapshotUri(self, p: dict[str, str]) -> str:
        uri = f"{self.base}/snapshot/{p.get('ProfileToken', 'main')}.jpg"
        return f"<trt:GetSnapshotUriResponse>{self._media_uri(uri)}</trt:GetSnapshotUriResponse>"

    # --- PTZ service ---------------------------------------------------------------------

    def _op_GetPresets(self, p: dict[str, str]) -> str:
        items = "".join(
            f'<tptz:Preset token="{x.token}"><tt:Name>{escape(x.name)}</tt:Name><tt:PTZPosition>'
            f'<tt:PanTilt x="{x.pan}" y="{x.tilt}"/><tt:Zoom x="{x.zoom}"/></tt:PTZPosition></tptz:Preset>'
            for x in self.presets
        )
        return f"<tptz:GetPresetsResponse>{items}</tptz:GetPresetsResponse>"

    def _op_GotoPreset(self, p: dict[str, str]) -> str:
        preset = next((x for x in self.presets if x.token == p.get("PresetToken")), None)
        if preset is None:
            raise _Fault("env:Sender", "ter:NoEntity", f"no preset {p.get('PresetToken')!r}")
        self.position = [preset.pan, preset.tilt, preset.zoom]
        self.velocity = [0.0, 0.0, 0.0]
        return "<tptz:GotoPresetResponse/>"

    def _op_ContinuousMove(self, p: dict[str, str]) -> str:
        self.velocity = [
            float(p.get("Velocity/PanTilt@x", 0)),
            float(p.get("Velocity/PanTilt@y", 0)),
            float(p.get("Velocity/Zoom@x", 0)),
        ]
        return "<tptz:ContinuousMoveResponse/>"

    def _op_AbsoluteMove(self, p: dict[str, str]) -> str:
        pan = p.get("Position/PanTilt@x")
        tilt = p.get("Position/PanTilt@y")
        zoom = p.get("Position/Zoom@x")
        self.position = [
            float(pan) if pan is not None else self.position[0],
            float(tilt) if tilt is not None else self.position[1],
            float(zoom) if zoom is not None else self.position[2],
        ]
        return "<tptz:AbsoluteMoveResponse/>"

    def _op_Stop(self, p: dict[str, str]) -> str:
        self.velocity = [0.0, 0.0, 0.0]
        return "<tptz:StopResponse/>"

    def _op_GetStatus(self, p: dict[str, str]) -> str:
        pan, tilt, zoom = self.position
        moving = "MOVING" if any(self.velocity) else "IDLE"
        return (
            f'<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position><tt:PanTilt x="{pan}" y="{tilt}"/><tt:Zoom x="{zoom}"/>'
            f"</tt:Position><tt:MoveStatus><tt:PanTilt>{moving}</tt:PanTilt><tt:Zoom>{moving}</tt:Zoom></tt:MoveStatus>"
            f"<tt:UtcTime>{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}</tt:UtcTime>"
            "</tptz:PTZStatus></tptz:GetStatusResponse>"
        )

    # --- snapshots (plain HTTP, basic auth) ---------------------------------------------------

    def snapshot(self, authorization: str | None) -> tuple[int, bytes]:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if authorization != expected:
            return 401, b""
        return 200, TINY_JPEG


class _Fault(Exception):
    def __init__(self, code: str, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.body = _fault(code, subcode, reason)


def _flatten(elem: ET.Element, prefix: str = "") -> dict[str, str]:
    """``{"ProfileToken": "main", "Velocity/PanTilt@x": "0.5", ...}`` from a request element."""
    out: dict[str, str] = {}
    for child in elem:
        name = child.tag.rpartition("}")[2]
        key = f"{prefix}{name}"
        for attr, value in child.attrib.items():
            out[f"{key}@{attr.rpartition('}')[2]}"] = value
        if len(child):
            out.update(_flatten(child, key + "/"))
        elif child.text and child.text.strip():
            out[key] = child.text.strip()
    return out


def _envelope(body: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<env:Envelope xmlns:env="{SOAP}" xmlns:tds="{TDS}" xmlns:trt="{TRT}" xmlns:tptz="{TPTZ}" xmlns:tt="{TT}">'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    )


def _fault(code: str, subcode: str, reason: str) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<env:Envelope xmlns:env="{SOAP}" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>'
        f"<env:Code><env:Value>{code}</env:Value><env:Subcode><env:Value>{subcode}</env:Value></env:Subcode></env:Code>"
        f'<env:Reason><env:Text xml:lang="en">{escape(reason)}</env:Text></env:Reason>'
        f"</env:Fault></env:Body></env:Envelope>"
    )


def _handler_for(emulator: OnvifEmulator) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 (stdlib's name)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, text = emulator.answer(self.path, body)
            except _Fault as fault:
                status, text = 400, fault.body
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if not self.path.startswith("/snapshot/"):
                status, data = 404, b""
            else:
                status, data = emulator.snapshot(self.headers.get("Authorization"))
            self.send_response(status)
            self.send_header("Content-Type", "image/jpeg" if status == 200 else "text/plain")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="emulator"')
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler
