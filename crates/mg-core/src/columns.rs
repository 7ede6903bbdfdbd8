//! Demonstrations in their one in-memory layout: flat columns per agent ([`DemoColumns`]), and
//! the checked set a trainer trusts ([`Demonstrations`]), built once from a file, from recorded
//! episodes or from a user's arrays.

use std::ops::Range;

use serde::Serialize;

use crate::demo::{DemoError, DemoHeader, DemoShape, decode_episodes, encode_body};
use crate::traj::{AgentView, check_agent};
use crate::{ActionSpace, AgentTrajectory, Episode, Trajectories};

/// One agent's part of a [`DemoColumns`]: every episode's steps one after another.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentColumns {
    /// `steps × obs_dim` observations.
    pub obs: Vec<f32>,
    /// `episodes × obs_dim`: each episode's observation after its last step.
    pub final_obs: Vec<f32>,
    /// `steps × action width` flat actions (φ where the agent did not act).
    pub actions: Vec<f32>,
    /// `steps` rewards (0 where the agent did not act).
    pub rewards: Vec<f64>,
    /// `steps` participation flags.
    pub acted: Vec<bool>,
}

/// A demonstration set as flat columns: the layout of the `.npz` export, of the Python
/// package's arrays (`episode_len`, then per agent `obs_<i>`, `actions_<i>`, ...) and of
/// [`Demonstrations`]. Episodes are told apart by `episode_len` alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DemoColumns {
    /// Steps of each episode.
    pub episode_len: Vec<usize>,
    /// Per episode: it ended in a terminal state.
    pub terminated: Vec<bool>,
    /// Per episode: it was cut by a time limit.
    pub truncated: Vec<bool>,
    /// Per agent.
    pub agents: Vec<AgentColumns>,
}

impl DemoColumns {
    /// The columns of `set`.
    pub fn of(set: &Trajectories) -> Self {
        let n = set.obs_dims.len();
        let mut agents = vec![AgentColumns::default(); n];
        for ep in &set.episodes {
            for (col, a) in agents.iter_mut().zip(&ep.agents) {
                col.obs.extend_from_slice(&a.obs);
                col.final_obs.extend_from_slice(&a.final_obs);
                col.actions.extend_from_slice(&a.actions);
                col.rewards.extend_from_slice(&a.rewards);
                col.acted.extend_from_slice(&a.acted);
            }
        }
        Self {
            episode_len: set.episodes.iter().map(|e| e.len).collect(),
            terminated: set.episodes.iter().map(|e| e.terminated).collect(),
            truncated: set.episodes.iter().map(|e| e.truncated).collect(),
            agents,
        }
    }

    /// Splits the columns back into the episodes of a set for a game with these sizes, and
    /// checks them. Column lengths that disagree with `episode_len` or the sizes are refused
    /// with the column's name.
    pub fn into_trajectories(
        self,
        game: &str,
        obs_dims: &[usize],
        action_spaces: &[ActionSpace],
    ) -> Result<Trajectories, DemoError> {
        Ok(Demonstrations::from_columns(game, obs_dims, action_spaces, self)?.to_trajectories())
    }
}

/// A demonstration set checked once, in columns: sizes against the game's observation sizes and
/// action spaces, finite numbers, and every action one its space holds (φ where the agent did
/// not act). Built only through [`new`](Self::new), [`from_columns`](Self::from_columns) or
/// [`decode`](Self::decode), so whoever holds one (a trainer) reads it without checking again.
///
/// ```
/// use mg_core::{ActionSpace, AgentColumns, DemoColumns, Demonstrations};
///
/// // One agent, two episodes of 2 and 1 steps, observations of size 1, actions of 3 choices.
/// let agent = AgentColumns {
///     obs: vec![0.0, 1.0, 2.0],
///     final_obs: vec![1.5, 2.5],
///     actions: vec![0.0, 2.0, 1.0],
///     rewards: vec![1.0, 0.0, 0.5],
///     acted: vec![true; 3],
/// };
/// let cols = DemoColumns {
///     episode_len: vec![2, 1],
///     terminated: vec![false, true],
///     truncated: vec![true, false],
///     agents: vec![agent],
/// };
/// let spaces = [ActionSpace::Discrete { n: 3 }];
/// let demos = Demonstrations::from_columns("toy", &[1], &spaces, cols.clone()).unwrap();
/// assert_eq!((demos.episodes(), demos.steps()), (2, 3));
/// assert_eq!(demos.episode_ranges().collect::<Vec<_>>(), vec![0..2, 2..3]);
///
/// // The same set through episodes and back: one layout, no loss.
/// let again = Demonstrations::new(&demos.to_trajectories()).unwrap();
/// assert_eq!(again, demos);
///
/// // An action outside its space is refused, naming where it is.
/// let mut bad = cols;
/// bad.agents[0].actions[2] = 7.0;
/// let err = Demonstrations::from_columns("toy", &[1], &spaces, bad).unwrap_err();
/// assert!(err.to_string().contains("episode 1"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Demonstrations {
    game: String,
    obs_dims: Vec<usize>,
    action_spaces: Vec<ActionSpace>,
    columns: DemoColumns,
    /// Where each episode's steps start in the columns (one more entry: the total).
    starts: Vec<usize>,
}

