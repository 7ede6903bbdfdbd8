//! The demonstration file format: round trip, every corruption a clear error, never a panic.

#![allow(clippy::unwrap_used)]

use mg_core::*;
use proptest::prelude::*;

fn sample_set() -> (Trajectories, Vec<String>) {
    let spec = GameSpec {
        name: "toy/mpe2".into(),
        agents: vec![
            AgentSpec {
                name: "a".into(),
                obs_dim: 2,
                action_space: ActionSpace::Discrete { n: 3 },
                action_mask: false,
            },
            AgentSpec {
                name: "b".into(),
                obs_dim: 1,
                action_space: ActionSpace::Box {
                    dim: 2,
                    low: 0.0,
                    high: 1.0,
                },
                action_mask: false,
            },
        ],
        max_steps: Some(3),
    };
    let mut set = Trajectories::new(&spec);
    for e in 0..4 {
        let mut ep = Episode::new(&spec, 3);
        for t in 0..3 {
            let x = (e * 3 + t) as f32;
            ep.agents[0].obs.extend([x, -x]);
            ep.agents[0].actions.push((t % 3) as f32);
            ep.agents[0].rewards.push(f64::from(x) * 0.5);
            ep.agents[0].acted.push(true);
            ep.agents[1].obs.push(x * 2.0);
            let acted = t != 1;
            ep.agents[1]
                .actions
                .extend(if acted { [0.25, 0.5] } else { [0.0, 0.0] });
            ep.agents[1].rewards.push(if acted { 1.0 } else { 0.0 });
            ep.agents[1].acted.push(acted);
            ep.len += 1;
        }
        ep.agents[0].final_obs = vec![9.0, 9.0];
        ep.agents[1].final_obs = vec![9.0];
        ep.truncated = true;
        set.episodes.push(ep);
    }
    (set, vec!["a".into(), "b".into()])
}

#[test]
fn demonstrations_round_trip_exactly() {
    let (set, names) = sample_set();
    let bytes = encode_demos(&set, &names, "cargo xtask demos --seed 1").unwrap();
    assert_eq!(&bytes[..8], b"MAGAILDM");
    let (h, back) = decode_demos(&bytes).unwrap();
    assert_eq!(back, set);
    assert_eq!(h.episodes, 4);
    assert_eq!(h.source, "cargo xtask demos --seed 1");
}

#[test]
fn every_corruption_is_a_clear_error() {
    let (set, names) = sample_set();
    let bytes = encode_demos(&set, &names, "").unwrap();
    assert!(matches!(
        decode_demos(&bytes[..bytes.len() - 5]),
        Err(DemoError::Truncated(_))
    ));
    assert!(matches!(
        decode_demos(&bytes[..5]),
        Err(DemoError::Truncated(_))
    ));
    let mut bad = bytes.clone();
    bad[0] = b'X';
    assert!(matches!(decode_demos(&bad), Err(DemoError::Magic { .. })));
    let mut bad = bytes.clone();
    bad[8] = 7;
    assert_eq!(
        decode_demos(&bad).unwrap_err(),
        DemoError::Version { got: 7 }
    );
    let mut nan = set.clone();
    nan.episodes[2].agents[1].obs[1] = f32::NAN;
    assert!(matches!(
        encode_demos(&nan, &names, ""),
        Err(DemoError::Invalid(_))
    ));
    // A NaN smuggled into a file (bypassing the encoder's check) is caught on load.
    let mut raw = bytes.clone();
    let pat = 10.0f32.to_le_bytes(); // agent 1's obs of episode 1, step 2 is 2·5 = 10
    let at = raw.windows(4).position(|w| w == pat).unwrap();
    raw[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(matches!(
        decode_demos(&raw),
        Err(DemoError::Invalid(TrajectoryError::NonFinite { .. }))
    ));
    let err = decode_demos(b"not a demo file at all")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a demonstration file"), "{err}");
}

#[test]
fn demonstrations_for_another_game_are_refused() {
    let (set, names) = sample_set();
    let (h, _) = decode_demos(&encode_demos(&set, &names, "").unwrap()).unwrap();
    let expected = DemoShape {
        game: "toy/paper",
        ..DemoShape::of_header(&h)
    };
    let err = check_demos_for(DemoShape::of_header(&h), expected)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("toy/mpe2") && err.contains("toy/paper"),
        "{err}"
    );
    // Another player function is another game, even on the same Markov game.
    let async_name = DemoShape {
        game: "toy/mpe2+stochastic[0.5]",
        ..DemoShape::of_header(&h)
    };
    assert!(check_demos_for(DemoShape::of_header(&h), async_name).is_err());
    assert!(check_demos_for(DemoShape::of_header(&h), DemoShape::of_trajectories(&set)).is_ok());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = decode_demos(&bytes);
        let mut framed = DEMO_MAGIC.to_vec();
        framed.extend(DEMO_VERSION.to_le_bytes());
        framed.extend(bytes);
        let _ = decode_demos(&framed);
        let _ = Demonstrations::decode(&framed);
    }

    #[test]
    fn corrupted_files_never_panic(pos in 0usize..10_000, val in any::<u8>(), cut in 0usize..10_000) {
        let (set, names) = sample_set();
        let mut bytes = encode_demos(&set, &names, "").unwrap();
        let p = pos % bytes.len();
        bytes[p] = val;
        let _ = decode_demos(&bytes);
        let c = cut % bytes.len();
        let _ = decode_demos(&bytes[..c]);
        let _ = Demonstrations::decode(&bytes);
        let _ = Demonstrations::decode(&bytes[..c]);
    }
}

