//! Behaviour of the particle environments beyond the mpe2 recordings: the papers' variants,
//! φ in the physics, batched stepping, scripted policies and rendering.

#![allow(clippy::unwrap_used)]

use envs::scripted::ScriptedPolicy;
use envs::{EnvConfig, NumpyRng, ParticleEnv, Scenario, Variant};
use mg_core::{
    ActionSpace, BatchBuffers, BatchedGame, GameError, MarkovGame, Participation, VecGame,
    stream_rng,
};
use rand::Rng;

fn random_joint(spec: &mg_core::GameSpec, rng: &mut impl Rng) -> Vec<f32> {
    let mut a = Vec::new();
    for ag in &spec.agents {
        match ag.action_space {
            ActionSpace::Discrete { n } => a.push(rng.random_range(0..n) as f32),
            ActionSpace::Box { dim, .. } => (0..dim).for_each(|_| a.push(rng.random::<f32>())),
        }
    }
    a
}

/// Mean per-agent return over `episodes` episodes, with the scripted policy or random actions.
fn mean_return(cfg: EnvConfig, scripted: bool, episodes: usize, seed: u64) -> Vec<f64> {
    let mut env = ParticleEnv::new(cfg).unwrap();
    let pol = ScriptedPolicy::new(&env);
    let n = env.spec().n_agents();
    let mut rng = stream_rng(seed, 0);
    let mut act_rng = stream_rng(seed, 1);
    let mut total = vec![0.0; n];
    let mut joint = Vec::new();
    for _ in 0..episodes {
        let mut obs = env.reset_joint(&mut rng);
        loop {
            if scripted {
                pol.act_joint(&obs, &mut joint);
            } else {
                joint = random_joint(env.spec(), &mut act_rng);
            }
            let s = env.step_joint(&joint).unwrap();
            for (t, r) in total.iter_mut().zip(&s.rewards) {
                *t += r;
            }
            obs = s.obs;
            if s.terminated[0] || s.truncated[0] {
                break;
            }
        }
    }
    total.iter().map(|t| t / episodes as f64).collect()
}

#[test]
fn paper_variants_differ_from_mpe2_as_documented() {
    let mpe = ParticleEnv::new(EnvConfig::mpe2(Scenario::Spread)).unwrap();
    let paper = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    assert_eq!(mpe.spec().obs_dim(0), 18);
    assert_eq!(paper.spec().obs_dim(0), 16);
    assert_eq!(paper.spec().max_steps, Some(50));
    assert_eq!(paper.spec().name, "simple_spread/paper");
    let push = ParticleEnv::new(EnvConfig::paper(Scenario::Push)).unwrap();
    assert_eq!(push.spec().obs_dim(0), 10);
    assert_eq!(push.world().entities[0].mass, 5.0);
    assert_eq!(push.world().entities[1].max_speed, Some(2.0));
    let sl = ParticleEnv::new(EnvConfig::paper(Scenario::SpeakerListener)).unwrap();
    assert_eq!(
        (sl.spec().obs_dim(0), sl.spec().obs_dim(1)),
        (3, 11),
        "speaker-listener observations are unchanged"
    );
    let tag = ParticleEnv::new(EnvConfig::paper(Scenario::Tag)).unwrap();
    assert_eq!(tag.spec().max_steps, Some(50));
    assert_eq!(
        (0..4).map(|i| tag.spec().obs_dim(i)).collect::<Vec<_>>(),
        vec![16, 16, 16, 14]
    );
}

#[test]
fn paper_cooperative_navigation_shares_a_penetration_reward_and_ends_when_covered() {
    let mut env = ParticleEnv::new(EnvConfig::paper(Scenario::Spread)).unwrap();
    env.reset(&mut stream_rng(0, 0));
    // Put agents on the landmarks, agents 0 and 1 overlapping by 0.1.
    let w = env.world_mut();
    w.entities[3].pos = [0.0, 0.0];
    w.entities[4].pos = [0.2, 0.0];
    w.entities[5].pos = [0.9, 0.9];
    w.entities[0].pos = [0.0, 0.0];
    w.entities[1].pos = [0.2, 0.0];
    w.entities[2].pos = [0.9, 0.9];
    for e in &mut w.entities {
        e.vel = [0.0, 0.0];
    }
    let mut r = [0.0; 3];
    let s = env.step(&[0.0, 0.0, 0.0], &mut r).unwrap();
    assert!(
        s.terminated && !s.truncated,
        "all landmarks covered ends the episode"
    );
    assert!(r.iter().all(|&x| x == r[0]), "shared reward: {r:?}");
    // Agents moved slightly apart by the contact force; the penalty is the penetration depth
    // (~0.1 for each of the two touching agents) summed over the team, and distances are tiny.
    assert!(r[0] < -0.15 && r[0] > -0.25, "{r:?}");
    assert!(matches!(
        env.step(&[0.0; 3], &mut r),
        Err(GameError::EpisodeOver)
    ));
}

