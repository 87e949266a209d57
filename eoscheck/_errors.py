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
    """A KeyboardInterrupt that ``err`` was raised from or while handling (anywhere in its ``__cause__`` and
    ``__context__`` links, both followed), if any.

    A signal handler runs in whatever Python function is executing; where that function is a callback of a C
    extension, the extension turns the KeyboardInterrupt into its own error (numba's dispatcher: "SystemError:
    CPUDispatcher(…) returned a result with an exception set").  Such an error is an interrupt, not a failure."""
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, KeyboardInterrupt):
            return e
        todo.extend(x for x in (e.__context__, e.__cause__) if x is not None)
    return None


def reraise_interrupt(err: BaseException) -> None:
    """Raise ``KeyboardInterrupt from err`` where ``err`` wraps one (:func:`interrupt_inside`); call it first in an
    ``except Exception`` that reports an error and goes on, so that a Ctrl-C stops the command there."""
    if interrupt_inside(err) is not None:
        raise KeyboardInterrupt from err
