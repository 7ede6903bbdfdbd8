"""Imitation on a PettingZoo game of one's own (``train_game``): the real mpe2 package and our
``magail_rs.mpe2`` drop-in, stepped through the same user's-game path, record the same
demonstrations and train to the same bytes, with discrete and continuous actions; bad games and
policies are refused by name."""

import mpe2.simple_spread_v3 as real
import numpy as np
import pytest
from pathlib import Path

import magail_rs.mpe2.simple_spread_v3 as ours
from magail_rs import open_run, record_game_demos, train_game

SMALL = dict(bc_epochs=2, envs=4, steps_per_iter=10, disc_steps=2, vf_epochs=2,
             vf_minibatches=2)


def heading_policy(obs):
    """Each agent heads for its own landmark along the farther axis (simple_spread's
    observation: velocity, position, then each landmark's position relative to the agent)."""
    out = {}
    for i, (agent, o) in enumerate(sorted(obs.items())):
        dx, dy = o[4 + 2 * i], o[5 + 2 * i]
        if abs(dx) > abs(dy):
            out[agent] = 2 if dx > 0 else 1
        else:
            out[agent] = 4 if dy > 0 else 3
    return out


def random_policy(seed, continuous):
    rng = np.random.default_rng(seed)
    agents = ours.parallel_env().possible_agents
    if continuous:
        return lambda obs: {a: rng.random(5).astype(np.float32) for a in agents}
    return lambda obs: {a: int(rng.integers(5)) for a in agents}


def same_bytes(a, b):
    for f in ("metrics.jsonl", "imitator.safetensors"):
        assert (Path(a) / f).read_bytes() == (Path(b) / f).read_bytes(), f


def test_real_mpe2_and_ours_record_and_train_the_same_bytes(tmp_path):
    demos = record_game_demos(real.parallel_env, heading_policy, episodes=8, seed=11)
    again = record_game_demos(ours.parallel_env, heading_policy, episodes=8, seed=11)
    assert demos["game"] == again["game"] == "pettingzoo:simple_spread_v3"
    for k, v in demos.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(v, again[k], err_msg=k)
    assert list(demos["episode_len"]) == [25] * 8
    a = train_game(real.parallel_env, demos, tmp_path / "real", method="magail-c",
                   iterations=3, progress=False, **SMALL)
    b = train_game(ours.parallel_env, demos, tmp_path / "ours", method="magail-c",
                   iterations=3, progress=False, **SMALL)
    assert a.iteration == b.iteration == 3
    same_bytes(tmp_path / "real", tmp_path / "ours")
    assert open_run(tmp_path / "real").record["game"] == "pettingzoo:simple_spread_v3"
    # The trained policies act in the user's game; the run resumes from Python.
    env = real.parallel_env()
    obs, _ = env.reset(seed=3)
    acts = a.policy(greedy=True).actions(obs, env)
    assert set(acts) == set(env.agents)
    assert all(env.action_space(k).contains(v) for k, v in acts.items())
    assert a.resume(iterations=4, progress=False).iteration == 4
    # Scored as `magail eval` scores our games: the demonstrator 1, random 0.
    score = a.evaluate(episodes=10)
    assert score["reference"] > score["random"]
    assert np.isfinite(score["normalized"])


def test_both_paths_learn_above_their_cloned_start(tmp_path):
    """Decentralized MAGAIL from a briefly cloned start (2 epochs: a start with room above it),
    60 iterations of the library's generator: on the real mpe2 and on ours the run improves
    its normalized score clearly (0.17 → 0.38 here; seeds 1 and 2 gave 0.16 → 0.40 and
    0.17 → 0.35), and the two runs are the same bytes, so they score the same."""
    demos = record_game_demos(real.parallel_env, heading_policy, episodes=50, seed=11)
    settings = dict(method="magail-d", bc_epochs=2, progress=False)
    start = train_game(real.parallel_env, demos, tmp_path / "real", iterations=0, **settings)
    before = start.evaluate(episodes=300)["normalized"]
    trained = start.resume(iterations=60, progress=False)
    train_game(ours.parallel_env, demos, tmp_path / "ours", iterations=60, **settings)
    same_bytes(tmp_path / "real", tmp_path / "ours")
    after = trained.evaluate(episodes=300)["normalized"]
    assert after > before + 0.1, (before, after)


def test_continuous_actions_through_the_same_path(tmp_path):
    make = {"real": lambda: real.parallel_env(continuous_actions=True),
            "ours": lambda: ours.parallel_env(continuous_actions=True)}
    for name, factory in make.items():
        demos = record_game_demos(factory, random_policy(3, True), episodes=4, seed=2)
        assert demos["actions_0"].shape == (100, 5)
        train_game(factory, demos, tmp_path / name, method="magail-d", iterations=2,
                   progress=False, **SMALL)
    same_bytes(tmp_path / "real", tmp_path / "ours")


