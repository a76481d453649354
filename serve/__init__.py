"""Inference side: one extraction engine behind every front end.

contract      the output record, identical in the Python API, batch JSONL, Ray and the server
extractor     ``Extractor``: a loaded model, thread-safe ``extract``
onnx_runtime  the encoder + tagger exported to ONNX Runtime (fp32 / dynamic int8)
inputs        reading ``{"id", "text"}`` records (JSONL or a folder of .txt) with per-line problems
segment_pool  segmentation in worker processes, off the model's critical path
batch         ``python -m serve.batch``: resumable JSONL job
ray_job       ``python -m serve.ray_job``: the same on Ray Data
batcher       asyncio micro-batching of concurrent requests
retrain       webhook-triggered retraining with a keep-if-not-worse swap
server        ``python -m serve.server``: REST API + Label Studio ML backend
bench         ``python -m serve.bench``: throughput, latency and int8 accuracy
"""
