"""The built-in ONNX object detector (see docs/detectors.md)."""
