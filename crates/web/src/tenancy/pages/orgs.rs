//! Organisation pages: the list, adding a member, each organisation's dashboard and settings.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::extract::{PageParams, encode_cursor};
use crate::page::urlencode;
use crate::page::{FormState, Frame, PageQuery, fmt_int, render, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::calendar::WEEKDAY_NAMES;
use domain::tenancy::OrgKind;
use domain::tenancy::drafts::{OrgDraft, RawOrg};
use std::collections::HashMap;
use store::tenancy::orgs::{self, Org};

pub fn routes(t: Table) -> Table {
    t.get(
        "/orgs",
        "Organisations list",
        Needs::Perm(Permission::OrgRead),
        list,
    )
    .get(
        "/orgs/new",
        "Form to add a member",
        Needs::Perm(Permission::OrgManage),
        new_form,
    )
    .post(
        "/orgs",
        "Add a member",
        Needs::Perm(Permission::OrgManage),
        create,
    )
    .get(
        "/orgs/{slug}",
        "An organisation's dashboard",
        Needs::Perm(Permission::OrgRead),
        dashboard,
    )
    .get(
        "/orgs/{slug}/settings",
        "An organisation's settings form",
        Needs::Perm(Permission::OrgSettingsWrite),
        settings_form,
    )
    .post(
        "/orgs/{slug}/settings",
        "Save an organisation's settings",
        Needs::Perm(Permission::OrgSettingsWrite),
        save_settings,
    )
    .post(
        "/orgs/{slug}/proposals",
        "Propose a change to the organisation's population (the hub decides)",
        Needs::Perm(Permission::OrgSettingsWrite),
        propose,
    )
    .post(
        "/orgs/proposals/{id}/decision",
        "Accept or reject a proposed change",
        Needs::Perm(Permission::OrgManage),
        decide,
    )
    .post(
        "/orgs/{slug}/deactivate",
        "Deactivate a member",
        Needs::Perm(Permission::OrgManage),
        deactivate,
    )
    .post(
        "/orgs/{slug}/reactivate",
        "Reactivate a member",
        Needs::Perm(Permission::OrgManage),
        reactivate,
    )
}

fn kinds() -> Vec<(String, String)> {
    OrgKind::MEMBER_KINDS
        .iter()
        .map(|k| (k.as_str().to_owned(), k.label().to_owned()))
        .collect()
}

#[derive(Template)]
#[template(path = "tenancy/orgs.html")]
struct OrgList {
    f: Frame,
    rows: Vec<Org>,
    q: String,
    kind: String,
    kinds: Vec<(String, String)>,
    can_create: bool,
    next: Option<String>,
    csv_href: String,
    /// For the hub's administrators: the hub's slug and how many proposed changes await a decision.
    pending: Option<(String, usize)>,
}

async fn list(
    State(s): State<AppState>,
    p: Principal,
    Granted(granted): Granted,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    let scope = granted;
    let kind = q.kind.clone().unwrap_or_default();
    let filter = orgs::Filter {
        q: q.q.clone(),
        kind: if kind.is_empty() {
            None
        } else {
            Some(OrgKind::parse(&kind).map_err(|e| Failure::Invalid(vec![e]))?)
        },
        active: None,
    };
    if q.wants_csv() {
        let mut rows = Vec::new();
        let mut page = PageParams {
            limit: Some(200),
            cursor: None,
        }
        .to_request()?;
        loop {
            let r = orgs::list(&s.db, &scope, &filter, &page).await?;
            rows.extend(r.items.into_iter().map(|o| {
                vec![
                    o.slug.to_string(),
                    o.name,
                    o.kind.as_str().to_owned(),
                    o.county.unwrap_or_default(),
                    o.population.map(|p| p.to_string()).unwrap_or_default(),
                    o.time_zone,
                    o.fiscal_year_start_month.to_string(),
                    if o.active { "active" } else { "deactivated" }.to_owned(),
                ]
            }));
            match r.next_cursor {
                Some(c) if rows.len() < crate::page::CSV_MAX_ROWS => page.after = Some(c),
                _ => break,
            }
        }
        let header = [
            "slug",
            "name",
            "kind",
            "county",
            "population",
            "time_zone",
            "fiscal_year_start_month",
            "status",
        ];
        return Ok(crate::page::csv_response(
            "organisations.csv",
            &header,
            rows,
        ));
    }
    let page = PageParams {
        limit: Some(50),
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    let result = orgs::list(&s.db, &scope, &filter, &page).await?;
    let next = result.next_cursor.as_deref().map(|c| {
        format!(
            "/orgs?q={}&kind={}&cursor={}",
            urlencode(q.q.as_deref().unwrap_or("")),
            urlencode(&kind),
            encode_cursor(c)
        )
    });
    let csv_href = format!(
        "/orgs?q={}&kind={}&format=csv",
        urlencode(q.q.as_deref().unwrap_or("")),
        urlencode(&kind)
    );
    let pending = if p.scope(Permission::OrgManage).is_empty() {
        None
    } else {
        let n = store::tenancy::proposals::list(
            &s.db,
            &scope,
            &store::tenancy::proposals::Filter {
                org: None,
                status: Some(domain::tenancy::proposals::Status::Pending),
            },
        )
        .await?
        .len();
        match orgs::hub(&s.db).await? {
            Some(hub) if n > 0 => Some((hub.slug.to_string(), n)),
            _ => None,
        }
    };
    let f = Frame::new(&s, &p, "Organisations", "orgs")
        .await?
        .notice(q.notice.as_deref());
    Ok(render(&OrgList {
        f,
        rows: result.items,
        q: q.q.unwrap_or_default(),
        kind,
        kinds: kinds(),
        csv_href,
        can_create: !p.scope(Permission::OrgManage).is_empty(),
        next,
        pending,
    }))
}

#[derive(Template)]
#[template(path = "tenancy/org_form.html")]
struct OrgForm {
    f: Frame,
    form: FormState,
    kinds: Vec<(String, String)>,
    days: Vec<(String, String)>,
    action: String,
    submit: &'static str,
    creating: bool,
    version: i64,
    slug: String,
    show_active: bool,
    active: bool,
    /// The hub-owned figures and their proposals (settings of an existing organisation only).
    prop: Option<Proposals>,
}

/// The settings page's section on hub-owned figures: the population as the hub records it, the form to
/// propose a change (members), and the proposals with the hub's accept and reject forms.
struct Proposals {
    /// The caller sets the figures directly (the hub's administrators): the form has the field.
    editable: bool,
    population: String,
    can_propose: bool,
    can_decide: bool,
    /// On the hub's own settings page: the pending proposals of every member.
    region_wide: bool,
    rows: Vec<ProposalRow>,
    form: FormState,
    /// A failed decision: the proposal's id and what was wrong.
    decision_error: Option<(String, String)>,
    history_href: Option<String>,
}

struct ProposalRow {
    id: String,
    org_name: String,
    org_slug: String,
    field: &'static str,
    current: String,
    proposed: String,
    reason: String,
    source: String,
    pending: bool,
    status: &'static str,
    proposed_by: String,
    proposed_at: String,
    decided_by: String,
    decided_at: String,
    note: String,
}

fn figure(v: Option<i64>) -> String {
    v.map_or_else(|| "not recorded".to_owned(), fmt_int)
}

async fn proposals_section(
    s: &AppState,
    p: &Principal,
    org: &Org,
    form: FormState,
    decision_error: Option<(String, String)>,
) -> Result<Proposals, Failure> {
    use store::tenancy::proposals::{self as props, Filter};
    let editable = p.scope(Permission::OrgManage).contains(org.id);
    let can_decide = !p.scope(Permission::OrgManage).is_empty();
    let region_wide = org.is_hub && can_decide;
    let scope = p.scope(Permission::OrgRead);
    let filter = if region_wide {
        Filter {
            org: None,
            status: Some(domain::tenancy::proposals::Status::Pending),
        }
    } else {
        Filter {
            org: Some(org.id),
            status: None,
        }
    };
    let rows = props::list(&s.db, &scope, &filter)
        .await?
        .into_iter()
        .take(50)
        .map(|x| ProposalRow {
            pending: x.status == domain::tenancy::proposals::Status::Pending,
            status: x.status.label(),
            field: x.field.label(),
            current: figure(x.current_value),
            proposed: fmt_int(x.proposed_value),
            proposed_at: crate::page::local_time(x.proposed_at, &org.time_zone),
            decided_at: x
                .decided_at
                .map(|t| crate::page::local_time(t, &org.time_zone))
                .unwrap_or_default(),
            decided_by: x.decided_by.unwrap_or_default(),
            id: x.id,
            org_name: x.org_name,
            org_slug: x.org_slug,
            reason: x.reason,
            source: x.source,
            proposed_by: x.proposed_by,
            note: x.decision_note,
        })
        .collect();
    Ok(Proposals {
        editable,
        population: figure(org.population),
        can_propose: !editable && !org.is_hub,
        can_decide,
        region_wide,
        rows,
        form,
        decision_error,
        history_href: p
            .scope(Permission::AuditRead)
            .contains(org.id)
            .then(|| format!("/audit?org={}&action=org.", org.slug)),
    })
}

fn day_fields() -> Vec<(String, String)> {
    WEEKDAY_NAMES
        .iter()
        .map(|d| {
            let mut label = (*d).to_owned();
            label[..1].make_ascii_uppercase();
            (format!("business_hours_{d}"), label)
        })
        .collect()
}

fn form_from_draft(d: &OrgDraft) -> FormState {
    let mut st = FormState::with([
        ("name", d.name.clone()),
        ("slug", d.slug.to_string()),
        ("kind", d.kind.as_str().to_owned()),
        ("county", d.county.clone().unwrap_or_default()),
        (
            "population",
            d.population.map(|p| p.to_string()).unwrap_or_default(),
        ),
        ("time_zone", d.time_zone.clone()),
        (
            "fiscal_year_start_month",
            d.fiscal_year_start_month.to_string(),
        ),
        (
            "observe_federal_holidays",
            d.holiday_rules.federal.to_string(),
        ),
        (
            "observe_massachusetts_holidays",
            d.holiday_rules.massachusetts.to_string(),
        ),
    ]);
    for (i, day) in WEEKDAY_NAMES.iter().enumerate() {
        st.values.insert(
            format!("business_hours_{day}"),
            d.business_hours.format_day(i),
        );
    }
    st
}

/// Reads the org form (flat fields, days as `business_hours_monday`…) into the API's shape.
fn raw_from_form(form: &HashMap<String, String>, creating: bool) -> RawOrg {
    let get = |k: &str| form.get(k).cloned();
    RawOrg {
        slug: if creating { get("slug") } else { None },
        name: get("name"),
        kind: get("kind"),
        county: get("county"),
        population: None,
        time_zone: get("time_zone"),
        fiscal_year_start_month: None,
        business_hours: Some(
            WEEKDAY_NAMES
                .iter()
                .map(|d| get(&format!("business_hours_{d}")).unwrap_or_default())
                .collect(),
        ),
        observe_federal_holidays: Some(
            form.get("observe_federal_holidays")
                .is_some_and(|v| v == "true"),
        ),
        observe_massachusetts_holidays: Some(
            form.get("observe_massachusetts_holidays")
                .is_some_and(|v| v == "true"),
        ),
    }
}

/// Numbers typed into a form: a field error when not a whole number.
fn form_number(
    form: &HashMap<String, String>,
    name: &str,
    errs: &mut Vec<domain::FieldError>,
) -> Option<i64> {
    let raw = form
        .get(name)
        .map(|s| s.trim().replace(',', ""))
        .unwrap_or_default();
    if raw.is_empty() {
        return None;
    }
    raw.parse()
        .map_err(|_| errs.push(domain::FieldError::new(name, "must be a whole number")))
        .ok()
}

fn parse_numbers(form: &HashMap<String, String>, raw: &mut RawOrg) -> Vec<domain::FieldError> {
    let mut errs = Vec::new();
    raw.population = form_number(form, "population", &mut errs);
    raw.fiscal_year_start_month = form_number(form, "fiscal_year_start_month", &mut errs);
    // The form always shows the month: emptied, it is an error rather than the old value kept.
    if form
        .get("fiscal_year_start_month")
        .is_some_and(|m| m.trim().is_empty())
    {
        errs.push(domain::FieldError::new(
            "fiscal_year_start_month",
            "is required: a month from 1 (January) to 12",
        ));
    }
    errs
}

async fn new_form(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let f = Frame::new(&s, &p, "Add a member", "orgs")
        .await?
        .crumbs(&[("/orgs", "Organisations")]);
    let defaults = OrgDraft::parse(&RawOrg {
        name: Some("Example".into()),
        kind: Some("town".into()),
        ..Default::default()
    })
    .map_err(Failure::from)?;
    let mut form = form_from_draft(&defaults);
    form.values.insert("name".into(), String::new());
    form.values.insert("slug".into(), String::new());
    form.values.insert("kind".into(), String::new());
    Ok(render(&OrgForm {
        f,
        form,
        kinds: kinds(),
        days: day_fields(),
        action: "/orgs".into(),
        submit: "Add member",
        creating: true,
        version: 0,
        slug: String::new(),
        show_active: false,
        active: true,
        prop: None,
    }))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Granted(granted): Granted,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let scope = granted;
    let mut raw = raw_from_form(&form, true);
    let number_errors = parse_numbers(&form, &mut raw);
    let result = if number_errors.is_empty() {
        match OrgDraft::parse(&raw) {
            Ok(d) => orgs::create_member(&s.db, &scope, &p.actor(), &d)
                .await
                .map_err(Failure::from),
            Err(e) => Err(e.into()),
        }
    } else {
        Err(Failure::Invalid(number_errors))
    };
    match result {
        Ok(o) => Ok(Redirect::to(&format!("/orgs/{}?notice=created", o.slug)).into_response()),
        Err(e) => {
            let mut st = FormState::refill(form).fail(e)?;
            st.values
                .entry("observe_federal_holidays".into())
                .or_insert_with(|| "false".into());
            let f = Frame::new(&s, &p, "Add a member", "orgs")
                .await?
                .crumbs(&[("/orgs", "Organisations")]);
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &OrgForm {
                    f,
                    form: st,
                    kinds: kinds(),
                    days: day_fields(),
                    action: "/orgs".into(),
                    submit: "Add member",
                    creating: true,
                    version: 0,
                    slug: String::new(),
                    show_active: false,
                    active: true,
                    prop: None,
                },
            ))
        }
    }
}

