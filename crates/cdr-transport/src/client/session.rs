//! The session: logging in, caching the token, and logging in again when
//! the server rejects it, once for all the requests that were rejected with
//! the same token. Refused credentials are remembered, so that no storm of
//! failed logins can lock the account.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use cdr_core::Token;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use super::answer::status_error;
use super::scrub::server_text;
use super::{Client, TokenState, config_error};
use crate::body::{read_capped, read_limited};
use crate::config::Auth;
use crate::error::{AuthProblem, TransportError};
use crate::stats::bump;

impl TokenState {
    fn check_refused(&self) -> Result<(), TransportError> {
        match &self.refused {
            Some((endpoint, problem)) => Err(TransportError::Auth {
                endpoint: endpoint.clone(),
                problem: problem.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Remembers a refused login; passes every error through.
    fn note(&mut self, e: TransportError) -> TransportError {
        if let TransportError::Auth { endpoint, problem } = &e
            && matches!(problem, AuthProblem::BadCredentials(_))
        {
            self.refused = Some((endpoint.clone(), problem.clone()));
        }
        e
    }
}

#[derive(Serialize)]
struct LoginBody<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: Option<String>,
}

impl Client {
    /// Logs in now, to check the credentials before work starts, and caches the
    /// token. Bad credentials fail at once with [`TransportError::Auth`]. With
    /// a static token there is nothing to check before the first query, and
    /// this does nothing.
    pub async fn login(&self) -> Result<(), TransportError> {
        if let Auth::Login { .. } = &self.inner.auth {
            let mut state = self.inner.token.lock().await;
            state.check_refused()?;
            let token = self.login_request().await.map_err(|e| state.note(e))?;
            state.generation += 1;
            state.token = Some(token);
        }
        Ok(())
    }

    /// The token to send and its generation, logging in when none is cached.
    pub(super) async fn token(&self) -> Result<(Token, u64), TransportError> {
        match &self.inner.auth {
            Auth::Token(t) => Ok((t.clone(), 0)),
            Auth::Login { .. } => {
                let mut state = self.inner.token.lock().await;
                if let Some(t) = &state.token {
                    return Ok((t.clone(), state.generation));
                }
                state.check_refused()?;
                let token = self.login_request().await.map_err(|e| state.note(e))?;
                state.generation += 1;
                state.token = Some(token.clone());
                Ok((token, state.generation))
            }
        }
    }

    /// Replaces the token of generation `rejected`, unless a concurrent request
    /// already did.
    pub(super) async fn relogin(&self, rejected: u64) -> Result<(), TransportError> {
        let mut state = self.inner.token.lock().await;
        if state.generation != rejected && state.token.is_some() {
            return Ok(());
        }
        state.check_refused()?;
        state.token = None;
        let token = self.login_request().await.map_err(|e| state.note(e))?;
        state.generation += 1;
        state.token = Some(token);
        Ok(())
    }

    /// One login, with retries for transient failures but none for refused
    /// credentials.
    async fn login_request(&self) -> Result<Token, TransportError> {
        let Auth::Login { email, password } = &self.inner.auth else {
            return Err(config_error("login needs an email and a password"));
        };
        let body = serde_json::to_vec(&LoginBody {
            email,
            password: password.expose(),
        })
        .map_err(|_| config_error("cannot encode the login request"))?;
        let body = Bytes::from(body);
        let endpoint = &self.inner.login_endpoint;
        let span = tracing::info_span!("tsg_login", endpoint = %endpoint);
        async {
            let mut retrier = self.retrier(endpoint);
            loop {
                match self.login_once(body.clone()).await {
                    Ok(token) => {
                        tracing::debug!("logged in");
                        return Ok(token);
                    }
                    Err(e) => retrier.after_failure_with(e, self.answered(false)).await?,
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn login_once(&self, body: Bytes) -> Result<Token, TransportError> {
        let inner = &*self.inner;
        let endpoint = inner.login_endpoint.as_str();
        bump(&self.counters.logins, 1);
        if let Some(throttle) = &inner.throttle {
            throttle.pace().await;
        }
        let response = self
            .post_json(&inner.login_url, endpoint, None, body)
            .await?;
        let status = response.status();
        let headers = response.headers().clone();
        if status.is_success() {
            let bytes = read_limited(response, inner.limits.max_page_bytes, endpoint).await?;
            inner.login_answered.store(true, Ordering::Relaxed);
            // serde's messages may quote values, so only the position is kept.
            let answer: LoginAnswer =
                serde_json::from_slice(&bytes).map_err(|e| TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: format!(
                        "the login answer is not the expected JSON ({:?} error at line {} column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                })?;
            match answer.token {
                Some(t) if !t.is_empty() => {
                    let token = Token::new(t);
                    self.note_token(&token);
                    Ok(token)
                }
                _ => Err(TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: "the login answer holds no `token` string".into(),
                }),
            }
        } else {
            let bytes = read_capped(response, inner.limits.max_error_body_bytes).await;
            let detail = self.scrub(&server_text(&bytes));
            if matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ) {
                Err(TransportError::Auth {
                    endpoint: endpoint.to_string(),
                    problem: AuthProblem::BadCredentials(detail),
                })
            } else {
                Err(status_error(endpoint, status, &headers, detail))
            }
        }
    }
}
