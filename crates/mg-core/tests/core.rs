//! Behavioural tests of mg-core: player-function probabilities, schedules, extensive games,
//! batched stepping and trajectory serialization, on a small game defined here.

#![allow(clippy::unwrap_used)]

use mg_core::*;
use proptest::prelude::*;
use rand::{Rng, RngCore, SeedableRng};

/// A small game with a random start: agents walk on a line; agent 0 has a box action.
#[derive(Clone, Debug)]
struct Walk {
    spec: GameSpec,
    pos: Vec<f64>,
    t: usize,
}

impl Walk {
    fn new(n: usize) -> Self {
        let agents = (0..n)
            .map(|i| AgentSpec {
                name: format!("walker_{i}"),
                obs_dim: 2,
                action_space: if i == 0 {
                    ActionSpace::Box {
                        dim: 2,
                        low: -1.0,
                        high: 1.0,
                    }
                } else {
                    ActionSpace::Discrete { n: 3 }
                },
                action_mask: false,
            })
            .collect();
        Self {
            spec: GameSpec {
                name: "walk".into(),
                agents,
                max_steps: Some(7),
            },
            pos: vec![0.0; n],
            t: 0,
        }
    }
}

impl MarkovGame for Walk {
    fn spec(&self) -> &GameSpec {
        &self.spec
    }
    fn reset(&mut self, rng: &mut dyn RngCore) {
        for p in &mut self.pos {
            *p = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        }
        self.t = 0;
    }
    fn observe(&self, agent: usize, out: &mut [f32]) {
        out[0] = self.pos[agent] as f32;
        out[1] = self.pos.iter().sum::<f64>() as f32;
    }
    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        let n = self.spec.n_agents();
        self.step_partial(actions, Participation::all(n), rewards)
    }
    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        self.spec.check_joint_action(actions, Some(active))?;
        let off = self.spec.action_offsets();
        for i in active.iter_active() {
            let a = &actions[off[i]..off[i + 1]];
            self.pos[i] += if i == 0 {
                f64::from(a[0] - a[1])
            } else {
                f64::from(a[0]) - 1.0
            };
        }
        for (i, r) in rewards.iter_mut().enumerate() {
            *r = -self.pos[i].abs();
        }
        self.t += 1;
        Ok(StepStatus {
            terminated: false,
            truncated: self.t >= 7,
        })
    }
}

fn random_joint(spec: &GameSpec, rng: &mut impl Rng) -> Vec<f32> {
    let mut a = Vec::new();
    for ag in &spec.agents {
        match ag.action_space {
            ActionSpace::Discrete { n } => a.push(rng.random_range(0..n) as f32),
            ActionSpace::Box { dim, .. } => (0..dim).for_each(|_| a.push(rng.random::<f32>())),
        }
    }
    a
}

proptest! {
    #[test]
    fn participation_probabilities_sum_to_one(
        probs in prop::collection::vec(0.0f64..=1.0, 1..=6),
        hist in prop::collection::vec(any::<u64>(), 0..5),
    ) {
        let n = probs.len();
        let y = Stochastic::new(probs).unwrap();
        let mut h = History::new();
        for b in hist {
            h.push(Participation::from_bits(n, b & ((1 << n) - 1)).unwrap());
        }
        let total: f64 = (0..1u64 << n)
            .map(|b| y.prob_of(Participation::from_bits(n, b).unwrap(), &h))
            .sum();
        prop_assert!((total - 1.0).abs() < 1e-12, "sum {total}");
        // Deterministic rules put all mass on one vector.
        let s = Schedule::round_robin(n).unwrap();
        let total_s: f64 = (0..1u64 << n)
            .map(|b| s.prob_of(Participation::from_bits(n, b).unwrap(), &h))
            .sum();
        prop_assert_eq!(total_s, 1.0);
    }
}

#[test]
fn stochastic_frequencies_match_probabilities() {
    let probs = vec![1.0, 0.5, 0.1, 0.9, 0.0];
    let y = Stochastic::new(probs.clone()).unwrap();
    let mut rng = stream_rng(7, 0);
    let h = History::new();
    let draws = 100_000;
    let mut counts = vec![0usize; probs.len()];
    for _ in 0..draws {
        let p = y.sample(&h, &mut rng);
        for i in p.iter_active() {
            counts[i] += 1;
        }
    }
    for (i, (&c, &p)) in counts.iter().zip(&probs).enumerate() {
        let freq = c as f64 / draws as f64;
        let sigma = (p * (1.0 - p) / draws as f64).sqrt();
        assert!(
            (freq - p).abs() <= 4.0 * sigma + 1e-12,
            "agent {i}: frequency {freq} vs probability {p} (4σ = {})",
            4.0 * sigma
        );
    }
}