struct Card {
    label: &'static str,
    value: String,
    note: String,
    href: String,
    action: &'static str,
}

#[derive(Template)]
#[template(path = "tenancy/dashboard.html")]
struct Dashboard {
    f: Frame,
    org: Org,
    cards: Vec<Card>,
    hours_summary: String,
    holidays_summary: String,
}

async fn dashboard(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let dir_scope = p.scope(Permission::DirectoryRead);
    let counts = store::tenancy::directory::counts(&s.db, &dir_scope, org.id).await?;
    let mut cards = vec![
        Card {
            label: "Departments",
            value: fmt_int(counts.departments),
            note: "in this organisation".into(),
            href: format!("/orgs/{slug}/departments"),
            action: "View departments",
        },
        Card {
            label: "Sites",
            value: fmt_int(counts.sites),
            note: "connected buildings".into(),
            href: format!("/orgs/{slug}/sites"),
            action: "View sites",
        },
    ];
    if p.scope(Permission::UserRead).contains(org.id) {
        cards.push(Card {
            label: "People",
            value: fmt_int(counts.users),
            note: "with an account".into(),
            href: format!("/orgs/{slug}/users"),
            action: "View people",
        });
    }
    if org.is_hub {
        let members = orgs::count(&s.db).await?.saturating_sub(1);
        cards.push(Card {
            label: "Members",
            value: fmt_int(members),
            note: "organisations served by the hub".into(),
            href: "/orgs".into(),
            action: "View organisations",
        });
    }
    if !org.is_hub && p.scope(Permission::BillingRead).contains(org.id) {
        // What sharing saved the member this fiscal year: the headline of its savings report.
        let start = crate::clock::fy_start(&s).await?;
        let fy = domain::billing::period::fiscal_year(crate::clock::today(), start);
        let r = store::billing::finance::savings(
            &s.db,
            &domain::authz::Scope::Orgs([org.id].into()),
            fy,
            start,
        )
        .await?;
        let (value, note) = match r.saved_percent {
            Some(pct) => (
                domain::billing::format_cents(r.saved_cents),
                format!("saved in FY{fy} so far ({pct}% of running these services alone)"),
            ),
            None => ("—".to_owned(), format!("nothing to compare in FY{fy} yet")),
        };
        cards.push(Card {
            label: "Savings from sharing",
            value,
            note,
            href: format!("/billing/savings?org={slug}"),
            action: "See the savings report",
        });
    }
    let open_days: Vec<String> = WEEKDAY_NAMES
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let h = org.business_hours.format_day(i);
            (!h.is_empty()).then(|| format!("{}{} {h}", d[..1].to_ascii_uppercase(), &d[1..3]))
        })
        .collect();
    let hours_summary = if open_days.is_empty() {
        "Closed every day".into()
    } else {
        open_days.join(", ")
    };
    let holidays_summary = match (org.holiday_rules.federal, org.holiday_rules.massachusetts) {
        (true, true) => "US federal and Massachusetts",
        (true, false) => "US federal",
        (false, true) => "Massachusetts",
        (false, false) => "None",
    }
    .to_owned();
    let f = Frame::new(&s, &p, &org.name, "dashboard")
        .await?
        .notice(q.notice.as_deref());
    Ok(render(&Dashboard {
        f,
        org,
        cards,
        hours_summary,
        holidays_summary,
    }))
}

