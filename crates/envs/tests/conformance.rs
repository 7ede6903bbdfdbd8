//! Replays the mpe2 recordings in `tests/fixtures/conformance` (exact states and observations).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use envs::conformance::{Outcome, replay_dir, replay_file};

/// The recordings: `$MPE_CONFORMANCE_DIR`, or the crate's own `tests/fixtures/conformance`.
/// They are committed with the code, so a missing folder is a failure.
fn fixtures() -> PathBuf {
    let dir = std::env::var_os("MPE_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance")
        });
    assert!(
        dir.is_dir(),
        "conformance recordings missing at {} (committed under crates/envs/tests/fixtures/conformance; \
         MPE_CONFORMANCE_DIR overrides the folder)",
        dir.display()
    );
    dir
}

#[test]
fn every_recorded_episode_replays_exactly() {
    let dir = fixtures();
    assert!(
        dir.is_dir(),
        "conformance fixtures missing at {}",
        dir.display()
    );
    let sum = replay_dir(&dir).expect("read fixture dir");
    for l in &sum.lines {
        println!("{l}");
    }
    assert!(
        sum.passed >= 30,
        "expected at least 30 fixtures, got {}",
        sum.passed
    );
    assert_eq!(sum.failed, 0, "{:#?}", sum.lines);
}

#[test]
fn a_malformed_fixture_names_the_file_and_key() {
    let dir = std::env::temp_dir().join(format!("mg-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = fixtures().join("simple_push__discrete__random__seed12000.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    v["steps"][3]["actions"]
        .as_object_mut()
        .unwrap()
        .remove("agent_0");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, serde_json::to_string(&v).unwrap()).unwrap();
    let err = replay_file(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("steps[3].actions.agent_0"), "{err}");
    std::fs::write(dir.join("junk.json"), "{ not json").unwrap();
    std::fs::copy(&good, dir.join("ok.json")).unwrap();
    // A perturbed recording fails with the first divergence, and the other files still run.
    let mut w = v.clone();
    w["steps"][3]["actions"]["agent_0"] = serde_json::json!(2);
    w["steps"][3]["actions"]["adversary_0"] = serde_json::json!(1);
    w["steps"][5]["rewards"]["agent_0"] = serde_json::json!(0.5);
    std::fs::write(dir.join("diverge.json"), serde_json::to_string(&w).unwrap()).unwrap();
    let out = replay_file(&dir.join("diverge.json")).unwrap();
    assert!(
        matches!(out, Outcome::Fail(ref d) if d.step >= 4),
        "{out:?}"
    );
    // A recording that holds less of the state than the scenario is an error, not a pass on
    // fewer comparisons: a missing agent, or a message of another length.
    let mut fewer = v.clone();
    fewer["steps"][3]["actions"]["agent_0"] = serde_json::json!(0);
    let mut missing_agent = fewer.clone();
    missing_agent["steps"][0]["state_after"]["agents"]
        .as_array_mut()
        .unwrap()
        .pop();
    let mut short_message = fewer;
    short_message["steps"][0]["state_after"]["agents"][0]["c"] = serde_json::json!([0.0]);
    for (name, w) in [
        ("agents.json", missing_agent),
        ("message.json", short_message),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string(&w).unwrap()).unwrap();
        let err = replay_file(&path).unwrap_err().to_string();
        assert!(err.contains("steps[0].state_after"), "{name}: {err}");
        std::fs::remove_file(&path).unwrap();
    }
    let sum = replay_dir(&dir).unwrap();
    assert_eq!((sum.passed, sum.failed), (1, 3), "{:#?}", sum.lines);
    std::fs::remove_dir_all(&dir).ok();
}

/// mpe2 seeds resets with numpy's PCG64: resetting from the recorded seed must draw the recorded
/// initial state (landmarks and goals for clustered files, whose agents were moved afterwards).
#[test]
fn reset_from_the_recorded_seed_draws_the_recorded_state() {
    use envs::{NumpyRng, ParticleEnv, Scenario};
    use mg_core::MarkovGame;
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let scenario = Scenario::from_name(v["env"].as_str().unwrap()).unwrap();
        let mut env = ParticleEnv::new(envs::EnvConfig::mpe2(scenario)).unwrap();
        let seed = v["seed"].as_u64().unwrap();
        env.reset(&mut NumpyRng::from_seed(u128::from(seed)));
        let clustered = v["clustered"].as_bool().unwrap();
        let init = &v["initial_state"];
        let n = env.world().n_agents;
        let pos = |x: &serde_json::Value| [x[0].as_f64().unwrap(), x[1].as_f64().unwrap()];
        if !clustered {
            for (i, a) in init["agents"].as_array().unwrap().iter().enumerate() {
                assert_eq!(
                    env.world().entities[i].pos,
                    pos(&a["p_pos"]),
                    "{path:?} agent {i}"
                );
            }
        }
        for (j, l) in init["landmarks"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                env.world().entities[n + j].pos,
                pos(&l["p_pos"]),
                "{path:?} landmark {j}"
            );
            let c: Vec<f64> = l["color"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(
                env.world().entities[n + j].color.to_vec(),
                c,
                "{path:?} landmark color {j}"
            );
        }
        let extra = &init["extra"];
        if let Some(g) = extra.get("goal_landmark_index") {
            assert_eq!(env.goals().landmark as u64, g.as_u64().unwrap(), "{path:?}");
        }
        if let Some(g) = extra.get("goal_landmark_index_per_agent") {
            let g: Vec<usize> = g
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(env.goals().landmark_per_agent.to_vec(), g, "{path:?}");
        }
        if !clustered {
            let obs = env.observe_all();
            for (i, name) in v["agents"].as_array().unwrap().iter().enumerate() {
                let want: Vec<f32> = v["initial_observations"][name.as_str().unwrap()]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect();
                assert_eq!(obs[i], want, "{path:?} initial obs of agent {i}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 30);
}
