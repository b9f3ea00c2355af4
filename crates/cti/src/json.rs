//! JSON files read with errors that name the line, column and field path
//! (`serde_json` + `serde_path_to_error`).

use serde::de::DeserializeOwned;

/// Why a JSON document could not be read into the expected type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonError {
    /// Bad syntax or shape.
    Syntax {
        line: usize,
        column: usize,
        path: String,
        message: String,
    },
    /// Larger than the caller's limit.
    TooLarge { len: usize, max: usize },
}

/// Parses a whole document (trailing data is an error) of at most `max_bytes`.
pub(crate) fn parse<T: DeserializeOwned>(json: &str, max_bytes: usize) -> Result<T, JsonError> {
    if json.len() > max_bytes {
        return Err(JsonError::TooLarge {
            len: json.len(),
            max: max_bytes,
        });
    }
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        JsonError::Syntax {
            line: inner.line(),
            column: inner.column(),
            path,
            message: inner.to_string(),
        }
    })?;
    deserializer.end().map_err(|err| JsonError::Syntax {
        line: err.line(),
        column: err.column(),
        path: ".".to_owned(),
        message: err.to_string(),
    })?;
    Ok(value)
}
