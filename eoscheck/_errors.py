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


def interrupt_inside(err: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt ``err`` was raised while handling (its ``__cause__`` or ``__context__`` chain), if any.

    A signal handler runs in whatever Python function is executing; where that function is a callback of a C
    extension, the extension turns the KeyboardInterrupt into its own error (numba's dispatcher: "SystemError:
    CPUDispatcher(…) returned a result with an exception set").  Such an error is an interrupt, not a failure."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return e
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return None
