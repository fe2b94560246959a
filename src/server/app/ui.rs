//! The daemon's own pages: `GET /` (the models, their windows and whether
//! each had alerts) and `GET /ui/reports/{id}` (a closed window's report as
//! the same HTML as the CLI's pages). Behind the bearer token like every
//! read (`Authorization: Bearer …`); a Content-Security-Policy tells the
//! browser to load nothing from anywhere (the pages have their style and
//! script inline).

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Shared, authorized, error, settled, unauthorized};
use crate::profile::io as profile_io;
use crate::report::html::{Esc, WindowProfiles, count, page, window_html};
use crate::server::state::WindowState;

/// Windows listed per model on the index page, newest first.
const WINDOWS_LISTED: usize = 50;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; \
                   img-src data:; base-uri 'none'; form-action 'none'";

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

pub(super) async fn index(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
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
            r#"<h2>{}</h2><p class="meta">{} closed window{}, {} with alerts</p><table><tr><th>window</th><th>start</th><th>end</th><th class="n">rows</th><th>state</th></tr>"#,
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
    if !authorized(&state, &headers) {
        return unauthorized();
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
