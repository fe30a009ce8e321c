//! Staff authentication: the session cookie, and the per-route layer that
//! admits a signed-in staff member holding the route's permission (M21).

use std::sync::Arc;

use axum::extract::{FromRequestParts, OriginalUri, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::permission::Permission;
use hiroba_store::audit::NewEntry;
use hiroba_store::staff::Staff;
use hiroba_store::{sessions, staff};

use crate::access_log::Actor;
use crate::error::AppError;
use crate::view::{self, Layout};
use crate::{AppState, ClientIp, csrf};

pub fn session_cookie_name(state: &AppState) -> &'static str {
    // The __Host- prefix pins the cookie to this host and path, over HTTPS only.
    if state.config().https {
        "__Host-hiroba_staff"
    } else {
        "hiroba_staff"
    }
}

/// Reads one cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, and Secure under HTTPS.
/// `None` as value clears the cookie.
pub fn set_cookie(state: &AppState, name: &str, value: Option<&str>) -> HeaderValue {
    let secure = if state.config().https { "; Secure" } else { "" };
    let text = match value {
        Some(v) => format!("{name}={v}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The signed-in staff member of this request.
#[derive(Clone)]
pub struct CurrentStaff {
    pub staff: Arc<Staff>,
    pub session_token: String,
    pub ip: ClientIp,
    pub path: String,
}

impl CurrentStaff {
    /// An operation-log entry by this staff member.
    pub fn entry(&self, action: &str, object: String, summary: String) -> NewEntry {
        NewEntry {
            staff_id: Some(self.staff.id),
            staff_login: self.staff.login_id.clone(),
            ip: self.ip.to_string(),
            action: action.to_owned(),
            object,
            summary,
        }
    }

    /// The page frame for this staff member.
    pub fn layout(&self, state: &AppState, title: &str, town_name: String) -> Layout {
        Layout {
            title: title.to_owned(),
            town_name,
            csrf: csrf::staff_token(state, &self.session_token),
            staff_name: Some(self.staff.name.clone()),
            nav: view::admin_nav(&self.staff, &self.path),
            subnav: view::line_nav(&self.staff, &self.path),
            notice: None,
            admin: true,
        }
    }

    /// Refuses (and logs) access to a facility outside the member's scope.
    pub async fn require_facility(
        &self,
        state: &AppState,
        facility_id: i64,
    ) -> Result<(), AppError> {
        if self.staff.scope.allows(facility_id) {
            return Ok(());
        }
        let entry = self.entry(
            "access.denied",
            format!("facility:{facility_id}"),
            format!("担当外の施設 ({})", self.path),
        );
        hiroba_store::audit::record(state.db(), &entry).await?;
        Err(AppError::Forbidden)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentStaff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentStaff>()
            .cloned()
            .ok_or_else(|| AppError::Internal("route without the staff layer".into()))
    }
}

/// Resolves the session cookie to an enabled staff member.
pub async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Staff, String)>, AppError> {
    let Some(token) = cookie(headers, session_cookie_name(state)) else {
        return Ok(None);
    };
    let Some(id) = sessions::resolve(state.db(), &token, state.config().session).await? else {
        return Ok(None);
    };
    Ok(staff::get(state.db(), id)
        .await?
        .filter(|s| !s.disabled)
        .map(|s| (s, token)))
}

/// The layer on every staff route. `None` admits any signed-in staff member.
pub async fn require_staff(
    State((state, permission)): State<(AppState, Option<Permission>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .copied()
        .unwrap_or(ClientIp([127, 0, 0, 1].into()));
    // Inside the nested /admin router the URI has lost its prefix; the original has it.
    let path = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.0.path().to_owned())
        .unwrap_or_else(|| req.uri().path().to_owned());
    let (staff, token) = match signed_in(&state, req.headers()).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            let target = if req.method() == Method::GET {
                format!("/admin/login?next={}", encode_path(&path))
            } else {
                "/admin/login".to_owned()
            };
            return Redirect::to(&target).into_response();
        }
        Err(e) => return e.into_response(),
    };
    let current = CurrentStaff {
        staff: Arc::new(staff),
        session_token: token,
        ip,
        path: path.clone(),
    };
    let actor = Actor(format!("staff:{}", current.staff.id));
    if let Some(p) = permission.filter(|p| !current.staff.may(*p)) {
        let entry = current.entry(
            "access.denied",
            format!("{} {}", req.method(), path),
            format!("権限「{}」がありません", p.label()),
        );
        if let Err(e) = hiroba_store::audit::record(state.db(), &entry).await {
            return AppError::from(e).into_response();
        }
        let mut res = AppError::Forbidden.into_response();
        res.extensions_mut().insert(actor);
        return res;
    }
    req.extensions_mut().insert(current);
    let mut res = next.run(req).await;
    res.extensions_mut().insert(actor);
    res
}

fn encode_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
