//! Participation-aware rollouts on the particle games: masks, φ, determinism across workers,
//! the synchronous path, and bad policies.

#![allow(clippy::unwrap_used)]

use envs::amagail::AmagailGame;
use envs::scripted::ScriptedPolicy;
use envs::{EnvConfig, ParticleEnv, Scenario};
use magail_async::{
    Collector, FnPolicy, Policy, PolicyError, PolicyOutput, RandomPolicy, RolloutConfig,
    RolloutError,
};
use mg_core::{ActionSpace, MarkovGame, PhiMode, StreamRng, Synchronous, stream_rng};

fn random_policies(spec: &mg_core::GameSpec) -> Vec<RandomPolicy> {
    RandomPolicy::for_game(spec)
}

fn as_dyn<P: Policy>(ps: &[P]) -> Vec<&dyn Policy> {
    ps.iter().map(|p| p as &dyn Policy).collect()
}

#[test]
fn data_is_identical_whatever_the_number_of_workers() {
    let g = AmagailGame::StochasticNavigation;
    let run = |workers: usize| {
        let cfg = RolloutConfig {
            envs: 7,
            workers,
            seed: 42,
            history_k: 2,
        };
        let mut c =
            Collector::new(ParticleEnv::new(g.env_config()).unwrap(), g.player(), cfg).unwrap();
        let pols = random_policies(c.spec());
        let a = c.collect(&as_dyn(&pols), 30).unwrap();
        // 120 steps: every copy ends episodes at the same steps (50, 100), where a shard-wise
        // list of ends would be ordered differently for each number of workers.
        let b = c.collect(&as_dyn(&pols), 120).unwrap();
        let eps = c.collect_episodes(&as_dyn(&pols), 9).unwrap();
        (a, b, eps)
    };
    let one = run(1);
    assert!(
        !one.1.ends.is_empty(),
        "episodes of 50 steps end within 75 steps"
    );
    assert_eq!(one, run(2));
    assert_eq!(one, run(3));
    assert_eq!(one.2.episodes.len(), 9);
    one.2.validate().unwrap();
}

#[test]
fn inactive_agents_are_recorded_as_phi_with_masked_rewards() {
    let g = AmagailGame::StochasticPredatorPrey;
    let mut c = Collector::new(
        ParticleEnv::new(g.env_config()).unwrap(),
        g.player(),
        RolloutConfig {
            envs: 16,
            workers: 2,
            seed: 1,
            history_k: 0,
        },
    )
    .unwrap();
    let pols = random_policies(c.spec());
    let r = c.collect(&as_dyn(&pols), 100).unwrap();
    let total = 16 * 100;
    // The prey always acts; predators about half the time.
    assert_eq!(r.active_steps(3), total);
    let mut inactive = 0;
    for i in 0..3 {
        let a = &r.agents[i];
        let active = r.active_steps(i);
        let sd = (total as f64 * 0.25).sqrt();
        assert!(
            ((active as f64) - total as f64 / 2.0).abs() < 4.0 * sd,
            "agent {i}: {active}"
        );
        for at in 0..total {
            if !a.acted[at] {
                inactive += 1;
                assert_eq!(a.actions[at], 5.0, "φ is one past the last discrete action");
                assert_eq!(a.rewards[at], 0.0);
                assert_eq!(a.logp[at], 0.0);
            } else {
                assert!(a.actions[at] < 5.0);
                assert_eq!(a.logp[at], -(5.0f32).ln());
            }
        }
    }
    assert_eq!(
        inactive,
        3 * total - (0..3).map(|i| r.active_steps(i)).sum::<usize>()
    );
    // Episode returns only count active steps.
    for e in &r.ends {
        assert_eq!(e.len, 50);
    }
}