def test_bad_games_and_policies_are_refused_by_name(tmp_path):
    class Dictish:
        """A ParallelEnv whose observation space is a Dict: not supported."""

        def __init__(self):
            from gymnasium import spaces

            self.possible_agents = ["a"]
            self._obs = spaces.Dict({"x": spaces.Box(0, 1, (2,))})
            self._act = spaces.Discrete(2)

        def observation_space(self, agent):
            return self._obs

        def action_space(self, agent):
            return self._act

    with pytest.raises(TypeError, match="agent a: observation space"):
        record_game_demos(Dictish, lambda obs: {}, episodes=1)
    with pytest.raises(ValueError, match="no action for agent agent_1"):
        record_game_demos(ours.parallel_env, lambda obs: {"agent_0": 0}, episodes=1)
    demos = record_game_demos(ours.parallel_env, random_policy(0, False), episodes=2)
    # Demonstrations of three agents for a game of four: refused before anything is trained.
    with pytest.raises(ValueError, match="obs_3"):
        train_game(lambda: ours.parallel_env(N=4), demos, tmp_path / "n4", iterations=1,
                   progress=False, **SMALL)
    with pytest.raises(TypeError, match="disc_step"):
        train_game(ours.parallel_env, demos, tmp_path / "x", disc_step=3)
    assert not (tmp_path / "n4" / "imitator.json").exists()
    # A factory that makes another game for the next copy: refused with both agent sets.
    made = []

    def shifting():
        made.append(1)
        return ours.parallel_env(N=3 if len(made) == 1 else 2)

    with pytest.raises(ValueError, match="different game"):
        train_game(shifting, demos, tmp_path / "shift", iterations=1, progress=False, **SMALL)
    # A NaN in a demonstration is refused, naming where it is.
    bad = dict(demos)
    bad["rewards_1"] = demos["rewards_1"].copy()
    bad["rewards_1"][5] = np.nan
    with pytest.raises(ValueError, match="rewards"):
        train_game(ours.parallel_env, bad, tmp_path / "nan", iterations=1, progress=False,
                   **SMALL)
    assert not (tmp_path / "nan" / "demonstrations.bin").exists()


class CountToTen:
    """A turn-based PettingZoo game (an ``AECEnv``): two players in turn add 1 or 2 to a count
    from 0; who reaches 10 wins (+1, the other -1). The seed picks who starts."""

    metadata = {"name": "count_to_ten_v0", "render_modes": []}

    def __new__(cls):
        from gymnasium import spaces
        from pettingzoo import AECEnv

        class Env(AECEnv):
            metadata = cls.metadata

            def __init__(self):
                super().__init__()
                self.possible_agents = ["first", "second"]
                self._obs = spaces.Box(0.0, 1.0, (11,), dtype=np.float32)
                self._act = spaces.Discrete(2)

            def observation_space(self, agent):
                return self._obs

            def action_space(self, agent):
                return self._act

            def observe(self, agent):
                o = np.zeros(11, dtype=np.float32)
                o[self.count] = 1.0
                return o

            def reset(self, seed=None, options=None):
                self.agents = list(self.possible_agents)
                self.count = 0
                self.rewards = {a: 0.0 for a in self.agents}
                self._cumulative_rewards = {a: 0.0 for a in self.agents}
                self.terminations = {a: False for a in self.agents}
                self.truncations = {a: False for a in self.agents}
                self.infos = {a: {} for a in self.agents}
                start = int(np.random.default_rng(seed).integers(2))
                self.agent_selection = self.agents[start]

            def step(self, action):
                a = self.agent_selection
                if self.terminations[a] or self.truncations[a]:
                    self._was_dead_step(action)
                    return
                other = self.agents[1 - self.agents.index(a)]
                self._cumulative_rewards[a] = 0.0
                self.rewards = {x: 0.0 for x in self.agents}
                self.count = min(10, self.count + int(action) + 1)
                if self.count >= 10:
                    self.rewards[a], self.rewards[other] = 1.0, -1.0
                    self.terminations = {x: True for x in self.agents}
                self.agent_selection = other
                self._accumulate_rewards()

        return Env()


def perfect(obs):
    """Leaves the count at 1 more than a multiple of 3 when it can (then it always wins)."""
    (agent, o), = obs.items()
    c = int(np.argmax(o))
    return {agent: 0 if (c + 1) % 3 == 1 else 1}