#[test]
fn deterministic_schedules_reproduce_their_cycle() {
    let y = Schedule::amagail_cycle();
    let mut h = History::new();
    let mut rng = stream_rng(1, 0);
    let expect = [0b111u64, 0b011, 0b001];
    for t in 0..30 {
        let p = y.sample(&h, &mut rng);
        assert_eq!(p.bits(), expect[t % 3], "step {t}");
        h.push(p);
    }
    let rr = Schedule::round_robin(4).unwrap();
    let mut h = History::new();
    for t in 0..12 {
        let p = rr.sample(&h, &mut rng);
        assert_eq!(p.iter_active().collect::<Vec<_>>(), vec![t % 4]);
        h.push(p);
    }
}

#[test]
fn synchronous_extensive_game_is_bit_identical_to_the_bare_game() {
    let spec_rng = &mut stream_rng(3, 9);
    let mut bare = Walk::new(3);
    let mut emg = ExtensiveGame::new(Walk::new(3), Synchronous::new(3).unwrap()).unwrap();
    let mut r1 = stream_rng(11, 0);
    let mut r2 = stream_rng(11, 0);
    assert_eq!(bare.reset_joint(&mut r1), emg.reset_joint(&mut r2));
    for _ in 0..20 {
        let a = random_joint(bare.spec(), spec_rng);
        let s1 = bare.step_joint(&a).unwrap();
        let s2 = emg.step_joint(&a, &mut r2).unwrap();
        assert_eq!(s1.obs, s2.obs);
        let r2: Vec<f64> = s2.rewards.iter().map(|r| r.unwrap()).collect();
        assert_eq!(
            s1.rewards.iter().map(|r| r.to_bits()).collect::<Vec<_>>(),
            r2.iter().map(|r| r.to_bits()).collect::<Vec<_>>()
        );
        assert!(s2.acted.is_all());
        if s1.truncated[0] {
            assert!(s2.status.truncated);
            break;
        }
    }
    // The synchronous rule consumed no randomness.
    assert_eq!(r1.next_u64(), r2.next_u64());
}

#[test]
fn inactive_agents_play_phi_and_get_no_reward() {
    let mut emg = ExtensiveGame::new(Walk::new(3), Schedule::amagail_cycle()).unwrap();
    let mut rng = stream_rng(5, 0);
    emg.reset(&mut rng);
    let a = vec![0.5, 0.0, 2.0, 2.0];
    let s0 = emg.step_joint(&a, &mut rng).unwrap();
    assert!(s0.rewards.iter().all(Option::is_some));
    let before = emg.game().pos.clone();
    let s1 = emg.step_joint(&a, &mut rng).unwrap();
    assert_eq!(s1.acted.bits(), 0b011);
    assert_eq!(s1.rewards[2], None);
    assert_eq!(s1.actions[2], AgentAction::Phi);
    assert_eq!(s1.actions[1], AgentAction::Act(vec![2.0]));
    // φ left agent 2 where it was; agent 1 moved by +1.
    assert_eq!(emg.game().pos[2], before[2]);
    assert_eq!(emg.game().pos[1], before[1] + 1.0);
    // An inactive agent's action may be anything, even invalid.
    let mut bad = a.clone();
    bad[3] = f32::NAN;
    let s2 = emg.step_joint(&bad, &mut rng).unwrap();
    assert_eq!(s2.acted.bits(), 0b001);
    assert_eq!(emg.history().len(), 3);
}

