"""A small TFLite -> ONNX converter for quantized SSD detectors (set-up time only).

tensorflow + tf2onnx is a 1.7 GB environment; the SSD-MobileNet detectors that
Frigate and Coral ship use seven operators, so this converter does them itself:
``CONV_2D``, ``DEPTHWISE_CONV_2D``, ``ADD``, ``RESHAPE``, ``CONCATENATION``,
``LOGISTIC`` and the custom ``TFLite_Detection_PostProcess``.

The quantized model is kept quantized, in ONNX's QDQ form: weights stay uint8
behind a ``DequantizeLinear``, each activation goes through the same
``QuantizeLinear``/``DequantizeLinear`` pair (scale, zero point) as in the
tflite file. onnxruntime fuses those into integer kernels on CPU, so scores and
boxes follow the reference interpreter closely. ``quantized=False`` writes a
plain float model (dequantised weights) for runtimes without QDQ support.

Of the post-processing op, the box decoding (anchors and scales from the file)
goes into the graph; non-maximum suppression does not: the plugin's SSD layout
does it in numpy. The graph's input is ``images`` (N, 3, H, W) float, scaled as
the tflite input's quantisation says (see :data:`BuildResult.input_mean`); its
outputs are ``boxes`` (N, K, 4: x1, y1, x2, y2 in 0..1) and ``scores``
(N, K, classes + 1, column 0 the background).

Needs the ``tflite`` and ``onnx`` packages (in pyproject's dependencies, for
set-up); the plugin never imports this module at run time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

POSTPROCESS = "TFLite_Detection_PostProcess"


class ConvertError(Exception):
    """The file is not a tflite detector this converter understands (one line)."""


@dataclass(frozen=True)
class BuildResult:
    model_bytes: bytes
    input_size: tuple[int, int]  # (width, height)
    input_mean: float  # images = (pixel - mean) / std, as the tflite input is quantised
    input_std: float
    options: dict  # the post-processing op's options (iou threshold, max detections ...)


def convert(tflite_path: Path, *, quantized: bool = True, names: dict[int, str] | None = None) -> BuildResult:
    import onnx
    import tflite
    from flatbuffers import flexbuffers
    from onnx import TensorProto, helper, numpy_helper

    try:
        buf = Path(tflite_path).read_bytes()
        model = tflite.Model.GetRootAsModel(buf, 0)
        graph = model.Subgraphs(0)
    except Exception as exc:  # a flatbuffer that does not parse raises anything
        raise ConvertError(f"{tflite_path}: not a tflite model ({type(exc).__name__})") from None
    opnames = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    def tensor(i):
        return graph.Tensors(int(i))

    def qparams(i):
        q = tensor(i).Quantization()
        if q is None or q.ScaleLength() == 0:
            return None
        if q.ScaleLength() != 1:
            raise ConvertError(f"{tflite_path}: per-axis quantisation of {tensor(i).Name().decode()} is not supported")
        return float(q.ScaleAsNumpy()[0]), int(q.ZeroPointAsNumpy()[0])

    def raw(i):
        t = tensor(i)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        dtype = {0: np.float32, 2: np.int32, 3: np.uint8, 9: np.int8}[t.Type()]
        return np.frombuffer(data.tobytes(), dtype=dtype).reshape(t.ShapeAsNumpy())

    def dequant(i):
        arr, q = raw(i), qparams(i)
        return arr.astype(np.float32) if q is None else ((arr.astype(np.float32) - q[1]) * q[0])

    nodes: list = []
    inits: list = []
    names_used: dict[int, str] = {}
    counter = iter(range(1_000_000))

    def fresh(prefix: str) -> str:
        return f"{prefix}_{next(counter)}"

    def const(arr: np.ndarray, prefix: str = "c") -> str:
        name = fresh(prefix)
        inits.append(numpy_helper.from_array(np.array(arr, copy=True, order="C"), name))  # 0-d stays 0-d
        return name

    def fake_quant(x: str, i) -> str:
        """Round an activation to the tflite tensor's uint8 grid (QDQ) when quantised."""
        q = qparams(i)
        if q is None or tensor(i).Type() != 3:
            return x
        if not quantized:
            # the quantised graph leaves ReLU6 and friends to the uint8 range: keep the range
            out = fresh("clip")
            lo, hi = np.float32((0 - q[1]) * q[0]), np.float32((255 - q[1]) * q[0])
            nodes.append(helper.make_node("Clip", [x, const(lo), const(hi)], [out]))
            return out
        s, z = const(np.float32(q[0]), "s"), const(np.uint8(q[1]), "z")
        qn, dq = fresh("q"), fresh("dq")
        nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [qn]))
        nodes.append(helper.make_node("DequantizeLinear", [qn, s, z], [dq]))
        return dq

    def weight(i, arr_transform) -> str:
        q = qparams(i)
        if quantized and q is not None and tensor(i).Type() == 3:
            w = arr_transform(raw(i))
            s, z = const(np.float32(q[0]), "s"), const(np.uint8(q[1]), "z")
            out = fresh("w")
            nodes.append(helper.make_node("DequantizeLinear", [const(w, "wq"), s, z], [out]))
            return out
        return const(arr_transform(dequant(i)).astype(np.float32), "w")

    def bias(i, in_idx, w_idx) -> str:
        if quantized and tensor(i).Type() == 2 and qparams(in_idx) and qparams(w_idx):
            s = const(np.float32(qparams(in_idx)[0] * qparams(w_idx)[0]), "s")
            out = fresh("b")
            nodes.append(helper.make_node("DequantizeLinear", [const(raw(i), "bq"), s, const(np.int32(0), "z")], [out]))
            return out
        return const(dequant(i).astype(np.float32), "b")

    def activation(x: str, fused: int) -> str:
        if fused == 0:
            return x
        out = fresh("act")
        if fused == 1:
            nodes.append(helper.make_node("Relu", [x], [out]))
        elif fused == 3:
            nodes.append(helper.make_node("Clip", [x, const(np.float32(0)), const(np.float32(6))], [out]))
        else:
            raise ConvertError(f"{tflite_path}: fused activation {fused} is not supported")
        return out

    def same_pads(in_hw, k_hw, stride, dilation=(1, 1)):
        pads_begin, pads_end = [], []
        for n, k, s, d in zip(in_hw, k_hw, stride, dilation):
            k = (k - 1) * d + 1
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads_begin.append(total // 2)
            pads_end.append(total - total // 2)
        return pads_begin + pads_end

    inputs = list(graph.InputsAsNumpy())
    if len(inputs) != 1:
        raise ConvertError(f"{tflite_path}: expected one input, found {len(inputs)}")
    in_idx = inputs[0]
    _, in_h, in_w, _ = (int(v) for v in tensor(in_idx).ShapeAsNumpy())
    in_q = qparams(in_idx)
    mean, std = (float(in_q[1]), 1.0 / in_q[0]) if in_q else (0.0, 1.0)
    names_used[in_idx] = fake_quant("images", in_idx)  # the float input, rounded as the uint8 input was
    layout: dict[int, str] = {in_idx: "nchw"}  # 4-D tensors live NCHW in the ONNX graph
    boxes_out = scores_out = None
    options: dict = {}
    n_anchors = 0

    for n in range(graph.OperatorsLength()):
        op = graph.Operators(n)
        code_obj = model.OperatorCodes(op.OpcodeIndex())
        code = max(code_obj.BuiltinCode(), code_obj.DeprecatedBuiltinCode())
        opname = opnames.get(code, str(code))
        ins, outs = list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())
        out_idx = outs[0]
        y = fresh(opname.lower())
        if opname in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            opts_cls = tflite.Conv2DOptions if opname == "CONV_2D" else tflite.DepthwiseConv2DOptions
            o = opts_cls()
            o.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            w_shape = tensor(ins[1]).ShapeAsNumpy()
            kh, kw = int(w_shape[1]), int(w_shape[2])
            in_shape = tensor(ins[0]).ShapeAsNumpy()
            stride = (o.StrideH(), o.StrideW())
            dil = (o.DilationHFactor() or 1, o.DilationWFactor() or 1)
            pads = same_pads(in_shape[1:3], (kh, kw), stride, dil) if o.Padding() == 0 else [0, 0, 0, 0]
            if opname == "CONV_2D":
                w = weight(ins[1], lambda a: a.transpose(0, 3, 1, 2))  # OHWI -> OIHW
                group = 1
            else:
                w = weight(ins[1], lambda a: a.transpose(3, 0, 1, 2))  # 1HWO -> O1HW
                group = int(in_shape[3])
            b = bias(ins[2], ins[0], ins[1])
            nodes.append(helper.make_node(
                "Conv", [names_used[ins[0]], w, b], [y], strides=list(stride), pads=pads,
                dilations=list(dil), group=group, kernel_shape=[kh, kw],
            ))
            y = activation(y, o.FusedActivationFunction())
            layout[out_idx] = "nchw"
        elif opname == "ADD":
            o = tflite.AddOptions()
            o.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            nodes.append(helper.make_node("Add", [names_used[ins[0]], names_used[ins[1]]], [y]))
            y = activation(y, o.FusedActivationFunction())
            layout[out_idx] = layout.get(ins[0], "plain")
        elif opname == "RESHAPE":
            x = names_used[ins[0]]
            if layout.get(ins[0]) == "nchw":
                t = fresh("nhwc")
                nodes.append(helper.make_node("Transpose", [x], [t], perm=[0, 2, 3, 1]))
                x = t
            shape = [int(v) for v in tensor(out_idx).ShapeAsNumpy()]
            nodes.append(helper.make_node("Reshape", [x, const(np.array([0, *shape[1:]], np.int64))], [y]))
            layout[out_idx] = "plain"
        elif opname == "CONCATENATION":
            o = tflite.ConcatenationOptions()
            o.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
            if any(layout.get(i) == "nchw" for i in ins):
                raise ConvertError(f"{tflite_path}: concatenation of 4-D tensors is not supported")
            nodes.append(helper.make_node("Concat", [names_used[i] for i in ins], [y], axis=o.Axis()))
            y = activation(y, o.FusedActivationFunction())
            layout[out_idx] = "plain"
        elif opname == "LOGISTIC":
            nodes.append(helper.make_node("Sigmoid", [names_used[ins[0]]], [y]))
            layout[out_idx] = layout.get(ins[0], "plain")
        elif opname == "CUSTOM" and code_obj.CustomCode() == POSTPROCESS.encode():
            options = dict(flexbuffers.Loads(op.CustomOptionsAsNumpy().tobytes()))
            anchors = dequant(ins[2])
            n_anchors = anchors.shape[0]
            boxes_out = _decode_boxes(nodes, const, fresh, helper, names_used[ins[0]], anchors, options)
            scores_out = names_used[ins[1]]
            continue
        else:
            raise ConvertError(f"{tflite_path}: operator {opname} is not supported by this converter")
        names_used[out_idx] = fake_quant(y, out_idx)

    if boxes_out is None:
        raise ConvertError(f"{tflite_path}: no {POSTPROCESS} op: not an SSD detector")
    nodes.append(helper.make_node("Identity", [boxes_out], ["boxes"]))
    nodes.append(helper.make_node("Identity", [scores_out], ["scores"]))
    n_classes = int(options["num_classes"]) + 1
    g = helper.make_graph(
        nodes, "ssd",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, in_h, in_w])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["N", n_anchors, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", n_anchors, n_classes]),
        ],
        inits,
    )
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="bconnect-tflite-onnx")
    m.ir_version = 8
    meta = {
        "layout": "ssd", "source": Path(tflite_path).name, "quantized": str(quantized).lower(),
        "input_mean": repr(mean), "input_std": repr(std),
        "nms_iou_threshold": repr(float(options["nms_iou_threshold"])),
        "max_detections": str(int(options["max_detections"])),
        "resize": "stretch", "box_order": "xyxy", "background_class": "true",
        "agnostic_nms": str(not options.get("use_regular_nms", False)).lower(),
    }
    if names:
        meta["names"] = repr(dict(sorted(names.items())))
    for k, v in meta.items():
        m.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(m)
    return BuildResult(m.SerializeToString(), (in_w, in_h), mean, std, options)


