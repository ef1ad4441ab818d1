"""The root of vfpnet's error classes.

Every error meant for a user derives from `VfpnetError` and carries the exit status the
CLI returns for it; its message is one line that names where the problem is (file,
object, field) so the CLI can print it as it is.
"""


class VfpnetError(Exception):
    """An error with a one-line message meant for the user."""

    exit_code: int = 1


class InputError(VfpnetError):
    """Invalid input (a manifest, a config file, a command-line value): exit status 2."""

    exit_code = 2
