//! Reading and writing profile files.

use std::path::Path;

use super::ProfileError;
use super::model::{PROFILE_FORMAT, Profile};

/// Loads a profile file; errors name the file, line and column.
pub fn load(path: &Path) -> Result<Profile, ProfileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ProfileError::File {
        path: shown.clone(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        },
    })?;
    parse(&text, &shown)
}

pub fn parse(text: &str, path: &str) -> Result<Profile, ProfileError> {
    // Check the format tag first so that a file of another kind (or a newer
    // profile version) gets a message about that rather than about a field.
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ProfileError::File {
        path: path.to_string(),
        message: format!(
            "line {}, column {}: not valid JSON: {e}",
            e.line(),
            e.column()
        ),
    })?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(PROFILE_FORMAT) => {}
        Some(other) => {
            return Err(ProfileError::File {
                path: path.to_string(),
                message: format!(
                    "unsupported profile format `{other}`; expected `{PROFILE_FORMAT}`"
                ),
            });
        }
        None => {
            return Err(ProfileError::File {
                path: path.to_string(),
                message: format!("not an assay profile (no \"format\": \"{PROFILE_FORMAT}\")"),
            });
        }
    }
    serde_json::from_str(text).map_err(|e| ProfileError::File {
        path: path.to_string(),
        message: format!("line {}, column {}: {e}", e.line(), e.column()),
    })
}

pub fn to_json(profile: &Profile) -> String {
    // Serializing plain data structures cannot fail.
    serde_json::to_string_pretty(profile).unwrap_or_default()
}

/// Whether `path` holds a saved profile rather than data: a `.json` file
/// whose first key is `"format"`, as `assay profile` writes it. (NDJSON data
/// rows may also be `.json`; their first key is a column.) Only the first
/// bytes are read.
pub fn looks_like_profile(path: &Path) -> bool {
    use std::io::Read;
    if path.extension().and_then(|e| e.to_str()) != Some("json") {
        return false;
    }
    let mut head = [0u8; 256];
    let Ok(n) = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) else {
        return false;
    };
    let text = String::from_utf8_lossy(&head[..n]);
    text.trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"format\""))
}
