//! Values that must never be printed: they redact themselves in `Debug` and
//! `Display`, and are read only through an explicit `expose`.

use std::fmt;

/// Defines a string newtype that prints as `<redacted>`.
macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself. Call only where it is sent on the wire.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
    };
}

secret_string!(
    /// A signed export URL: anyone holding it can download the export.
    ExportLink
);
secret_string!(
    /// A bearer token (`POAPK_...`).
    Token
);
secret_string!(
    /// A portal user's password.
    Password
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let link = ExportLink::new("https://x/export?sig=SECRET");
        let token = Token::new("POAPK_SECRET");
        let pw = Password::new("SECRET");
        for shown in [
            format!("{link:?} {link} {link:#?}"),
            format!("{token:?} {token}"),
            format!("{pw:?} {pw}"),
        ] {
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("redacted"), "{shown}");
        }
        assert_eq!(token.expose(), "POAPK_SECRET");
    }
}
