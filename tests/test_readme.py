"""The README's Python example runs and prints what its comments say; CI runs the README's test command."""
from __future__ import annotations

import contextlib
import io
import re
import shlex
import tomllib
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_as_documented():
    text = README.read_text()
    block = re.search(r"## In ten lines of Python\n\n```python\n(.*?)```", text, flags=re.S).group(1)
    assert len(block.strip().splitlines()) <= 10
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})  # the project's own documentation, not user text
    printed = out.getvalue().splitlines()
    expected = [m.group(1).strip() for line in block.splitlines() if line.startswith("print(")
                for m in [re.search(r"#\s*(.*)$", line)] if m]
    assert printed == expected


def test_task_table_in_docs_is_current():
    import subprocess
    import sys

    root = README.parent
    out = subprocess.run([sys.executable, str(root / "docs" / "gen_tasks.py")], capture_output=True, text=True, check=True)
    assert out.stdout == (root / "docs" / "tasks.md").read_text(), "regenerate: python docs/gen_tasks.py > docs/tasks.md"


def test_ci_runs_the_readmes_test_command_and_both_say_which_marks():
    root = README.parent
    text = README.read_text()
    block = re.search(r"## Two commands\n\n```bash\n(.*?)```", text, flags=re.S).group(1)
    readme = shlex.split(block.splitlines()[1], comments=True)
    ci = next(shlex.split(line) for line in (root / ".ci" / "run").read_text().splitlines()
              if line.startswith("python -m pytest"))
    at = ci.index("-p")  # CI also keeps no cache in the checkout
    assert ci[at:at + 2] == ["-p", "no:cacheprovider"] and ci[:at] + ci[at + 2:] == readme
    assert readme[-2:] == ["-m", "not slow"]
    assert "`python -m pytest -q -n 2 -m slow`" in text  # how to run the rest
    markers = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("slow: ") and "-m slow" in m for m in markers)
