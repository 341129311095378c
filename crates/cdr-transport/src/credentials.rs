//! Credentials from environment variables, for programs that take them the
//! way `cdr-sink` does: `TSG_TOKEN`, or `TSG_EMAIL` and `TSG_PASSWORD`, each
//! secret also as `TSG_TOKEN_FILE` / `TSG_PASSWORD_FILE` naming a file that
//! holds it (a mounted Kubernetes or Docker secret). Nothing here is read
//! unless the program asks: a [`Client`](crate::Client) takes its [`Auth`]
//! as given.

use cdr_core::{Password, Token};

use crate::config::Auth;

/// Why no credentials could be taken from the environment, as one line that
/// says what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CredentialsError(String);

impl Auth {
    /// Credentials from the process environment: [`Auth::from_vars`] over
    /// `std::env::var`.
    pub fn from_env() -> Result<Auth, CredentialsError> {
        Auth::from_vars(|k| std::env::var(k).ok())
    }

    /// Credentials from `TSG_TOKEN`, or `TSG_EMAIL` + `TSG_PASSWORD`, as `get`
    /// reads them. `TSG_TOKEN_FILE` and `TSG_PASSWORD_FILE` name files that
    /// hold the secret instead; only a trailing line end is dropped from a
    /// file (a password may hold spaces). Setting a secret both ways is
    /// refused; blank values count as unset.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Auth, CredentialsError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let secret = |name: &str| -> Result<Option<String>, CredentialsError> {
            let file_var = format!("{name}_FILE");
            match (non_empty(name), non_empty(&file_var)) {
                (Some(_), Some(_)) => Err(CredentialsError(format!(
                    "both {name} and {file_var} are set: set one"
                ))),
                (Some(v), None) => Ok(Some(v)),
                (None, Some(path)) => {
                    let v = std::fs::read_to_string(path.trim()).map_err(|e| {
                        CredentialsError(format!("{file_var}: cannot read {}: {e}", path.trim()))
                    })?;
                    let v = v.trim_end_matches(['\r', '\n']).to_string();
                    if v.trim().is_empty() {
                        return Err(CredentialsError(format!(
                            "{file_var}: {} is empty",
                            path.trim()
                        )));
                    }
                    Ok(Some(v))
                }
                (None, None) => Ok(None),
            }
        };
        if let Some(token) = secret("TSG_TOKEN")? {
            return Ok(Auth::Token(Token::new(token.trim())));
        }
        match (non_empty("TSG_EMAIL"), secret("TSG_PASSWORD")?) {
            (Some(email), Some(password)) => Ok(Auth::Login {
                email: email.trim().to_string(),
                password: Password::new(password),
            }),
            (Some(_), None) => Err(CredentialsError(
                "TSG_EMAIL is set but TSG_PASSWORD is not: set both (or TSG_PASSWORD_FILE), or TSG_TOKEN".into(),
            )),
            (None, Some(_)) => Err(CredentialsError(
                "TSG_PASSWORD is set but TSG_EMAIL is not: set both, or TSG_TOKEN".into(),
            )),
            (None, None) => Err(CredentialsError(
                "no credentials: set TSG_TOKEN (or TSG_TOKEN_FILE), or TSG_EMAIL and TSG_PASSWORD (or TSG_PASSWORD_FILE)".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(matches!(
            Auth::from_vars(env(&[("TSG_TOKEN", "POAPK_x"), ("TSG_EMAIL", "a")])),
            Ok(Auth::Token(_))
        ));
        assert!(matches!(
            Auth::from_vars(env(&[("TSG_EMAIL", "a@b"), ("TSG_PASSWORD", "p")])),
            Ok(Auth::Login { .. })
        ));
        for (vars, needle) in [
            (&[][..], "no credentials"),
            (&[("TSG_EMAIL", "a@b")][..], "TSG_PASSWORD is not"),
            (&[("TSG_PASSWORD", "p")][..], "TSG_EMAIL is not"),
            (&[("TSG_TOKEN", " ")][..], "no credentials"),
        ] {
            let e = Auth::from_vars(env(vars)).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }

    #[test]
    fn secrets_from_mounted_files() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "POAPK_from_file\n").unwrap();
        let password = dir.path().join("password");
        std::fs::write(&password, " secret with spaces \n").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
        let vars = |pairs: Vec<(&'static str, String)>| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        match Auth::from_vars(vars(vec![("TSG_TOKEN_FILE", path(&token))])) {
            Ok(Auth::Token(t)) => assert_eq!(t.expose(), "POAPK_from_file"),
            other => panic!("{other:?}"),
        }
        match Auth::from_vars(vars(vec![
            ("TSG_EMAIL", "a@b".into()),
            ("TSG_PASSWORD_FILE", path(&password)),
        ])) {
            // Only the line end is dropped: a password may hold spaces.
            Ok(Auth::Login { password, .. }) => {
                assert_eq!(password.expose(), " secret with spaces ")
            }
            other => panic!("{other:?}"),
        }
        for (pairs, needle) in [
            (
                vec![
                    ("TSG_TOKEN", "POAPK_x".to_string()),
                    ("TSG_TOKEN_FILE", path(&token)),
                ],
                "both TSG_TOKEN and TSG_TOKEN_FILE are set",
            ),
            (
                vec![("TSG_TOKEN_FILE", path(&dir.path().join("missing")))],
                "TSG_TOKEN_FILE: cannot read",
            ),
            (vec![("TSG_TOKEN_FILE", path(&empty))], "is empty"),
        ] {
            let e = Auth::from_vars(vars(pairs)).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
