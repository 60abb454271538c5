"""H.264 / H.265 bitstream helpers: Annex-B NAL units, parameter sets, SPS fields.

Only what the ingest needs, and cheap: a keyframe is inspected up to its first
slice (the parameter sets must come before it), never scanned to the end, and
other packets are not looked at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

START_CODE = b"\x00\x00\x00\x01"

# H.264 NAL unit types (ITU-T H.264 table 7-1)
H264_SPS, H264_PPS, H264_AUD = 7, 8, 9
# H.265 NAL unit types (ITU-T H.265 table 7-1)
HEVC_VPS, HEVC_SPS, HEVC_PPS, HEVC_AUD = 32, 33, 34, 35

CODECS = ("h264", "hevc")


class BitstreamError(ValueError):
    """A parameter set or extradata that cannot be parsed."""


def nal_type(codec: str, header: int) -> int:
    return (header >> 1) & 0x3F if codec == "hevc" else header & 0x1F


def is_vcl(codec: str, kind: int) -> bool:
    """A slice of a picture (as opposed to parameter sets, SEI, AUD ...)."""
    return kind < 32 if codec == "hevc" else 1 <= kind <= 5


def required_parameter_sets(codec: str) -> frozenset[int]:
    return frozenset({HEVC_VPS, HEVC_SPS, HEVC_PPS}) if codec == "hevc" else frozenset({H264_SPS, H264_PPS})


def iter_nals(data: bytes, start: int = 0) -> Iterator[tuple[int, int]]:
    """``(begin, end)`` of each NAL unit payload in Annex-B ``data``, start codes excluded."""
    find = data.find
    pos = find(b"\x00\x00\x01", start)
    while pos >= 0:
        begin = pos + 3
        nxt = find(b"\x00\x00\x01", begin)
        end = len(data) if nxt < 0 else nxt
        # a 4-byte start code and trailing zero bytes belong to no NAL unit
        while end > begin and data[end - 1] == 0:
            end -= 1
        if end > begin:
            yield begin, end
        pos = nxt


def leading_nals(data: bytes, codec: str) -> Iterator[tuple[int, int, int]]:
    """``(type, begin, end)`` of the NAL units up to and including the first slice."""
    for begin, end in iter_nals(data):
        kind = nal_type(codec, data[begin])
        yield kind, begin, end
        if is_vcl(codec, kind):
            return


def annexb(nals: list[bytes]) -> bytes:
    return b"".join(START_CODE + n for n in nals)


def parameter_sets_in(data: bytes, codec: str) -> bytes | None:
    """The Annex-B parameter sets that lead ``data``, or ``None`` if any is missing."""
    wanted = required_parameter_sets(codec)
    found: list[bytes] = []
    kinds: set[int] = set()
    for kind, begin, end in leading_nals(data, codec):
        if kind in wanted:
            kinds.add(kind)
            found.append(data[begin:end])
    return annexb(found) if kinds == wanted else None


def ensure_parameter_sets(data: bytes, codec: str, parameter_sets: bytes) -> tuple[bytes, bool]:
    """Put ``parameter_sets`` in front of a keyframe that lacks them.

    Returns ``(data, inserted)``. The sets go after a leading access unit
    delimiter, which must stay first.
    """
    if not parameter_sets:
        return data, False
    wanted = required_parameter_sets(codec)
    seen: set[int] = set()
    first_begin = None
    first_kind = None
    aud = HEVC_AUD if codec == "hevc" else H264_AUD
    for kind, begin, _end in leading_nals(data, codec):
        if first_kind is None:
            first_kind, first_begin = kind, begin
        if kind in wanted:
            seen.add(kind)
    if seen == wanted:
        return data, False
    if first_kind == aud and first_begin is not None:
        # cut after the AUD: at the start code of the NAL unit that follows it
        nxt = data.find(b"\x00\x00\x01", first_begin)
        if nxt > 0:
            if data[nxt - 1] == 0:
                nxt -= 1
            return data[:nxt] + parameter_sets + data[nxt:], True
    return parameter_sets + data, True


# --- extradata ----------------------------------------------------------------


def is_length_prefixed(extradata: bytes | None) -> bool:
    """True for avcC / hvcC extradata (MP4, MKV): packets need ``*_mp4toannexb``."""
    return bool(extradata) and extradata[0] == 1


def extradata_parameter_sets(extradata: bytes | None, codec: str) -> bytes:
    """Annex-B parameter sets from a stream's extradata (Annex-B, avcC or hvcC)."""
    if not extradata:
        return b""
    if not is_length_prefixed(extradata):
        return _all_sets(extradata, codec)
    try:
        nals = _hvcc_nals(extradata) if codec == "hevc" else _avcc_nals(extradata)
    except IndexError:
        raise BitstreamError(f"{codec} extradata is truncated") from None
    return annexb(nals)


