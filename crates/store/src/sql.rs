//! A small SQL builder that numbers placeholders `$1, $2, …` (which both SQLite and PostgreSQL accept) and
//! applies a [`Scope`] as an `org_id IN (…)` filter, so no tenant query is written without one.

use domain::authz::Scope;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, Arguments, Encode, Type};
use std::fmt::Write;

pub(crate) struct Sql {
    text: String,
    args: AnyArguments<'static>,
    n: usize,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            args: AnyArguments::default(),
            n: 0,
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder and binds `value` to it.
    pub fn bind<T>(&mut self, value: T) -> &mut Self
    where
        T: Encode<'static, Any> + Type<Any> + Send + 'static,
    {
        self.n += 1;
        let _ = write!(self.text, "${}", self.n);
        // Adding a value to AnyArguments fails only for types Any cannot carry, which do not compile here.
        let _ = self.args.add(value);
        self
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

    pub async fn fetch_all<'e, E: sqlx::Executor<'e, Database = Any>>(
        self,
        ex: E,
    ) -> sqlx::Result<Vec<AnyRow>> {
        sqlx::query_with(&self.text, self.args).fetch_all(ex).await
    }

    pub async fn fetch_optional<'e, E: sqlx::Executor<'e, Database = Any>>(
        self,
        ex: E,
    ) -> sqlx::Result<Option<AnyRow>> {
        sqlx::query_with(&self.text, self.args)
            .fetch_optional(ex)
            .await
    }
}