def test_a_turn_based_game_trains_amagail_and_its_baselines(tmp_path):
    from pettingzoo.test import api_test

    api_test(CountToTen(), num_cycles=20)
    demos = record_game_demos(CountToTen, perfect, episodes=40, seed=0)
    assert demos["game"] == "pettingzoo:count_to_ten_v0+game-turns"
    # Exactly one agent acted at each step, in turns; the other played φ (index 2).
    acted = np.stack([demos["acted_0"], demos["acted_1"]])
    assert (acted.sum(axis=0) == 1).all()
    assert (demos["actions_0"][~demos["acted_0"], 0] == 2).all()
    small = dict(SMALL, bc_epochs=200)
    runs = {m: train_game(CountToTen, demos, tmp_path / m, method=m, iterations=3,
                          progress=False, **small)
            for m in ("bc", "amagail", "magail-phi")}
    assert all(c == 0 for x in runs["amagail"].metrics for c in x["phi_chosen"])
    # A turn-based game resumes exactly too: stopped after one iteration, then continued.
    part = train_game(CountToTen, demos, tmp_path / "resumed", method="amagail", iterations=1,
                      progress=False, **small)
    part.resume(iterations=3, progress=False)
    same_bytes(tmp_path / "resumed", tmp_path / "amagail")
    assert len(runs["magail-phi"].metrics) == 3
    # Cloned from the perfect player, the policies pick its move in the states it wins from
    # (a multiple of 3: the states of 2 more than one never arise in its play).
    pol = runs["bc"].policy(greedy=True)
    winnable = [0, 3, 6, 9]
    rows = np.eye(11, dtype=np.float32)[winnable]
    for agent in (0, 1):
        picks = pol.act(agent, rows)[:, 0]
        best = [0 if (c + 1) % 3 == 1 else 1 for c in winnable]
        assert (picks == best).mean() >= 0.75, (agent, picks, best)


class Leaving:
    """A ParallelEnv whose second agent leaves after its third step: two walkers on a line, 6
    steps an episode, each rewarded by minus its distance to 0."""

    metadata = {"name": "leaving_v0", "render_modes": []}
    shift = 0.0  # added to every position seen: a test changes it to make the game drift

    def __new__(cls):
        from gymnasium import spaces
        from pettingzoo import ParallelEnv

        class Env(ParallelEnv):
            metadata = cls.metadata

            def __init__(self):
                self.possible_agents = ["stays", "leaves"]
                self._obs = spaces.Box(-10.0, 10.0, (2,), dtype=np.float32)
                self._act = spaces.Discrete(3)

            def observation_space(self, agent):
                return self._obs

            def action_space(self, agent):
                return self._act

            def _obs_of(self, a):
                return np.array([self.pos[a] + cls.shift, self.t], dtype=np.float32)

            def reset(self, seed=None, options=None):
                rng = np.random.default_rng(seed)
                self.agents = list(self.possible_agents)
                self.pos = {a: float(rng.integers(-3, 4)) for a in self.agents}
                self.t = 0
                return {a: self._obs_of(a) for a in self.agents}, {a: {} for a in self.agents}

            def step(self, actions):
                self.t += 1
                for a, act in actions.items():
                    self.pos[a] += int(act) - 1
                obs = {a: self._obs_of(a) for a in self.agents}
                rew = {a: -abs(self.pos[a]) for a in self.agents}
                terms = {a: a == "leaves" and self.t >= 3 for a in self.agents}
                truncs = {a: self.t >= 6 for a in self.agents}
                infos = {a: {} for a in self.agents}
                self.agents = [a for a in self.agents if not (terms[a] or truncs[a])]
                return obs, rew, terms, truncs, infos

        return Env()


def test_an_agent_that_leaves_plays_phi_until_the_episode_ends(tmp_path):
    def home(obs):
        return {a: 0 if o[0] > 0 else (2 if o[0] < 0 else 1) for a, o in obs.items()}

    demos = record_game_demos(Leaving, home, episodes=6, seed=1)
    assert list(demos["episode_len"]) == [6] * 6
    # The leaving agent acted in the first three steps of every episode, then played φ (3).
    assert list(demos["acted_1"][:6]) == [True] * 3 + [False] * 3
    assert demos["acted_0"].all()
    assert (demos["actions_1"][~demos["acted_1"], 0] == 3).all()
    assert (demos["rewards_1"][~demos["acted_1"]] == 0).all()
    # Rollouts of two whole episodes per copy.
    run = train_game(Leaving, demos, tmp_path / "amagail", method="amagail", iterations=2,
                     progress=False, **dict(SMALL, steps_per_iter=12))
    assert [m["iteration"] for m in run.metrics] == [1, 2]
    # In the learners' own rollouts the leaving agent acts on half of the steps.
    share = [m["active_steps"][1] / m["active_steps"][0] for m in run.metrics]
    assert all(abs(s - 0.5) < 0.01 for s in share), share



