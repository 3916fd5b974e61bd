"""Errors a user can cause. The CLI turns each into one line on stderr and exit status 2."""


class UserError(Exception):
    """Bad input from the user: an unknown name, a bad option, a bad file.

    The message is one line that names the problem; the CLI prints it as
    ``tradeoff: error: <message>`` and exits with status 2.
    """


class Skip(Exception):
    """Raised by a benchmark or scenario setup to skip itself (e.g. a peer is missing).

    The runner prints a one-line notice with the message and goes on.
    """


#: the start of a line that a worker process prints for the user to see (``tradeoff run``
#: passes such lines on from the workers' captured stderr)
NOTE_MARK = "tradeoff: note:"
