"""User-facing errors: one sentence saying what happened and what to do.

Why this exists: users read error messages, not tracebacks. Anything a user can
cause (wrong port, bad CSV, wrong password, server down) is raised as a
``UserError``; the CLI prints its message and exits non-zero.
"""


class UserError(Exception):
    """A failure the user can fix; the message says how."""

    exit_code = 2

    def __init__(self, message, exit_code=None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