def test_a_game_that_does_not_repeat_itself_is_refused_on_resume(tmp_path):
    """A copy resumes by replaying its episode from the seeded reset; a game whose episode
    then ends early (here its limit moved between the runs), or whose observations differ after
    the replay, is refused by name, not resumed from another state."""
    limit = [6]

    def Drifting():
        env = Leaving()
        step = env.step

        def step_with_limit(actions):
            obs, rew, terms, truncs, infos = step(actions)
            if env.t >= limit[0]:
                truncs = {a: True for a in truncs}
                env.agents = []
            return obs, rew, terms, truncs, infos

        env.step = step_with_limit
        return env

    demos = record_game_demos(Leaving, lambda obs: {a: 1 for a in obs}, episodes=4, seed=1)
    # 4 steps an iteration: every copy stops 4 steps into a 6-step episode.
    run = train_game(Drifting, demos, tmp_path / "run", method="amagail", iterations=1,
                     progress=False, **dict(SMALL, steps_per_iter=4))
    limit[0] = 2
    with pytest.raises(ValueError, match="ended the episode at step 1 of 4 on replay"):
        run.resume(iterations=2, progress=False)
    assert open_run(tmp_path / "run").iteration == 1
    # One that drifts without ending early: its observations after the replay are not the
    # saved ones.
    limit[0] = 6
    Leaving.shift = 1.0
    try:
        with pytest.raises(ValueError, match="observations differ from the saved ones"):
            run.resume(iterations=2, progress=False)
    finally:
        Leaving.shift = 0.0


def test_ctrl_c_while_a_users_game_steps_in_python_stops_cleanly(tmp_path):
    """Most of a user's-game run is spent in the env's Python `step`: a Ctrl-C there is recorded,
    not raised into the env, and the run stops after the iteration with a checkpoint that
    resumes exactly."""
    import signal
    import threading
    import time

    folder = tmp_path / "run"
    metrics = folder / "metrics.jsonl"
    demos = record_game_demos(ours.parallel_env, random_policy(0, False), episodes=4)

    def interrupt():
        while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 2):
            time.sleep(0.002)
        signal.raise_signal(signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        train_game(ours.parallel_env, demos, folder, iterations=3000, checkpoint_every=50,
                   progress=False, **SMALL)
    run = open_run(folder)
    k = run.iteration
    assert 2 <= k < 3000
    assert [m["iteration"] for m in run.metrics] == list(range(1, k + 1))
    # The handler is the user's again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    more = train_game(ours.parallel_env, demos, folder, iterations=k + 2, checkpoint_every=50,
                      resume=True, progress=False, **SMALL)
    assert more.iteration == k + 2
    # The copies were mid-episode at the stop: each replays its episode from the seeded reset,
    # so the resumed run is the bytes of one never stopped.
    train_game(ours.parallel_env, demos, tmp_path / "straight", iterations=k + 2,
               checkpoint_every=50, progress=False, **SMALL)
    same_bytes(folder, tmp_path / "straight")


def test_the_zero_sum_prior_on_a_users_game_takes_its_teams_by_name(tmp_path):
    """simple_tag's three adversaries against its good agent: the zero-sum prior needs the
    teams, which a user's game does not state; named, the run trains (the real mpe2 and ours to
    the same bytes) and records them. Bad names are refused."""
    import mpe2.simple_tag_v3 as real_tag
    import magail_rs.mpe2.simple_tag_v3 as our_tag
    from magail_rs.user_game import adapter_for
    from magail_rs.user_game import random_policy as game_random

    demos = record_game_demos(real_tag.parallel_env,
                              game_random(adapter_for(real_tag.parallel_env), 0), episodes=4)
    adversaries = ["adversary_0", "adversary_1", "adversary_2"]
    for name, factory in (("real", real_tag.parallel_env), ("ours", our_tag.parallel_env)):
        run = train_game(factory, demos, tmp_path / name, method="magail-zs", iterations=2,
                         teams=adversaries, progress=False, **SMALL)
        assert run.record["config"]["teams"] == [True, True, True, False]
    same_bytes(tmp_path / "real", tmp_path / "ours")
    with pytest.raises(ValueError, match="no teams"):
        train_game(our_tag.parallel_env, demos, tmp_path / "none", method="magail-zs",
                   iterations=1, progress=False, **SMALL)
    with pytest.raises(ValueError, match="no agent named"):
        train_game(our_tag.parallel_env, demos, tmp_path / "x", method="magail-zs",
                   teams=["adversary_9"], iterations=1, progress=False, **SMALL)
    with pytest.raises(ValueError, match="takes none"):
        train_game(our_tag.parallel_env, demos, tmp_path / "y", method="magail-d",
                   teams=adversaries, iterations=1, progress=False, **SMALL)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