/// The checked set writes the file's bytes exactly as `encode_demos` does (the run folder's
/// digest hashes them), decodes to itself, and refuses what `decode_demos` refuses.
#[test]
fn a_checked_set_encodes_the_same_bytes_and_decodes_to_itself() {
    let (set, names) = sample_set();
    let demos = Demonstrations::new(&set).unwrap();
    let bytes = encode_demos(&set, &names, "here").unwrap();
    assert_eq!(demos.encode(&names, "here").unwrap(), bytes);
    let (h, back) = Demonstrations::decode(&bytes).unwrap();
    assert_eq!((h.agents, h.source.as_str()), (names, "here"));
    assert_eq!(back, demos);
    assert_eq!(back.to_trajectories(), set);
    assert_eq!((back.episodes(), back.steps()), (4, 12));
    assert_eq!(back.shape(), DemoShape::of_trajectories(&set));
    let returns: Vec<f64> = (0..4).map(|e| back.episode_return(e, 1)).collect();
    let want: Vec<f64> = set.episodes.iter().map(|e| e.returns()[1]).collect();
    assert_eq!(returns, want);
    let mut bad = set.clone();
    bad.episodes[2].agents[0].rewards[1] = f64::INFINITY;
    let err = Demonstrations::new(&bad).unwrap_err().to_string();
    assert!(
        err.contains("episode 2") && err.contains("rewards"),
        "{err}"
    );
    assert!(Demonstrations::decode(&bytes[..bytes.len() - 3]).is_err());
}

/// Columns (the `.npz` and Python layout) hold the same set, and lengths that disagree with
/// `episode_len` are refused by column name.
#[test]
fn columns_round_trip_and_refuse_bad_lengths() {
    let (set, _) = sample_set();
    let cols = DemoColumns::of(&set);
    assert_eq!(cols.episode_len, vec![3; 4]);
    assert_eq!(cols.agents[0].obs.len(), 12 * 2);
    assert_eq!(cols.agents[1].actions.len(), 12 * 2);
    assert_eq!(cols.agents[1].final_obs, vec![9.0; 4]);
    let back = cols
        .clone()
        .into_trajectories(&set.game, &set.obs_dims, &set.action_spaces)
        .unwrap();
    assert_eq!(back, set);

    let mut short = cols.clone();
    short.agents[1].rewards.pop();
    let err = short
        .into_trajectories(&set.game, &set.obs_dims, &set.action_spaces)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rewards_1") && err.contains("11"), "{err}");
    let mut flags = cols.clone();
    flags.terminated.push(false);
    let err = flags
        .into_trajectories(&set.game, &set.obs_dims, &set.action_spaces)
        .unwrap_err()
        .to_string();
    assert!(err.contains("terminated"), "{err}");
    let mut nan = cols;
    nan.agents[0].obs[3] = f32::NAN;
    assert!(matches!(
        nan.into_trajectories(&set.game, &set.obs_dims, &set.action_spaces),
        Err(DemoError::Invalid(_))
    ));
}
