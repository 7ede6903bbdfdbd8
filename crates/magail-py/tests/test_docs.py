"""Every Python example of docs/python.md's "Imitation from Python" section runs, in order, in a
fresh folder (the examples build on one another, as a reader would type them)."""

import os
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "python.md"


def test_the_imitation_examples_run(tmp_path, monkeypatch):
    text = DOC.read_text()
    section = text.split("## Imitation from Python", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    for block in blocks:
        # The examples' runs are small already; the progress bar is for a terminal.
        exec(compile(block, str(DOC), "exec"), scope)
    assert scope["run"].iteration == 10
    assert len(scope["run"].metrics) == 10
    assert scope["amagail"].iteration == 4
    assert set(scope["rewards"]) == set(scope["env"].possible_agents)
    assert scope["same"].iteration == 4
    assert scope["mine"].iteration == 3 and len(scope["mine"].metrics) == 3
    assert os.path.exists("runs/stoch-amagail/imitator.safetensors")
