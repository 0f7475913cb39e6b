"""extraction/ never sees a task's ground truth: no reference program, Python function or definition, and
the task's answers only where training needs them. (That synthesis/ never imports extraction or torch is
tests/synthesis/test_solve.py's.)"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "extraction"

GROUND_TRUTH = {"reference", "function", "definition", "check_definition", "_truth", "_domain", "_cache", "verify"}
# train.py: the training examples, and the domain accuracy it records (never used to decide anything).
# compile.py: the answers of the task it builds itself from the program it is compiling.
MAY_READ_ANSWERS = {"train.py", "compile.py"}
# modelfile.py saves a network with its task: a program task's source (its reference) goes into the file
# so that load() can rebuild the task, and a task from a Python function is recognised (and not saved).
# No method imports it (test_no_method_reaches_the_model_file), so nothing read there reaches a reading.
MAY_DESCRIBE_TASKS = {"modelfile.py": {"reference", "function"}}


def modules():
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 10
    return [(p, ast.parse(p.read_text(), filename=str(p))) for p in paths]


def test_no_module_reads_a_tasks_ground_truth():
    for path, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr not in MAY_DESCRIBE_TASKS.get(path.name, ()):
                assert node.attr not in GROUND_TRUTH, f"{path.relative_to(ROOT)}:{node.lineno} reads .{node.attr}"


def test_no_method_reaches_the_model_file():
    for path, tree in modules():
        if path.name in MAY_DESCRIBE_TASKS or path.name == "__init__.py" and path.parent == PACKAGE:
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
    # A task's answers come from task.examples(...) / task.split(...) (and synthesis.training_examples,
    # which wraps them). Outside train.py and compile.py, .outputs may only be read off a StateTrace (tr),
    # which holds the *network's* answers.
    seen = set()
    for path, tree in modules():
        name = path.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("examples", "split") \
                    and not (isinstance(node.func.value, ast.Name) and node.func.value.id in ("torch", "np")):
                assert name in MAY_READ_ANSWERS, f"{path.relative_to(ROOT)}:{node.lineno} calls .{node.func.attr}()"
                seen.add((name, node.func.attr))
            used = (node.id if isinstance(node, ast.Name) else node.name if isinstance(node, ast.alias) else None)
            if used == "training_examples":
                assert name == "train.py", f"{path.relative_to(ROOT)} uses training_examples"
            if isinstance(node, ast.Attribute) and node.attr == "outputs":
                owner = node.value.id if isinstance(node.value, ast.Name) else None
                assert name in MAY_READ_ANSWERS or (name == "fsm.py" and owner in ("tr", "self")), \
                    f"{path.relative_to(ROOT)}:{node.lineno} reads {owner}.outputs"
    # the test looks at what it means to: training does read the examples
    assert ("train.py", "examples") in seen and ("compile.py", "examples") in seen


def test_the_domain_the_extractors_read_is_inputs_only():
    # encoding.domain_inputs is how extractors see the domain: it enumerates or samples the signature
    tree = ast.parse((PACKAGE / "encoding.py").read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "domain_inputs")
    reads = {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)}
    assert reads <= {"domain_size", "inputs", "default_rng", "random", "ndarray"}, reads


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
