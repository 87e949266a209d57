"""Exceptions shared by the engine and the command line."""


class EoscheckError(ValueError):
    """Bad input: one line that says what is wrong and what to do.

    The command line turns it into that line on stderr and exit code 2.
    """


class TooBig(EoscheckError):
    """A request refused for the memory it needs.  ``need`` says what and how much without a remedy; the message
    adds the remedy in the options of ``eoscheck run``, which a command with other options restates in its own
    (``str(err)`` is the whole line)."""

    def __init__(self, need: str, hint: str):
        super().__init__(f"{need}; {hint}")
        self.need = need


class DivergenceError(ArithmeticError):
    """A computation left the floating-point range where it must not."""
