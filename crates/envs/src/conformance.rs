//! Replays episodes recorded from mpe2 (`crates/envs/tests/fixtures/conformance/FORMAT.md`) and compares states and
//! observations exactly and rewards as the spec says (exactly, or within 1e-12 for simple_tag,
//! whose prey boundary penalty uses numpy's SIMD `exp`).

use std::path::Path;

use mg_core::{ActionSpace, MarkovGame};
use serde_json::Value;
use thiserror::Error;

use crate::config::{EnvConfig, Scenario, Variant};
use crate::particle::{Goals, ParticleEnv};

/// A fixture that cannot be read.
#[derive(Debug, Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{file}: not valid JSON: {source}")]
    Json {
        /// The file.
        file: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A key is missing or has the wrong type.
    #[error("{file}: key `{key}`: {problem}")]
    Key {
        /// The file.
        file: String,
        /// The JSON path of the key.
        key: String,
        /// What is wrong.
        problem: String,
    },
}

/// The first place where the replay differs from the recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Step index (0 = the initial observations).
    pub step: usize,
    /// Agent name.
    pub agent: String,
    /// What differs (`obs[3]`, `p_pos[0]`, `reward`, ...).
    pub field: String,
    /// Recorded value.
    pub expected: f64,
    /// Replayed value.
    pub got: f64,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {}, agent {}, {}: expected {:e}, got {:e}",
            self.step, self.agent, self.field, self.expected, self.got
        )
    }
}

/// Outcome of replaying one fixture.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Everything matched; counts of compared values.
    Pass {
        /// Steps replayed.
        steps: usize,
    },
    /// The first divergence.
    Fail(Divergence),
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, key: &str, problem: &str) -> FixtureError {
        FixtureError::Key {
            file: self.file.to_string(),
            key: key.to_string(),
            problem: problem.to_string(),
        }
    }
    fn get<'v>(&self, v: &'v Value, key: &str, path: &str) -> Result<&'v Value, FixtureError> {
        v.get(key)
            .ok_or_else(|| self.err(&format!("{path}{key}"), "missing"))
    }
    fn f64(&self, v: &Value, key: &str, path: &str) -> Result<f64, FixtureError> {
        self.get(v, key, path)?
            .as_f64()
            .ok_or_else(|| self.err(&format!("{path}{key}"), "expected a number"))
    }
    fn arr<'v>(&self, v: &'v Value, key: &str, path: &str) -> Result<&'v [Value], FixtureError> {
        self.get(v, key, path)?
            .as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.err(&format!("{path}{key}"), "expected an array"))
    }
    fn nums(&self, v: &Value, key: &str, path: &str) -> Result<Vec<f64>, FixtureError> {
        self.arr(v, key, path)?
            .iter()
            .map(|x| {
                x.as_f64()
                    .ok_or_else(|| self.err(&format!("{path}{key}"), "expected numbers"))
            })
            .collect()
    }
    fn vec2(&self, v: &Value, key: &str, path: &str) -> Result<[f64; 2], FixtureError> {
        let n = self.nums(v, key, path)?;
        if n.len() != 2 {
            return Err(self.err(&format!("{path}{key}"), "expected 2 numbers"));
        }
        Ok([n[0], n[1]])
    }
    fn usize(&self, v: &Value, key: &str, path: &str) -> Result<usize, FixtureError> {
        self.get(v, key, path)?
            .as_u64()
            .map(|x| x as usize)
            .ok_or_else(|| self.err(&format!("{path}{key}"), "expected a non-negative integer"))
    }
}

fn diverge(step: usize, agent: &str, field: String, expected: f64, got: f64) -> Outcome {
    Outcome::Fail(Divergence {
        step,
        agent: agent.to_string(),
        field,
        expected,
        got,
    })
}

/// Replays the fixture file at `path`.
pub fn replay_file(path: &Path) -> Result<Outcome, FixtureError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| FixtureError::Io {
        file: file.clone(),
        source,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|source| FixtureError::Json {
        file: file.clone(),
        source,
    })?;
    replay(&file, &v)
}

