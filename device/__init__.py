"""Suksham-Benaud device runtime: serves a Benaud bundle from a Raspberry Pi's CPU.

Nothing in this package imports torch; llama.cpp is touched only by `device.engine`.
"""

__version__ = "0.1.0"