#[test]
fn an_agent_that_chooses_phi_stays_put_and_keeps_its_reward() {
    let mut emg = ExtensiveGame::new(Walk::new(3), Synchronous::new(3).unwrap()).unwrap();
    let mut plain = emg.clone();
    let mut rng = stream_rng(9, 0);
    let mut rng2 = stream_rng(9, 0);
    emg.reset(&mut rng);
    plain.reset(&mut rng2);
    let before = emg.game().pos.clone();
    emg.choose_phi(1).unwrap();
    let a = [0.5, 1.0, 2.0, 2.0];
    let s = emg.step_joint(&a, &mut rng).unwrap();
    // Still in the round: it acted (φ) and is rewarded; the history says it acted.
    assert!(s.acted.is_all());
    assert_eq!(s.actions[1], AgentAction::Phi);
    assert_eq!(s.actions[0], AgentAction::Act(vec![0.5, 1.0]));
    assert!(s.rewards.iter().all(Option::is_some));
    assert!(emg.history().as_slice()[0].is_all());
    // It did not move; the others moved as they do without the choice.
    assert_eq!(emg.game().pos[1], before[1]);
    let p = plain.step_joint(&a, &mut rng2).unwrap();
    assert_eq!(emg.game().pos[0], plain.game().pos[0]);
    assert_ne!(plain.game().pos[1], before[1]);
    assert_eq!(s.rewards[0], p.rewards[0]);
    // The choice lasts one step.
    let before = emg.game().pos.clone();
    emg.step_joint(&a, &mut rng).unwrap();
    assert_ne!(emg.game().pos[1], before[1]);
    assert_eq!(
        emg.choose_phi(3),
        Err(GameError::AgentOutOfRange { agent: 3, n: 3 })
    );
    // An agent the player function leaves out cannot choose.
    let mut cyc = ExtensiveGame::new(Walk::new(3), Schedule::amagail_cycle()).unwrap();
    cyc.reset(&mut rng);
    cyc.step_joint(&a, &mut rng).unwrap();
    assert!(!cyc.participation().is_active(2));
    assert!(cyc.choose_phi(2).is_err());
    // φ's encoding is recognised for discrete spaces only.
    let d = ActionSpace::Discrete { n: 5 };
    let mut phi = [0.0];
    d.phi_fill(&mut phi);
    assert!(d.is_phi(&phi) && !d.is_phi(&[4.0]));
    assert!(
        !ActionSpace::Box {
            dim: 1,
            low: -1.0,
            high: 1.0
        }
        .is_phi(&[0.0])
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    assert!(matches!(
        Stochastic::new(vec![0.5, 1.5]),
        Err(GameError::InvalidProbability { agent: 1, .. })
    ));
    assert!(matches!(
        Stochastic::new(vec![f64::NAN]),
        Err(GameError::InvalidProbability { agent: 0, .. })
    ));
    assert!(matches!(
        Stochastic::new(vec![-0.1]),
        Err(GameError::InvalidProbability { .. })
    ));
    assert_eq!(Schedule::new(3, &[]), Err(GameError::EmptySchedule));
    assert_eq!(
        Schedule::new(3, &[vec![0, 3]]),
        Err(GameError::AgentOutOfRange { agent: 3, n: 3 })
    );
    assert!(Participation::from_active(2, &[2]).is_err());
    assert!(Participation::from_bits(2, 0b100).is_err());
    assert!(matches!(
        ExtensiveGame::new(Walk::new(3), Synchronous::new(2).unwrap()),
        Err(GameError::AgentCountMismatch { .. })
    ));
    let mut g = Walk::new(3);
    g.reset(&mut stream_rng(0, 0));
    let mut r = [0.0; 3];
    assert_eq!(
        g.step(&[0.0, 0.0, 1.0], &mut r),
        Err(GameError::JointActionLength {
            expected: 4,
            got: 3
        })
    );
    assert!(matches!(
        g.step(&[0.0, 0.0, 1.0, 3.0], &mut r),
        Err(GameError::InvalidAction { agent: 2, .. })
    ));
    assert!(matches!(
        g.step(&[0.0, 0.0, 1.5, 1.0], &mut r),
        Err(GameError::InvalidAction { agent: 1, .. })
    ));
    assert!(matches!(
        g.step(&[f32::INFINITY, 0.0, 1.0, 1.0], &mut r),
        Err(GameError::InvalidAction { agent: 0, .. })
    ));
}

fn run_batch(threads: usize) -> (Vec<Vec<f32>>, Vec<Vec<f64>>, Vec<bool>) {
    let mut v = VecGame::new(Walk::new(3), 37, 42)
        .unwrap()
        .with_threads(threads);
    let mut out = BatchBuffers::new(v.spec(), 37);
    v.reset_all(&mut out).unwrap();
    let mut rng = stream_rng(99, 0);
    let mut all_obs = Vec::new();
    let mut all_rew = Vec::new();
    let mut all_done = Vec::new();
    for _ in 0..20 {
        let actions: Vec<Vec<f32>> = (0..3)
            .map(|i| {
                (0..37)
                    .flat_map(|_| {
                        if i == 0 {
                            vec![rng.random::<f32>(), rng.random::<f32>()]
                        } else {
                            vec![rng.random_range(0..3) as f32]
                        }
                    })
                    .collect()
            })
            .collect();
        let active: Vec<Participation> = (0..37)
            .map(|_| Participation::from_bits(3, rng.random_range(0..8)).unwrap())
            .collect();
        v.step_batch(&actions, Some(&active), &mut out).unwrap();
        all_obs.extend(out.obs.clone());
        all_obs.extend(out.final_obs.clone());
        all_rew.extend(out.rewards.clone());
        all_done.extend(out.truncated.clone());
    }
    (all_obs, all_rew, all_done)
}

#[test]
fn batched_results_do_not_depend_on_threads() {
    let one = run_batch(1);
    assert!(
        one.2.iter().any(|d| *d),
        "episodes should end and auto-reset"
    );
    assert_eq!(one, run_batch(2));
    assert_eq!(one, run_batch(3));
}

/// Walk without its own `step_partial`: the trait's default refuses φ.
#[derive(Clone, Debug)]
struct NoPhi(Walk);

impl MarkovGame for NoPhi {
    fn spec(&self) -> &GameSpec {
        self.0.spec()
    }
    fn reset(&mut self, rng: &mut dyn RngCore) {
        self.0.reset(rng)
    }
    fn observe(&self, agent: usize, out: &mut [f32]) {
        self.0.observe(agent, out)
    }
    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        self.0.step(actions, rewards)
    }
}

