"""Error types whose message is meant for the user (printed, never traced)."""


class UserError(Exception):
    """A problem with the user's input or environment: reported as one line, exit status 1."""
