//! Who may see the dashboard of a cluster that has a token: whoever shows the token once, as
//! `?token=` (the link `Executor::dashboard_link` gives, or the login form), and from then on
//! with the cookie that sets; or with `Authorization: Bearer <token>` (Prometheus scrapers).
//! Everyone else gets `401` and the login form. A cluster without a token shows its dashboard
//! to anyone who reaches the port.
//!
//! Depends on axum's request types only; knows nothing of the model.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::{percent_decode_str, utf8_percent_encode, NON_ALPHANUMERIC};

use crate::messages::Token;

/// The cookie that holds the proof of the token.
const COOKIE: &str = "taskforce_dashboard";
const LOGIN_PAGE: &str = include_str!("assets/login.html");

/// What a request must show, if anything.
#[derive(Clone, Default)]
pub(super) struct Access {
    /// The token, and its hex form (what the cookie holds: any token text fits a cookie so).
    token: Option<(Token, String)>,
}

impl Access {
    /// Requests must show `token`, when there is one.
    pub(super) fn new(token: Option<Token>) -> Self {
        let token = token.map(|token| {
            let hex = token.expose().bytes().map(|b| format!("{b:02x}")).collect();
            (token, hex)
        });
        Access { token }
    }

    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some((token, hex)) = &self.token else {
            return true;
        };
        let cookie = header_values(headers, header::COOKIE)
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
            .any(|value| same_secret(value, hex));
        let bearer = header_values(headers, header::AUTHORIZATION)
            .filter_map(|value| value.strip_prefix("Bearer "))
            .any(|value| same_secret(value.trim(), token.expose()));
        cookie || bearer
    }
}

fn header_values(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
}

/// Lets admitted requests through; trades a right `?token=` for the cookie.
pub(super) async fn guard(State(access): State<Access>, request: Request, next: Next) -> Response {
    let Some((token, hex)) = &access.token else {
        return next.run(request).await;
    };
    if let Some(given) = query_token(request.uri().query()) {
        if !same_secret(&given, token.expose()) {
            return refused();
        }
        // Set the cookie and take the token out of the address bar (and the history).
        let cookie = format!("{COOKIE}={hex}; Path=/; HttpOnly; SameSite=Strict");
        let location = without_token(request.uri().path(), request.uri().query());
        return (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, cookie), (header::LOCATION, location)],
        )
            .into_response();
    }
    if access.admits(request.headers()) {
        next.run(request).await
    } else {
        refused()
    }
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        LOGIN_PAGE,
    )
        .into_response()
}

/// The `token` of a query string as a form sends it (`+` for a space, `%XX` escapes).
fn query_token(query: Option<&str>) -> Option<String> {
    let value = query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))?
        .replace('+', " ");
    let text = percent_decode_str(&value).decode_utf8().ok()?;
    Some(text.trim().to_string())
}

/// `path` and `query` without the `token` pair.
fn without_token(path: &str, query: Option<&str>) -> String {
    let rest: Vec<&str> = (query.unwrap_or_default().split('&'))
        .filter(|pair| !pair.is_empty() && !pair.starts_with("token="))
        .collect();
    if rest.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

/// `link` with `token` in its query, for a dashboard that asks for one.
pub fn link_with_token(link: &str, token: &Token) -> String {
    let token = utf8_percent_encode(token.expose(), NON_ALPHANUMERIC);
    format!("{link}?token={token}")
}

/// Compares a secret in time that depends on its length only, not on where it differs.
fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0_u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_token_is_decoded_as_a_form_sends_it() {
        assert_eq!(
            query_token(Some("a=1&token=x+y%2Bz")).as_deref(),
            Some("x y+z")
        );
        assert_eq!(query_token(Some("a=1")), None);
        assert_eq!(query_token(None), None);
    }

    #[test]
    fn the_redirect_keeps_the_rest_of_the_query() {
        assert_eq!(without_token("/", Some("token=x&poll")), "/?poll");
        assert_eq!(without_token("/a", Some("token=x")), "/a");
        assert_eq!(without_token("/", None), "/");
    }

    #[test]
    fn a_link_carries_the_token_escaped() {
        let token = Token::new("a b/c").expect("token");
        let link = link_with_token("http://h:1/", &token);
        assert_eq!(link, "http://h:1/?token=a%20b%2Fc");
        let query = link.split_once('?').map(|(_, q)| q);
        assert_eq!(query_token(query).as_deref(), Some("a b/c"));
    }

    #[test]
    fn secrets_match_only_when_equal() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("ab", "abc"));
    }
}
