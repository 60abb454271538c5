"""What one WHEP offer may ask of the server, checked before anything parses it.

An offer is untrusted text that makes the server work: every m-line costs a
transceiver in aiortc (an offer with 457 of them blocked the event loop for
0.6 s and kept memory), and every candidate makes the server send STUN checks
to the address it names, wherever that is. :func:`screen_offer` refuses what
no viewer needs with a reason (a 400), fills in what the RFCs let an offer
leave out, and drops candidates the server will not contact. It is a line
scan, cheap enough for the event loop; the full parse runs in a thread.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from core.media.whep_sdp import OfferError

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
SETUP_ROLES = ("actpass", "active", "passive")
_CANDIDATE = re.compile(r"^a=candidate:(\S+) (\d{1,3}) (\S+) (\d{1,10}) (\S+) (\d{1,5}) typ (\S+)")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class OfferLimits:
    """The ``[webrtc]`` limits an offer must keep (``core.config.WebRtcSettings``)."""

    max_bytes: int = 32 * 1024
    max_media: int = 4
    max_candidates: int = 32
    networks: tuple[Network, ...] = ()  # empty: any unicast address

    @classmethod
    def from_settings(cls, settings: Any) -> OfferLimits:
        return cls(
            max_bytes=settings.max_offer_bytes,
            max_media=settings.max_media_sections,
            max_candidates=settings.max_candidates,
            networks=tuple(ipaddress.ip_network(n, strict=False) for n in settings.viewer_networks),
        )

    def contacts(self, address: str) -> bool:
        """Whether the server may send ICE checks to a candidate's ``address``."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            # a browser's mDNS name (.local), resolved on the LAN only; never a DNS lookup for any other name
            return address.lower().endswith(".local") and not self.networks
        if ip.is_multicast or ip.is_unspecified or ip.is_reserved or ip.is_link_local:
            return False
        return not self.networks or any(ip in net for net in self.networks)


@dataclass(frozen=True)
class Screened:
    offer: str
    dropped_candidates: int


def screen_offer(text: str, limits: OfferLimits) -> Screened:
    """The offer to parse, or :class:`OfferError` with the reason it is refused.

    Refused: larger than ``max_bytes``; more m-lines than ``max_media``; more
    candidates than ``max_candidates``; two m-lines sharing a mid; an
    ``a=setup`` role other than actpass/active/passive; a malformed candidate.
    Filled in: an m-line without a direction gets the session's, else
    ``sendrecv`` (RFC 8866 6.7). Dropped: candidates :meth:`OfferLimits.contacts` refuses.
    """
    if len(text) > limits.max_bytes:
        raise OfferError(f"SDP offer is larger than {limits.max_bytes} bytes")
    lines = text.splitlines()
    media = sum(1 for line in lines if line.startswith("m="))
    if media > limits.max_media:
        raise OfferError(f"SDP offer has {media} m-lines; a viewer needs at most {limits.max_media}")
    candidates = sum(1 for line in lines if line.startswith("a=candidate:"))
    if candidates > limits.max_candidates:
        raise OfferError(f"SDP offer has {candidates} candidates; at most {limits.max_candidates} are taken")

    sections: list[list[str]] = [[]]  # the session, then one per m-line
    mids: set[str] = set()
    dropped = 0
    for number, line in enumerate(lines, 1):
        if line.startswith("m="):
            sections.append([])
        elif line.startswith("a=mid:"):
            mid = line[6:].strip()
            if mid in mids:
                raise OfferError(f"SDP offer: two m-lines share mid {mid[:32]!r}")
            mids.add(mid)
        elif line.startswith("a=setup:") and line[8:].strip() not in SETUP_ROLES:
            raise OfferError(f"SDP offer: line {number}: a=setup must be one of {', '.join(SETUP_ROLES)}")
        elif line.startswith("a=candidate:"):
            m = _CANDIDATE.match(line)
            if m is None:
                raise OfferError(f"SDP offer: line {number}: malformed a=candidate (RFC 8839 5.1)")
            if not limits.contacts(m.group(5)):
                dropped += 1
                continue
        sections[-1].append(line)

    session_direction = next((line[2:] for line in sections[0] if line[2:] in DIRECTIONS), "sendrecv")
    for section in sections[1:]:
        if not any(line[2:] in DIRECTIONS for line in section if line.startswith("a=")):
            section.append(f"a={session_direction}")
    return Screened("\r\n".join(line for section in sections for line in section) + "\r\n", dropped)
