//! The daemon's own pages: `GET /` (the models, their windows and whether
//! each had alerts), `GET /ui/models/{model}` (a model's windows and its
//! features' scores and missing shares over them) and `GET /ui/reports/{id}` (a closed window's report as
//! the same HTML as the CLI's pages). When the daemon has a token, a page
//! needs it either as the API does (`Authorization: Bearer …`) or as the
//! cookie `POST /ui/login` sets; without either, a 303 to `/ui/login`. The
//! cookie opens only these pages, never the API. A Content-Security-Policy
//! tells the browser to load nothing from anywhere (the pages have their
//! style and script inline).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::{Shared, authorized, error, same, settled};
use crate::profile::io as profile_io;
use crate::report::html::{
    Esc, WindowProfiles, WindowReport, count, model_html, page, window_html,
};
use crate::server::state::WindowState;

/// Windows listed per model on the index page, newest first.
const WINDOWS_LISTED: usize = 50;

/// Closed windows drawn on a model's page (the newest ones): enough to see
/// a trend, few enough for a bar per window to stay readable.
const WINDOWS_CHARTED: usize = 30;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                   img-src data:; base-uri 'none'; form-action 'none'";

/// The login page's policy: the same, except that its form may post to
/// this origin.
const LOGIN_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
                         script-src 'unsafe-inline'; img-src data:; base-uri 'none'; \
                         form-action 'self'";

/// The cookie that carries the token for the pages (never for the API).
const COOKIE: &str = "assay_token";

/// A login form is one short field; anything longer is not one.
pub(super) const LOGIN_BODY_BYTES: usize = 4096;

fn html(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
        ],
        body,
    )
        .into_response()
}

fn see_other(to: &'static str, cookie: Option<String>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    if let Some(cookie) = cookie.and_then(|c| c.parse().ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The token as a cookie value: percent-encoded, so any byte of it fits
/// the cookie grammar (no `;`, `,`, space or quote).
fn cookie_value(token: &str) -> String {
    url::form_urlencoded::byte_serialize(token.as_bytes()).collect()
}

/// A page request is let in by the bearer header (as the API) or by the
/// login cookie; compared in constant time either way.
fn page_authorized(state: &Shared, headers: &HeaderMap) -> bool {
    if authorized(state, headers) {
        return true;
    }
    let Some(token) = &state.token else {
        return true;
    };
    let expected = cookie_value(token);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same(value.as_bytes(), expected.as_bytes()))
}

/// Where a browser without the cookie is sent.
fn to_login() -> Response {
    see_other("/ui/login", None)
}

fn login_form(status: StatusCode, message: &str) -> Response {
    let body = format!(
        r#"<h1>assay</h1>{message}<form method="post" action="/ui/login"><p><label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label> <button type="submit">Log in</button></p></form>"#
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, LOGIN_CSP),
        ],
        page("assay: log in", &body),
    )
        .into_response()
}

pub(super) async fn login_page(State(state): State<Shared>) -> Response {
    if state.token.is_none() {
        return see_other("/", None);
    }
    login_form(StatusCode::OK, "")
}

/// `POST /ui/login` with the form field `token`: the right token gets the
/// cookie (`HttpOnly`, `SameSite=Strict`; no `Secure`, as the daemon speaks
/// plain HTTP, TLS being a proxy's job) and a redirect to `/`.
pub(super) async fn login(State(state): State<Shared>, body: Bytes) -> Response {
    let Some(token) = &state.token else {
        return see_other("/", None);
    };
    let given = url::form_urlencoded::parse(&body)
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    if !same(given.as_bytes(), token.as_bytes()) {
        return login_form(
            StatusCode::UNAUTHORIZED,
            r#"<p class="meta"><span class="tag bad">wrong token</span></p>"#,
        );
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        cookie_value(token)
    );
    see_other("/", Some(cookie))
}

