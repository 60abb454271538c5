"""A Darknet YOLOv3-tiny (``.cfg`` + ``.weights``) to ONNX converter, numpy and ``onnx`` only.

Darknet's tiny YOLOs use five layer kinds: ``convolutional`` (batch norm folded into the
weights here, leaky ReLU 0.1), ``maxpool`` (padded on the right and bottom as Darknet does),
``route``, ``upsample`` and ``yolo``. Each ``yolo`` head is decoded in the graph into the
``yolov5`` layout the plugin reads (``layouts.decode_yolov5``): one ``N x K x (5 + classes)``
output, centre, size, objectness and class probabilities in input pixels.

The anchors of each head: the cfg's ``mask``, except where ``anchor_masks`` overrides it.
YOLOv3-tiny's cfg gives its 26 x 26 head ``mask=0,1,2`` but the published weights were trained
with anchors 1, 2, 3 (Darknet's own code of that time); decoded with the cfg's anchors its boxes
come out about half the size (OpenCV's Darknet reader does so). ``YOLOV3_TINY_MASKS`` is the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

YOLOV3_TINY_MASKS = {1: (1, 2, 3)}  # the second yolo head's anchors (see the module's text)
BN_EPS = 1e-6  # Darknet's: sqrt(variance + .000001)


class DarknetError(ValueError):
    pass


@dataclass
class Section:
    kind: str
    options: dict[str, str] = field(default_factory=dict)
    line: int = 0

    def text(self, key: str) -> str:
        if key not in self.options:
            raise DarknetError(f"[{self.kind}] at line {self.line}: {key} is missing")
        return self.options[key]

    def whole(self, key: str, default: int | None = None) -> int:
        if key not in self.options and default is not None:
            return default
        return self.numbers(key)[0]

    def numbers(self, key: str, cast: type = int) -> list:
        value = self.text(key)
        try:
            return [cast(v) for v in value.split(",")]
        except ValueError:
            raise DarknetError(f"[{self.kind}] at line {self.line}: {key} must be numbers: {value!r}") from None


def parse_cfg(text: str) -> list[Section]:
    sections: list[Section] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]"):
                raise DarknetError(f"line {n}: a section header must end with ']': {line!r}")
            sections.append(Section(line[1:-1].strip(), {}, n))
        elif "=" in line and sections:
            k, v = line.split("=", 1)
            sections[-1].options[k.strip()] = v.strip()
        else:
            raise DarknetError(f"line {n}: expected 'key = value' inside a section: {line!r}")
    if not sections or sections[0].kind not in ("net", "network"):
        raise DarknetError("the cfg must start with a [net] section")
    return sections


def convert(
    cfg_text: str,
    weights: bytes,
    names: list[str],
    input_size: tuple[int, int] | None = None,
    anchor_masks: dict[int, tuple[int, ...]] | None = None,
    raw_heads: bool = False,
) -> bytes:
    """The serialized ONNX model; ``raw_heads`` also outputs each head's convolution (for checks)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    sections = parse_cfg(cfg_text)
    net, layers = sections[0], sections[1:]
    in_w, in_h = input_size or (net.whole("width"), net.whole("height"))
    if in_w % 32 or in_h % 32:
        raise DarknetError(f"input {in_w}x{in_h}: both sides must be multiples of 32")
    anchor_masks = dict(anchor_masks or {})

    # weights: a header, then each convolution's parameters in layer order
    if len(weights) < 16:
        raise DarknetError(f"the weights file has {len(weights)} bytes: not a Darknet weights file")
    major, minor = np.frombuffer(weights[:8], np.int32)
    offset = 12 + (8 if major * 10 + minor >= 2 else 4)
    if (len(weights) - offset) % 4:
        raise DarknetError("the weights file does not end on a whole 32-bit value: truncated, or not Darknet's")
    data = np.frombuffer(weights[offset:], np.float32)
    at = 0

    def take(n: int) -> np.ndarray:
        nonlocal at
        if at + n > data.size:
            raise DarknetError(f"the weights file ends early: layer needs {n} values at {at}, {data.size} in all")
        out = data[at : at + n]
        at += n
        return out

    nodes, inits = [], []
    counter = [0]

    def fresh(stem: str) -> str:
        counter[0] += 1
        return f"{stem}_{counter[0]}"

    def const(value: np.ndarray, stem: str = "c") -> str:
        name = fresh(stem)
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    outputs: list[str] = []  # each layer's output tensor
    channels: list[int] = []
    sizes: list[tuple[int, int]] = []  # (h, w)
    heads, raw = [], []
    x, c, hw = "images", 3, (in_h, in_w)
    for index, s in enumerate(layers):
        if s.kind == "convolutional":
            filters, k, stride = s.whole("filters"), s.whole("size"), s.whole("stride", 1)
            pad = k // 2 if s.whole("pad", 0) else 0
            if s.whole("batch_normalize", 0):
                bias, scale, mean, var = take(filters), take(filters), take(filters), take(filters)
                w = take(filters * c * k * k).reshape(filters, c, k, k)
                factor = scale / np.sqrt(var + BN_EPS)
                w, b = w * factor[:, None, None, None], bias - mean * factor
            else:
                b = take(filters)
                w = take(filters * c * k * k).reshape(filters, c, k, k)
            y = fresh(f"conv{index}")
            nodes.append(helper.make_node(
                "Conv", [x, const(w.astype(np.float32), "w"), const(b.astype(np.float32), "b")], [y],
                kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4,
            ))
            act = s.options.get("activation", "linear")
            if act == "leaky":
                z = fresh(f"leaky{index}")
                nodes.append(helper.make_node("LeakyRelu", [y], [z], alpha=0.1))
                y = z
            elif act != "linear":
                raise DarknetError(f"[convolutional] at line {s.line}: activation {act!r} is not supported")
            x, c = y, filters
            hw = ((hw[0] + 2 * pad - k) // stride + 1, (hw[1] + 2 * pad - k) // stride + 1)
        elif s.kind == "maxpool":
            k, stride = s.whole("size", 2), s.whole("stride", 2)
            y = fresh(f"pool{index}")
            # Darknet pads size - 1 on the right and bottom (with -inf): 13 x 13 stays 13 x 13 at stride 1
            nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=[k, k], strides=[stride, stride],
                                          pads=[0, 0, k - 1, k - 1]))
            x = y
            hw = ((hw[0] + k - 1 - k) // stride + 1, (hw[1] + k - 1 - k) // stride + 1)
        elif s.kind == "route":
            picks = s.numbers("layers")
            picks = [p if p >= 0 else index + p for p in picks]
            if any(not 0 <= p < index for p in picks):
                raise DarknetError(f"[route] at line {s.line}: layers {s.text('layers')} out of range")
            if len({sizes[p] for p in picks}) != 1:
                raise DarknetError(f"[route] at line {s.line}: layers of different sizes")
            if len(picks) == 1:
                x = outputs[picks[0]]
            else:
                x = fresh(f"route{index}")
                nodes.append(helper.make_node("Concat", [outputs[p] for p in picks], [x], axis=1))
            c, hw = sum(channels[p] for p in picks), sizes[picks[0]]
        elif s.kind == "upsample":
            stride = s.whole("stride", 2)
            y = fresh(f"up{index}")
            scales = const(np.array([1, 1, stride, stride], np.float32), "scales")
            nodes.append(helper.make_node("Resize", [x, "", scales], [y], mode="nearest"))
            x, hw = y, (hw[0] * stride, hw[1] * stride)
        elif s.kind == "yolo":
            anchors = np.array(s.numbers("anchors", float), np.float32)
            if anchors.size % 2:
                raise DarknetError(f"[yolo] at line {s.line}: anchors must be width, height pairs")
            anchors = anchors.reshape(-1, 2)
            mask = anchor_masks.get(len(heads), tuple(s.numbers("mask")))
            if max(mask) >= len(anchors):
                raise DarknetError(f"[yolo] at line {s.line}: mask {list(mask)} beyond its {len(anchors)} anchors")
            classes = s.whole("classes")
            if c != len(mask) * (5 + classes):
                raise DarknetError(f"[yolo] at line {s.line}: {c} channels for {len(mask)} anchors of {classes} classes")
            heads.append(_decode_head(nodes, const, fresh, helper, x, hw, (in_h, in_w), anchors[list(mask)], classes))
            raw.append(x)
        else:
            raise DarknetError(f"[{s.kind}] at line {s.line}: layer kind not supported (tiny YOLOs only)")
        outputs.append(x)
        channels.append(c)
        sizes.append(hw)
    if at != data.size:
        raise DarknetError(f"the weights file has {data.size - at} values more than the cfg's layers take: wrong cfg?")
    if not heads:
        raise DarknetError("the cfg has no [yolo] layer")
    if len(names) != classes:
        raise DarknetError(f"{len(names)} class names for a model of {classes} classes")

    nodes.append(helper.make_node("Concat", heads, ["output"], axis=1))
    graph_outputs = [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", "K", 5 + classes])]
    if raw_heads:
        graph_outputs += [helper.make_tensor_value_info(r, TensorProto.FLOAT, ["N", "C", "H", "W"]) for r in raw]
    g = helper.make_graph(
        nodes, "darknet",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, in_h, in_w])],
        graph_outputs, inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="bconnect-darknet-onnx")
    m.ir_version = 8
    meta = {
        "layout": "yolov5", "resize": "letterbox", "input_mean": "0.0", "input_std": "255.0",
        "nms_iou_threshold": "0.45", "names": repr(dict(enumerate(names))),
    }
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    return m.SerializeToString()