#[test]
fn paper_speaker_listener_uses_plain_distance_and_ends_on_arrival() {
    let mut env = ParticleEnv::new(EnvConfig::paper(Scenario::SpeakerListener)).unwrap();
    env.reset(&mut stream_rng(1, 0));
    let g = env.goals().landmark;
    let n = env.world().n_agents;
    let goal = env.world().entities[n + g].pos;
    env.world_mut().entities[1].pos = [goal[0] + 0.3, goal[1] + 0.4];
    let mut r = [0.0; 2];
    let s = env.step(&[0.0, 0.0], &mut r).unwrap();
    assert!(!s.done());
    // Team sum of two identical rewards −‖d‖ with ‖d‖ = 0.5.
    assert!((r[0] + 1.0).abs() < 1e-12 && r[0] == r[1], "{r:?}");
    env.world_mut().entities[1].pos = [goal[0] + 0.01, goal[1]];
    env.world_mut().entities[1].vel = [0.0, 0.0];
    let s = env.step(&[0.0, 0.0], &mut r).unwrap();
    assert!(s.terminated);
}

#[test]
fn episodes_truncate_at_max_steps() {
    for variant in [Variant::Mpe2, Variant::Paper] {
        let mut env = ParticleEnv::new(EnvConfig::new(Scenario::Tag, variant)).unwrap();
        env.reset(&mut stream_rng(2, 0));
        let mut r = [0.0; 4];
        let mut t = 0;
        loop {
            t += 1;
            let s = env.step(&[0.0; 4], &mut r).unwrap();
            if s.done() {
                assert!(s.truncated);
                break;
            }
        }
        assert_eq!(t, env.spec().max_steps.unwrap());
    }
}

#[test]
fn phi_applies_no_force_and_sends_no_message_but_physics_still_acts() {
    let mut env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Reference)).unwrap();
    env.reset(&mut NumpyRng::from_seed(3));
    env.world_mut().entities[0].vel = [0.4, 0.0];
    let p0 = env.world().entities[0].pos;
    let p1 = env.world().entities[1].pos;
    let mut r = [0.0; 2];
    // Agent 0 would move right and say word 7; it is inactive. Agent 1 moves up, says word 2.
    let active = Participation::from_active(2, &[1]).unwrap();
    env.step_partial(&[(2 + 5 * 7) as f32, (4 + 5 * 2) as f32], active, &mut r)
        .unwrap();
    let w = env.world();
    // Damped old velocity only, and the position moved with the old velocity.
    assert_eq!(w.entities[0].vel, [0.4 * 0.75, 0.0]);
    assert_eq!(w.entities[0].pos, [p0[0] + 0.4 * 0.1, p0[1]]);
    assert!(w.comm_of(0).iter().all(|&c| c == 0.0));
    assert_eq!(w.comm_of(1)[2], 1.0);
    assert_eq!(w.entities[1].vel, [0.0, 0.5]);
    assert_eq!(w.entities[1].pos, p1);
    // Collisions still push an inactive agent.
    let mut tag = ParticleEnv::new(EnvConfig::mpe2(Scenario::Tag)).unwrap();
    tag.reset(&mut stream_rng(0, 0));
    tag.world_mut().entities[0].pos = [0.0, 0.0];
    tag.world_mut().entities[1].pos = [0.1, 0.0];
    let mut r = [0.0; 4];
    let none = Participation::none(4);
    tag.step_partial(&[0.0; 4], none, &mut r).unwrap();
    assert!(
        tag.world().entities[0].vel[0] < 0.0,
        "pushed apart while inactive"
    );
}

