"""Imitation from Python: the same run folder, bytes and scores as the command line; Ctrl-C stops
a run cleanly and it resumes exactly; trained policies act on PettingZoo observations; bad
settings are named."""

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import magail_rs
from magail_rs import open_run, record_demos, save_demos, train

CLI = os.environ.get("MAGAIL_CLI")

# A small run: a few copies, short rollouts, a few cloning epochs.
SMALL = dict(bc_epochs=2, envs=4, steps_per_iter=10, disc_steps=2, vf_epochs=2,
             vf_minibatches=2)
FLAGS = ["--bc-epochs", "2", "--envs", "4", "--steps-per-iter", "10", "--disc-steps", "2",
         "--vf-epochs", "2", "--vf-minibatches", "2"]


@pytest.fixture(scope="module")
def nav_demos(tmp_path_factory):
    """Twenty scripted episodes of cooperative navigation, as a file."""
    path = tmp_path_factory.mktemp("demos") / "nav.bin"
    data = record_demos("scripted", 20, seed=3, env="cooperative_navigation", variant="paper")
    save_demos(path, data, magail_rs.parallel_env("cooperative_navigation", variant="paper"))
    return path


def read(folder, name):
    return (Path(folder) / name).read_bytes()


@pytest.mark.skipif(CLI is None, reason="needs the command line (MAGAIL_CLI, set by "
                    "`cargo xtask python --test`)")
def test_a_run_from_python_is_the_command_lines_run_byte_for_byte(nav_demos, tmp_path):
    py = train("cooperative_navigation", nav_demos, tmp_path / "py", method="magail-c",
               iterations=4, seed=5, checkpoint_every=2, progress=False, **SMALL)
    assert py.iteration == 4 and [m["iteration"] for m in py.metrics] == [1, 2, 3, 4]
    subprocess.run([CLI, "imitate", "--env", "cooperative_navigation", "--demos",
                    str(nav_demos), "--method", "magail-c", "--iterations", "4", "--seed", "5",
                    "--checkpoint-every", "2", "--episodes", "5", "--out",
                    str(tmp_path / "cli"), *FLAGS], check=True, capture_output=True)
    for f in ("metrics.jsonl", "imitator.safetensors", "imitator.json"):
        assert read(tmp_path / "py", f) == read(tmp_path / "cli", f), f
    # The command line scores the run trained from Python, and Python the command line's,
    # with the same numbers.
    out = subprocess.run([CLI, "eval", "--policy", str(tmp_path / "py"), "--episodes", "20"],
                         check=True, capture_output=True, text=True).stdout
    cli_score = float(out.split("normalized score")[1].split()[0])
    py_score = open_run(tmp_path / "cli").evaluate(episodes=20)["normalized"]
    assert round(py_score, 3) == cli_score


def test_ctrl_c_stops_after_an_iteration_and_the_run_resumes_exactly(nav_demos, tmp_path):
    stopped, straight = tmp_path / "stopped", tmp_path / "straight"
    metrics = stopped / "metrics.jsonl"

    def interrupt():
        # As a user's Ctrl-C, once a few iterations are logged.
        while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
            time.sleep(0.002)
        signal.raise_signal(signal.SIGINT)

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        train("cooperative_navigation", nav_demos, stopped, method="magail-d",
              iterations=3000, checkpoint_every=50, progress=False, **SMALL)
    run = open_run(stopped)
    k = run.iteration
    assert 2 <= k < 3000
    assert [m["iteration"] for m in run.metrics] == list(range(1, k + 1))
    resumed = train("cooperative_navigation", nav_demos, stopped, method="magail-d",
                    iterations=k + 3, checkpoint_every=50, resume=True, progress=False, **SMALL)
    train("cooperative_navigation", nav_demos, straight, method="magail-d", iterations=k + 3,
          checkpoint_every=50, progress=False, **SMALL)
    assert resumed.iteration == k + 3
    for f in ("metrics.jsonl", "imitator.safetensors"):
        assert read(stopped, f) == read(straight, f), f


def test_amagail_from_a_dict_of_demonstrations_and_its_policies_act(tmp_path):
    data = record_demos("scripted", 12, seed=4, env="stoch_navigation")
    runs = {}
    for method in ("amagail", "magail-phi"):
        runs[method] = train("stoch_navigation", data, tmp_path / method, method=method,
                             iterations=3, progress=False, **SMALL)
        assert (tmp_path / method / "demonstrations.bin").exists()
        m = runs[method].metrics
        assert len(m) == 3 and all("phi_chosen" in x for x in m)
    # Filtering: the policies never choose φ; φ as an action may.
    assert all(c == 0 for x in runs["amagail"].metrics for c in x["phi_chosen"])
    # The trained policies act on a PettingZoo observation dict.
    env = magail_rs.parallel_env("stoch_navigation")
    obs, _ = env.reset(seed=1)
    pol = runs["amagail"].policy(greedy=True)
    acts = pol.actions(obs, env)
    assert set(acts) == set(obs)
    assert all(env.action_space(a).contains(v) for a, v in acts.items())
    more = runs["amagail"].resume(iterations=5, progress=False)
    assert more.iteration == 5 and len(more.metrics) == 5
    score = more.evaluate(episodes=10)
    assert set(score) >= {"score", "random", "reference", "normalized"}
    assert np.isfinite(score["score"])