def _decode_head(nodes, const, fresh, helper, x, hw, input_hw, anchors, classes) -> str:
    """(N, A * (5 + C), H, W) -> (N, A * H * W, 5 + C): centre and size in input pixels, probabilities."""
    h, w = hw
    a, d = len(anchors), 5 + classes
    r = fresh("r")
    nodes.append(helper.make_node("Reshape", [x, const(np.array([0, a, d, h * w], np.int64))], [r]))
    t = fresh("t")
    nodes.append(helper.make_node("Transpose", [r], [t], perm=[0, 1, 3, 2]))  # N, A, HW, D
    flat = fresh("flat")
    nodes.append(helper.make_node("Reshape", [t, const(np.array([0, a * h * w, d], np.int64))], [flat]))
    gy, gx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
    grid = np.tile(np.stack([gx.ravel(), gy.ravel()], axis=1), (a, 1))[None]  # 1, A*HW, 2
    stride = np.array([input_hw[1] / w, input_hw[0] / h], np.float32)
    sizes = np.repeat(anchors, h * w, axis=0)[None].astype(np.float32)  # 1, A*HW, 2

    def part(lo: int, hi: int) -> str:
        out = fresh("part")
        bounds = [const(np.array([v], np.int64)) for v in (lo, hi, 2)]  # start, end, axis
        nodes.append(helper.make_node("Slice", [flat, *bounds], [out]))
        return out

    xy, wh, rest = part(0, 2), part(2, 4), part(4, d)
    sxy, centre = fresh("sxy"), fresh("centre")
    nodes.append(helper.make_node("Sigmoid", [xy], [sxy]))
    plus = fresh("plus")
    nodes.append(helper.make_node("Add", [sxy, const(grid, "grid")], [plus]))
    nodes.append(helper.make_node("Mul", [plus, const(stride, "stride")], [centre]))
    ewh, size = fresh("ewh"), fresh("size")
    nodes.append(helper.make_node("Exp", [wh], [ewh]))
    nodes.append(helper.make_node("Mul", [ewh, const(sizes, "anchors")], [size]))
    probs = fresh("probs")
    nodes.append(helper.make_node("Sigmoid", [rest], [probs]))
    out = fresh("head")
    nodes.append(helper.make_node("Concat", [centre, size, probs], [out], axis=2))
    return out


def convert_files(cfg: Path, weights: Path, names: Path, **kw) -> bytes:
    labels = [n.strip() for n in names.read_text().splitlines() if n.strip()]
    return convert(cfg.read_text(), weights.read_bytes(), labels, **kw)


def main(argv: list[str] | None = None) -> int:
    """``python -m plugins.vision_onnx.darknet_onnx CFG WEIGHTS NAMES OUT.onnx``: an integrator's own tiny YOLO."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Convert a Darknet tiny YOLO (cfg, weights, class names) to ONNX")
    parser.add_argument("cfg", type=Path)
    parser.add_argument("weights", type=Path)
    parser.add_argument("names", type=Path, help="the class names, one a line, in training order")
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"), help="input size (default: the cfg's)")
    args = parser.parse_args(argv)
    try:
        model = convert_files(args.cfg, args.weights, args.names, input_size=tuple(args.size) if args.size else None)
    except (DarknetError, OSError) as exc:
        print(f"darknet_onnx: {exc}", file=sys.stderr)
        return 1
    args.out.write_bytes(model)
    print(f"darknet_onnx: wrote {args.out} (layout yolov5; anchors as the cfg's masks say)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
