//! The OpenAPI 3.1 document at `/api/openapi.json`, generated from the route table (so every route is in
//! it) and from the handlers' signatures: the request body and query of every operation are the JSON
//! Schemas of the Rust types that parse them (`ApiJson<T>`, `ApiQuery<T>`, derived with `schemars`), so
//! the document cannot drift from the code. An offline viewer is at `/api/docs` (vendored Swagger UI).

use crate::extract::{
    ApiAmend, ApiCreate, ApiJson, ApiQuery, Create, CsvFile, Segment, Vocabulary,
};
use crate::json::Answer;
use crate::routes::RouteInfo;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};
use std::future::Future;

/// What a handler's signature tells the document: the schemas of its body, of its query and of its answer.
#[derive(Debug, Default, Clone)]
pub struct Signature {
    pub body: Option<Value>,
    pub query: Option<Value>,
    /// The schema of a successful answer, when the handler returns a typed [`Answer`].
    pub response: Option<Value>,
    /// The body is a file, taken as it comes: its media type (`text/csv` for an import).
    pub file: Option<&'static str>,
    /// What the path extractor's type says of each path parameter, in order (`None`: its name says it).
    pub path: Vec<Option<Value>>,
}

/// An extractor's part of its operation's document; most extractors add nothing.
pub trait Described {
    fn describe(_sig: &mut Signature, _g: &mut SchemaGenerator) {}
}

impl<T: JsonSchema> Described for ApiJson<T> {
    fn describe(sig: &mut Signature, g: &mut SchemaGenerator) {
        sig.body = Some(g.subschema_for::<T>().to_value());
    }
}

impl<T: JsonSchema + Create> Described for ApiCreate<T> {
    fn describe(sig: &mut Signature, g: &mut SchemaGenerator) {
        // Inlined: the type's own schema serves amendments, where nothing is required.
        let mut schema = T::json_schema(g).to_value();
        for name in T::REQUIRED {
            if let Some(prop) = schema["properties"].get_mut(*name) {
                not_null(prop);
            }
        }
        schema["required"] = json!(T::REQUIRED);
        sig.body = Some(schema);
    }
}

impl<T: JsonSchema + Create> Described for ApiAmend<T> {
    fn describe(sig: &mut Signature, g: &mut SchemaGenerator) {
        let mut schema = T::json_schema(g).to_value();
        if let Some(props) = schema["properties"].as_object_mut() {
            for name in T::FIXED {
                props.remove(*name);
            }
        }
        sig.body = Some(schema);
    }
}

/// A property's schema without `null`: a required field must be given a value.
fn not_null(prop: &mut Value) {
    if let Some(types) = prop.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            prop["type"] = types[0].clone();
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = prop.get_mut(key).and_then(Value::as_array_mut) {
            alts.retain(|a| a != &json!({ "type": "null" }));
        }
    }
}

impl<T: JsonSchema> Described for ApiQuery<T> {
    fn describe(sig: &mut Signature, g: &mut SchemaGenerator) {
        // Inlined, so that its properties can be listed as query parameters.
        sig.query = Some(T::json_schema(g).to_value());
    }
}

impl Described for axum::body::Bytes {
    fn describe(sig: &mut Signature, _: &mut SchemaGenerator) {
        sig.file = Some("application/octet-stream");
    }
}

impl Described for CsvFile {
    fn describe(sig: &mut Signature, _: &mut SchemaGenerator) {
        sig.file = Some("text/csv");
    }
}

/// What a path extractor's type says of its parameters: plain strings nothing (their names say it, see
/// [`path_schema`]), a [`Segment`] the values of its vocabulary.
pub trait PathDoc {
    fn schemas() -> Vec<Option<Value>> {
        Vec::new()
    }
}
impl PathDoc for String {}
impl PathDoc for (String, String) {}
impl PathDoc for (String, String, String) {}
impl<T: Vocabulary> PathDoc for Segment<T> {
    fn schemas() -> Vec<Option<Value>> {
        vec![Some(json!({ "type": "string", "enum": T::values() }))]
    }
}

impl<T: PathDoc> Described for axum::extract::Path<T> {
    fn describe(sig: &mut Signature, _: &mut SchemaGenerator) {
        sig.path = T::schemas();
    }
}

