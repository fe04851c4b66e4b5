//! What every page needs: the layout frame and its navigation, flash notices, form state, rendering, the
//! error page, CSV downloads and the formatting helpers templates use. Imports no feature.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageError};
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use std::collections::HashMap;

pub struct NavItem {
    pub href: String,
    pub label: &'static str,
    pub active: bool,
    /// A group's items (its own `href` is then unused): shown as a menu that opens under the label.
    pub children: Vec<NavItem>,
}

impl NavItem {
    fn link(href: impl Into<String>, label: &'static str, active: bool) -> Self {
        Self {
            href: href.into(),
            label,
            active,
            children: Vec::new(),
        }
    }

    /// A menu of `children` under `label`, current when one of them is; `None` when it would be empty.
    fn group(label: &'static str, id: &str, children: Vec<NavItem>) -> Option<Self> {
        (!children.is_empty()).then(|| Self {
            href: format!("nav-{id}"),
            label,
            active: children.iter().any(|c| c.active),
            children,
        })
    }
}

/// Up to this many organisations, the switcher lists all of them.
const SWITCHER_ALL_UP_TO: i64 = 20;

/// What the layout needs on every page.
pub struct Frame {
    pub title: String,
    pub region: String,
    pub signed_in: bool,
    pub user_name: String,
    pub csrf: String,
    /// (slug, name) of every organisation the person can switch to.
    pub orgs: Vec<(String, String)>,
    pub current_slug: String,
    pub nav: Vec<NavItem>,
    pub breadcrumbs: Vec<(String, String)>,
    pub notice: Option<String>,
}

impl Frame {
    pub fn public(s: &AppState, title: &str, csrf: String) -> Self {
        Self {
            title: title.to_owned(),
            region: s.config.region_name.clone(),
            signed_in: false,
            user_name: String::new(),
            csrf,
            orgs: Vec::new(),
            current_slug: String::new(),
            nav: Vec::new(),
            breadcrumbs: Vec::new(),
            notice: None,
        }
    }

    /// The frame for a signed-in person; `section` marks the active navigation item.
    pub async fn new(
        s: &AppState,
        p: &Principal,
        title: &str,
        section: &str,
    ) -> Result<Self, Failure> {
        use store::tenancy::orgs;
        let scope = p.scope(Permission::OrgRead);
        // A small region offers every organisation in the switcher; a large one only those the person
        // has a role in, plus the one being looked at.
        let mut switchable = orgs::names(&s.db, &scope, None, SWITCHER_ALL_UP_TO + 1).await?;
        let many = switchable.len() as i64 > SWITCHER_ALL_UP_TO;
        if many {
            let mut ids: Vec<_> = p.grants.iter().map(|g| g.org_id).collect();
            ids.extend(p.current_org());
            ids.sort();
            ids.dedup();
            switchable = orgs::names(&s.db, &scope, Some(&ids), SWITCHER_ALL_UP_TO).await?;
        }
        let current = p
            .current_org()
            .and_then(|c| switchable.iter().find(|o| o.id == c))
            .or(switchable.first());
        let current_id = current.map(|o| o.id);
        let slug = current.map(|o| o.slug.clone()).unwrap_or_default();
        let mut nav = vec![NavItem::link(
            format!("/orgs/{slug}"),
            "Dashboard",
            section == "dashboard",
        )];
        if !p.scope(Permission::OrgManage).is_empty() || many || switchable.len() > 1 {
            nav.push(NavItem::link("/orgs", "Organisations", section == "orgs"));
        }
        if !p.scope(Permission::TicketRead).is_empty() {
            nav.push(NavItem::link(
                "/tickets",
                if p.is_desk() {
                    "Service desk"
                } else {
                    "Tickets"
                },
                section == "tickets",
            ));
        }
        if !p.scope(Permission::ReportRead).is_empty() {
            nav.push(NavItem::link("/reports", "Reports", section == "reports"));
        }
        nav.push(NavItem::link("/kb", "Knowledge base", section == "kb"));
        if p.is_desk() {
            nav.push(NavItem::link("/mail", "Mail", section == "mail"));
        }
        if !p.scope(Permission::BillingRead).is_empty() {
            nav.push(NavItem::link("/billing", "Billing", section == "billing"));
        }
        if !p.scope(Permission::CmdbRead).is_empty() {
            nav.push(NavItem::link("/cmdb", "CMDB", section == "cmdb"));
        }
        if !p.scope(Permission::TimeRead).is_empty() {
            nav.push(NavItem::link("/timesheet", "Time", section == "timesheet"));
        }
        if !p.scope(Permission::TicketSubmit).is_empty() {
            nav.push(NavItem::link(
                "/catalog",
                "Request service",
                section == "catalog" || section == "new-ticket",
            ));
        }
        // The organisation's own records and the administration fold into two menus, so that the
        // navigation of the role with the most fits one line at 1,366 px.
        let mut directory = vec![
            NavItem::link(
                format!("/orgs/{slug}/departments"),
                "Departments",
                section == "departments",
            ),
            NavItem::link(format!("/orgs/{slug}/sites"), "Sites", section == "sites"),
        ];
        if !p.scope(Permission::UserRead).is_empty() {
            directory.push(NavItem::link(
                format!("/orgs/{slug}/users"),
                "People",
                section == "people",
            ));
        }
        let mut admin = Vec::new();
        if current_id.is_some_and(|o| p.scope(Permission::OrgSettingsWrite).contains(o)) {
            admin.push(NavItem::link(
                format!("/orgs/{slug}/settings"),
                "Organisation settings",
                section == "settings",
            ));
        }
        if !p.scope(Permission::CatalogManage).is_empty() {
            admin.push(NavItem::link(
                "/desk/settings",
                "Desk settings",
                section == "desk-settings",
            ));
        }
        if !p.scope(Permission::AuditRead).is_empty() {
            admin.push(NavItem::link("/audit", "Audit log", section == "audit"));
        }
        nav.extend(NavItem::group("Directory", "directory", directory));
        nav.extend(NavItem::group("Administration", "admin", admin));
        let switchable = switchable.into_iter().map(|o| (o.slug, o.name)).collect();
        Ok(Self {
            title: title.to_owned(),
            region: s.config.region_name.clone(),
            signed_in: true,
            user_name: p.user.name.clone(),
            csrf: p
                .session()
                .map(|x| x.csrf_token.clone())
                .unwrap_or_default(),
            orgs: switchable,
            current_slug: slug,
            nav,
            breadcrumbs: Vec::new(),
            notice: None,
        })
    }

