"""Writes docs/tasks.md from the task registry: python docs/gen_tasks.py > docs/tasks.md"""
from collections import defaultdict

import toy_tasks
from toy_tasks.registry import factories


def main() -> None:
    print("# The task suite\n")
    print("Generated from the registry by `python docs/gen_tasks.py > docs/tasks.md`; `tractbench tasks --show`")
    print("prints the reference programs. Every task has a reference program and an independent Python")
    print("definition; `tractbench tasks --verify` checks one against the other over the whole domain. Suites:")
    print("`quick` (12 tasks, every family), `standard` (every task at its default parameters), `scaling` (each")
    print("family at rising difficulty).\n")
    by_family = defaultdict(list)
    for name in toy_tasks.names():
        task = toy_tasks.get(name)
        by_family[task.family].append(task)
    defaults = {name: f.defaults for name, f in factories().items()}
    for family in sorted(by_family):
        print(f"## {family} ({len(by_family[family])} tasks)\n")
        print("| task | parameters (defaults) | kind | inputs | domain | difficulty | what it computes |")
        print("|---|---|---|---|---|---|---|")
        for t in by_family[family]:
            params = ", ".join(f"{k}={v}" for k, v in defaults[t.name].items())
            print(f"| `{t.name}` | {params} | {t.kind} | {t.signature()} | {t.domain_size:,} | {t.difficulty:g} | {t.description} |")
        print()
    print("## Suites\n")
    for suite in ("quick", "scaling"):
        print(f"- `{suite}`: " + ", ".join(f"`{n}`" for n in toy_tasks.names(suite)))


if __name__ == "__main__":
    main()
