"""Suksham-Benaud device runtime: serves a Benaud bundle from a Raspberry Pi's CPU.

Nothing in this package imports torch; llama.cpp is touched only by `device.runtime.engine`.
"""

from device.settings import version

__version__ = version()