impl Demonstrations {
    /// The checked columns of recorded episodes.
    pub fn new(set: &Trajectories) -> Result<Self, DemoError> {
        set.validate()?;
        let starts = starts_of(&set.episodes.iter().map(|e| e.len).collect::<Vec<_>>())?;
        Ok(Self {
            game: set.game.clone(),
            obs_dims: set.obs_dims.clone(),
            action_spaces: set.action_spaces.clone(),
            columns: DemoColumns::of(set),
            starts,
        })
    }

    /// Checks `columns` for a game of this name and these sizes. Column lengths that disagree
    /// with `episode_len` or the sizes are refused with the column's name; bad values with the
    /// episode, agent and step.
    pub fn from_columns(
        game: &str,
        obs_dims: &[usize],
        action_spaces: &[ActionSpace],
        columns: DemoColumns,
    ) -> Result<Self, DemoError> {
        let n = obs_dims.len();
        let episodes = columns.episode_len.len();
        if action_spaces.len() != n || columns.agents.len() != n {
            return Err(DemoError::Header(format!(
                "{n} observation sizes, {} action spaces and columns for {} agents",
                action_spaces.len(),
                columns.agents.len()
            )));
        }
        for (what, len) in [
            ("terminated", columns.terminated.len()),
            ("truncated", columns.truncated.len()),
        ] {
            if len != episodes {
                return Err(DemoError::Header(format!(
                    "`{what}` has {len} entries for {episodes} episodes"
                )));
            }
        }
        let starts = starts_of(&columns.episode_len)?;
        let steps = starts[episodes];
        let overflow =
            || DemoError::Header("the columns would need more than usize::MAX values".into());
        for (i, col) in columns.agents.iter().enumerate() {
            let (d, w) = (obs_dims[i], action_spaces[i].width());
            for (what, len, want) in [
                (
                    "obs",
                    col.obs.len(),
                    steps.checked_mul(d).ok_or_else(overflow)?,
                ),
                (
                    "final_obs",
                    col.final_obs.len(),
                    episodes.checked_mul(d).ok_or_else(overflow)?,
                ),
                (
                    "actions",
                    col.actions.len(),
                    steps.checked_mul(w).ok_or_else(overflow)?,
                ),
                ("rewards", col.rewards.len(), steps),
                ("acted", col.acted.len(), steps),
            ] {
                if len != want {
                    return Err(DemoError::Header(format!(
                        "`{what}_{i}` has {len} values, expected {want} ({steps} steps in {episodes} episodes)"
                    )));
                }
            }
        }
        let demos = Self {
            game: game.to_string(),
            obs_dims: obs_dims.to_vec(),
            action_spaces: action_spaces.to_vec(),
            columns,
            starts,
        };
        for e in 0..episodes {
            for i in 0..n {
                let (d, r) = (demos.obs_dims[i], demos.episode(e));
                check_agent(e, i, r.len(), demos.view(e, i), d, demos.action_spaces[i])?;
            }
        }
        Ok(demos)
    }

    /// Decodes and checks a demonstration file's bytes (the format of [`crate::encode_demos`]).
    pub fn decode(bytes: &[u8]) -> Result<(DemoHeader, Self), DemoError> {
        let (header, set) = decode_episodes(bytes)?;
        let demos = Self::new(&set)?;
        Ok((header, demos))
    }

    /// The file bytes of this set ([`crate::encode_demos`]'s format, byte for byte), with the
    /// agents' names and a note on where it came from.
    pub fn encode(&self, agents: &[String], source: &str) -> Result<Vec<u8>, DemoError> {
        let header = DemoHeader {
            game: self.game.clone(),
            agents: agents.to_vec(),
            obs_dims: self.obs_dims.clone(),
            action_spaces: self.action_spaces.clone(),
            episodes: self.episodes() as u64,
            source: source.to_string(),
        };
        let body: Vec<EpisodeRef<'_>> = (0..self.episodes())
            .map(|e| EpisodeRef {
                len: self.episode(e).len(),
                agents: (0..self.obs_dims.len())
                    .map(|i| {
                        let v = self.view(e, i);
                        AgentRef {
                            obs: v.obs,
                            final_obs: v.final_obs,
                            actions: v.actions,
                            rewards: v.rewards,
                            acted: v.acted,
                        }
                    })
                    .collect(),
                terminated: self.columns.terminated[e],
                truncated: self.columns.truncated[e],
            })
            .collect();
        encode_body(&header, &body)
    }