    pub fn crumbs(mut self, crumbs: &[(&str, &str)]) -> Self {
        self.breadcrumbs = crumbs
            .iter()
            .map(|(h, l)| ((*h).to_owned(), (*l).to_owned()))
            .collect();
        self
    }

    pub fn notice(mut self, n: Option<&str>) -> Self {
        self.notice = n.and_then(notice_text).map(str::to_owned);
        self
    }
}

/// Flash messages travel as a short code in the redirect's query string (`?notice=created`).
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Created.",
        "restored" => "The built-in wording is back.",
        "attached" => "The file is attached.",
        "offered" => "The item is offered in the catalog again.",
        "withdrawn" => "The item is withdrawn from the catalog; open tickets keep it.",
        "saved" => "Your changes are saved.",
        "removed" => "Removed.",
        "granted" => "Role granted.",
        "revoked" => "Revoked.",
        "password" => {
            "Your password is changed. Your other sessions are signed out; your API tokens still work."
        }
        "password-and-tokens" => {
            "Your password is changed. Your other sessions are signed out and your API tokens are revoked."
        }
        "invited" => {
            "The invitation is made and its mail queued. The person joins when they accept it; nothing \
             changes before. See Invitations below for whether the mail went."
        }
        "resent" => {
            "The invitation is queued to be mailed again, with a fresh link and a new week to accept."
        }
        "invitation-revoked" => "The invitation is withdrawn: its link no longer works.",
        "deactivated" => "Deactivated.",
        "reactivated" => "Reactivated.",
        "disabled" => "The account is disabled.",
        "enabled" => "The account is enabled.",
        "opened" => "Your ticket is open. Replies come here and by email.",
        "replied" => "Your reply is added.",
        "noted" => "Internal note added.",
        "updated" => "The ticket is updated.",
        "tickets-updated" => "The chosen tickets are updated.",
        "decided" => "Your decision is recorded.",
        "proposed" => {
            "Your proposal is sent to the hub. The figure on record stays until the hub accepts it."
        }
        "rated" => "Thank you for rating this ticket.",
        "time" => "Time logged.",
        "timer" => "Timer updated.",
        "run" => "The period is run: its drafts are ready for review.",
        "issued" => "The invoice is issued.",
        "voided" => "The invoice is void; this credit note cancels it.",
        "paid" => "The payment is recorded.",
        _ => return None,
    })
}

/// A form's submitted values and its field errors, to re-render it with the person's input kept.
#[derive(Default)]
pub struct FormState {
    pub values: HashMap<String, String>,
    pub errors: Vec<FieldError>,
}

impl FormState {
    /// The values a person sent, to show again with the errors of [`FormState::fail`].
    pub fn refill(values: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            values: values.into_iter().collect(),
            errors: Vec::new(),
        }
    }

    pub fn with(values: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        Self {
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            errors: Vec::new(),
        }
    }

    pub fn value(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }

    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == name)
            .map(|e| e.message.as_str())
    }

    /// Keeps the failure's field errors to show beside the fields, or passes other failures on.
    pub fn fail(mut self, f: Failure) -> Result<Self, PageError> {
        let errs = f.field_errors();
        if errs.is_empty() {
            return Err(PageError(f));
        }
        // Field names with dots (business_hours.monday) become form names with underscores.
        self.errors = errs
            .into_iter()
            .map(|e| FieldError::new(e.field.replace('.', "_"), e.message))
            .collect();
        Ok(self)
    }
}

/// A submitted form's field, trimmed; `None` when absent or empty.
pub fn form_field(form: &HashMap<String, String>, name: &str) -> Option<String> {
    form.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

pub fn render(t: &impl Template) -> Response {
    render_status(StatusCode::OK, t)
}

pub fn render_status(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "layout/error.html")]
struct ErrorPage<'a> {
    f: Frame,
    e: &'a ShownError,
}

