//! The route table: every route of the API and the pages is registered here with its method, its summary
//! and the permission it needs. The router, the OpenAPI document and the isolation test matrix are all built
//! from this one list, so a route cannot exist without being documented and tested for tenancy.

use crate::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{delete, get, patch, post, put};

/// What the table knows about one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// The permission a caller needs (`public` and `signed-in` for routes without one).
    pub needs: &'static str,
}

pub struct Table {
    router: Router<AppState>,
    list: Vec<RouteInfo>,
}

macro_rules! method {
    ($name:ident, $m:literal, $routing:ident) => {
        pub fn $name<H, T>(
            mut self,
            path: &'static str,
            summary: &'static str,
            needs: &'static str,
            h: H,
        ) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.router = self.router.route(path, $routing(h));
            self.list.push(RouteInfo {
                method: $m,
                path,
                summary,
                needs,
            });
            self
        }
    };
}

impl Table {
    fn new() -> Self {
        Self {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    method!(get, "GET", get);
    method!(post, "POST", post);
    method!(patch, "PATCH", patch);
    method!(delete, "DELETE", delete);
    method!(put, "PUT", put);

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// The whole table: every feature adds its part (its JSON API, then its pages).
pub fn table() -> Table {
    let t = Table::new();
    let t = crate::accounts::routes(t);
    let t = crate::tenancy::routes(t);
    let t = crate::desk::routes(t);
    let t = crate::billing::routes(t);
    let t = crate::cmdb::routes(t);
    let t = crate::cloud::routes(t);
    let t = crate::portfolio::routes(t);
    let t = crate::architecture::routes(t);
    crate::audit::routes(t)
}

/// Every registered route: for the OpenAPI document and the isolation matrix.
pub fn registered_routes() -> Vec<RouteInfo> {
    table().list
}
