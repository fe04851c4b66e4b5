//! The OpenAPI 3.1 document at `/api/openapi.json`, generated from the route table (so every route is in
//! it) plus the schemas of the resources, and an offline viewer at `/api/docs` (vendored Swagger UI).

use crate::routes::RouteInfo;
use serde_json::{Map, Value, json};

fn schema_for(path: &str) -> Option<&'static str> {
    let p = path.trim_end_matches('/');
    Some(match () {
        _ if p.ends_with("/tokens") || p.contains("/tokens/") => "ApiToken",
        _ if p.ends_with("/invitations") => "Invitation",
        _ if p.contains("/invitations/") => "InvitationAnswer",
        _ if p.ends_with("/days-off") => "DayOff",
        _ if p.ends_with("/closures") || p.contains("/closures/") => "Closure",
        _ if p.ends_with("/departments") || p.contains("/departments/") => "Department",
        _ if p.ends_with("/sites") || p.contains("/sites/") => "Site",
        _ if p.ends_with("/grants") || p.contains("/grants/") => "Grant",
        _ if p.ends_with("/users") || p.contains("/users/") => "User",
        _ if p.ends_with("/audit") => "AuditEntry",
        _ if p == "/api/v1/me" => "Me",
        _ if p.starts_with("/api/v1/orgs") => "Org",
        _ => return None,
    })
}

fn input_for(path: &str) -> Option<&'static str> {
    Some(match schema_for(path)? {
        "Department" => "DepartmentInput",
        "Closure" => "Closure",
        "Site" => "SiteInput",
        "Grant" => "GrantInput",
        "User" => "UserInput",
        "ApiToken" => "TokenInput",
        "Org" => "OrgInput",
        _ => return None,
    })
}

fn is_list(r: &RouteInfo) -> bool {
    r.method == "GET" && !r.path.ends_with('}') && r.path != "/api/v1/me"
}