macro_rules! nothing_to_describe {
    ($($t:ty),* $(,)?) => { $(impl Described for $t {})* };
}
nothing_to_describe!(
    crate::auth::Principal,
    crate::routes::Granted,
    axum::http::HeaderMap,
    axum::extract::Request,
    axum::extract::Multipart,
    axum::http::request::Parts,
);
impl<S> Described for axum::extract::State<S> {}
impl<T> Described for axum::extract::Query<T> {}
impl<T> Described for crate::extract::PageQueryString<T> {}
impl<T> Described for axum::extract::Form<T> {}
impl<T> Described for axum::extract::ConnectInfo<T> {}
impl<T: Described> Described for Option<T> {}
impl<T: Described, E> Described for Result<T, E> {}

/// A handler's result's part of its operation's document: a typed [`Answer`] gives its body's schema; an
/// untyped `Response` (a file, a CSV, a page) gives none.
pub trait Answered {
    fn describe(_sig: &mut Signature, _g: &mut SchemaGenerator) {}
}

impl<T: JsonSchema, E> Answered for Result<Answer<T>, E> {
    fn describe(sig: &mut Signature, g: &mut SchemaGenerator) {
        sig.response = Some(g.subschema_for::<T>().to_value());
    }
}
impl<E> Answered for Result<axum::response::Response, E> {}
impl Answered for axum::response::Response {}

/// A handler whose arguments are all [`Described`]: its [`Signature`], without calling it.
pub trait Documented<T> {
    fn signature(g: &mut SchemaGenerator) -> Signature;
}

impl<F, Fut> Documented<((),)> for F
where
    F: FnOnce() -> Fut,
    Fut: Future,
    Fut::Output: Answered,
{
    fn signature(g: &mut SchemaGenerator) -> Signature {
        let mut sig = Signature::default();
        <Fut::Output as Answered>::describe(&mut sig, g);
        sig
    }
}

macro_rules! documented {
    ($($t:ident),+) => {
        impl<F, Fut, M, $($t,)+> Documented<(M, $($t,)+)> for F
        where
            F: FnOnce($($t,)+) -> Fut,
            Fut: Future,
            Fut::Output: Answered,
            $($t: Described,)+
        {
            fn signature(g: &mut SchemaGenerator) -> Signature {
                let mut sig = Signature::default();
                $($t::describe(&mut sig, g);)+
                <Fut::Output as Answered>::describe(&mut sig, g);
                sig
            }
        }
    };
}
documented!(T1);
documented!(T1, T2);
documented!(T1, T2, T3);
documented!(T1, T2, T3, T4);
documented!(T1, T2, T3, T4, T5);
documented!(T1, T2, T3, T4, T5, T6);
documented!(T1, T2, T3, T4, T5, T6, T7);
documented!(T1, T2, T3, T4, T5, T6, T7, T8);

/// The generator of the document's schemas: JSON Schema 2020-12 (what OpenAPI 3.1 uses), with named types
/// under `#/components/schemas`.
fn generator() -> SchemaGenerator {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    settings.into_generator()
}

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

fn is_list(r: &RouteInfo) -> bool {
    r.method == "GET" && !r.path.ends_with('}') && r.path != "/api/v1/me"
}

/// What a path parameter holds, by its name — the same name means the same thing in every route: a ticket's
/// `number`, an organisation's `slug`, a day's `date`, and otherwise a record's id (unless the path
/// extractor's type says more, see [`PathDoc`]).
fn path_schema(name: &str) -> Value {
    match name {
        "number" => json!({ "type": "integer", "format": "int64", "minimum": 1 }),
        "slug" => {
            json!({ "type": "string", "pattern": domain::tenancy::SLUG_PATTERN, "minLength": 2, "maxLength": 63 })
        }
        "date" => json!({ "type": "string", "format": "date" }),
        _ => json!({ "type": "string", "format": "uuid" }),
    }
}

