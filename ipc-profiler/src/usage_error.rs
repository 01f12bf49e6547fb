//! Errors in what the user asked for: reported in one sentence with exit code 2.

use std::fmt;

/// The command line asks for something that cannot be done (as opposed to a failure while
/// doing it).
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a [`UsageError`] built like `format!`.
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err($crate::usage_error::UsageError(format!($($arg)*)).into())
    };
}
pub(crate) use usage_bail;
