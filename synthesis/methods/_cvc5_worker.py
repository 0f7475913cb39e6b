"""Run one SyGuS-IF v2 problem through cvc5's Python API and print what ``check-synth`` prints.

Started by ``cvc5_peer`` as ``python _cvc5_worker.py [option=value ...]`` with the problem on stdin, in
its own process so that it can be killed at the budget (cvc5's ``tlimit`` does not interrupt
``checkSynth``). ``option=value`` pairs are cvc5 options, except ``memory-mb`` (an address-space
limit) and ``wall-seconds`` (the worker ends itself by SIGALRM after that long, and with its parent,
so it never outlives a killed run). Deliberately self-contained: it imports nothing from this
project, so starting it costs only cvc5's own import. Exit status 0: stdout holds the solver's answer (a ``(define-fun ...)``
list, ``infeasible`` or ``fail``); 2: cvc5 could not be imported; 3: cvc5 raised (message on stderr).
"""
from __future__ import annotations

import signal
import sys


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker if the process that started it dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    memory_mb = 0
    wall_seconds = 0
    options = []
    for arg in argv:
        key, _, value = arg.partition("=")
        if key == "memory-mb":
            memory_mb = int(value)
        elif key == "wall-seconds":
            wall_seconds = int(value)
        else:
            options.append((key, value))
    _die_with_parent()
    if wall_seconds > 0 and hasattr(signal, "alarm"):
        # No handler: SIGALRM's default action ends the process even while cvc5 runs in C++.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(wall_seconds)
    if memory_mb > 0:
        try:
            import resource

            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    try:
        import cvc5
    except ImportError as err:
        print(f"cannot import cvc5: {err}", file=sys.stderr)
        return 2
    text = sys.stdin.read()
    try:
        tm = cvc5.TermManager()
        solver = cvc5.Solver(tm)
        solver.setOption("sygus", "true")
        for key, value in options:
            solver.setOption(key, value)
        symbols = cvc5.SymbolManager(tm)
        parser = cvc5.InputParser(solver, symbols)
        parser.setStringInput(cvc5.InputLanguage.SYGUS_2_1, text, "problem")
        while True:
            command = parser.nextCommand()
            if command.isNull():
                break
            out = command.invoke(solver, symbols)
            if out:
                sys.stdout.write(out)
                sys.stdout.flush()
    except MemoryError:
        print("cvc5 ran out of memory", file=sys.stderr)
        return 3
    except Exception as err:  # a parse error or an internal cvc5 error: reported, not raised
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