pub(super) async fn index(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !page_authorized(&state, &headers) {
        return to_login();
    }
    let models = match state.recovered_models() {
        Ok(m) => m,
        Err(response) => return *response,
    };
    settled(models.clone()).await;
    let mut body = String::from("<h1>assay</h1>");
    for runtime in &models {
        let Ok(guard) = runtime.lock() else { continue };
        let windows = guard.windows();
        let closed = windows
            .iter()
            .filter(|w| w.state == WindowState::Closed)
            .count();
        let alerting = windows.iter().filter(|w| w.alerts).count();
        let _ = write!(
            body,
            r#"<h2><a href="/ui/models/{0}">{0}</a></h2><p class="meta">{1} closed window{2}, {3} with alerts</p><table><tr><th>window</th><th>start</th><th>end</th><th class="n">rows</th><th>state</th></tr>"#,
            Esc(&guard.name),
            closed,
            if closed == 1 { "" } else { "s" },
            alerting,
        );
        for w in windows.iter().rev().take(WINDOWS_LISTED) {
            let id = if w.state == WindowState::Closed {
                format!(r#"<a href="/ui/reports/{0}">{0}</a>"#, Esc(&w.id))
            } else {
                Esc(&w.id).to_string()
            };
            let tag = match (w.state, w.alerts) {
                (WindowState::Closed, true) => r#"<span class="tag bad">alerts</span>"#,
                (WindowState::Closed, false) => r#"<span class="tag good">ok</span>"#,
                (WindowState::Closing, _) => r#"<span class="tag none">closing</span>"#,
                (WindowState::Open, _) => r#"<span class="tag none">open</span>"#,
            };
            let _ = write!(
                body,
                r#"<tr><td>{id}</td><td>{}</td><td>{}</td><td class="n">{}</td><td>{tag}</td></tr>"#,
                Esc(&w.start),
                Esc(w.end.as_deref().unwrap_or("")),
                count(w.rows as f64),
            );
        }
        body.push_str("</table>");
    }
    html(page("assay", &body))
}

pub(super) async fn report_page(
    State(state): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !page_authorized(&state, &headers) {
        return to_login();
    }
    let models = match state.recovered_models() {
        Ok(m) => m,
        Err(response) => return *response,
    };
    settled(models.clone()).await;
    let Some(inputs) = models
        .iter()
        .find_map(|r| r.lock().ok().and_then(|g| g.page_inputs(&id)))
    else {
        return error(StatusCode::NOT_FOUND, "no such closed window");
    };
    // Reading two profiles and rendering is blocking work.
    let rendered = tokio::task::spawn_blocking(move || {
        let report = std::fs::read(&inputs.report)
            .map_err(|e| format!("{}: {e}", inputs.report.display()))?;
        let window = profile_io::load(&inputs.profile).ok();
        let previous = inputs
            .previous_profile
            .as_deref()
            .and_then(|p| profile_io::load(p).ok());
        window_html(
            &report,
            &WindowProfiles {
                window: window.as_ref(),
                baseline: Some(&inputs.baseline),
                previous: previous.as_ref(),
            },
        )
        .map_err(|e| format!("{}: {e}", inputs.report.display()))
    })
    .await;
    match rendered {
        Ok(Ok(page)) => html(page),
        Ok(Err(message)) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub(super) async fn model_page(
    State(state): State<Shared>,
    Path(model): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !page_authorized(&state, &headers) {
        return to_login();
    }
    let models = match state.recovered_models() {
        Ok(m) => m,
        Err(response) => return *response,
    };
    settled(models.clone()).await;
    let Some(paths) = models.iter().find_map(|r| {
        let guard = r.lock().ok()?;
        if guard.name != model {
            return None;
        }
        let closed: Vec<_> = guard
            .windows()
            .into_iter()
            .filter(|w| w.state == WindowState::Closed)
            .collect();
        let first = closed.len().saturating_sub(WINDOWS_CHARTED);
        Some(
            closed[first..]
                .iter()
                .filter_map(|w| guard.page_inputs(&w.id).map(|p| p.report))
                .collect::<Vec<_>>(),
        )
    }) else {
        return error(StatusCode::NOT_FOUND, "no such model");
    };
    // Reading up to WINDOWS_CHARTED report files is blocking work.
    let rendered = tokio::task::spawn_blocking(move || {
        let mut windows = Vec::with_capacity(paths.len());
        for path in &paths {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let report: WindowReport =
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            windows.push(report);
        }
        Ok::<_, String>(model_html(&model, &windows))
    })
    .await;
    match rendered {
        Ok(Ok(page)) => html(page),
        Ok(Err(message)) => error(StatusCode::INTERNAL_SERVER_ERROR, message),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
