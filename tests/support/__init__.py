"""Test helpers: a tiny ONNX model factory and a real local HTTP feed server."""