fn operation(r: &RouteInfo) -> Value {
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if is_list(r) {
        params.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } }));
        params.push(json!({ "name": "cursor", "in": "query", "description": "The `next_cursor` of the previous page.", "schema": { "type": "string" } }));
    }
    let schema = schema_for(r.path)
        .map(|s| json!({ "$ref": format!("#/components/schemas/{s}") }))
        .unwrap_or(json!({ "type": "object" }));
    let ok_body = if is_list(r) {
        json!({ "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": schema }, "next_cursor": { "type": "string" } } })
    } else {
        schema
    };
    let (ok, ok_desc) = match r.method {
        "POST"
            if !r.path.ends_with("/deactivate")
                && !r.path.ends_with("/reactivate")
                && !r.path.ends_with("/disable")
                && !r.path.ends_with("/enable")
                && !r.path.ends_with("/approval")
                && !r.path.ends_with("/rating")
                && !r.path.ends_with("/usage")
                && !r.path.ends_with("/issue")
                && !r.path.ends_with("/void")
                && !r.path.ends_with("/revoke")
                && !r.path.ends_with("/resend") =>
        {
            ("201", "Created")
        }
        "POST" if r.path.ends_with("/resend") => ("202", "Accepted: the mail is queued"),
        "DELETE" => ("204", "Done"),
        _ => ("200", "OK"),
    };
    let problem = json!({ "description": "Problem", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } });
    let mut responses = Map::new();
    if ok == "204" {
        responses.insert(ok.into(), json!({ "description": ok_desc }));
    } else {
        responses.insert(ok.into(), json!({ "description": ok_desc, "content": { "application/json": { "schema": ok_body } } }));
    }
    // A member administrator's "add a person" and grant by email invite anyone not already its own.
    if r.method == "POST"
        && r.path.starts_with("/api/v1/orgs/{slug}/")
        && (r.path.ends_with("/users") || r.path.ends_with("/grants"))
    {
        responses.insert("202".into(), json!({ "description": "Invited: the same answer whether or not the address has an account elsewhere", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/InvitationAnswer" } } } }));
    }
    for code in ["400", "401", "403", "404", "422"] {
        responses.insert(code.into(), problem.clone());
    }
    if r.method == "PATCH" || r.method == "DELETE" || r.path.ends_with("activate") {
        responses.insert("412".into(), problem.clone());
        params.push(json!({ "name": "If-Match", "in": "header", "description": "The ETag you read; a stale one gets 412 and nothing changes.", "schema": { "type": "string" } }));
    }
    if r.method == "POST" {
        responses.insert("409".into(), problem.clone());
        params.push(json!({ "name": "Idempotency-Key", "in": "header", "description": "Retries with the same key get the first response.", "schema": { "type": "string", "maxLength": 255 } }));
    }
    let mut op = json!({
        "summary": r.summary,
        "description": format!("Needs: `{}`.", r.needs),
        "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if matches!(r.method, "POST" | "PATCH" | "PUT")
        && let Some(input) = input_for(r.path)
    {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{input}") } } } });
    }
    op
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn schemas() -> Value {
    let ts = json!({ "type": "string", "format": "date-time" });
    let id = json!({ "type": "string", "format": "uuid" });
    json!({
        "Problem": { "type": "object", "description": "RFC 9457 problem details.", "properties": {
            "type": string(), "title": string(), "status": { "type": "integer" }, "detail": string(), "code": string(),
            "errors": { "type": "array", "items": { "type": "object", "properties": { "field": string(), "message": string() } } } } },
        "Org": { "type": "object", "properties": {
            "id": id, "slug": string(), "name": string(), "kind": { "enum": ["hub", "city", "town", "school-district", "authority"] },
            "is_hub": { "type": "boolean" }, "active": { "type": "boolean" }, "county": { "type": ["string", "null"] },
            "population": { "type": ["integer", "null"] }, "time_zone": string(), "fiscal_year_start_month": { "type": "integer", "minimum": 1, "maximum": 12 },
            "business_hours": { "type": "object" }, "holiday_rules": { "type": "object" }, "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "OrgInput": { "type": "object", "properties": {
            "slug": string(), "name": string(), "kind": { "enum": ["city", "town", "school-district", "authority"] }, "county": string(),
            "population": { "type": "integer" }, "time_zone": string(), "fiscal_year_start_month": { "type": "integer" },
            "business_hours": { "type": "array", "items": string(), "minItems": 7, "maxItems": 7, "description": "Monday first: \"08:00-17:00\" or \"\" when closed." },
            "observe_federal_holidays": { "type": "boolean" }, "observe_massachusetts_holidays": { "type": "boolean" } } },
        "DayOff": { "type": "object", "properties": { "date": { "type": "string", "format": "date" }, "name": string(), "source": { "enum": ["federal", "massachusetts", "local"] } } },
        "Closure": { "type": "object", "required": ["date", "name"], "properties": { "date": { "type": "string", "format": "date" }, "name": string() } },
        "Department": { "type": "object", "properties": { "id": id, "org_id": id, "name": string(), "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "DepartmentInput": { "type": "object", "required": ["name"], "properties": { "name": string() } },
        "Site": { "type": "object", "properties": { "id": id, "org_id": id, "name": string(), "address": string(), "kind": string(), "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "SiteInput": { "type": "object", "required": ["name", "address", "kind"], "properties": { "name": string(), "address": string(),
            "kind": { "enum": ["city-hall", "school", "public-safety", "public-works", "library", "data-center", "other"] } } },
        "User": { "type": "object", "properties": { "id": id, "org_id": id, "email": string(), "name": string(), "active": { "type": "boolean" }, "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "UserInput": { "type": "object", "required": ["email", "role"], "description": "A hub administrator creates the account (name required, password optional). A member administrator invites the address: name is optional and not kept (the person chooses theirs when accepting), and a password is refused.",
            "properties": { "email": string(), "name": string(),
            "role": { "enum": ["hub-admin", "hub-agent", "member-admin", "member-staff", "auditor"] }, "password": { "type": "string", "minLength": 12 } } },
        "Invitation": { "type": "object", "properties": { "id": id, "org_id": id, "email": string(), "role": string(), "created_at": ts, "expires_at": ts,
            "accepted_at": ts, "sent_at": ts, "send_error": { "type": ["string", "null"], "description": "Why the last mail did not go (no mail server configured, or its refusal): resend it." },
            "revoked_at": ts, "state": { "enum": ["queued", "sent", "not_sent", "accepted", "expired", "revoked"] } } },
        "InvitationAnswer": { "type": "object", "required": ["invitation"], "properties": { "invitation": { "$ref": "#/components/schemas/Invitation" } } },
        "Grant": { "type": "object", "properties": { "id": id, "org_id": id, "org_slug": string(), "user_id": id, "user_email": string(), "user_name": string(), "role": string(), "created_at": ts } },
        "GrantInput": { "type": "object", "required": ["role"], "properties": { "user_id": id, "email": string(), "role": string() } },
        "ApiToken": { "type": "object", "properties": { "id": id, "name": string(), "prefix": string(), "token": { "type": "string", "description": "Only in the response to creation." }, "created_at": ts, "last_used_at": ts, "revoked_at": ts } },
        "TokenInput": { "type": "object", "required": ["name"], "properties": { "name": string() } },
        "AuditEntry": { "type": "object", "properties": { "seq": { "type": "integer" }, "at": ts, "org_id": id, "org_slug": string(), "actor": string(), "action": string(),
            "entity_kind": string(), "entity_id": string(), "before": {}, "after": {}, "hash": string() } },
        "Me": { "type": "object", "properties": { "user": { "$ref": "#/components/schemas/User" }, "grants": { "type": "array", "items": { "$ref": "#/components/schemas/Grant" } }, "current_org_id": id } }
    })
}

/// The document for the API routes in `routes`.
pub fn document(routes: &[RouteInfo]) -> Value {
    let mut paths = Map::new();
    for r in routes.iter().filter(|r| r.path.starts_with("/api/v1/")) {
        let item = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        item[r.method.to_lowercase()] = operation(r);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Civitas API", "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API of Civitas, the shared-IT-services hub platform. Authenticate with `Authorization: Bearer <token>` (create one under Account → API tokens or with `civitas token create`). Lists are keyset-paginated; errors are RFC 9457 problem+json naming the field." },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": { "schemas": schemas(), "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } }
    })
}
