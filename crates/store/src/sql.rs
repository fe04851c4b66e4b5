//! A small SQL builder that numbers placeholders `$1, $2, …` (which both SQLite and PostgreSQL accept) and
//! applies a [`Scope`] as an `org_id IN (…)` filter, so no tenant query is written without one. Values are
//! kept as portable [`Param`]s, so the same query runs through sqlx or through the direct SQLite reader.

use domain::authz::Scope;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments};
use std::fmt::Write;

/// A bound value, in the portable types the schema uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(i64),
    Text(String),
    NullInt,
    NullText,
}

impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Self::NullInt, Self::Int)
    }
}

impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        v.map_or(Self::NullText, Self::Text)
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

pub(crate) struct Sql {
    text: String,
    params: Vec<Param>,
}

/// Where [`Sql::like`] looks for its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Like {
    Prefix,
    Anywhere,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    /// The statement's text, with `$N` placeholders.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The values bound to `$1`, `$2`, …, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Binds the next `$N` the text already holds (for statements written out in full).
    pub fn arg(&mut self, value: impl Into<Param>) -> &mut Self {
        self.params.push(value.into());
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub fn bind(&mut self, value: impl Into<Param>) -> &mut Self {
        self.params.push(value.into());
        let _ = write!(self.text, "${}", self.params.len());
        self
    }

    /// `<column> LIKE <pattern> ESCAPE '\'` where the pattern is `text` taken literally — its `%` and `_`
    /// are not wildcards (`catalog_item.` means what it says) — at the start of the column (`Like::Prefix`)
    /// or anywhere in it (`Like::Anywhere`).
    pub fn like(&mut self, column: &str, text: &str, at: Like) -> &mut Self {
        let mut pattern = String::with_capacity(text.len() + 2);
        if at == Like::Anywhere {
            pattern.push('%');
        }
        for ch in text.chars() {
            if matches!(ch, '\\' | '%' | '_') {
                pattern.push('\\');
            }
            pattern.push(ch);
        }
        pattern.push('%');
        self.push(column)
            .push(" LIKE ")
            .bind(pattern)
            .push(" ESCAPE '\\'")
    }

    /// Keyset paging over `ORDER BY key ASC, id ASC`: ` AND (key > k OR (key = k AND id > i))` from a
    /// `k|i` cursor the list gave (the key may itself hold `|`: the id is after the last one).
    pub fn after_cursor(
        &mut self,
        key: &str,
        id: &str,
        cursor: &str,
    ) -> Result<&mut Self, domain::Invalid> {
        let (k, i) = cursor
            .rsplit_once('|')
            .ok_or_else(|| domain::Invalid::one("cursor", "is not a cursor of this list"))?;
        self.push(" AND (")
            .push(key)
            .push(" > ")
            .bind(k.to_owned())
            .push(" OR (")
            .push(key)
            .push(" = ")
            .bind(k.to_owned())
            .push(" AND ")
            .push(id)
            .push(" > ")
            .bind(i.to_owned())
            .push("))");
        Ok(self)
    }

    /// Keyset paging over `ORDER BY key DESC, id DESC`: ` AND (key < k OR (key = k AND id < i))` from a
    /// `k|i` cursor the list gave; any other cursor is a field error.
    pub fn before_cursor(
        &mut self,
        key: &str,
        id: &str,
        cursor: &str,
    ) -> Result<&mut Self, domain::Invalid> {
        let (k, i) = cursor
            .split_once('|')
            .ok_or_else(|| domain::Invalid::one("cursor", "is not a cursor of this list"))?;
        self.push(" AND (")
            .push(key)
            .push(" < ")
            .bind(k.to_owned())
            .push(" OR (")
            .push(key)
            .push(" = ")
            .bind(k.to_owned())
            .push(" AND ")
            .push(id)
            .push(" < ")
            .bind(i.to_owned())
            .push("))");
        Ok(self)
    }

    /// ` AND <column> IN (…)` for the scope's organisations; nothing for the whole region; a filter that
    /// matches nothing for an empty scope.
    pub fn scope(&mut self, column: &str, scope: &Scope) -> &mut Self {
        match scope {
            Scope::Region => {}
            Scope::Orgs(orgs) if orgs.is_empty() => {
                self.push(" AND 1 = 0");
            }
            Scope::Orgs(orgs) => {
                self.push(" AND ").push(column).push(" IN (");
                for (i, o) in orgs.iter().enumerate() {
                    if i > 0 {
                        self.push(", ");
                    }
                    self.bind(o.to_string());
                }
                self.push(")");
            }
        }
        self
    }

    /// `<column> IN (…)` as a condition on its own (`1 = 1` for the region, `1 = 0` for an empty scope).
    pub fn scope_cond(&mut self, column: &str, scope: &Scope) -> &mut Self {
        match scope {
            Scope::Region => {
                self.push("1 = 1");
            }
            Scope::Orgs(orgs) if orgs.is_empty() => {
                self.push("1 = 0");
            }
            Scope::Orgs(_) => {
                self.push("1 = 1");
                self.scope(column, scope);
            }
        }
        self
    }

    /// ` AND (…)` limiting tickets (aliased `t`) to what a [`TicketView`] sees: every ticket of its `all`
    /// organisations, and in its `own` ones the tickets the person requested or watches.
    pub fn ticket_view(&mut self, view: &domain::authz::TicketView) -> &mut Self {
        use domain::authz::Scope;
        // The common cases stay simple, so that the planner sees only the real filters.
        if matches!(view.all, Scope::Region) {
            return self;
        }
        if matches!(&view.own, Scope::Orgs(o) if o.is_empty()) {
            self.push(" AND (");
            self.scope_cond("t.org_id", &view.all);
            self.push(")");
            return self;
        }
        self.push(" AND ((");
        self.scope_cond("t.org_id", &view.all);
        self.push(") OR ((");
        self.scope_cond("t.org_id", &view.own);
        self.push(") AND (t.requester_id = ")
            .bind(view.user.to_string())
            .push(" OR EXISTS (SELECT 1 FROM ticket_watchers w WHERE w.ticket_id = t.id AND w.user_id = ")
            .bind(view.user.to_string())
            .push("))))");
        self
    }

    fn args(&self) -> AnyArguments<'static> {
        let mut args = AnyArguments::default();
        for p in &self.params {
            // Adding i64 or String to AnyArguments cannot fail.
            let _ = match p {
                Param::Int(i) => args.add(*i),
                Param::Text(t) => args.add(t.clone()),
                Param::NullInt => args.add(None::<i64>),
                Param::NullText => args.add(None::<String>),
            };
        }
        args
    }

    pub async fn fetch_all<'e, E: sqlx::Executor<'e, Database = Any>>(
        self,
        ex: E,
    ) -> sqlx::Result<Vec<AnyRow>> {
        let args = self.args();
        sqlx::query_with(&self.text, args).fetch_all(ex).await
    }

    pub async fn execute<'e, E: sqlx::Executor<'e, Database = Any>>(
        self,
        ex: E,
    ) -> sqlx::Result<u64> {
        let args = self.args();
        Ok(sqlx::query_with(&self.text, args)
            .execute(ex)
            .await?
            .rows_affected())
    }

    pub async fn fetch_optional<'e, E: sqlx::Executor<'e, Database = Any>>(
        self,
        ex: E,
    ) -> sqlx::Result<Option<AnyRow>> {
        let args = self.args();
        sqlx::query_with(&self.text, args).fetch_optional(ex).await
    }
}

