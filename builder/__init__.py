"""Suksham-Benaud builder: data, QLoRA fine-tune, merge, GGUF export, evaluation and the bundle."""
