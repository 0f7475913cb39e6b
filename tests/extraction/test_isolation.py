"""extraction/ never sees a task's ground truth. Structurally: ``train`` reduces a task to its ``Problem``
at the door and a ``Trained`` keeps the problem, so every reader and check downstream holds plain data;
statically: no module reads a reference program, a Python function or a definition. (That synthesis/ never
imports extraction or torch is tests/synthesis/test_solve.py's; that a worker receives only problems is
tests/comparator/test_worker_isolation.py's.)"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "extraction"

GROUND_TRUTH = {"reference", "function", "definition", "check_definition", "_truth", "_domain", "_cache", "verify"}
# train.py: the domain accuracy it records when its caller gave it the task itself (never used to decide
# anything). compile.py: the answers of the task it builds itself from the program it is compiling.
# modelfile.py: the examples of the problem a network was trained on, saved beside it (the route's own).
# subnetwork.py: edge-popup trains a mask on the problem's examples, as train.py trains weights on them.
MAY_READ_ANSWERS = {"quantise.py", "train.py", "search.py", "compile.py", "modelfile.py", "subnetwork.py"}  # training and its loop


def modules():
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 10
    return [(p, ast.parse(p.read_text(), filename=str(p))) for p in paths]


def test_no_module_reads_a_tasks_ground_truth():
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr not in GROUND_TRUTH, f"{path.relative_to(ROOT)}:{node.lineno} reads .{node.attr}"


def test_no_method_reaches_the_model_file():
    for path, tree in modules():
        if path.name == "modelfile.py" or path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {node.module or ""} | {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            else:
                continue
            assert not any("modelfile" in n or n in ("save", "load") for n in names), \
                f"{path.relative_to(ROOT)}:{node.lineno} imports the model file module"


def test_only_training_reads_a_tasks_answers():
    # A task's answers come from task.examples(...) / task.split(...). Outside train.py and compile.py,
    # .outputs may only be read off a StateTrace (tr), which holds the *network's* answers (in fsm.py and
    # integer.py, and in lstar.py, whose equivalence queries compare a hypothesis with the network on the domain).
    seen = set()
    for path, tree in modules():
        name = path.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("examples", "split") \
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("torch", "np")):
                assert name in MAY_READ_ANSWERS, f"{path.relative_to(ROOT)}:{node.lineno} calls .{node.func.attr}()"
                seen.add((name, node.func.attr))
            if isinstance(node, ast.Attribute) and node.attr == "outputs":
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                assert name in MAY_READ_ANSWERS or (name in ("fsm.py", "integer.py", "lstar.py") and owner in ("tr", "self")), \
                    f"{path.relative_to(ROOT)}:{node.lineno} reads {owner}.outputs"
    # the test looks at what it means to: training does read the examples
    assert ("train.py", "examples") in seen and ("compile.py", "examples") in seen


def test_a_network_keeps_the_problem_and_never_the_task():
    import extraction
    import toy_tasks
    from toy_tasks import Int, Problem

    task = toy_tasks.from_function("xor3", lambda a, b: a ^ b, inputs={"a": Int(0, 4), "b": Int(0, 4)})
    for net in (extraction.untrained(task), extraction.train(task, seconds=20), extraction.compile(
            "def f(a, b):\n    return a ^ b\n", {"a": Int(0, 4), "b": Int(0, 4)})):
        assert isinstance(net.problem, Problem) and net.task is net.problem
        assert not any(hasattr(net.problem, attr) for attr in ("reference", "function", "definition", "verify"))
    # Given the problem alone, training has no answers to measure the domain accuracy with.
    net = extraction.train(task.problem(), seconds=20)
    assert net.status == "trained" and net.domain_accuracy is None
    assert extraction.train(task, seconds=20).domain_accuracy == 1.0


def test_extraction_never_imports_the_comparator():
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert "comparator" not in roots, f"{path.relative_to(ROOT)}:{node.lineno} imports {roots}"
