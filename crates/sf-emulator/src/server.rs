//! Listeners: a hand-written accept loop over hyper so that a request can reset its TCP
//! connection (the `ConnectionReset` fault) and shutdown can end every open connection, hung
//! requests included. Also builds the two routers.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tower::ServiceExt;

use crate::{control, oauth, rest, Shared};

/// Lets a handler close its connection without answering.
#[derive(Clone)]
pub(crate) struct ConnReset(pub Arc<Notify>);

/// Query parameters, decoded leniently (bad percent-escapes never reject a request; the first
/// value of a repeated name wins).
pub(crate) fn query_params(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    let mut params = std::collections::HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    params
}

/// The path as the client sent it (routing sees it without a trailing slash).
#[derive(Clone)]
pub(crate) struct OriginalPath(pub String);

/// Accepts connections until `shutdown` turns true, then ends every connection it started.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, router.clone(), shutdown.clone()));
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    // A duplicate of the socket lets us set SO_LINGER=0 at reset time, so the peer sees an RST.
    let (stream, dup) = match duplicate(stream) {
        Ok(pair) => pair,
        Err(error) => {
            tracing::warn!(%error, "could not set up connection");
            return;
        }
    };
    let reset = Arc::new(Notify::new());
    let reset_handle = reset.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(ConnReset(reset_handle.clone()));
        let original = req.uri().path().to_owned();
        req.extensions_mut().insert(OriginalPath(original.clone()));
        if original.len() > 1 && original.ends_with('/') {
            let trimmed = original.trim_end_matches('/');
            let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
            let new_uri = match req.uri().query() {
                Some(q) => format!("{trimmed}?{q}"),
                None => trimmed.to_owned(),
            };
            if let Ok(uri) = new_uri.parse::<Uri>() {
                *req.uri_mut() = uri;
            }
        }
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = conn => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = reset.notified() => {
            if let Ok(s) = tokio::net::TcpStream::from_std(dup) {
                let _ = s.set_zero_linger();
            }
            tracing::debug!("connection reset by injected fault");
        }
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}

fn duplicate(
    stream: tokio::net::TcpStream,
) -> std::io::Result<(tokio::net::TcpStream, std::net::TcpStream)> {
    let std_stream = stream.into_std()?;
    let dup = std_stream.try_clone()?;
    Ok((tokio::net::TcpStream::from_std(std_stream)?, dup))
}

fn oauth_routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/services/oauth2/authorize",
            get(oauth::authorize_page).post(oauth::authorize_decision),
        )
        .route("/services/oauth2/token", post(oauth::token))
        .route(
            "/services/oauth2/revoke",
            post(oauth::revoke).get(oauth::revoke_get),
        )
        .route(
            "/services/oauth2/userinfo",
            get(oauth::userinfo).post(oauth::userinfo),
        )
        .route("/id/{org}/{user}", get(oauth::identity))
        .route(
            "/setup/connect",
            get(oauth::device_page).post(oauth::device_approve),
        )
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            oauth::layer,
        ))
        .with_state(shared)
}

/// The login host: OAuth only; everything else is 404 `NOT_FOUND`.
pub(crate) fn login_router(shared: Arc<Shared>) -> Router {
    oauth_routes(shared).fallback(rest::not_found)
}

/// The instance: OAuth, REST and the control API.
pub(crate) fn instance_router(shared: Arc<Shared>) -> Router {
    oauth_routes(shared.clone())
        .merge(rest::routes(shared.clone()))
        .merge(control::routes(shared))
        .fallback(rest::not_found)
}
