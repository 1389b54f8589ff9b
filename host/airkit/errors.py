"""User-facing errors: one sentence saying what happened and what to do.

Why this exists: users read error messages, not tracebacks. Anything a user can
cause (wrong port, bad CSV, wrong password, server down) is raised as one of
these; the CLI prints its message and exits with the class's code. Library
callers catch ``AirkitError`` (or a child) and read ``.remedy`` / ``.exit_code``.

Exit codes (documented in the README, the same for every command):

| code | class             | meaning                                                   |
|------|-------------------|-----------------------------------------------------------|
| 0    |                   | success                                                   |
| 1    | ``CheckFailed``   | the command ran, but checks failed (doctor, validate, provision rows) |
| 2    | ``InputError``    | a wrong argument, file or config (the user's input)       |
| 3    | ``BoardError``    | the board or port: nothing answers, busy, no permission, unplugged |
| 4    | ``NetworkError``  | a server or download: unreachable, refused, bad answer    |
| 5    | ``WouldOverwrite``| refused to overwrite a file or a provisioned board; use --force |
| 70   |                   | a bug in airkit (an unexpected exception): the traceback is saved to a file the message names |
| 130  |                   | interrupted (Ctrl-C)                                      |
"""


class AirkitError(Exception):
    """Base of every error the toolkit raises on purpose; the message says what to do."""

    exit_code = 2

    def __init__(self, message, exit_code=None, remedy=None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
        self.remedy = remedy


# The historical name, kept: everything user-caused is a UserError.
UserError = AirkitError


class CheckFailed(AirkitError):
    """The command ran to the end, but some checks failed (listed above the message)."""

    exit_code = 1


class InputError(AirkitError):
    """An argument, file or config the user gave is wrong."""

    exit_code = 2


class BoardError(AirkitError):
    """The board or its port: nothing answers, busy, no permission, unplugged."""

    exit_code = 3


class NetworkError(AirkitError):
    """A server or a download failed: unreachable, refused, or a bad answer."""

    exit_code = 4


class WouldOverwrite(AirkitError):
    """The command would overwrite a file or a board; it asks for --force instead."""

    exit_code = 5
