"""Signal set-up for tests that press Ctrl-C on a child process."""
from __future__ import annotations

import signal


def as_in_a_terminal() -> None:
    """``preexec_fn``: give the child Ctrl-C's default disposition, as a terminal does, even when the tests run
    under a shell that started them in the background (a non-interactive shell ignores SIGINT for background
    commands, every process below inherits the ignoring, and Python then installs no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