#[test]
fn batched_stepping_matches_single_envs_and_ignores_thread_count() {
    let cfg = EnvConfig::mpe2(Scenario::Spread);
    let env = ParticleEnv::new(cfg.clone()).unwrap();
    let b = 9;
    let run = |threads: usize| {
        let mut v = VecGame::new(env.clone(), b, 5)
            .unwrap()
            .with_threads(threads);
        let mut out = BatchBuffers::new(v.spec(), b);
        v.reset_all(&mut out).unwrap();
        let mut rng = stream_rng(77, 0);
        let mut log = Vec::new();
        for _ in 0..60 {
            let actions: Vec<Vec<f32>> = (0..3)
                .map(|_| (0..b).map(|_| rng.random_range(0..5) as f32).collect())
                .collect();
            v.step_batch(&actions, None, &mut out).unwrap();
            log.push((out.obs.clone(), out.rewards.clone(), out.truncated.clone()));
        }
        log
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
    // Copy 4 equals a single environment reset from stream (5, 4) and fed the same actions.
    let mut single = env.clone();
    let mut srng = stream_rng(5, 4);
    single.reset(&mut srng);
    let mut rng = stream_rng(77, 0);
    let mut r = [0.0; 3];
    for (t, (obs, rew, trunc)) in one.iter().enumerate() {
        let actions: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..b).map(|_| rng.random_range(0..5) as f32).collect())
            .collect();
        let joint: Vec<f32> = (0..3).map(|i| actions[i][4]).collect();
        let s = single.step(&joint, &mut r).unwrap();
        for i in 0..3 {
            assert_eq!(rew[i][4], r[i], "step {t}");
        }
        assert_eq!(trunc[4], s.truncated);
        if s.done() {
            single.reset(&mut srng);
        }
        let mut o = vec![0.0; 18];
        single.observe(1, &mut o);
        assert_eq!(&obs[1][4 * 18..5 * 18], &o[..], "step {t}");
    }
    assert!(
        one.iter().any(|s| s.2[0]),
        "episodes ended and reset automatically"
    );
}

#[test]
fn scripted_experts_beat_random_play() {
    // Cooperative tasks: the scripted team earns far more than random actions.
    for cfg in [
        EnvConfig::paper(Scenario::Spread),
        EnvConfig::mpe2(Scenario::Spread),
        EnvConfig::paper(Scenario::SpeakerListener),
        EnvConfig::mpe2(Scenario::SpeakerListener).continuous(true),
        EnvConfig::mpe2(Scenario::Reference),
    ] {
        let s = mean_return(cfg.clone(), true, 30, 11);
        let r = mean_return(cfg.clone(), false, 30, 11);
        assert!(
            s[0] > r[0] + 0.5 * r[0].abs(),
            "{}: scripted {s:?} vs random {r:?}",
            cfg.game_name()
        );
    }
    // Predator-prey: scripted predators catch the random prey more often than random predators.
    let mut cfg = EnvConfig::mpe2(Scenario::Tag);
    cfg.max_steps = 50;
    let s = mean_return(cfg.clone(), true, 30, 3);
    let r = mean_return(cfg, false, 30, 3);
    assert!(
        s[0] > 2.0 * r[0].max(1.0),
        "predators: scripted {s:?} vs random {r:?}"
    );
}

#[test]
fn rendering_draws_entities_in_their_colors() {
    let mut env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Spread)).unwrap();
    env.reset(&mut stream_rng(4, 0));
    env.world_mut().entities[0].pos = [0.0, 0.0];
    let f = envs::render::draw(env.world(), 200, None);
    assert_eq!(f.rgb.len(), 200 * 200 * 3);
    let (x, y) = (100, 100);
    let p = (y * 200 + x) * 3;
    // Agent color (0.35, 0.35, 0.85) at the centre, white in a corner.
    assert_eq!(&f.rgb[p..p + 3], &[89, 89, 217]);
    // Nothing is drawn where no entity is: move everything away from the top-left corner.
    for e in &mut env.world_mut().entities {
        e.pos = [e.pos[0].abs() * 0.5, e.pos[1].abs() * 0.5];
    }
    let f = envs::render::draw(env.world(), 200, None);
    assert_eq!(&f.rgb[..3], &[255, 255, 255]);
}

