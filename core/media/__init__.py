"""The media core: one connection per camera, packet fan-out, WebRTC viewing."""
