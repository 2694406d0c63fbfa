"""Errors a user can fix. The CLI prints their message as one line and exits with their code, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in input, setup or environment, with a message that says what to do."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SetupError(UserError):
    """Something this machine lacks (a binary, a package, a free port)."""

    exit_code = 3


class ServerError(UserError):
    """A server we started failed to come up or died."""

    exit_code = 4
