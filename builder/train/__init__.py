"""Training: the base model as a 16-bit folder (`base`), packing (`packing`), the QLoRA loop (`loop`), merging.

`python -m builder.train ...` runs the loop (what torchrun and accelerate launch).
"""