async fn settings_page(
    s: &AppState,
    p: &Principal,
    org: &Org,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    settings_page_with(s, p, org, form, Extra::default(), status).await
}

/// What a settings page shows beyond the settings form.
#[derive(Default)]
struct Extra<'a> {
    proposal_form: FormState,
    /// A failed decision: the proposal's id and what was wrong.
    decision_error: Option<(String, String)>,
    notice: Option<&'a str>,
}

async fn settings_page_with(
    s: &AppState,
    p: &Principal,
    org: &Org,
    form: FormState,
    extra: Extra<'_>,
    status: StatusCode,
) -> PageResult<Response> {
    let notice = extra.notice;
    let prop = proposals_section(s, p, org, extra.proposal_form, extra.decision_error).await?;
    let f = Frame::new(s, p, &format!("Settings of {}", org.name), "settings")
        .await?
        .notice(notice)
        .crumbs(&[(&format!("/orgs/{}", org.slug), &org.name)]);
    let show_active = !org.is_hub && p.scope(Permission::OrgManage).contains(org.id);
    let mut k = kinds();
    if org.is_hub {
        k = vec![("hub".into(), "Hub".into())];
    }
    Ok(render_status(
        status,
        &OrgForm {
            f,
            form,
            kinds: k,
            days: day_fields(),
            action: format!("/orgs/{}/settings", org.slug),
            submit: "Save settings",
            creating: false,
            version: org.version,
            slug: org.slug.to_string(),
            show_active,
            active: org.active,
            prop: Some(prop),
        },
    ))
}