#[test]
fn deterministic_schedule_holds_at_every_step_of_a_rollout() {
    let g = AmagailGame::DeterministicNavigation;
    let mut c = Collector::new(
        ParticleEnv::new(g.env_config()).unwrap(),
        g.player(),
        RolloutConfig {
            envs: 4,
            workers: 2,
            seed: 3,
            history_k: 1,
        },
    )
    .unwrap();
    let pols = random_policies(c.spec());
    let steps = 120;
    let r = c.collect(&as_dyn(&pols), steps).unwrap();
    let cycle = [
        [true, true, true],
        [true, true, false],
        [true, false, false],
    ];
    for b in 0..4 {
        let mut t_in_ep = 0;
        for t in 0..steps {
            let at = b * steps + t;
            if r.episode_start[at] {
                t_in_ep = 0;
            }
            for i in 0..3 {
                assert_eq!(
                    r.agents[i].acted[at],
                    cycle[t_in_ep % 3][i],
                    "env {b} t {t}"
                );
            }
            // The history feature (last participation vector) rides on the observation.
            let d = c.obs_dim(0);
            let feat = &r.agents[0].obs[at * d + d - 3..(at + 1) * d];
            let want: Vec<f32> = if t_in_ep == 0 {
                vec![0.0; 3]
            } else {
                cycle[(t_in_ep - 1) % 3]
                    .iter()
                    .map(|&x| f32::from(u8::from(x)))
                    .collect()
            };
            assert_eq!(feat, &want[..], "env {b} t {t}");
            t_in_ep += 1;
        }
    }
}

#[test]
fn the_synchronous_rule_gives_the_bare_game_bit_for_bit() {
    let cfg = EnvConfig::mpe2(Scenario::Spread);
    let env = ParticleEnv::new(cfg).unwrap();
    let scripted = ScriptedPolicy::new(&env);
    let pols: Vec<_> = (0..3)
        .map(|i| {
            let s = scripted.clone();
            FnPolicy::new(18, 1, move |o: &[f32], a: &mut [f32]| s.act(i, o, a))
        })
        .collect();
    let seed = 5;
    let mut c = Collector::new(
        env.clone(),
        Synchronous::new(3).unwrap(),
        RolloutConfig {
            envs: 3,
            workers: 2,
            seed,
            history_k: 0,
        },
    )
    .unwrap();
    let steps = 60;
    let r = c.collect(&as_dyn(&pols), steps).unwrap();
    for b in 0..3 {
        let mut bare = env.clone();
        let mut rng = stream_rng(seed, b as u64);
        let mut obs = bare.reset_joint(&mut rng);
        let mut joint = Vec::new();
        for t in 0..steps {
            let at = b * steps + t;
            for i in 0..3 {
                assert_eq!(&r.agents[i].obs[at * 18..(at + 1) * 18], &obs[i][..]);
            }
            scripted.act_joint(&obs, &mut joint);
            let s = bare.step_joint(&joint).unwrap();
            for i in 0..3 {
                assert_eq!(r.agents[i].rewards[at].to_bits(), s.rewards[i].to_bits());
                assert!(r.agents[i].acted[at]);
            }
            assert_eq!(r.truncated[at], s.truncated[0]);
            obs = if s.truncated[0] {
                bare.reset_joint(&mut rng)
            } else {
                s.obs
            };
        }
    }
}

struct Broken(usize);

impl Policy for Broken {
    fn act(&self, _obs: &[f32], rngs: &mut [&mut StreamRng]) -> Result<PolicyOutput, PolicyError> {
        let rows = rngs.len();
        Ok(match self.0 {
            0 => PolicyOutput {
                actions: vec![0.0; rows + 1],
                logp: vec![0.0; rows],
            },
            1 => PolicyOutput {
                actions: vec![7.0; rows],
                logp: vec![0.0; rows],
            },
            2 => PolicyOutput {
                actions: vec![1.0; rows],
                logp: vec![f32::NAN; rows],
            },
            _ => return Err(PolicyError("out of memory".into())),
        })
    }
}

