//! Staff routes are registered through [`AdminRoutes`], which attaches the
//! permission layer to each route and records it in a catalogue. Tests walk the
//! catalogue to prove every route refuses a staff member without its permission.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use hiroba_domain::permission::Permission;

use crate::AppState;
use crate::auth::require_staff;

/// Who may reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (the login page).
    Public,
    /// Any signed-in staff member holding the permission, if one is named.
    Staff(Option<Permission>),
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    /// The path below `/admin`, with `{id}` placeholders.
    pub path: &'static str,
    pub access: Access,
}

pub struct AdminRoutes {
    state: AppState,
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl AdminRoutes {
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            router: Router::new(),
            specs: Vec::new(),
        }
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        access: Access,
        route: MethodRouter<AppState>,
    ) -> Self {
        let route = match access {
            Access::Public => route,
            Access::Staff(permission) => route.route_layer(from_fn_with_state(
                (self.state.clone(), permission),
                require_staff,
            )),
        };
        self.router = self.router.route(path, route);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
        });
        self
    }

    pub fn get<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, access, get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, access, post(handler))
    }

    /// A POST that carries an image upload (up to [`crate::UPLOAD_BODY_LIMIT`]).
    pub fn post_upload<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = post(handler).layer(DefaultBodyLimit::max(crate::UPLOAD_BODY_LIMIT));
        self.add(Method::POST, path, access, route)
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
