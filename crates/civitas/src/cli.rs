//! Administration commands that act on the database directly (as the system, recorded in the audit log).

use crate::config::Config;
use anyhow::{Context, anyhow};
use domain::authz::{Role, Scope};
use domain::tenancy::Email;
use store::Db;
use store::audit::Actor;
use store::tenancy::{orgs, users};

/// Connects to the configured database (creating the SQLite data directory) and migrates it.
pub async fn open(config: &Config) -> anyhow::Result<Db> {
    open_with(config, true).await
}

/// [`open`]; `create_key`: whether a missing audit key file may be created (not for `audit verify`, which
/// must check with the installation's key, not a new one).
pub async fn open_with(config: &Config, create_key: bool) -> anyhow::Result<Db> {
    let key = config.audit_key(create_key)?;
    store::audit::install_key(key).context("installing the audit key")?;
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
    }
    let url = config.database_url();
    let db = Db::connect(
        &url,
        &store::DbOptions {
            max_connections: config.max_connections,
            direct: config.sqlite_direct,
        },
    )
    .await
    .with_context(|| {
        format!(
            "connecting to the database ({})",
            if url.starts_with("sqlite") {
                url.as_str()
            } else {
                "postgres"
            }
        )
    })?;
    db.migrate().await.context("migrating the database")?;
    Ok(db)
}

fn field(e: domain::FieldError) -> anyhow::Error {
    anyhow!("--{}: {}", e.field.replace('_', "-"), e.message)
}

pub async fn add_user(
    db: &Db,
    org: &str,
    email: &str,
    name: &str,
    role: &str,
    password: &str,
) -> anyhow::Result<users::User> {
    let email = Email::parse(email).map_err(field)?;
    let role = Role::parse(role).map_err(field)?;
    let name = domain::validation::text("name", name, 120).map_err(field)?;
    domain::tenancy::check_new_password("password", password, email.as_str(), &name)
        .map_err(|e| anyhow!("password (standard input): {}", e.message))?;
    let org = orgs::get_by_slug(db, &Scope::Region, org)
        .await
        .map_err(|e| match e {
            store::StoreError::NotFound => anyhow!("--org: no organisation has the slug {org:?}"),
            other => other.into(),
        })?;
    role.check_grantable(org.is_hub).map_err(field)?;
    let hash = store::auth::hash_password(password)?;
    users::create(
        db,
        &Scope::Region,
        &Actor::system("cli"),
        org.id,
        users::NewUser {
            email: &email,
            name: &name,
            role,
            password_hash: Some(hash),
        },
    )
    .await
    .map_err(|e| match e {
        store::StoreError::Conflict { field, message } => anyhow!("--{field}: {message}"),
        other => other.into(),
    })
}

async fn find(db: &Db, email: &str) -> anyhow::Result<users::User> {
    let email = Email::parse(email).map_err(field)?;
    users::find_by_email(db, &email)
        .await?
        .ok_or_else(|| anyhow!("--email: no one has the email {email}"))
}

pub async fn set_password(db: &Db, email: &str, password: &str) -> anyhow::Result<()> {
    let u = find(db, email).await?;
    domain::tenancy::check_new_password("password", password, &u.email, &u.name)
        .map_err(|e| anyhow!("password (standard input): {}", e.message))?;
    let hash = store::auth::hash_password(password)?;
    users::set_password(db, &Actor::system("cli"), u.id, &hash, None, false).await?;
    Ok(())
}

pub async fn create_token(db: &Db, email: &str, name: &str) -> anyhow::Result<String> {
    let u = find(db, email).await?;
    if !u.active {
        anyhow::bail!("--email: the account of {email} is disabled");
    }
    let name = domain::validation::text("name", name, 80).map_err(field)?;
    let (token, _) =
        store::auth::create_token(db, &Actor::system("cli"), u.id, u.org_id, &name).await?;
    Ok(token)
}