fn operation(r: &RouteInfo, g: &mut SchemaGenerator) -> Value {
    let sig = (r.signature)(g);
    let mut params: Vec<Value> = r
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .enumerate()
        .map(|(i, name)| {
            let schema = sig
                .path
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| path_schema(name));
            json!({ "name": name, "in": "path", "required": true, "schema": schema })
        })
        .collect();
    params.extend(query_parameters(sig.query.as_ref()));
    let schema = schema_for(r.path)
        .map(|s| json!({ "$ref": format!("#/components/schemas/{s}") }))
        .unwrap_or(json!({ "type": "object" }));
    let ok_body = if let Some(typed) = sig.response.clone() {
        typed
    } else if is_list(r) {
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
        params.push(json!({ "name": "If-Match", "in": "header", "description": "The ETag you read (`\"v3\"`), or `*` for any; a stale one gets 412 and nothing changes.", "schema": { "type": "string", "pattern": "^(\\*|(W/)?\"v[0-9]{1,9}\")$" } }));
    }
    if r.method == "POST" {
        responses.insert("409".into(), problem.clone());
        params.push(json!({ "name": "Idempotency-Key", "in": "header", "description": "Retries with the same key get the first response.", "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" } }));
    }
    let mut op = json!({
        "summary": r.summary,
        "description": format!("Needs: `{}`.", r.needs),
        "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if let Some(body) = sig.body {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": body } } });
    } else if let Some(media) = sig.file {
        op["requestBody"] = json!({ "required": true, "description": "The file itself.",
            "content": { media: { "schema": { "type": "string", "format": "binary", "minLength": 1 } } } });
    }
    op
}

/// The query parameters of an `ApiQuery<T>`: one per property of `T`'s schema.
fn query_parameters(query: Option<&Value>) -> Vec<Value> {
    let Some(q) = query else { return Vec::new() };
    let required: Vec<&str> = q["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = q["properties"].as_object() else {
        return Vec::new();
    };
    props
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|o| o.remove("description"));
            let mut p = json!({ "name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": schema });
            if let Some(d) = description {
                p["description"] = d;
            }
            p
        })
        .collect()
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
        "DayOff": { "type": "object", "properties": { "date": { "type": "string", "format": "date" }, "name": string(), "source": { "enum": ["federal", "massachusetts", "local"] } } },
        "Closure": { "type": "object", "required": ["date", "name"], "properties": { "date": { "type": "string", "format": "date" }, "name": string() } },
        "Department": { "type": "object", "properties": { "id": id, "org_id": id, "name": string(), "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "Site": { "type": "object", "properties": { "id": id, "org_id": id, "name": string(), "address": string(), "kind": string(), "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "User": { "type": "object", "properties": { "id": id, "org_id": id, "email": string(), "name": string(), "active": { "type": "boolean" }, "created_at": ts, "updated_at": ts, "version": { "type": "integer" } } },
        "Invitation": { "type": "object", "properties": { "id": id, "org_id": id, "email": string(), "role": string(), "created_at": ts, "expires_at": ts,
            "accepted_at": ts, "sent_at": ts, "send_error": { "type": ["string", "null"], "description": "Why the last mail did not go (no mail server configured, or its refusal): resend it." },
            "revoked_at": ts, "state": { "enum": ["queued", "sent", "not_sent", "accepted", "expired", "revoked"] } } },
        "InvitationAnswer": { "type": "object", "required": ["invitation"], "properties": { "invitation": { "$ref": "#/components/schemas/Invitation" } } },
        "Grant": { "type": "object", "properties": { "id": id, "org_id": id, "org_slug": string(), "user_id": id, "user_email": string(), "user_name": string(), "role": string(), "created_at": ts } },
        "ApiToken": { "type": "object", "properties": { "id": id, "name": string(), "prefix": string(), "token": { "type": "string", "description": "Only in the response to creation." }, "created_at": ts, "last_used_at": ts, "revoked_at": ts } },
        "AuditEntry": { "type": "object", "properties": { "seq": { "type": "integer" }, "at": ts, "org_id": id, "org_slug": string(), "actor": string(), "action": string(),
            "entity_kind": string(), "entity_id": string(), "before": {}, "after": {}, "hash": string() } },
        "Me": { "type": "object", "properties": { "user": { "$ref": "#/components/schemas/User" }, "grants": { "type": "array", "items": { "$ref": "#/components/schemas/Grant" } }, "current_org_id": id } }
    })
}

