"""`python -m builder.demo --config CFG --out DIR` (the Makefile's demo): a shim for `suksham demo`.

The work is in `builder.ask.run_demo`; the command and its options are in `builder.commands`.
"""

from builder.commands import demo

if __name__ == "__main__":
    demo()
