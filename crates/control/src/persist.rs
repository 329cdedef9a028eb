//! What a restarted shoal must remember: instance counts changed by `scale`. Written atomically
//! (temp file + rename) so a crash never leaves half a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `<data_dir>/state.json`.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedState {
    /// Per service: the count `scale` set, and the spec's `desired` at that moment. A restart
    /// resumes the saved count only while the spec still says the same, so editing the spec wins.
    #[serde(default)]
    pub desired: BTreeMap<String, SavedDesired>,
}

/// One service's remembered count.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct SavedDesired {
    /// The spec's `instances.desired` when the count was saved.
    pub spec_desired: u32,
    /// The count in force.
    pub desired: u32,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("state.json")
}

impl SavedState {
    /// Loads the state; a missing or unreadable file is an empty state (logged, never fatal).
    pub fn load(data_dir: &Path) -> Self {
        match std::fs::read(path(data_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ignoring unreadable state.json");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Saves atomically.
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        let tmp = data_dir.join("state.json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path(data_dir))
    }
}
