//! What may appear in a log line: request paths with a console token in them are masked. (Query
//! strings, which may hold a token, are never logged at all.)

/// The request path as it may appear in a log line: a console token in the path
/// (`/v2.1/os-console-auth-tokens/<token>`) is replaced by `***`.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    const TOKENS: &str = "/os-console-auth-tokens/";
    match path.find(TOKENS) {
        Some(i) => format!("{}***", &path[..i + TOKENS.len()]).into(),
        None => path.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_in_paths_are_masked() {
        assert_eq!(super::loggable_path("/v2.1/os-console-auth-tokens/SeCrEt"), "/v2.1/os-console-auth-tokens/***");
        assert_eq!(super::loggable_path("/v2.1/servers"), "/v2.1/servers");
    }
}
