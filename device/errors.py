"""The error a user can fix, raised by library code anywhere; only the command line turns it into an exit code.

Library modules (the builder's stages, the bench, the evaluation) raise `UserError` with a message
that says what is wrong and what to do; `device.cli` prints the message and exits 1, without a
traceback. Standard library only.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or machine, explained in the message."""
