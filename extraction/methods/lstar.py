"""``lstar``: Angluin's L* with the recurrent network as membership oracle (Weiss et al. 2018), through
aalpy; the learned Moore machine is written as a program the same way ``fsm`` writes its own."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from programs.interpreter import Machine
from programs.semantics import SCALAR

from ..machine import Moore, merge_compatible, minimise, to_program
from ..registry import Reading, extractor
from .fsm import StateTrace, program_states, recurrent_only, signature, state_checks


# The largest domain the equivalence queries enumerate before random walks (``DomainEqOracle``)
DOMAIN_ORACLE_CAP = 20_000


class OutOfBudget(Exception):
    """Raised from inside a membership query when the budget is spent (aalpy has no clock of its own)."""


class NetworkSUL:
    """The network as a system under learning: one letter = one cell step; output = the readout."""

    def __init__(self, trained, budget):
        from aalpy.base import SUL

        self.trained = trained
        model, enc = trained.model, trained.encoding
        names = list(enc.sequences) + list(enc.scalars)
        sul = self

        class _SUL(SUL):
            def pre(self):
                sul.h = model.h0[None, :].clone()

            def post(self):
                pass

            def step(self, letter):
                if budget.expired:
                    raise OutOfBudget()
                with torch.no_grad():
                    if letter is not None:
                        parts = [model.inputs_of(n, torch.tensor([letter[i] - (enc.sequences.get(n) or enc.scalars[n])[0]]))
                                 for i, n in enumerate(names)]
                        sul.h = model.cell(torch.cat(parts, dim=-1), sul.h)
                    logits = model.readout(sul.h)
                parts = [int(vals[p.argmax(-1).item()]) for vals, p in zip(enc.heads, enc.split_logits(logits))]
                return tuple(parts)

        self.sul = _SUL()


class DomainEqOracle:
    """Equivalence queries answered on the domain first: the hypothesis and the network run on every input of
    the domain, and the shortest prefix on which their outputs differ is the counterexample; only when there
    is none do random walks (``walks``) look further. This is an exact oracle for the question the reading
    must answer, whether the machine is the network on the domain, where random walks over lengths 1..L miss
    a word that one input in a thousand holds (opening five brackets then closing them, in a domain of
    length ten). It is used only where the domain can be enumerated (``lstar``): on a sample of a large
    domain it would chase the rare inputs an inexact network answers wrong (running sums mod 6 and 7 at
    length 8 were read right from random walks and timed out learning those errors)."""

    def __init__(self, trained, letters: list[tuple[int, ...]], walks):
        from aalpy.base import Oracle

        tr = StateTrace(trained, cap=DOMAIN_ORACLE_CAP)
        index = {a: i for i, a in enumerate(letters)}
        flat = tr.symbols.reshape(-1, tr.symbols.shape[-1])
        ids = np.array([index.get(tuple(int(v) for v in a), -1) for a in map(tuple, flat)], dtype=np.int64)
        self.symbols = ids.reshape(tr.symbols.shape[:2])  # [n, T] letter ids
        self.outputs = tr.outputs  # [n, T, arity]: the network's answers
        self.valid = tr.valid & (self.symbols >= 0)
        self.letters = letters
        outer = self

        class _Oracle(Oracle):
            def find_cex(self, hypothesis):
                cex = outer.counterexample(hypothesis)
                if cex is not None:
                    return cex
                found = walks.find_cex(hypothesis)
                self.num_queries, self.num_steps = walks.num_queries, walks.num_steps
                return found

        self.oracle = _Oracle(letters, walks.sul)

    def counterexample(self, hypothesis) -> list[tuple[int, ...]] | None:
        """The shortest prefix of a domain input on which ``hypothesis`` (an aalpy Moore machine) and the
        network answer differently, or None."""
        states = hypothesis.states
        number = {id(q): i for i, q in enumerate(states)}
        delta = np.full((len(states), len(self.letters)), -1, dtype=np.int64)
        for q in states:
            for a, r in q.transitions.items():
                if a in self.letters:
                    delta[number[id(q)], self.letters.index(a)] = number[id(r)]
        arity = self.outputs.shape[-1]
        out = np.array([tuple(q.output) if isinstance(q.output, tuple) else (q.output,) * arity for q in states],
                       dtype=np.int64).reshape(len(states), arity)
        n, t = self.symbols.shape
        q = np.full(n, number[id(hypothesis.initial_state)], dtype=np.int64)
        for i in range(t):
            live = self.valid[:, i] & (q >= 0)
            q = np.where(live, delta[np.maximum(q, 0), np.maximum(self.symbols[:, i], 0)], -1)
            wrong = live & ((q < 0) | (out[np.maximum(q, 0)] != self.outputs[:, i]).any(axis=1))
            if wrong.any():
                r = int(np.argmax(wrong))
                return [self.letters[int(a)] for a in self.symbols[r, :i + 1]]
        return None


def alphabet(task) -> list[tuple[int, ...]]:
    import itertools

    doms = [task.inputs[s].element for s in task.sequences] + [d for n, d in task.inputs.items() if n not in task.sequences]
    return [tuple(int(v) for v in combo) for combo in itertools.product(*(range(d.lo, d.hi) for d in doms))]


@extractor("lstar", applies=recurrent_only)
def lstar(walks: int = 500, max_letters: int = 256):
    """L* over the task's alphabet with random-word equivalence queries up to the domain's longest input."""

    def run(trained, budget, rng) -> Reading:
        from aalpy.learning_algs import run_Lstar
        from aalpy.oracles import RandomWordEqOracle

        task = trained.problem
        letters = alphabet(task)
        if len(letters) > max_letters:
            return Reading(None, (f"the alphabet has {len(letters)} letters (more than {max_letters}); L* would need "
                                  "too many queries",), status="abstained")
        sul = NetworkSUL(trained, budget).sul
        longest = task.inputs[task.sequences[0]].max_length
        import random

        random.seed(int(rng.integers(2**31)))  # aalpy's oracles draw from the random module
        randomly = RandomWordEqOracle(letters, sul, num_walks=walks, min_walk_len=1, max_walk_len=longest)
        oracle = DomainEqOracle(trained, letters, randomly).oracle if task.domain_size <= DOMAIN_ORACLE_CAP else randomly
        try:
            learned, data = run_Lstar(letters, sul, oracle, automaton_type="moore", print_level=0, return_data=True,
                                      max_learning_rounds=50)
        except OutOfBudget:
            return Reading(None, (f"L* was still learning when the budget ran out ({sul.num_queries} queries)",),
                           status="timeout")
        states = learned.states
        index = {s.state_id: i for i, s in enumerate(states)}
        delta = {(index[s.state_id], a): index[s.transitions[a].state_id] for s in states for a in letters
                 if a in s.transitions}
        outputs = [tuple(s.output) if isinstance(s.output, tuple) else (s.output,) for s in states]
        start = index[learned.initial_state.state_id]
        outputs[start] = None if not any(r == start for r in delta.values()) else outputs[start]
        m, _ = minimise(Moore(len(states), start, delta, tuple(outputs)))
        m, _ = merge_compatible(m, budget=budget)
        details = {"learned_states": len(states), "states": m.n, "queries": int(data.get("queries_learning", 0)),
                   "steps": int(data.get("steps_learning", 0))}
        program, why = to_program(m, signature(task), operators=task.operators, budget=budget,
                                  seed=int(rng.integers(2**31)))
        if program is None:
            return Reading(None, tuple(why), status="timeout" if budget.expired else "abstained", details=details)
        # F2-D on the state, as fsm measures it: the program's own state per step interchanged in the cell
        clock = time.perf_counter()
        state_var = program.body[0].targets[0]
        seed = int(rng.integers(2**31))
        mach = Machine(program, SCALAR)
        tr = StateTrace(trained)
        table = program_states(tr, mach, state_var)  # shared with the untrained control (same inputs, same program)
        traced = time.perf_counter() - clock
        found, scores, details["controls"], seconds = state_checks(trained, tr, mach, state_var, seed, budget, table=table)
        details["interchange_distributed"] = {state_var: dataclasses.asdict(found)}
        details["alignment_seconds"], details["controls_seconds"] = traced + seconds["alignment"], seconds["controls"]
        return Reading(program, (), None, None, details=details, interchange_distributed=found.accuracy,
                       controls=scores)

    return run



