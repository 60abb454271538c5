"""The typed config of the ``vision_onnx`` detector; unknown keys are refused.

Keys left unset are read from the model's own metadata (the default model
carries its layout, class names and input scaling), else from the defaults
that suit Ultralytics exports.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "models/ssd_mobilenet_v2_coco_quant.onnx"

Layout = Literal["yolov5", "yolov8", "yolox", "ssd"]
Provider = Literal["tensorrt", "cuda", "cpu"]
GridSide = Annotated[int, Field(ge=1, le=8)]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = DEFAULT_MODEL  # relative: under the data folder, else the project's data/ (see docs)
    layout: Layout | None = None  # None: the model's metadata "layout"
    classes: list[str] | dict[int, str] | None = None  # class index -> label; None: metadata "names"
    labels: list[str] = []  # keep only these labels; empty: all
    resize: Literal["letterbox", "stretch"] | None = None  # None: metadata, else letterbox
    mean: float | None = Field(default=None)  # images = (pixel - mean) / std; None: metadata, else 0
    std: float | None = Field(default=None, gt=0)  # None: metadata, else 255
    channels: Literal["rgb", "bgr"] = "rgb"
    box_order: Literal["xyxy", "yxyx"] | None = None  # SSD layout only; None: metadata, else xyxy
    background_class: bool | None = None  # SSD layout: score column 0 is "background"; None: metadata
    agnostic_nms: bool | None = None  # one NMS over all classes; None: metadata, else per class
    # the lowest score reported: the tracker's low_score, since ByteTrack keeps tracks on the unsure boxes (a car half
    # hidden, a parked car seen from behind) and decides itself what is sure (core/analytics/tracker.py: high_score)
    score_threshold: float = Field(default=0.1, ge=0, le=1)
    iou_threshold: float | None = Field(default=None, gt=0, le=1)  # NMS; None: metadata, else 0.45
    max_detections: int = Field(default=100, ge=1, le=1000)
    providers: list[Provider] = Field(default=["tensorrt", "cuda", "cpu"], min_length=1)
    batch_size: int = Field(default=8, ge=1, le=64)
    batch_wait_ms: float = Field(default=5.0, ge=0, le=1000)
    queue_size: int = Field(default=32, ge=1, le=1024)
    threads: int = Field(default=0, ge=0, le=64)  # onnxruntime intra-op threads; 0: its default
    # where the model runs: "process" in a detector process of its own (plugins/vision_onnx/detector_process.py: its
    # CPU in its own group, no GIL shared; viewers' p99 lower under load, docs/analytics.md), "thread" in the server
    # (the batcher's thread and ONNX Runtime's pool)
    isolation: Literal["thread", "process"] = "process"
    # tiling (plugins/vision_onnx/tiles.py): "auto" tiles frames at least twice the model's input, per axis;
    # [columns, rows] always; "off" never
    tiles: Literal["auto", "off"] | tuple[GridSide, GridSide] = "auto"
    tile_overlap: float = Field(default=0.33, ge=0, le=0.9)  # share of a tile's width/height neighbours share
    tile_whole_frame: bool = True  # also run the whole frame, for objects larger than a tile
    tile_merge_iou: float = Field(default=0.5, gt=0, le=1)  # boxes of different views overlapping more are one
    # a box cut by a tile's inner edge grown into the other views' boxes of the rest of its object, before the merge
    tile_join: bool = False