def _all_sets(data: bytes, codec: str) -> bytes:
    wanted = required_parameter_sets(codec)
    return annexb([data[b:e] for b, e in iter_nals(data) if nal_type(codec, data[b]) in wanted])


def _avcc_nals(ed: bytes) -> list[bytes]:
    out = []
    pos = 5
    for count_mask in (0x1F, 0xFF):  # SPS count, then PPS count
        count = ed[pos] & count_mask
        pos += 1
        for _ in range(count):
            size = int.from_bytes(ed[pos:pos + 2], "big")
            out.append(ed[pos + 2:pos + 2 + size])
            pos += 2 + size
    return out


def _hvcc_nals(ed: bytes) -> list[bytes]:
    out = []
    arrays = ed[22]
    pos = 23
    for _ in range(arrays):
        count = int.from_bytes(ed[pos + 1:pos + 3], "big")
        pos += 3
        for _ in range(count):
            size = int.from_bytes(ed[pos:pos + 2], "big")
            out.append(ed[pos + 2:pos + 2 + size])
            pos += 2 + size
    return out


# --- SPS ------------------------------------------------------------------------


@dataclass(frozen=True)
class SpsInfo:
    width: int
    height: int
    profile_level_id: str | None = None  # H.264: profile_idc, constraint flags, level_idc in hex


def sps_of(parameter_sets: bytes, codec: str) -> bytes | None:
    for begin, end in iter_nals(parameter_sets):
        if nal_type(codec, parameter_sets[begin]) == (HEVC_SPS if codec == "hevc" else H264_SPS):
            return parameter_sets[begin:end]
    return None


def parse_sps(parameter_sets: bytes, codec: str) -> SpsInfo | None:
    """Resolution (and H.264 profile-level-id) from the SPS in ``parameter_sets``."""
    sps = sps_of(parameter_sets, codec)
    if sps is None:
        return None
    try:
        return _hevc_sps(sps) if codec == "hevc" else _h264_sps(sps)
    except IndexError:
        raise BitstreamError(f"{codec} SPS is truncated") from None


def _rbsp(nal: bytes) -> bytes:
    """Remove emulation prevention bytes (00 00 03 -> 00 00)."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for b in nal:
        if zeros >= 2 and b == 3:
            zeros = 0
            continue
        out.append(b)
        zeros = zeros + 1 if b == 0 else 0
    return bytes(out)


class _Bits:
    def __init__(self, data: bytes, start_byte: int) -> None:
        self.value = int.from_bytes(data, "big")
        self.nbits = len(data) * 8
        self.pos = start_byte * 8

    def u(self, n: int) -> int:
        if self.pos + n > self.nbits:
            raise IndexError
        self.pos += n
        return (self.value >> (self.nbits - self.pos)) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise IndexError
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


_HIGH_PROFILES = {100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135}


def _h264_sps(nal: bytes) -> SpsInfo:
    data = _rbsp(nal)
    profile_level_id = data[1:4].hex()
    r = _Bits(data, 4)
    profile_idc = data[1]
    r.ue()  # seq_parameter_set_id
    chroma_format_idc = 1
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc == 3 and r.u(1):  # separate_colour_plane_flag
            chroma_format_idc = 0
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.u(1)  # qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(12 if chroma_format_idc == 3 else 8):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_map_units = r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if r.u(1):  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_format_idc]
        width -= sub_w * (left + right)
        height -= sub_h * (2 - frame_mbs_only) * (top + bottom)
    return SpsInfo(width, height, profile_level_id)


def _skip_scaling_list(r: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def _hevc_sps(nal: bytes) -> SpsInfo:
    data = _rbsp(nal)
    r = _Bits(data, 2)
    r.u(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = r.u(3)
    r.u(1)  # sps_temporal_id_nesting_flag
    r.u(96)  # general profile_tier_level: profile (88 bits) and level_idc (8)
    present = [(r.u(1), r.u(1)) for _ in range(max_sub_layers_minus1)]
    if max_sub_layers_minus1 > 0:
        r.u(2 * (8 - max_sub_layers_minus1))
    for profile_present, level_present in present:
        r.u(88 * profile_present + 8 * level_present)
    r.ue()  # sps_seq_parameter_set_id
    chroma_format_idc = r.ue()
    if chroma_format_idc == 3 and r.u(1):
        chroma_format_idc = 0
    width, height = r.ue(), r.ue()
    if r.u(1):  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}[chroma_format_idc]
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    return SpsInfo(width, height, None)
