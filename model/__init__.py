"""Model lifecycle: data loading, fine-tuning, evaluation, ONNX export, benchmarks."""