def test_a_run_given_relative_paths_outlives_a_change_of_directory(nav_demos, tmp_path,
                                                                    monkeypatch):
    (tmp_path / "here").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "here" / "nav.bin").write_bytes(nav_demos.read_bytes())
    monkeypatch.chdir(tmp_path / "here")
    run = train("cooperative_navigation", "nav.bin", "run", method="gail", iterations=2,
                progress=False, **SMALL)
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert np.isfinite(run.evaluate(episodes=5)["score"])
    assert run.resume(iterations=3, progress=False).iteration == 3
    assert (tmp_path / "here" / "run" / "imitator.json").exists()
    assert not (tmp_path / "elsewhere" / "run").exists()


def test_bad_settings_are_named(nav_demos, tmp_path):
    with pytest.raises(TypeError, match="max_kll"):
        train("cooperative_navigation", nav_demos, tmp_path / "a", max_kll=0.1)
    with pytest.raises(ValueError, match="magail-x"):
        train("cooperative_navigation", nav_demos, tmp_path / "b", method="magail-x")
    with pytest.raises(ValueError, match="bogus"):
        train("cooperative_navigation", nav_demos, tmp_path / "c", reward="bogus")
    with pytest.raises(ValueError, match="envs"):
        train("cooperative_navigation", nav_demos, tmp_path / "d", envs=0, progress=False)
    with pytest.raises(OSError, match="missing.bin"):
        train("cooperative_navigation", tmp_path / "missing.bin", tmp_path / "e")
    with pytest.raises(ValueError, match="do not fit"):
        train("simple_tag", nav_demos, tmp_path / "f", progress=False)
    with pytest.raises(ValueError, match="no imitation run"):
        open_run(tmp_path)
    # Nothing was trained or written for the refused calls.
    for d in "bcdef":
        assert not (tmp_path / d / "imitator.json").exists()


CHILD = """
import sys
import magail_rs as m
d = m.record_demos("scripted", 10, seed=3, env="cooperative_navigation", variant="paper")
try:
    m.train("cooperative_navigation", d, sys.argv[1], method="magail-d", iterations=100000,
            checkpoint_every=50, progress=True, bc_epochs=2, envs=4, steps_per_iter=10)
    print("FINISHED")
except KeyboardInterrupt:
    print("INTERRUPTED", m.open_run(sys.argv[1]).iteration)
"""


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal needs POSIX")
def test_ctrl_c_typed_in_a_terminal_stops_the_run_cleanly(tmp_path):
    """Ctrl-C as a user types it: the byte 0x03 into the terminal of a process training with its
    progress bar showing; the terminal driver sends SIGINT to it."""
    import pty
    import select
    import sys

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    folder = tmp_path / "run"
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, str(script), str(folder)])
    out, start, sent = b"", time.time(), False
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        metrics = folder / "metrics.jsonl"
        if not sent and metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            os.write(fd, b"\x03")
            sent = True
        if time.time() - start > 120:
            os.kill(pid, signal.SIGKILL)
            break
    _, status = os.waitpid(pid, 0)
    text = out.decode(errors="replace").replace("\r", "\n")
    assert sent and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, text[-2000:]
    line = [x for x in text.splitlines() if "INTERRUPTED" in x]
    assert line, text[-2000:]
    k = int(line[-1].split("INTERRUPTED")[1])
    assert 3 <= k < 100_000
    assert [m["iteration"] for m in open_run(folder).metrics] == list(range(1, k + 1))


def test_a_runs_kept_demonstrations_never_change(tmp_path):
    """A dict of demonstrations is kept in the folder when the run starts; a second start is
    refused before anything is written, and a resume with other demonstrations is refused by
    their digest, leaving the kept file as it was."""
    first = record_demos("scripted", 6, seed=1, env="cooperative_navigation", variant="paper")
    other = record_demos("scripted", 6, seed=2, env="cooperative_navigation", variant="paper")
    folder = tmp_path / "run"
    train("cooperative_navigation", first, folder, iterations=1, progress=False, **SMALL)
    kept = (folder / "demonstrations.bin").read_bytes()
    with pytest.raises(ValueError, match="already holds a run"):
        train("cooperative_navigation", other, folder, iterations=1, progress=False, **SMALL)
    with pytest.raises(ValueError, match="other demonstrations"):
        train("cooperative_navigation", other, folder, iterations=2, resume=True,
              progress=False, **SMALL)
    assert (folder / "demonstrations.bin").read_bytes() == kept
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".demo")) == []
    run = train("cooperative_navigation", first, folder, iterations=2, resume=True,
                progress=False, **SMALL)
    assert run.iteration == 2


def test_importing_sets_candles_thread_settings_but_keeps_the_users():
    """Without RAYON_NUM_THREADS candle re-reads /proc/cpuinfo on every matrix product: the
    package sets it (and CANDLE_NUM_THREADS) to 1 on import unless the user chose a value."""
    import sys

    code = ("import os, magail_rs; "
            "print(os.environ['RAYON_NUM_THREADS'], os.environ['CANDLE_NUM_THREADS'])")
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAYON_NUM_THREADS", "CANDLE_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["1", "1"]
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, RAYON_NUM_THREADS="2"),
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "1"]