/// An error page as a handler left it: bare, because a failure knows nothing of the request. The outermost
/// middleware ([`framed_error`]) renders it again inside the person's own frame — the region's name, their
/// navigation, and a way back to the form they sent.
#[derive(Debug, Clone)]
pub struct ShownError {
    status: StatusCode,
    heading: String,
    detail: String,
    errors: Vec<FieldError>,
    /// Where "Go back" leads (the page that sent a form which failed), set by [`framed_error`].
    back: Option<String>,
}

pub fn error_page(f: &Failure) -> Response {
    let status = if matches!(f, Failure::Invalid(_)) {
        StatusCode::BAD_REQUEST
    } else {
        f.status()
    };
    let shown = ShownError {
        status,
        heading: f.title().to_owned(),
        detail: f.detail(),
        errors: f.field_errors(),
        back: None,
    };
    let frame = Frame {
        title: shown.heading.clone(),
        region: "Civitas".into(),
        signed_in: false,
        user_name: String::new(),
        csrf: String::new(),
        orgs: Vec::new(),
        current_slug: String::new(),
        nav: Vec::new(),
        breadcrumbs: Vec::new(),
        notice: None,
    };
    let mut res = render_status(
        status,
        &ErrorPage {
            f: frame,
            e: &shown,
        },
    );
    res.extensions_mut().insert(shown);
    res
}

/// Renders an error page left by a handler ([`ShownError`]) inside the frame of whoever asked: signed in,
/// their navigation; signed out, the region's public frame. After a form (any request but a read), the
/// page offers to go back to it, where the browser has kept what was typed.
pub async fn framed_error(
    state: &crate::state::AppState,
    request: &axum::http::request::Parts,
    res: Response,
) -> Response {
    let Some(shown) = res.extensions().get::<ShownError>() else {
        return res;
    };
    let mut shown = shown.clone();
    if !matches!(
        request.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        shown.back = same_site_referer(&request.headers);
    }
    let frame = match crate::auth::resolve(state, request).await {
        Ok(Some(p)) => match Frame::new(state, &p, &shown.heading, "").await {
            Ok(f) => f,
            Err(_) => return res,
        },
        _ => Frame::public(state, &shown.heading, String::new()),
    };
    let mut framed = render_status(
        shown.status,
        &ErrorPage {
            f: frame,
            e: &shown,
        },
    );
    for (name, value) in res.headers() {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            framed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    framed
}

/// The path of the page that sent the request, if it is one of ours (`Referer` is sent same-origin only:
/// the policy is `same-origin`). Only a path is kept, so a forged header cannot send anyone elsewhere.
fn same_site_referer(headers: &axum::http::HeaderMap) -> Option<String> {
    let raw = headers.get(axum::http::header::REFERER)?.to_str().ok()?;
    let uri: axum::http::Uri = raw.parse().ok()?;
    let path = uri.path_and_query()?.as_str();
    (path.starts_with('/') && !path.starts_with("//")).then(|| path.to_owned())
}

pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::error::ApiError(Failure::NotFound).into_response();
    }
    error_page(&Failure::NotFound)
}

/// "12,345".
pub fn fmt_int(n: impl std::fmt::Display) -> String {
    let raw = n.to_string();
    let (neg, s) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, raw),
    };
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg { format!("-{out}") } else { out }
}

pub fn month_name(m: &u8) -> &'static str {
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ]
    .get(usize::from(*m).saturating_sub(1))
    .copied()
    .unwrap_or("?")
}

/// An instant shown in a time zone: "Nov 23, 2026 9:05 AM EST".
pub fn local_time(ms: i64, tz: &str) -> String {
    let Ok(ts) = jiff::Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let zone = jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC);
    ts.to_zoned_datetime(zone)
        .strftime("%b %-d, %Y %-I:%M %p %Z")
        .to_string()
}

/// The `?notice=`, `?cursor=`, filters and `?format=csv` a list page may be given.
#[derive(serde::Deserialize, Default, schemars::JsonSchema)]
pub struct PageQuery {
    pub notice: Option<String>,
    pub cursor: Option<String>,
    pub q: Option<String>,
    pub kind: Option<String>,
    pub format: Option<String>,
}

impl PageQuery {
    pub fn wants_csv(&self) -> bool {
        self.format.as_deref() == Some("csv")
    }
}

/// At most this many rows go into one CSV export.
pub const CSV_MAX_ROWS: usize = 50_000;

/// A CSV download of a list: the header row, then the rows, as the filters on screen select them. Every
/// CSV the server sends goes through here, and so through [`crate::csv_export`], which neutralises cells
/// a spreadsheet would run as formulas.
pub fn csv_response(
    filename: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> Response {
    match crate::csv_export::write(header, rows) {
        Ok(bytes) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "text/csv; charset=utf-8".to_owned(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => error_page(&Failure::internal("CSV encoding failed")),
    }
}

/// A value for a URL's query string.
pub fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