#[test]
fn unknown_names_are_clear_errors() {
    let e = ParticleEnv::from_names("simple_spred", "mpe2")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("simple_spred") && e.contains("simple_spread"),
        "{e}"
    );
    let e = ParticleEnv::from_names("simple_spread", "v2")
        .unwrap_err()
        .to_string();
    assert!(e.contains("mpe2") && e.contains("paper"), "{e}");
    assert!(ParticleEnv::from_names("cooperative_navigation", "paper").is_ok());
    let mut env = ParticleEnv::new(EnvConfig::mpe2(Scenario::Spread)).unwrap();
    env.reset(&mut stream_rng(0, 0));
    let mut r = [0.0; 3];
    assert!(matches!(
        env.step(&[0.0, 5.0, 1.0], &mut r),
        Err(GameError::InvalidAction { agent: 1, .. })
    ));
    assert!(matches!(
        env.step(&[0.0, 1.0], &mut r),
        Err(GameError::JointActionLength { .. })
    ));
}

/// The scripted keep-away adversary of the paper variant weighs 5: it steers with the velocity
/// an action really adds (force over mass). At rest with its goal 0.09 ahead, pushing on brings
/// it to rest 0.04 ahead (0.05 off) where waiting leaves it 0.09 off; steering as if it weighed
/// 1 predicted a rest point 0.2 ahead and it waited for ever.
#[test]
fn the_heavy_scripted_adversary_steers_with_its_real_acceleration() {
    let env = ParticleEnv::new(EnvConfig::paper(Scenario::Push)).unwrap();
    assert_eq!(env.world().entities[0].mass, 5.0);
    let pol = ScriptedPolicy::new(&env);
    // vel, goal (relative), two landmarks, the other agent.
    let obs = [0.0, 0.0, 0.09, 0.0, 0.5, 0.5, -0.5, -0.5, 0.3, 0.3];
    let mut a = [0.0f32];
    pol.act(0, &obs, &mut a);
    assert_eq!(a[0], 2.0, "+x");
}

/// The assignment of landmarks to agents is the cheapest injective one, also when there are
/// more landmarks than agents (some then stay uncovered) and more agents than landmarks.
#[test]
fn landmarks_are_assigned_at_least_total_cost() {
    use envs::scripted::assign;
    // Two agents, three landmarks: landmark 1 is nobody's best; the cheapest covers 2 and 0.
    assert_eq!(
        assign(&[vec![5.0, 5.0, 0.0], vec![1.0, 1.0, 9.0]]),
        vec![Some(2), Some(0)]
    );
    // As many as landmarks: a permutation.
    assert_eq!(
        assign(&[vec![1.0, 0.0], vec![0.0, 1.0]]),
        vec![Some(1), Some(0)]
    );
    // More agents than landmarks: one agent is left without.
    assert_eq!(
        assign(&[vec![3.0], vec![1.0], vec![2.0]]),
        vec![None, Some(0), None]
    );
}

/// A game state saved before participation had its own stream (no stream in it) still loads:
/// the saved episode continues, and the next participation draw seeds a stream.
#[test]
fn extensive_states_saved_without_a_participation_stream_still_load() {
    let g = envs::amagail::AmagailGame::StochasticNavigation;
    let mut a =
        mg_core::ExtensiveGame::new(ParticleEnv::new(g.env_config()).unwrap(), g.player()).unwrap();
    let mut rng = mg_core::stream_rng(5, 0);
    a.reset(&mut rng);
    let saved = a.save_state().expect("particle games save their state");
    type Now = (
        Vec<u8>,
        mg_core::History,
        Participation,
        Participation,
        Option<mg_core::RngState>,
    );
    let (game, history, current, chose, _): Now = mg_core::decode_state(&saved).unwrap();
    let before = mg_core::encode_state(&(game, history, current, chose)).unwrap();
    let mut b =
        mg_core::ExtensiveGame::new(ParticleEnv::new(g.env_config()).unwrap(), g.player()).unwrap();
    b.load_state(&before).expect("the earlier format loads");
    assert_eq!(b.participation(), a.participation());
    assert!(b.load_state(&[1, 2, 3]).is_err());
}