#[test]
fn a_batch_that_a_game_fails_part_way_steps_no_more_until_reset() {
    let mut v = VecGame::new(NoPhi(Walk::new(2)), 4, 1)
        .unwrap()
        .with_threads(2);
    let mut out = BatchBuffers::new(v.spec(), 4);
    v.reset_all(&mut out).unwrap();
    let before: Vec<_> = (0..4).map(|b| v.env(b).unwrap().0.pos).collect();
    let actions = vec![[0.5, 0.0].repeat(4), vec![2.0; 4]];
    // Copy 2 (in the worker's shard) lets agent 1 sit out, which this game cannot do.
    let mut active = vec![Participation::all(2); 4];
    active[2] = Participation::from_bits(2, 0b01).unwrap();
    assert!(matches!(
        v.step_batch(&actions, Some(&active), &mut out),
        Err(GameError::PhiUnsupported { .. })
    ));
    // Copies 0 and 1 moved, copy 2 did not: the batch is refused until it is reset.
    assert_ne!(v.env(0).unwrap().0.pos, before[0]);
    assert_eq!(v.env(2).unwrap().0.pos, before[2]);
    let err = v.step_batch(&actions, None, &mut out).unwrap_err();
    assert!(err.to_string().contains("reset_all"), "{err}");
    v.reset_all(&mut out).unwrap();
    v.step_batch(&actions, None, &mut out).unwrap();
}

#[test]
fn a_failed_extensive_step_keeps_the_choices_of_phi() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let mut g = ExtensiveGame::new(Walk::new(2), Synchronous::new(2).unwrap()).unwrap();
    g.reset(&mut rng);
    let start = g.game().pos.clone();
    g.choose_phi(0).unwrap();
    let mut r = vec![0.0; 2];
    // Agent 1's action is out of range: the step fails before anything moves.
    assert!(g.step(&[0.5, 0.0, 9.0], &mut rng, &mut r).is_err());
    assert_eq!(g.game().pos, start);
    // The retry still has agent 0 sitting out.
    g.step(&[0.5, 0.0, 2.0], &mut rng, &mut r).unwrap();
    assert_eq!(g.game().pos[0], start[0]);
    assert_ne!(g.game().pos[1], start[1]);
}

