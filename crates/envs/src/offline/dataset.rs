//! [`OfflineDataset`]: the transitions of one split as typed vectors, and its safetensors file
//! (`envs/offline-data.md` §4).
//!
//! The file is written by hand instead of with `safetensors::serialize`: that function takes the
//! metadata as a `HashMap`, whose iteration order is random per process, so two runs would write
//! different header bytes and the byte-identity check of §5.1 could not hold. Our header lists
//! tensors and metadata keys in a fixed order; reading goes through the `safetensors` crate, which
//! validates offsets, so the files stay standard (`safetensors.numpy.load_file` reads them).
use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::error::OfflineError;

/// The metadata value of `env_version`: our classic envs are bit-exact with this Gymnasium.
pub const ENV_VERSION: &str = "gymnasium-1.4.0-bitexact";

/// Actions of all transitions, flat.
#[derive(Debug, Clone, PartialEq)]
pub enum Actions {
    /// `[N]` action indices.
    Discrete(Vec<i64>),
    /// `[N * act_dim]` row-major.
    Continuous(Vec<f32>),
}

/// One split: N transitions with the fields of `envs/offline-data.md` §3-§4. Row `t` of a
/// 2-D field is `field[t * dim..(t + 1) * dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct OfflineDataset {
    pub obs_dim: usize,
    /// Components per action: 1 for discrete actions.
    pub act_dim: usize,
    /// `[N * obs_dim]`
    pub observations: Vec<f32>,
    pub actions: Actions,
    /// `[N]`
    pub rewards: Vec<f32>,
    /// `[N * obs_dim]`: the real next observation, also at a terminal or a cut.
    pub next_observations: Vec<f32>,
    /// `[N]` 1 where the task ended (do not bootstrap).
    pub terminals: Vec<u8>,
    /// `[N]` 1 where the time limit or the cut at N ended the episode without a terminal
    /// (bootstrap from `next_observations`).
    pub timeouts: Vec<u8>,
    /// `[N]` episode index within the file, from 0.
    pub episode_id: Vec<i64>,
    /// `[N]` step index within the episode, from 0.
    pub step_in_episode: Vec<i32>,
    /// `[N]` which behaviour policy acted (stage of a mixed split; see metadata `policy_ids`).
    pub policy_id: Vec<u8>,
    /// `[N]` log-probability (density) of the action under the behaviour; continuous actions.
    pub logp: Option<Vec<f32>>,
    /// String metadata (§4): env_id, env_version, split, N, behaviour, eps, seeds, ...
    pub metadata: BTreeMap<String, String>,
}

/// The tensor fields in file order (besides `actions` and `logp`, whose dtype varies).
const FIELDS: [&str; 10] = [
    "observations",
    "actions",
    "rewards",
    "next_observations",
    "terminals",
    "timeouts",
    "episode_id",
    "step_in_episode",
    "policy_id",
    "logp",
];

impl OfflineDataset {
    /// Number of transitions.
    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    pub fn is_discrete(&self) -> bool {
        matches!(self.actions, Actions::Discrete(_))
    }

    /// Observation row `t`.
    pub fn observation(&self, t: usize) -> &[f32] {
        &self.observations[t * self.obs_dim..(t + 1) * self.obs_dim]
    }

    /// Next-observation row `t`.
    pub fn next_observation(&self, t: usize) -> &[f32] {
        &self.next_observations[t * self.obs_dim..(t + 1) * self.obs_dim]
    }

    /// Undiscounted returns of the episodes, in order (a partial last episode included).
    pub fn episode_returns(&self) -> Vec<f64> {
        let mut out: Vec<f64> = Vec::new();
        let mut current = None;
        for (t, &r) in self.rewards.iter().enumerate() {
            if current != Some(self.episode_id[t]) {
                current = Some(self.episode_id[t]);
                out.push(0.0);
            }
            if let Some(last) = out.last_mut() {
                *last += r as f64;
            }
        }
        out
    }

