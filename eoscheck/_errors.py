"""Exceptions shared by the engine and the command line."""


class EoscheckError(ValueError):
    """Bad input: one line that says what is wrong and what to do.

    The command line turns it into that line on stderr and exit code 2.
    """


class DivergenceError(ArithmeticError):
    """A computation left the floating-point range where it must not."""