/// Replays a parsed fixture; `file` names it in errors.
pub fn replay(file: &str, v: &Value) -> Result<Outcome, FixtureError> {
    let cx = Ctx { file };
    let env_name = cx
        .get(v, "env", "")?
        .as_str()
        .ok_or_else(|| cx.err("env", "expected a string"))?;
    let scenario = Scenario::from_name(env_name).map_err(|e| cx.err("env", &e.to_string()))?;
    let params = cx.get(v, "params", "")?;
    let continuous = cx
        .get(params, "continuous_actions", "params.")?
        .as_bool()
        .ok_or_else(|| cx.err("params.continuous_actions", "expected a boolean"))?;
    let mut cfg = EnvConfig::new(scenario, Variant::Mpe2).continuous(continuous);
    cfg.max_steps = cx.usize(params, "max_cycles", "params.")?;
    let mut env = ParticleEnv::new(cfg).map_err(|e| cx.err("params", &e.to_string()))?;
    let names: Vec<String> = cx
        .arr(v, "agents", "")?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| cx.err("agents", "expected agent names"))?;
    let spec = env.spec().clone();
    let spec_names: Vec<&str> = spec.agents.iter().map(|a| a.name.as_str()).collect();
    if names != spec_names {
        return Err(cx.err(
            "agents",
            &format!("expected {spec_names:?} for {env_name}, found {names:?}"),
        ));
    }
    let n = names.len();

    // Initial state.
    let init = cx.get(v, "initial_state", "")?;
    let agents = cx.arr(init, "agents", "initial_state.")?;
    let landmarks = cx.arr(init, "landmarks", "initial_state.")?;
    if agents.len() != n || landmarks.len() != env.world().landmarks().len() {
        return Err(cx.err(
            "initial_state",
            "agent or landmark count differs from the scenario",
        ));
    }
    let extra = cx.get(init, "extra", "initial_state.")?;
    let mut goals = Goals::default();
    match scenario {
        Scenario::Push | Scenario::Adversary | Scenario::SpeakerListener => {
            goals.landmark = cx.usize(extra, "goal_landmark_index", "initial_state.extra.")?;
        }
        Scenario::Reference => {
            let g = cx.arr(
                extra,
                "goal_landmark_index_per_agent",
                "initial_state.extra.",
            )?;
            let g: Vec<usize> = g
                .iter()
                .filter_map(|x| x.as_u64().map(|x| x as usize))
                .collect();
            if g.len() != 2 {
                return Err(cx.err(
                    "initial_state.extra.goal_landmark_index_per_agent",
                    "expected 2 integers",
                ));
            }
            goals.landmark_per_agent = [g[0], g[1]];
        }
        _ => {}
    }
    if goals.landmark >= env.world().landmarks().len()
        || goals
            .landmark_per_agent
            .iter()
            .any(|&g| g >= env.world().landmarks().len())
    {
        return Err(cx.err("initial_state.extra", "goal index out of range"));
    }
    let dim_c = env.world().dim_c;
    {
        let w = env.world_mut();
        for (i, a) in agents.iter().enumerate() {
            let path = format!("initial_state.agents[{i}].");
            w.entities[i].pos = cx.vec2(a, "p_pos", &path)?;
            w.entities[i].vel = cx.vec2(a, "p_vel", &path)?;
            let c = cx.nums(a, "c", &path)?;
            if c.len() != dim_c {
                return Err(cx.err(&format!("{path}c"), "wrong length"));
            }
            w.comm[i * dim_c..(i + 1) * dim_c].copy_from_slice(&c);
        }
        for (j, l) in landmarks.iter().enumerate() {
            let path = format!("initial_state.landmarks[{j}].");
            w.entities[n + j].pos = cx.vec2(l, "p_pos", &path)?;
            w.entities[n + j].vel = cx.vec2(l, "p_vel", &path)?;
        }
    }
    env.set_goals(goals);

    let compare_obs = |env: &ParticleEnv, obs: &Value, step: usize, path: &str| {
        for (i, name) in names.iter().enumerate() {
            let want = cx.nums(obs, name, path)?;
            let got = {
                let mut o = vec![0.0f32; spec.obs_dim(i)];
                env.observe(i, &mut o);
                o
            };
            if want.len() != got.len() {
                return Ok(Some(diverge(
                    step,
                    name,
                    "obs length".into(),
                    want.len() as f64,
                    got.len() as f64,
                )));
            }
            for (k, (&w, &g)) in want.iter().zip(&got).enumerate() {
                if (w as f32).to_bits() != g.to_bits() {
                    return Ok(Some(diverge(
                        step,
                        name,
                        format!("obs[{k}]"),
                        w,
                        f64::from(g),
                    )));
                }
            }
        }
        Ok::<_, FixtureError>(None)
    };
    if let Some(f) = compare_obs(
        &env,
        cx.get(v, "initial_observations", "")?,
        0,
        "initial_observations.",
    )? {
        return Ok(f);
    }

    let steps = cx.arr(v, "steps", "")?;
    let reward_tol = if scenario == Scenario::Tag {
        1e-12
    } else {
        0.0
    };
    let mut joint = Vec::with_capacity(spec.joint_action_width());
    let mut rewards = vec![0.0; n];
    for (s, st) in steps.iter().enumerate() {
        let path = format!("steps[{s}].");
        let acts = cx.get(st, "actions", &path)?;
        joint.clear();
        for (i, name) in names.iter().enumerate() {
            let apath = format!("{path}actions.");
            match spec.action_space(i) {
                ActionSpace::Discrete { .. } => {
                    joint.push(cx.usize(acts, name, &apath)? as f32);
                }
                ActionSpace::Box { .. } => {
                    // Recorded as the exact f64 of float32 values.
                    joint.extend(cx.nums(acts, name, &apath)?.iter().map(|&x| x as f32));
                }
            }
        }
        let status = env
            .step(&joint, &mut rewards)
            .map_err(|e| cx.err(&format!("{path}actions"), &e.to_string()))?;
        let step = s + 1;
        // State.
        let after = cx.arr(
            cx.get(st, "state_after", &path)?,
            "agents",
            &format!("{path}state_after."),
        )?;
        // A recording with fewer (or more) agents, or a message of another length, must not
        // pass by being compared on less than the whole state.
        if after.len() != n {
            return Err(cx.err(
                &format!("{path}state_after.agents"),
                &format!("{} agents recorded, the scenario has {n}", after.len()),
            ));
        }
        for (i, a) in after.iter().enumerate() {
            let apath = format!("{path}state_after.agents[{i}].");
            let e = &env.world().entities[i];
            for (field, want, got) in [
                ("p_pos", cx.vec2(a, "p_pos", &apath)?, e.pos),
                ("p_vel", cx.vec2(a, "p_vel", &apath)?, e.vel),
            ] {
                for d in 0..2 {
                    // Bitwise: the sign of a zero must match too.
                    if want[d].to_bits() != got[d].to_bits() {
                        return Ok(diverge(
                            step,
                            &names[i],
                            format!("{field}[{d}]"),
                            want[d],
                            got[d],
                        ));
                    }
                }
            }
            let c = cx.nums(a, "c", &apath)?;
            if c.len() != env.world().comm_of(i).len() {
                return Err(cx.err(
                    &format!("{apath}c"),
                    &format!(
                        "{} values, the agent's message has {}",
                        c.len(),
                        env.world().comm_of(i).len()
                    ),
                ));
            }
            for (k, (&w, &g)) in c.iter().zip(env.world().comm_of(i)).enumerate() {
                if w != g {
                    return Ok(diverge(step, &names[i], format!("c[{k}]"), w, g));
                }
            }
        }
        if let Some(f) = compare_obs(
            &env,
            cx.get(st, "observations", &path)?,
            step,
            &format!("{path}observations."),
        )? {
            return Ok(f);
        }
        let rw = cx.get(st, "rewards", &path)?;
        for (i, name) in names.iter().enumerate() {
            let want = cx.f64(rw, name, &format!("{path}rewards."))?;
            let got = rewards[i];
            if (want - got).abs() > reward_tol || want.is_nan() != got.is_nan() {
                return Ok(diverge(step, name, "reward".into(), want, got));
            }
        }
        for (key, got) in [
            ("truncations", status.truncated),
            ("terminations", status.terminated),
        ] {
            let flags = cx.get(st, key, &path)?;
            for name in &names {
                let want = cx
                    .get(flags, name, &format!("{path}{key}."))?
                    .as_bool()
                    .ok_or_else(|| cx.err(&format!("{path}{key}.{name}"), "expected a boolean"))?;
                if want != got {
                    return Ok(diverge(
                        step,
                        name,
                        key.into(),
                        f64::from(u8::from(want)),
                        f64::from(u8::from(got)),
                    ));
                }
            }
        }
    }
    Ok(Outcome::Pass { steps: steps.len() })
}

/// Result of a whole directory.
#[derive(Debug, Default)]
pub struct Summary {
    /// One line per file: name and `PASS`, `FAIL ...` or `ERROR ...`.
    pub lines: Vec<String>,
    /// Files that matched.
    pub passed: usize,
    /// Files that diverged or could not be read.
    pub failed: usize,
}

/// Replays every `*.json` file in `dir` (sorted by name); a bad file is reported and the others
/// still run.
pub fn replay_dir(dir: &Path) -> Result<Summary, FixtureError> {
    let rd = std::fs::read_dir(dir).map_err(|source| FixtureError::Io {
        file: dir.display().to_string(),
        source,
    })?;
    let mut files: Vec<_> = rd
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut sum = Summary::default();
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match replay_file(&f) {
            Ok(Outcome::Pass { .. }) => {
                sum.passed += 1;
                sum.lines.push(format!("PASS {name}"));
            }
            Ok(Outcome::Fail(d)) => {
                sum.failed += 1;
                sum.lines.push(format!("FAIL {name}: {d}"));
            }
            Err(e) => {
                sum.failed += 1;
                sum.lines.push(format!("FAIL {name}: {e}"));
            }
        }
    }
    Ok(sum)
}