/// The document for the API routes in `routes`.
pub fn document(routes: &[RouteInfo]) -> Value {
    let mut g = generator();
    let mut paths = Map::new();
    for r in routes.iter().filter(|r| r.path.starts_with("/api/v1/")) {
        let item = paths.entry(r.path.to_owned()).or_insert_with(|| json!({}));
        item[r.method.to_lowercase()] = operation(r, &mut g);
    }
    let mut components = g.take_definitions(true);
    if let Value::Object(resources) = schemas() {
        components.extend(resources);
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Civitas API", "version": env!("CARGO_PKG_VERSION"),
            "description": "The JSON API of Civitas, the shared-IT-services hub platform. Authenticate with `Authorization: Bearer <token>` (create one under Account → API tokens or with `civitas token create`). Lists are keyset-paginated; errors are RFC 9457 problem+json naming the field." },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": { "schemas": components, "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } } }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        document(&crate::routes::registered_routes())
    }

    /// Every `$ref` in `v` names a schema of the document's components.
    fn refs_resolve(v: &Value, components: &Map<String, Value>, at: &str) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| {
                        panic!("{at}: $ref {r} is not under #/components/schemas/")
                    });
                    assert!(
                        components.contains_key(name),
                        "{at}: $ref {r} names no schema"
                    );
                }
                for (k, x) in o {
                    refs_resolve(x, components, &format!("{at}/{k}"));
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs_resolve(x, components, at)),
            _ => {}
        }
    }

    #[test]
    fn every_operation_that_reads_a_json_body_describes_it_from_its_type() {
        let d = doc();
        // The one way a handler reads a JSON body is `ApiJson<T>`; the table records its schema.
        let with_body: Vec<_> = crate::routes::registered_routes()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/v1/"))
            .filter(|r| (r.signature)(&mut generator()).body.is_some())
            .collect();
        assert!(
            with_body.len() >= 70,
            "only {} operations take a JSON body",
            with_body.len()
        );
        for r in with_body {
            let op = &d["paths"][r.path][r.method.to_lowercase()];
            assert!(
                op["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{} {}: no request body schema",
                r.method,
                r.path
            );
        }
        let opening = &d["paths"]["/api/v1/tickets"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"];
        let name = opening["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .unwrap_or_default();
        let props = &d["components"]["schemas"][name]["properties"];
        for field in ["subject", "description", "impact", "urgency"] {
            assert!(
                props[field].is_object(),
                "a ticket's {field} is not described: {props}"
            );
        }
        // A field the parser refuses is refused by the schema too (deny_unknown_fields).
        assert_eq!(
            d["components"]["schemas"][name]["additionalProperties"],
            false
        );
    }

    #[test]
    fn a_list_documents_its_filters_as_query_parameters() {
        let d = doc();
        let params = d["paths"]["/api/v1/tickets"]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
        for f in [
            "status", "priority", "assignee", "q", "sort", "limit", "cursor",
        ] {
            assert_eq!(
                names.iter().filter(|n| **n == f).count(),
                1,
                "ticket filter {f} in {names:?}"
            );
        }
        assert!(params.iter().all(|p| p["in"] == "query"));
        // A vocabulary is described by its values, the ones the parser accepts, wherever the schema keeps them.
        let priority = params
            .iter()
            .find(|p| p["name"] == "priority")
            .cloned()
            .unwrap_or_default();
        let mut text = priority["schema"].to_string();
        for (name, schema) in d["components"]["schemas"].as_object().into_iter().flatten() {
            if text.contains(&format!("/{name}\"")) {
                text.push_str(&schema.to_string());
            }
        }
        for p in domain::desk::ticket::Priority::ALL {
            assert!(
                text.contains(&format!("\"{}\"", p.as_str())),
                "priority {p} in {text}"
            );
        }
        let sort = params
            .iter()
            .find(|p| p["name"] == "sort")
            .cloned()
            .unwrap_or_default();
        assert_eq!(sort["schema"]["enum"], json!(["due", "newest"]));
    }

    #[test]
    fn path_parameters_and_dates_say_what_they_hold() {
        let d = doc();
        let param = |path: &str, method: &str, name: &str| {
            d["paths"][path][method]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"].clone())
                .unwrap_or_default()
        };
        assert_eq!(
            param("/api/v1/tickets/{number}", "get", "number")["type"],
            "integer"
        );
        assert_eq!(
            param("/api/v1/agreements/{id}", "get", "id")["format"],
            "uuid"
        );
        assert_eq!(
            param("/api/v1/orgs/{slug}/closures/{date}", "delete", "date")["format"],
            "date"
        );
        let slug = param("/api/v1/orgs/{slug}", "get", "slug");
        let pattern = slug["pattern"].as_str().unwrap_or_default();
        assert!(pattern.starts_with('^'), "{slug}");
        let events = param("/api/v1/mail-templates/{event}", "put", "event");
        assert!(
            events["enum"]
                .as_array()
                .is_some_and(|e| e.contains(&json!("opened"))),
            "{events}"
        );
        // A date in a body is described as one; a month by its pattern.
        let text = d["components"]["schemas"].to_string();
        assert!(
            text.contains(r#""starts_on":{"format":"date""#),
            "starts_on"
        );
        assert!(text.contains(r#"0[1-9]|1[0-2]"#), "a month's pattern");
    }

    /// A typed answer's schema is the record's own: a client generated from the document reads a ticket's
    /// fields by name. The JSON operations that still answer untyped (files, CSV, an empty 204, the few
    /// assembled in place) are counted, so that the number only goes down.
    #[test]
    fn answers_are_described_from_the_types_they_serialise() {
        let d = doc();
        let resolve = |schema: &Value| -> Value {
            match schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
                Some(name) => d["components"]["schemas"][name].clone(),
                None => schema.clone(),
            }
        };
        let ok = |path: &str, method: &str, code: &str| {
            resolve(
                &d["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"],
            )
        };
        let ticket = ok("/api/v1/tickets/{number}", "get", "200");
        for field in ["number", "subject", "status", "priority", "org_id"] {
            assert!(
                ticket["properties"][field].is_object(),
                "ticket.{field}: {ticket}"
            );
        }
        let page = ok("/api/v1/tickets", "get", "200");
        assert!(page["properties"]["next_cursor"].is_object(), "{page}");
        let item = resolve(&page["properties"]["items"]["items"]);
        assert_eq!(
            item["properties"]["subject"],
            ticket["properties"]["subject"]
        );
        let invoice = ok("/api/v1/invoices/{id}", "get", "200");
        assert!(
            invoice["properties"]["total_cents"].is_object(),
            "{invoice}"
        );
        let typed = crate::routes::registered_routes()
            .into_iter()
            .filter(|r| r.path.starts_with("/api/v1/"))
            .filter(|r| {
                // `Answer<serde_json::Value>` is typed in name only: its schema says nothing.
                (r.signature)(&mut generator())
                    .response
                    .is_some_and(|s| s != json!(true) && s != json!({}))
            })
            .count();
        assert!(
            typed >= 118,
            "only {typed} operations describe their answer from a type"
        );
    }

    #[test]
    fn every_schema_reference_resolves() {
        let d = doc();
        let components = d["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        refs_resolve(&d["paths"], &components, "paths");
        refs_resolve(
            &Value::Object(components.clone()),
            &components,
            "components",
        );
    }

    /// The document against the OpenAPI Initiative's schema of OpenAPI 3.1 documents (vendored in
    /// `crates/web/testdata`, see its README), and each of its schemas against JSON Schema 2020-12.
    #[test]
    fn the_document_is_valid_openapi_3_1() {
        let oas: Value = serde_json::from_str(include_str!("../testdata/openapi-3.1-schema.json"))
            .expect("the vendored OpenAPI 3.1 schema is JSON");
        let validator = jsonschema::validator_for(&oas).expect("the OpenAPI 3.1 schema compiles");
        let mut broken = doc();
        broken["paths"]["/api/v1/tickets"]["get"]["parameters"][0]["in"] = json!("body");
        assert!(
            !validator.is_valid(&broken),
            "the check must catch a parameter in the body"
        );
        let d = doc();
        let errors: Vec<String> = validator
            .iter_errors(&d)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "not valid OpenAPI 3.1: {errors:#?}");
        for (name, schema) in d["components"]["schemas"].as_object().into_iter().flatten() {
            if let Err(e) = jsonschema::meta::validate(schema) {
                panic!("components/schemas/{name} is not a valid JSON Schema: {e}");
            }
        }
    }
}