    /// Returns of the episodes that ended by a terminal or the environment's time limit, i.e.
    /// without a partial last episode cut at N (the quantity the reference returns measure).
    /// Needs the metadata key `max_episode_steps` to tell a time limit from the cut.
    pub fn complete_episode_returns(&self) -> Vec<f64> {
        let mut returns = self.episode_returns();
        let limit = self
            .metadata
            .get("max_episode_steps")
            .and_then(|v| v.parse::<i64>().ok());
        if let (Some(last), Some(limit)) = (self.len().checked_sub(1), limit) {
            let ended = self.terminals[last] == 1 || self.step_in_episode[last] as i64 + 1 >= limit;
            if !ended {
                returns.pop();
            }
        }
        returns
    }

    /// Checks that every field has N rows of the right width.
    pub fn validate(&self) -> Result<(), OfflineError> {
        let n = self.len();
        let invalid = |field, reason: String| Err(OfflineError::Invalid { field, reason });
        if self.obs_dim == 0 || self.act_dim == 0 {
            return invalid(
                "observations",
                "obs_dim and act_dim must be at least 1".into(),
            );
        }
        let rows = |field: &'static str, len: usize, width: usize| {
            if len != n * width {
                invalid(
                    field,
                    format!("{len} values for N = {n} rows of width {width}"),
                )
            } else {
                Ok(())
            }
        };
        rows("observations", self.observations.len(), self.obs_dim)?;
        rows(
            "next_observations",
            self.next_observations.len(),
            self.obs_dim,
        )?;
        match &self.actions {
            Actions::Discrete(a) if self.act_dim != 1 => {
                return invalid(
                    "actions",
                    format!(
                        "discrete actions need act_dim 1, got {} ({} values)",
                        self.act_dim,
                        a.len()
                    ),
                )
            }
            Actions::Discrete(a) => rows("actions", a.len(), 1)?,
            Actions::Continuous(a) => rows("actions", a.len(), self.act_dim)?,
        }
        rows("terminals", self.terminals.len(), 1)?;
        rows("timeouts", self.timeouts.len(), 1)?;
        rows("episode_id", self.episode_id.len(), 1)?;
        rows("step_in_episode", self.step_in_episode.len(), 1)?;
        rows("policy_id", self.policy_id.len(), 1)?;
        if let Some(logp) = &self.logp {
            rows("logp", logp.len(), 1)?;
        }
        Ok(())
    }

    /// Writes the dataset as one safetensors file (parent folders are created). The bytes
    /// depend only on the contents: the same dataset gives the same file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), OfflineError> {
        let path = path.as_ref();
        self.validate()?;
        let bytes = self.to_safetensors_bytes();
        let io = |source| OfflineError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        // Write then rename, so an interrupted run never leaves a truncated file behind.
        let tmp = path.with_extension("safetensors.tmp");
        std::fs::write(&tmp, &bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The safetensors encoding: 8-byte little-endian header length, the JSON header padded
    /// with spaces to a multiple of 8, then the tensors back to back.
    pub fn to_safetensors_bytes(&self) -> Vec<u8> {
        let n = self.len();
        let le = |v: &mut Vec<u8>, bytes: &[u8]| v.extend_from_slice(bytes);
        let mut tensors: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = Vec::new();
        let f32s = |x: &[f32]| x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        let i64s = |x: &[i64]| x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
        tensors.push((
            "observations",
            "F32",
            vec![n, self.obs_dim],
            f32s(&self.observations),
        ));
        match &self.actions {
            Actions::Discrete(a) => tensors.push(("actions", "I64", vec![n], i64s(a))),
            Actions::Continuous(a) => {
                tensors.push(("actions", "F32", vec![n, self.act_dim], f32s(a)))
            }
        }
        tensors.push(("rewards", "F32", vec![n], f32s(&self.rewards)));
        tensors.push((
            "next_observations",
            "F32",
            vec![n, self.obs_dim],
            f32s(&self.next_observations),
        ));
        tensors.push(("terminals", "U8", vec![n], self.terminals.clone()));
        tensors.push(("timeouts", "U8", vec![n], self.timeouts.clone()));
        tensors.push(("episode_id", "I64", vec![n], i64s(&self.episode_id)));
        let steps: Vec<u8> = self
            .step_in_episode
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        tensors.push(("step_in_episode", "I32", vec![n], steps));
        tensors.push(("policy_id", "U8", vec![n], self.policy_id.clone()));
        if let Some(logp) = &self.logp {
            tensors.push(("logp", "F32", vec![n], f32s(logp)));
        }
        // Widest dtypes first (as `safetensors::serialize` orders them), so every tensor starts
        // at an offset aligned to its element size and readers can view it without copying.
        let width = |dtype: &str| match dtype {
            "I64" => 8,
            "F32" | "I32" => 4,
            _ => 1,
        };
        tensors.sort_by_key(|(_, dtype, _, _)| std::cmp::Reverse(width(dtype)));
        let mut header = serde_json::Map::new();
        let metadata: serde_json::Map<String, serde_json::Value> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        header.insert("__metadata__".into(), serde_json::Value::Object(metadata));
        let mut offset = 0usize;
        for (name, dtype, shape, data) in &tensors {
            header.insert(
                (*name).to_string(),
                serde_json::json!({
                    "dtype": dtype,
                    "shape": shape,
                    "data_offsets": [offset, offset + data.len()],
                }),
            );
            offset += data.len();
        }
        // serde_json's Map is a BTreeMap (no `preserve_order` feature): keys come out sorted,
        // which is the fixed order byte-identity needs.
        let mut json = serde_json::Value::Object(header).to_string().into_bytes();
        json.resize(json.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(8 + json.len() + offset);
        le(&mut out, &(json.len() as u64).to_le_bytes());
        le(&mut out, &json);
        for (_, _, _, data) in &tensors {
            le(&mut out, data);
        }
        out
    }

    /// Reads a file written by [`OfflineDataset::save`], checking every field's presence,
    /// dtype and shape against `observations`' N.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, OfflineError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| OfflineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_safetensors_bytes(&bytes, path)
    }

    /// [`OfflineDataset::load`] on bytes in memory; `path` only names the source in errors.
    pub fn from_safetensors_bytes(bytes: &[u8], path: &Path) -> Result<Self, OfflineError> {
        let format = |e: safetensors::SafeTensorError| OfflineError::Format {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let tensors = SafeTensors::deserialize(bytes).map_err(format)?;
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(format)?;
        let metadata: BTreeMap<String, String> = header
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let reader = Reader {
            path,
            tensors: &tensors,
        };
        let obs = reader.view("observations")?;
        reader.dtype("observations", &obs, Dtype::F32, "F32")?;
        let (n, obs_dim) = match obs.shape() {
            &[n, d] if d > 0 => (n, d),
            other => return Err(reader.shape("observations", "[N, obs_dim]", other)),
        };
        let actions_view = reader.view("actions")?;
        let (actions, act_dim) = match (actions_view.dtype(), actions_view.shape()) {
            (Dtype::I64, &[rows]) => {
                reader.rows("actions", n, rows)?;
                (Actions::Discrete(i64_values(actions_view.data())), 1)
            }
            (Dtype::F32, &[rows, d]) if d > 0 => {
                reader.rows("actions", n, rows)?;
                (Actions::Continuous(f32_values(actions_view.data())), d)
            }
            (Dtype::I64 | Dtype::F32, other) => {
                return Err(reader.shape("actions", "[N] (i64) or [N, act_dim] (f32)", other))
            }
            (other, _) => {
                return Err(OfflineError::WrongDtype {
                    path: path.to_path_buf(),
                    field: "actions",
                    expected: "I64 or F32",
                    got: format!("{other:?}"),
                })
            }
        };
        let next = reader.view("next_observations")?;
        reader.dtype("next_observations", &next, Dtype::F32, "F32")?;
        if next.shape() != [n, obs_dim] {
            return Err(reader.shape(
                "next_observations",
                &format!("[{n}, {obs_dim}]"),
                next.shape(),
            ));
        }
        let dataset = OfflineDataset {
            obs_dim,
            act_dim,
            observations: f32_values(obs.data()),
            actions,
            rewards: f32_values(reader.column("rewards", n, Dtype::F32, "F32")?.data()),
            next_observations: f32_values(next.data()),
            terminals: reader
                .column("terminals", n, Dtype::U8, "U8")?
                .data()
                .to_vec(),
            timeouts: reader
                .column("timeouts", n, Dtype::U8, "U8")?
                .data()
                .to_vec(),
            episode_id: i64_values(reader.column("episode_id", n, Dtype::I64, "I64")?.data()),
            step_in_episode: reader
                .column("step_in_episode", n, Dtype::I32, "I32")?
                .data()
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            policy_id: reader
                .column("policy_id", n, Dtype::U8, "U8")?
                .data()
                .to_vec(),
            logp: match tensors.tensor("logp") {
                Ok(_) => Some(f32_values(
                    reader.column("logp", n, Dtype::F32, "F32")?.data(),
                )),
                Err(_) => None,
            },
            metadata,
        };
        if let Some(declared) = dataset.metadata.get("N") {
            if declared.parse::<usize>().ok() != Some(n) {
                return Err(OfflineError::Metadata {
                    path: path.to_path_buf(),
                    key: "N",
                    reason: format!("says {declared} but the tensors hold {n} rows"),
                });
            }
        }
        Ok(dataset)
    }

    /// A metadata value, or an error naming the key.
    pub fn meta(&self, key: &'static str) -> Result<&str, OfflineError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| OfflineError::Invalid {
                field: key,
                reason: "metadata key is missing".into(),
            })
    }

    /// The names of the tensor fields a file may hold, in file order.
    pub fn field_names() -> &'static [&'static str] {
        &FIELDS
    }
}