    /// The game's full name, as in its spec.
    pub fn game(&self) -> &str {
        &self.game
    }

    /// Observation size per agent.
    pub fn obs_dims(&self) -> &[usize] {
        &self.obs_dims
    }

    /// Action space per agent.
    pub fn action_spaces(&self) -> &[ActionSpace] {
        &self.action_spaces
    }

    /// What a game must match to learn from this set.
    pub fn shape(&self) -> DemoShape<'_> {
        DemoShape {
            game: &self.game,
            obs_dims: &self.obs_dims,
            action_spaces: &self.action_spaces,
        }
    }

    /// The columns.
    pub fn columns(&self) -> &DemoColumns {
        &self.columns
    }

    /// Number of episodes.
    pub fn episodes(&self) -> usize {
        self.columns.episode_len.len()
    }

    /// Number of steps over all episodes.
    pub fn steps(&self) -> usize {
        self.starts[self.episodes()]
    }

    /// Episode `e`'s steps in the columns.
    pub fn episode(&self, e: usize) -> Range<usize> {
        self.starts[e]..self.starts[e + 1]
    }

    /// Every episode's steps in the columns, in order.
    pub fn episode_ranges(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        (0..self.episodes()).map(|e| self.episode(e))
    }

    /// Agent `i`'s return in episode `e` (its rewards over the steps it acted).
    pub fn episode_return(&self, e: usize, i: usize) -> f64 {
        let a = &self.columns.agents[i];
        self.episode(e)
            .filter(|&t| a.acted[t])
            .map(|t| a.rewards[t])
            .sum()
    }

    /// The set as episodes (the layout of recordings and of the file's body).
    pub fn to_trajectories(&self) -> Trajectories {
        Trajectories {
            game: self.game.clone(),
            obs_dims: self.obs_dims.clone(),
            action_spaces: self.action_spaces.clone(),
            episodes: (0..self.episodes())
                .map(|e| Episode {
                    len: self.episode(e).len(),
                    agents: (0..self.obs_dims.len())
                        .map(|i| {
                            let v = self.view(e, i);
                            AgentTrajectory {
                                obs: v.obs.to_vec(),
                                final_obs: v.final_obs.to_vec(),
                                actions: v.actions.to_vec(),
                                rewards: v.rewards.to_vec(),
                                acted: v.acted.to_vec(),
                            }
                        })
                        .collect(),
                    terminated: self.columns.terminated[e],
                    truncated: self.columns.truncated[e],
                })
                .collect(),
        }
    }

    /// Agent `i`'s part of episode `e` (the column lengths are checked on construction).
    fn view(&self, e: usize, i: usize) -> AgentView<'_> {
        let (r, a) = (self.episode(e), &self.columns.agents[i]);
        let (d, w) = (self.obs_dims[i], self.action_spaces[i].width());
        AgentView {
            obs: &a.obs[r.start * d..r.end * d],
            final_obs: &a.final_obs[e * d..(e + 1) * d],
            actions: &a.actions[r.start * w..r.end * w],
            rewards: &a.rewards[r.clone()],
            acted: &a.acted[r],
        }
    }
}

/// Each episode's first step, and the total after them.
fn starts_of(lens: &[usize]) -> Result<Vec<usize>, DemoError> {
    let mut starts = Vec::with_capacity(lens.len() + 1);
    let mut at = 0usize;
    starts.push(0);
    for &l in lens {
        at = at
            .checked_add(l)
            .ok_or_else(|| DemoError::Header("the episodes' lengths overflow".into()))?;
        starts.push(at);
    }
    Ok(starts)
}

/// An episode of the file's body, borrowed from the columns: serialized exactly as
/// [`Episode`] (the same fields in the same order; a slice encodes as a `Vec`).
#[derive(Serialize)]
struct EpisodeRef<'a> {
    len: usize,
    agents: Vec<AgentRef<'a>>,
    terminated: bool,
    truncated: bool,
}

/// One agent's part of an [`EpisodeRef`], serialized exactly as [`AgentTrajectory`].
#[derive(Serialize)]
struct AgentRef<'a> {
    obs: &'a [f32],
    final_obs: &'a [f32],
    actions: &'a [f32],
    rewards: &'a [f64],
    acted: &'a [bool],
}