/// Statements that run together in one transaction, as few round trips as the backend allows. On SQLite —
/// where sqlx runs the connection on a thread of its own and every statement is a hand-off to it and back —
/// they go as one multi-statement query (SQLite binds `$N` by number across all of its statements, so each
/// statement's placeholders are renumbered after the ones before it). PostgreSQL prepares one statement at a
/// time, so there they run in turn. The statements and their values are the same either way.
#[derive(Default)]
pub(crate) struct Batch {
    statements: Vec<Sql>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, q: Sql) -> &mut Self {
        self.statements.push(q);
        self
    }

    /// One query: the statements joined, each one's `$k` moved past the values of those before it.
    fn joined(self) -> Sql {
        let mut out = Sql::new("");
        for q in self.statements {
            let offset = out.params.len();
            let mut rest = q.text.as_str();
            while let Some(i) = rest.find('$') {
                out.text.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
                let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 {
                    let n: usize = rest[..digits].parse().unwrap_or(0);
                    let _ = write!(out.text, "{}", n + offset);
                    rest = &rest[digits..];
                }
            }
            out.text.push_str(rest);
            out.text.push_str(";\n");
            out.params.extend(q.params);
        }
        out
    }

    /// Runs every statement; the rows any of them return (`RETURNING`), in order.
    pub async fn run(
        self,
        conn: &mut sqlx::AnyConnection,
        backend: crate::Backend,
    ) -> sqlx::Result<Vec<AnyRow>> {
        match backend {
            crate::Backend::Sqlite => self.joined().fetch_all(conn).await,
            crate::Backend::Postgres => {
                let mut rows = Vec::new();
                for q in self.statements {
                    rows.extend(q.fetch_all(&mut *conn).await?);
                }
                Ok(rows)
            }
        }
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_after_the_statements_before() {
        let mut a = Sql::new("INSERT INTO t (a, b) VALUES (");
        a.bind(1).push(", ").bind("x").push(")");
        let mut b = Sql::new("UPDATE u SET c = ");
        b.bind(2).push(" WHERE d = ").bind("y").push(" AND e = $1");
        let mut batch = Batch::new();
        batch.push(a).push(b);
        let q = batch.joined();
        assert_eq!(
            q.text,
            "INSERT INTO t (a, b) VALUES ($1, $2);\nUPDATE u SET c = $3 WHERE d = $4 AND e = $3;\n"
        );
        assert_eq!(
            q.params,
            vec![
                Param::Int(1),
                Param::Text("x".into()),
                Param::Int(2),
                Param::Text("y".into())
            ]
        );
    }
}
