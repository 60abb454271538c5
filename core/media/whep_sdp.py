"""Reading a WHEP offer: is it usable, and which codec and payload type answer it.

H.264 is preferred whenever the browser offers it (with packetization-mode=1):
the camera's packets then pass through, or an H.265 camera is transcoded to
H.264. A browser without H.264 (a stock Firefox that could not download
Cisco's OpenH264 plugin offers VP8, VP9 and AV1 only) is answered with VP8,
fed by a shared transcoder; an offer with neither is refused.

For H.264 the answer names the profile the camera really sends, so that the
browser prepares the right decoder. aiortc knows only two H.264 codecs of its
own (Constrained Baseline and Baseline, ``42e01f``/``42001f``) and would answer
with one of those whatever the camera sends; the session therefore replaces
the negotiated codec with the one chosen here (see :mod:`core.media.whep`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiortc import sdp
from aiortc.rtcrtpparameters import RTCRtcpFeedback, RTCRtpCodecParameters

MAX_OFFER_BYTES = 64 * 1024
DEFAULT_PROFILE = "42e01f"  # an H.264 fmtp without profile-level-id (RFC 6184 and libwebrtc)
_SDP_LINE = re.compile(r"^[a-z]=")
FEEDBACK_WE_HONOUR = (("nack", None), ("nack", "pli"), ("goog-remb", None))


class OfferError(ValueError):
    """The offer cannot be answered; the message says why (a 400)."""


@dataclass(frozen=True)
class VideoChoice:
    """What to answer in the video section of an offer."""

    mid: str | None
    codec: RTCRtpCodecParameters
    rtx: RTCRtpCodecParameters | None
    exact: bool  # the browser offered the camera's own profile-level-id (always, for VP8)
    offer_for_aiortc: str  # the offer text to hand aiortc (see ``read_offer``)

    @property
    def codecs(self) -> list[RTCRtpCodecParameters]:
        return [self.codec, self.rtx] if self.rtx else [self.codec]

    @property
    def target(self) -> str:
        """The codec sent: ``"h264"`` or ``"vp8"`` (as :mod:`core.media.transcode` names them)."""
        return self.codec.mimeType.split("/", 1)[1].lower()


def read_offer(text: str, camera_profile: str | None) -> VideoChoice:
    """Validate an offer and pick the codec: H.264 if offered, else VP8.

    :param text: the SDP offer as received.
    :param camera_profile: the H.264 profile-level-id (six hex digits) that
        will be sent, or ``None`` when unknown; unused for VP8.
    :return: the choice; its ``target`` says which codec to send.
    :raises OfferError: with a reason fit for a 400 answer.
    """
    media = _video_section(text)
    h264 = [c for c in media.rtp.codecs if c.mimeType.lower() == "video/h264" and _packetization(c) == 1]
    if h264:
        return _h264_choice(text, media, h264, camera_profile)
    vp8 = [c for c in media.rtp.codecs if c.mimeType.lower() == "video/vp8"]
    if vp8:
        codec = RTCRtpCodecParameters(
            mimeType="video/VP8",
            clockRate=90000,
            payloadType=vp8[0].payloadType,
            rtcpFeedback=_feedback(vp8[0]),
        )
        return VideoChoice(media.rtp.muxId, codec, _rtx_for(media, vp8[0].payloadType), True, text)
    offered = sorted({c.mimeType.split("/", 1)[1] for c in media.rtp.codecs if c.name.lower() != "rtx"})
    raise OfferError(
        "SDP offer has no H.264 with packetization-mode=1 and no VP8 for video"
        f" (offered: {', '.join(offered) or 'nothing'})"
    )


def _video_section(text: str) -> sdp.MediaDescription:
    if len(text) > MAX_OFFER_BYTES:
        raise OfferError(f"SDP offer is larger than {MAX_OFFER_BYTES} bytes")
    if not text.lstrip().startswith("v=0"):
        raise OfferError("malformed SDP: an offer starts with 'v=0'")
    for number, line in enumerate(text.splitlines(), 1):
        if line and not _SDP_LINE.match(line):
            raise OfferError(f"malformed SDP: line {number} is not <type>=<value>: {line[:60]!r}")
    try:
        description = sdp.SessionDescription.parse(text)
    except Exception:  # aiortc's parser asserts and indexes freely; its exceptions mean nothing to a client
        raise OfferError(
            "malformed SDP: an attribute could not be read (check a=rtpmap, a=fmtp, a=ssrc, a=fingerprint)"
        ) from None
    videos = [m for m in description.media if m.kind == "video"]
    if not videos:
        raise OfferError("SDP offer has no video m-line")
    media = videos[0]
    if media.direction not in (None, "recvonly", "sendrecv"):
        raise OfferError(f"video m-line is {media.direction}: a WHEP viewer must receive (recvonly)")
    if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
        raise OfferError("SDP offer lacks ice-ufrag/ice-pwd")
    if media.dtls is None or not media.dtls.fingerprints:
        raise OfferError("SDP offer lacks a DTLS fingerprint")
    return media


def _h264_choice(
    text: str, media: sdp.MediaDescription, h264: list[RTCRtpCodecParameters], camera_profile: str | None
) -> VideoChoice:
    chosen, exact = _choose(h264, camera_profile)
    offered_profile = _profile_of(chosen)
    parameters: dict = {"packetization-mode": 1, "profile-level-id": offered_profile}
    if chosen.parameters.get("level-asymmetry-allowed") is not None:
        parameters["level-asymmetry-allowed"] = 1
    if camera_profile and _same_profile(offered_profile, camera_profile):
        # same profile, perhaps another level: describe what we really send
        parameters["profile-level-id"] = camera_profile.lower()
    codec = RTCRtpCodecParameters(
        mimeType="video/H264",
        clockRate=90000,
        payloadType=chosen.payloadType,
        rtcpFeedback=_feedback(chosen),
        parameters=parameters,
    )
    rtx = _rtx_for(media, chosen.payloadType)
    return VideoChoice(media.rtp.muxId, codec, rtx, exact, _for_aiortc(text, h264, chosen))


def _feedback(offered: RTCRtpCodecParameters) -> list[RTCRtcpFeedback]:
    return [
        RTCRtcpFeedback(type=f.type, parameter=f.parameter)
        for f in offered.rtcpFeedback
        if (f.type, f.parameter) in FEEDBACK_WE_HONOUR
    ]


def _rtx_for(media: sdp.MediaDescription, payload_type: int) -> RTCRtpCodecParameters | None:
    return next(
        (
            RTCRtpCodecParameters(
                mimeType="video/rtx", clockRate=90000, payloadType=c.payloadType, parameters={"apt": payload_type}
            )
            for c in media.rtp.codecs
            if c.name.lower() == "rtx" and _int(c.parameters.get("apt")) == payload_type
        ),
        None,
    )


def _choose(h264: list[RTCRtpCodecParameters], camera_profile: str | None) -> tuple[RTCRtpCodecParameters, bool]:
    if camera_profile:
        for c in h264:
            if _profile_of(c) == camera_profile.lower():
                return c, True
        for c in h264:
            if _same_profile(_profile_of(c), camera_profile):
                return c, False
        # The browser did not offer the camera's profile (Chromium offers no
        # High, only up to High 4:4:4; Firefox only Constrained Baseline).
        # Label the stream with the narrowest offered profile whose decoder
        # also decodes the camera's.
        covering = [c for c in h264 if _covers(_profile_of(c), camera_profile)]
        if covering:
            return min(covering, key=lambda c: len(_DECODES[_profile(_profile_of(c))])), False
    # Nothing offered covers it. Browsers' software decoders (libavcodec in
    # Chromium, the platform's in Firefox) still take any profile; the label
    # must only be one the browser offered: take its first.
    return h264[0], False


_P = sdp.H264Profile
_DECODES = {  # what a decoder of each profile also decodes (ITU-T H.264 annex A)
    _P.PROFILE_CONSTRAINED_BASELINE: {_P.PROFILE_CONSTRAINED_BASELINE},
    _P.PROFILE_BASELINE: {_P.PROFILE_CONSTRAINED_BASELINE, _P.PROFILE_BASELINE},
    _P.PROFILE_MAIN: {_P.PROFILE_CONSTRAINED_BASELINE, _P.PROFILE_MAIN},
    _P.PROFILE_CONSTRAINED_HIGH: {_P.PROFILE_CONSTRAINED_BASELINE, _P.PROFILE_MAIN, _P.PROFILE_CONSTRAINED_HIGH},
    _P.PROFILE_HIGH: {_P.PROFILE_CONSTRAINED_BASELINE, _P.PROFILE_MAIN, _P.PROFILE_CONSTRAINED_HIGH, _P.PROFILE_HIGH},
    _P.PROFILE_PREDICTIVE_HIGH_444: set(_P),
}


def _profile(plid: str) -> sdp.H264Profile | None:
    try:
        return sdp.parse_h264_profile_level_id(plid)[0]
    except ValueError:
        return None


def _covers(decoder_plid: str, stream_plid: str) -> bool:
    decoder, stream = _profile(decoder_plid), _profile(stream_plid)
    return decoder is not None and stream is not None and stream in _DECODES[decoder]


def _for_aiortc(text: str, h264: list[RTCRtpCodecParameters], chosen: RTCRtpCodecParameters) -> str:
    """The offer as aiortc must see it to accept ``chosen``.

    aiortc refuses an offer whose H.264 profiles are all beyond its own two;
    then the chosen payload type is relabelled Constrained Baseline for aiortc
    only, and the session puts the real codec back before answering.
    """
    if any(_aiortc_knows(c) for c in h264):
        return text
    pattern = re.compile(rf"^(a=fmtp:{chosen.payloadType} .*?profile-level-id=)([0-9A-Fa-f]{{6}})", re.M)
    relabelled, n = pattern.subn(rf"\g<1>{DEFAULT_PROFILE}", text, count=1)
    return relabelled if n else text


def _aiortc_knows(c: RTCRtpCodecParameters) -> bool:
    return _same_profile(_profile_of(c), "42e01f") or _same_profile(_profile_of(c), "42001f")


def _packetization(c: RTCRtpCodecParameters) -> int:
    return _int(c.parameters.get("packetization-mode")) or 0


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _profile_of(c: RTCRtpCodecParameters) -> str:
    value = c.parameters.get("profile-level-id")
    return str(value).lower() if value is not None else DEFAULT_PROFILE


def _same_profile(a: str, b: str) -> bool:
    pa = _profile(a)
    return pa is not None and pa == _profile(b)


def profile_level_id_from_sps(annexb: bytes) -> str | None:
    """The profile-level-id (six hex digits) of the first H.264 SPS in ``annexb``."""
    i = 0
    while True:
        i = annexb.find(b"\x00\x00\x01", i)
        if i < 0 or i + 6 > len(annexb):
            return None
        i += 3
        if annexb[i] & 0x1F == 7:
            return annexb[i + 1 : i + 4].hex()