def _decode_boxes(nodes, const, fresh, helper, enc: str, anchors: np.ndarray, options: dict) -> str:
    """The post-processing op's centre-size decoding, in the graph: anchors are (yc, xc, h, w)."""
    scale = np.array(
        [1 / options["y_scale"], 1 / options["x_scale"], 1 / options["h_scale"], 1 / options["w_scale"]], np.float32
    )
    a = anchors.astype(np.float32)
    t = fresh("enc")
    nodes.append(helper.make_node("Mul", [enc, const(scale)], [t]))
    # columns: ty, tx, th, tw  -> centre and half size in anchor units
    ctr = fresh("ctr")
    nodes.append(helper.make_node("Slice", [t, const(np.array([0], np.int64)), const(np.array([2], np.int64)), const(np.array([2], np.int64))], [ctr]))
    size = fresh("size")
    nodes.append(helper.make_node("Slice", [t, const(np.array([2], np.int64)), const(np.array([4], np.int64)), const(np.array([2], np.int64))], [size]))
    # reorder (y, x) -> (x, y) so that boxes come out x1, y1, x2, y2
    anchor_ctr_xy = a[:, [1, 0]]
    anchor_size_xy = a[:, [3, 2]]
    ctr_xy, size_xy = fresh("ctrxy"), fresh("sizexy")
    nodes.append(helper.make_node("Gather", [ctr, const(np.array([1, 0], np.int64))], [ctr_xy], axis=2))
    nodes.append(helper.make_node("Gather", [size, const(np.array([1, 0], np.int64))], [size_xy], axis=2))
    c1, c2 = fresh("c"), fresh("c")
    nodes.append(helper.make_node("Mul", [ctr_xy, const(anchor_size_xy)], [c1]))
    nodes.append(helper.make_node("Add", [c1, const(anchor_ctr_xy)], [c2]))
    e1, half = fresh("e"), fresh("half")
    nodes.append(helper.make_node("Exp", [size_xy], [e1]))
    nodes.append(helper.make_node("Mul", [e1, const(anchor_size_xy * 0.5)], [half]))
    lo, hi, out = fresh("lo"), fresh("hi"), fresh("boxes")
    nodes.append(helper.make_node("Sub", [c2, half], [lo]))
    nodes.append(helper.make_node("Add", [c2, half], [hi]))
    nodes.append(helper.make_node("Concat", [lo, hi], [out], axis=2))
    return out