#[test]
fn bad_policies_and_mismatches_are_clear_errors() {
    let g = AmagailGame::StochasticNavigation;
    let mut c = Collector::new(
        ParticleEnv::new(g.env_config()).unwrap(),
        g.player(),
        RolloutConfig::default(),
    )
    .unwrap();
    let ok = RandomPolicy::new(ActionSpace::Discrete { n: 5 });
    for (kind, check) in [
        (0, "returned 9 actions"),
        (1, "invalid output"),
        (2, "log-probability NaN"),
        (3, "out of memory"),
    ] {
        let bad = Broken(kind);
        let err = c.collect(&[&ok as &dyn Policy, &bad, &ok], 5).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("agent 1"), "{msg}");
        assert!(
            msg.contains(check)
                || (kind == 0 && matches!(err, RolloutError::PolicyOutputSize { .. })),
            "{msg}"
        );
    }
    assert!(matches!(
        c.collect(&[&ok as &dyn Policy, &ok], 5),
        Err(RolloutError::PolicyCount {
            expected: 3,
            got: 2
        })
    ));
    let env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Tag)).unwrap();
    let err = Collector::new(env, Synchronous::new(3).unwrap(), RolloutConfig::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("agent count mismatch"), "{err}");
    let env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Tag)).unwrap();
    let bad_cfg = RolloutConfig {
        envs: 0,
        ..Default::default()
    };
    assert!(matches!(
        Collector::new(env, Synchronous::new(4).unwrap(), bad_cfg),
        Err(RolloutError::Config(_))
    ));
}

#[test]
fn a_recording_in_the_rollout_layout_keeps_every_episode_in_order() {
    let g = AmagailGame::StochasticNavigation;
    let cfg = RolloutConfig {
        envs: 3,
        workers: 1,
        seed: 5,
        history_k: 1,
    };
    let mut c = Collector::new(ParticleEnv::new(g.env_config()).unwrap(), g.player(), cfg).unwrap();
    let pols = random_policies(c.spec());
    let set = c.collect_episodes(&as_dyn(&pols), 5).unwrap();
    let demos = mg_core::Demonstrations::new(&set).unwrap();
    let ro = magail_async::Rollout::from_demonstrations(&demos);
    assert_eq!((ro.envs, ro.steps), (1, set.n_steps()));
    let ranges: Vec<_> = ro.episode_ranges().collect();
    assert_eq!(ranges.len(), set.episodes.len());
    for (ep, r) in set.episodes.iter().zip(&ranges) {
        assert_eq!(r.len(), ep.len);
        assert!(ro.episode_start[r.start]);
        assert_eq!(ro.terminated[r.end - 1], ep.terminated);
        assert_eq!(ro.truncated[r.end - 1], ep.truncated);
        for (i, tr) in ep.agents.iter().enumerate() {
            let d = set.obs_dims[i];
            let w = set.action_spaces[i].width();
            let a = &ro.agents[i];
            assert_eq!(&a.obs[r.start * d..r.end * d], &tr.obs[..]);
            assert_eq!(&a.actions[r.start * w..r.end * w], &tr.actions[..]);
            assert_eq!(&a.acted[r.clone()], &tr.acted[..]);
            assert_eq!(&a.rewards[r.clone()], &tr.rewards[..]);
        }
    }
    // Episodes follow one another with no gap, and the ends carry each episode's returns.
    assert_eq!(ranges.last().unwrap().end, ro.steps);
    let returns: Vec<Vec<f64>> = set.episodes.iter().map(|e| e.returns()).collect();
    let ends: Vec<Vec<f64>> = ro.ends.iter().map(|e| e.returns.clone()).collect();
    assert_eq!(ends, returns);
    // Each end carries its episode's final observations; the copy's last one is the last's.
    for (end, ep) in ro.ends.iter().zip(&set.episodes) {
        let finals: Vec<Vec<f32>> = ep.agents.iter().map(|a| a.final_obs.clone()).collect();
        assert_eq!(end.final_obs, finals);
    }
    let last = set.episodes.last().unwrap();
    for (a, tr) in ro.agents.iter().zip(&last.agents) {
        assert_eq!(a.last_obs, tr.final_obs);
    }
}

