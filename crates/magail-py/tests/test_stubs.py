"""The type stubs name exactly what the extension exports (so they cannot drift from it)."""

import ast
from pathlib import Path

import magail_rs
from magail_rs import _native


def test_stubs_match_the_extension():
    stub = Path(magail_rs.__file__).with_name("_native.pyi")
    tree = ast.parse(stub.read_text())
    stubbed = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            stubbed[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
        elif isinstance(node, ast.FunctionDef):
            stubbed[node.name] = None
        elif isinstance(node, ast.AnnAssign) and not (
            isinstance(node.annotation, ast.Name) and node.annotation.id == "TypeAlias"
        ):
            stubbed[node.target.id] = None
    exported = {k for k in dir(_native) if not k.startswith("_")}
    assert exported == set(stubbed), (exported ^ set(stubbed))
    for name, methods in stubbed.items():
        if methods is None:
            continue
        cls = getattr(_native, name)
        public = {k for k in vars(cls) if not k.startswith("_")} | {"__init__"}
        assert methods == public, (name, methods ^ public)