#[test]
fn batched_bad_actions_leave_every_copy_untouched() {
    let mut v = VecGame::new(Walk::new(2), 4, 1).unwrap();
    let mut out = BatchBuffers::new(v.spec(), 4);
    v.reset_all(&mut out).unwrap();
    let before = out.clone();
    let mut actions = vec![vec![0.0; 8], vec![1.0; 4]];
    actions[1][3] = 7.0;
    assert!(matches!(
        v.step_batch(&actions, None, &mut out),
        Err(GameError::InvalidAction { agent: 1, .. })
    ));
    assert_eq!(out, before);
    let positions: Vec<_> = (0..4).map(|b| v.env(b).unwrap().pos).collect();
    actions[1][3] = 1.0;
    assert!(v.step_batch(&actions[..1], None, &mut out).is_err());
    let mut short = BatchBuffers::new(v.spec(), 3);
    assert!(matches!(
        v.step_batch(&actions, None, &mut short),
        Err(GameError::BufferSize { .. })
    ));
    let after: Vec<_> = (0..4).map(|b| v.env(b).unwrap().pos).collect();
    assert_eq!(positions, after);
}

#[test]
fn trajectories_survive_a_serde_round_trip() {
    let mut g = Walk::new(3);
    let spec = g.spec().clone();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
    let mut set = Trajectories::new(&spec);
    let mut emg =
        ExtensiveGame::new(g.clone(), Stochastic::new(vec![1.0, 0.5, 0.5]).unwrap()).unwrap();
    for _ in 0..3 {
        let mut ep = Episode::new(&spec, 7);
        let mut obs = emg.reset_joint(&mut rng);
        loop {
            let a = random_joint(&spec, &mut rng);
            let acted = emg.participation();
            let s = emg.step_joint(&a, &mut rng).unwrap();
            let off = spec.action_offsets();
            for i in 0..3 {
                let t = &mut ep.agents[i];
                t.obs.extend(&obs[i]);
                if acted.is_active(i) {
                    t.actions.extend(&a[off[i]..off[i + 1]]);
                } else {
                    let mut phi = vec![0.0; off[i + 1] - off[i]];
                    spec.action_space(i).phi_fill(&mut phi);
                    t.actions.extend(phi);
                }
                t.rewards.push(s.rewards[i].unwrap_or(0.0));
                t.acted.push(acted.is_active(i));
            }
            ep.len += 1;
            obs = s.obs;
            if s.status.done() {
                for (i, t) in ep.agents.iter_mut().enumerate() {
                    t.final_obs = obs[i].clone();
                }
                ep.truncated = true;
                break;
            }
        }
        set.episodes.push(ep);
    }
    set.validate().unwrap();
    assert_eq!(set.n_steps(), 21);
    let json = serde_json::to_string(&set).unwrap();
    let back: Trajectories = serde_json::from_str(&json).unwrap();
    assert_eq!(back, set);
    let bytes = bincode::serde::encode_to_vec(&set, bincode::config::standard()).unwrap();
    let (back, used): (Trajectories, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(back, set);
    // Validation catches a corrupted copy.
    let mut bad = set.clone();
    bad.episodes[1].agents[2].rewards[0] = f64::NAN;
    assert!(matches!(
        bad.validate(),
        Err(TrajectoryError::NonFinite {
            episode: 1,
            agent: 2,
            ..
        })
    ));
    bad.episodes[1].agents[2].acted.pop();
    assert!(matches!(
        bad.validate(),
        Err(TrajectoryError::Length { field: "acted", .. })
    ));
    // Actions the space does not hold (agent 1 is discrete with 3 actions, φ = 3).
    let ep = &set.episodes[0];
    let acted = ep.agents[1].acted.iter().position(|&a| a).unwrap();
    let idle = ep.agents[1].acted.iter().position(|&a| !a).unwrap();
    for (step, v, ok) in [
        (acted, 2.5, false), // not an integer
        (acted, 7.0, false), // out of range
        (acted, 3.0, true),  // φ chosen where it may act
        (idle, 0.0, false),  // an action where the agent did not act
        (idle, 3.0, true),
    ] {
        let mut bad = set.clone();
        bad.episodes[0].agents[1].actions[step] = v;
        match bad.validate() {
            Ok(()) => assert!(ok, "{v} at step {step} was accepted"),
            Err(e) => {
                assert!(!ok, "{v} at step {step}: {e}");
                assert!(matches!(
                    e,
                    TrajectoryError::Action {
                        episode: 0,
                        agent: 1,
                        ..
                    }
                ));
                assert!(e.to_string().contains(&format!("step {step}")), "{e}");
            }
        }
    }
    // A corrupt length is an error, not an overflow panic.
    let mut bad = set.clone();
    bad.episodes[0].len = usize::MAX;
    assert!(matches!(
        bad.validate(),
        Err(TrajectoryError::Overflow { .. })
    ));
    let mut bad = set.clone();
    bad.action_spaces.pop();
    assert!(bad.validate().is_err());
    g.reset(&mut rng);
}

#[test]
fn history_features_are_padded_and_ordered() {
    let mut h = History::new();
    let mut f = vec![9.0; 6];
    h.last_k_features(2, 3, &mut f);
    assert_eq!(f, vec![0.0; 6]);
    h.push(Participation::from_active(3, &[0]).unwrap());
    h.last_k_features(2, 3, &mut f);
    assert_eq!(f, vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    h.push(Participation::from_active(3, &[1, 2]).unwrap());
    h.push(Participation::from_active(3, &[2]).unwrap());
    h.last_k_features(2, 3, &mut f);
    assert_eq!(f, vec![0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn player_rules_loaded_from_a_file_are_checked_like_constructed_ones() {
    let good = PlayerRule::Schedule(Schedule::amagail_cycle());
    let json = serde_json::to_string(&good).unwrap();
    assert_eq!(serde_json::from_str::<PlayerRule>(&json).unwrap(), good);
    let s = PlayerRule::Stochastic(Stochastic::new(vec![0.5, 1.0]).unwrap());
    let back: PlayerRule = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    for (bad, why) in [
        (r#"{"Schedule":{"n":3,"cycle":[]}}"#, "empty"),
        (
            r#"{"Schedule":{"n":3,"cycle":[{"bits":1,"n":2}]}}"#,
            "schedule step",
        ),
        (r#"{"Stochastic":{"probs":[0.5,1.5]}}"#, "1.5"),
        (r#"{"Synchronous":{"n":65}}"#, "65"),
        (
            r#"{"Schedule":{"n":2,"cycle":[{"bits":4,"n":2}]}}"#,
            "agent index 2",
        ),
        (r#"{"Schedule":{"n":2,"cycle":[{"bits":1,"n":99}]}}"#, "99"),
    ] {
        let err = serde_json::from_str::<PlayerRule>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

/// Rounds cycle through per-agent probabilities: deterministic entries draw nothing, chance
/// entries draw once each, and the rate of a chance entry is its probability.
#[test]
fn rounds_alternate_a_sure_side_with_a_chance_side() {
    let r = Rounds::new(vec![vec![0.0, 0.0, 1.0], vec![0.5, 0.5, 0.0]]).unwrap();
    assert_eq!(r.describe(), "rounds[[0,0,1],[0.5,0.5,0]]");
    let mut h = History::new();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let (mut acted, mut draws) = ([0usize; 3], 0);
    for t in 0..2000 {
        let before = rng.clone().next_u64();
        let p = r.sample(&h, &mut rng);
        if t % 2 == 0 {
            assert_eq!(p, Participation::from_active(3, &[2]).unwrap());
            assert_eq!(rng.clone().next_u64(), before, "a sure round draws nothing");
            assert_eq!(r.prob_of(p, &h), 1.0);
        } else {
            assert!(!p.is_active(2));
            draws += 1;
            assert!((r.prob_of(p, &h) - 0.25).abs() < 1e-12);
        }
        for i in 0..3 {
            acted[i] += usize::from(p.is_active(i));
        }
        h.push(p);
    }
    assert_eq!((acted[2], draws), (1000, 1000));
    for i in 0..2 {
        assert!((acted[i] as f64 / 1000.0 - 0.5).abs() < 0.06, "{acted:?}");
    }
    let rule = PlayerRule::Rounds(r);
    let back: PlayerRule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
    assert_eq!(back, rule);
    for (bad, why) in [
        (r#"{"Rounds":{"rounds":[]}}"#, "empty"),
        (
            r#"{"Rounds":{"rounds":[[0.5],[0.5,0.5]]}}"#,
            "round of probabilities",
        ),
        (r#"{"Rounds":{"rounds":[[0.5,-0.1]]}}"#, "-0.1"),
    ] {
        let err = serde_json::from_str::<PlayerRule>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

/// Participation draws come from each episode's own stream: an episode that ends earlier in
/// one run than in another (other policies, other terminations) shifts neither the next
/// episode's start nor its participation sequence, and deterministic rules draw nothing.
#[test]
fn the_next_episode_meets_the_same_starts_and_participations_however_long_this_one_was() {
    let game = Walk::new(3);
    let width = game.spec().joint_action_width();
    let next_episode = |cut: usize| {
        let rule = Stochastic::new(vec![0.5, 0.5, 0.9]).expect("rule");
        let mut g = ExtensiveGame::new(Walk::new(3), rule).expect("game");
        let mut rng = stream_rng(11, 0);
        let mut r = vec![0.0; 3];
        g.reset(&mut rng);
        for _ in 0..cut {
            g.step(&vec![0.0; width], &mut rng, &mut r).expect("step");
        }
        g.reset(&mut rng);
        let mut seen = vec![(g.participation().bits(), g.game().pos.clone())];
        for _ in 0..8 {
            g.step(&vec![0.0; width], &mut rng, &mut r).expect("step");
            seen.push((g.participation().bits(), g.game().pos.clone()));
        }
        seen
    };
    let short = next_episode(1);
    assert_eq!(short, next_episode(6));
    assert!(
        short.iter().any(|(b, _)| *b != 0b111),
        "the rule drew some inactive agents"
    );
    // A synchronous game consumes nothing beyond the game's own resets.
    let mut sync =
        ExtensiveGame::new(Walk::new(3), Synchronous::new(3).expect("rule")).expect("game");
    let (mut a, mut b) = (stream_rng(3, 0), stream_rng(3, 0));
    let mut bare = Walk::new(3);
    sync.reset(&mut a);
    bare.reset(&mut b);
    assert_eq!(a.next_u64(), b.next_u64());
}

/// `Walk` played in turns the game decides: agent `t mod n` acts, and agent 2 has left after
/// the third step.
#[derive(Clone, Debug)]
struct Turns(Walk);

impl MarkovGame for Turns {
    fn spec(&self) -> &GameSpec {
        self.0.spec()
    }
    fn reset(&mut self, rng: &mut dyn RngCore) {
        self.0.reset(rng)
    }
    fn observe(&self, agent: usize, out: &mut [f32]) {
        self.0.observe(agent, out)
    }
    fn step(&mut self, actions: &[f32], rewards: &mut [f64]) -> Result<StepStatus, GameError> {
        self.0.step(actions, rewards)
    }
    fn step_partial(
        &mut self,
        actions: &[f32],
        active: Participation,
        rewards: &mut [f64],
    ) -> Result<StepStatus, GameError> {
        self.0.step_partial(actions, active, rewards)
    }
    fn turn(&self) -> Option<Participation> {
        let n = self.0.spec.n_agents();
        let mut who = self.0.t % n;
        if who == 2 && self.0.t >= 3 {
            who = 0;
        }
        Participation::from_bits(n, 1 << who).ok()
    }
}

#[test]
fn a_game_that_decides_its_turns_overrides_the_player_function() {
    // Whatever the player function would draw, the game's turns are played, and the
    // participation stream is never drawn from.
    for player in [
        PlayerRule::Stochastic(Stochastic::new(vec![0.5; 3]).unwrap()),
        PlayerRule::Synchronous(Synchronous::new(3).unwrap()),
    ] {
        let mut emg = ExtensiveGame::new(Turns(Walk::new(3)), player).unwrap();
        let mut rng = stream_rng(9, 0);
        emg.reset(&mut rng);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let s = emg.step_joint(&[0.5, 0.0, 2.0, 2.0], &mut rng).unwrap();
            seen.push(s.acted.bits());
            let only = s.acted.iter_active().collect::<Vec<_>>();
            assert_eq!(only.len(), 1);
            // The others played φ and were given no reward.
            for i in 0..3 {
                assert_eq!(s.rewards[i].is_some(), only[0] == i);
            }
        }
        assert_eq!(seen, vec![0b001, 0b010, 0b100, 0b001, 0b010, 0b001]);
    }
    let turns = GameTurns::new(3).unwrap();
    assert_eq!(turns.describe(), "game-turns");
    assert!(GameTurns::new(0).is_err());
}