struct Reader<'a> {
    path: &'a Path,
    tensors: &'a SafeTensors<'a>,
}

impl<'a> Reader<'a> {
    fn view(&self, field: &'static str) -> Result<TensorView<'a>, OfflineError> {
        self.tensors
            .tensor(field)
            .map_err(|_| OfflineError::MissingField {
                path: self.path.to_path_buf(),
                field,
            })
    }

    fn dtype(
        &self,
        field: &'static str,
        view: &TensorView<'_>,
        want: Dtype,
        expected: &'static str,
    ) -> Result<(), OfflineError> {
        if view.dtype() == want {
            Ok(())
        } else {
            Err(OfflineError::WrongDtype {
                path: self.path.to_path_buf(),
                field,
                expected,
                got: format!("{:?}", view.dtype()),
            })
        }
    }

    fn shape(&self, field: &'static str, expected: &str, got: &[usize]) -> OfflineError {
        OfflineError::WrongShape {
            path: self.path.to_path_buf(),
            field,
            expected: expected.to_string(),
            got: got.to_vec(),
        }
    }

    fn rows(&self, field: &'static str, n: usize, got: usize) -> Result<(), OfflineError> {
        if got == n {
            Ok(())
        } else {
            Err(OfflineError::LengthMismatch {
                path: self.path.to_path_buf(),
                field,
                n,
                got,
            })
        }
    }

    /// A 1-D field of N values of one dtype.
    fn column(
        &self,
        field: &'static str,
        n: usize,
        want: Dtype,
        expected: &'static str,
    ) -> Result<TensorView<'a>, OfflineError> {
        let view = self.view(field)?;
        self.dtype(field, &view, want, expected)?;
        match view.shape() {
            &[rows] => self.rows(field, n, rows)?,
            other => return Err(self.shape(field, "[N]", other)),
        }
        Ok(view)
    }
}

fn f32_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn i64_values(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect()
}