async fn settings_form(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let form = form_from_draft(&org.draft());
    settings_page_with(
        &s,
        &p,
        &org,
        form,
        Extra {
            notice: q.notice.as_deref(),
            ..Extra::default()
        },
        StatusCode::OK,
    )
    .await
}

async fn save_settings(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let mut raw = raw_from_form(&form, false);
    let number_errors = parse_numbers(&form, &mut raw);
    let version = form.get("version").and_then(|v| v.parse().ok());
    let result = if number_errors.is_empty() {
        crate::tenancy::ops::orgs::apply_edit(&s, &p, &slug, version, &raw).await
    } else {
        Err(Failure::Invalid(number_errors))
    };
    match result {
        Ok(o) => Ok(Redirect::to(&format!("/orgs/{}?notice=saved", o.slug)).into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(e)?;
            settings_page(&s, &p, &org, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn set_active(
    s: AppState,
    p: Principal,
    slug: String,
    form: HashMap<String, String>,
    active: bool,
) -> PageResult<Response> {
    let version = form.get("version").and_then(|v| v.parse().ok());
    let o = crate::tenancy::ops::orgs::set_org_active(&s, &p, &slug, version, active).await?;
    Ok(Redirect::to(&format!(
        "/orgs/{}?notice={}",
        o.slug,
        if active { "reactivated" } else { "deactivated" }
    ))
    .into_response())
}

async fn deactivate(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    set_active(s, p, slug, form, false).await
}

async fn reactivate(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    set_active(s, p, slug, form, true).await
}

async fn propose(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = domain::tenancy::proposals::RawProposal {
        field: Some("population".into()),
        value: form
            .get("value")
            .map(|v| domain::tenancy::proposals::RawNumber::Text(v.clone())),
        reason: form.get("reason").cloned(),
        source: form.get("source").cloned(),
    };
    match crate::tenancy::ops::orgs::propose(&s, &p, &slug, &raw).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/orgs/{slug}/settings?notice=proposed#proposals"))
                .into_response(),
        ),
        Err(e @ Failure::Invalid(_)) => {
            let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
            let pform = FormState::refill(form).fail(e)?;
            settings_page_with(
                &s,
                &p,
                &org,
                form_from_draft(&org.draft()),
                Extra {
                    proposal_form: pform,
                    ..Extra::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn decide(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = domain::tenancy::proposals::RawDecision {
        decision: form.get("decision").cloned(),
        note: form.get("note").cloned(),
    };
    // Back to the settings page the decision was made on (the hub's, or the member's).
    let back = form
        .get("back")
        .and_then(|b| domain::tenancy::OrgSlug::parse(b).ok());
    match crate::tenancy::ops::orgs::decide(&s, &p, &id, &raw).await {
        Ok(x) => {
            let slug = back.map_or(x.org_slug, |b| b.to_string());
            Ok(
                Redirect::to(&format!("/orgs/{slug}/settings?notice=decided#proposals"))
                    .into_response(),
            )
        }
        Err(e @ (Failure::Invalid(_) | Failure::Conflict { .. })) => {
            let proposal = store::tenancy::proposals::get(&s.db, &scope, &id).await?;
            let slug = back.map_or(proposal.org_slug, |b| b.to_string());
            let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
            let message = e
                .field_errors()
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ");
            settings_page_with(
                &s,
                &p,
                &org,
                form_from_draft(&org.draft()),
                Extra {
                    decision_error: Some((id, message)),
                    ..Extra::default()
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