/// Under `PhiMode::AsActionKept`, steps the player function left an agent out hold the policy's
/// own draw and its log-probability (the reading of the φ baseline that keeps its action),
/// still marked as not acted with no reward; the environment ignores the draw, so the left-out
/// predators' positions do not move by their own action.
#[test]
fn left_out_agents_keep_their_own_draw_when_asked() {
    let g = AmagailGame::StochasticPredatorPrey;
    let mut c = Collector::new(
        ParticleEnv::new(g.env_config()).unwrap(),
        g.player(),
        RolloutConfig {
            envs: 8,
            workers: 2,
            seed: 1,
            history_k: 0,
        },
    )
    .unwrap();
    c.set_phi(PhiMode::AsActionKept);
    let pols = random_policies(c.spec());
    let r = c.collect(&as_dyn(&pols), 60).unwrap();
    let mut left_out = 0;
    for i in 0..3 {
        let a = &r.agents[i];
        for at in 0..8 * 60 {
            assert!(a.actions[at] < 5.0, "a uniform draw over the five moves");
            assert_eq!(a.logp[at], -(5.0f32).ln());
            if !a.acted[at] {
                left_out += 1;
                assert_eq!(a.rewards[at], 0.0);
            }
        }
    }
    assert!(left_out > 100, "{left_out}");
    // The same streams without the flag: the first step's left-out agents record φ instead.
    let mut plain = Collector::new(
        ParticleEnv::new(g.env_config()).unwrap(),
        g.player(),
        RolloutConfig {
            envs: 8,
            workers: 1,
            seed: 1,
            history_k: 0,
        },
    )
    .unwrap();
    let p = plain.collect(&as_dyn(&pols), 1).unwrap();
    for i in 0..3 {
        for b in 0..8 {
            assert_eq!(p.agents[i].acted[b], r.agents[i].acted[b * 60]);
            if !p.agents[i].acted[b] {
                assert_eq!(p.agents[i].actions[b], 5.0);
            }
        }
    }
}

/// A game that never ends its episodes, though its spec states a step limit, is stopped at the
/// limit with an error naming it (it would otherwise fill memory with one endless episode).
#[test]
fn a_game_that_outlives_its_step_limit_is_refused_by_name() {
    use mg_core::{AgentSpec, GameError, GameSpec, Participation, StepStatus};
    #[derive(Clone)]
    struct Endless(GameSpec);
    impl MarkovGame for Endless {
        fn spec(&self) -> &GameSpec {
            &self.0
        }
        fn reset(&mut self, _: &mut dyn rand::RngCore) {}
        fn observe(&self, _: usize, out: &mut [f32]) {
            out[0] = 0.0;
        }
        fn step(&mut self, a: &[f32], r: &mut [f64]) -> Result<StepStatus, GameError> {
            self.step_partial(a, Participation::all(1), r)
        }
        fn step_partial(
            &mut self,
            _: &[f32],
            _: Participation,
            r: &mut [f64],
        ) -> Result<StepStatus, GameError> {
            r[0] = 0.0;
            Ok(StepStatus {
                terminated: false,
                truncated: false,
            })
        }
    }
    let spec = GameSpec {
        name: "endless".into(),
        agents: vec![AgentSpec {
            name: "a".into(),
            obs_dim: 1,
            action_space: ActionSpace::Discrete { n: 2 },
            action_mask: false,
        }],
        max_steps: Some(5),
    };
    let mut c = Collector::new(
        Endless(spec),
        Synchronous::new(1).unwrap(),
        RolloutConfig::default(),
    )
    .unwrap();
    let random = RandomPolicy::new(ActionSpace::Discrete { n: 2 });
    match c.collect_episodes(&[&random as &dyn Policy], 2) {
        Err(RolloutError::Unending {
            game,
            max_steps,
            steps,
        }) => assert_eq!((game.as_str(), max_steps, steps), ("endless", 5, 5)),
        other => panic!("{:?}", other.map(|t| t.episodes.len())),
    }
}
