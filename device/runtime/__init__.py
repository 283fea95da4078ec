"""What a Pi runs to serve a bundle: the engine (the one llama_cpp import), the bundle checks, the service, HTTP.

Never imports `device.measure`, `device.cli` or `builder` (tests/test_architecture.py holds that).
"""
