//! Attachments: files added to a ticket and reading them back.

use super::*;

/// A file on a ticket (its bytes are served separately).
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
}

/// A file to keep: its name as given, its declared type and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Keeps a file on a ticket the caller may see; `event` ties it to the reply it came with.
pub async fn attach(
    db: &Db,
    view: &TicketView,
    actor: &Actor,
    number: i64,
    event: Option<TicketEventId>,
    file: NewFile<'_>,
) -> Result<Attachment> {
    use sha2::Digest;
    let (filename, content_type, bytes) = (file.name, file.content_type, file.bytes);
    let t = get(db, view, number).await?;
    let name: String = filename
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .take(200)
        .collect();
    let a = Attachment {
        id: uuid::Uuid::now_v7().to_string(),
        filename: if name.trim().is_empty() {
            "attachment".into()
        } else {
            name
        },
        content_type: content_type.chars().take(100).collect(),
        size_bytes: i64::try_from(bytes.len()).map_err(corrupt)?,
        sha256: hex::encode(sha2::Sha256::digest(bytes)),
        created_at: now_ms(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO attachments (id, ticket_id, org_id, event_id, filename, content_type, size_bytes, sha256, data, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(&a.id)
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .bind(event.map(|e| e.to_string()))
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size_bytes)
        .bind(&a.sha256)
        .bind(bytes.to_vec())
        .bind(actor.user_id.map(|u| u.to_string()))
        .bind(a.created_at)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "attachment.create",
        ("attachment", a.id.clone()),
        None,
        Some(to_json(&a)?),
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// The files of a ticket the caller may see.
pub async fn attachments(db: &Db, view: &TicketView, number: i64) -> Result<Vec<Attachment>> {
    let t = get(db, view, number).await?;
    sqlx::query("SELECT id, filename, content_type, size_bytes, sha256, created_at FROM attachments WHERE ticket_id = $1 ORDER BY created_at, id")
        .bind(t.id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Attachment {
                id: r.try_get("id")?,
                filename: r.try_get("filename")?,
                content_type: r.try_get("content_type")?,
                size_bytes: r.try_get("size_bytes")?,
                sha256: r.try_get("sha256")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// One file's description and bytes, if it belongs to a ticket the caller may see.
pub async fn attachment(
    db: &Db,
    view: &TicketView,
    number: i64,
    id: &str,
) -> Result<(Attachment, Vec<u8>)> {
    let t = get(db, view, number).await?;
    let r = sqlx::query("SELECT id, filename, content_type, size_bytes, sha256, created_at, data FROM attachments WHERE ticket_id = $1 AND id = $2")
        .bind(t.id.to_string())
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((
        Attachment {
            id: r.try_get("id")?,
            filename: r.try_get("filename")?,
            content_type: r.try_get("content_type")?,
            size_bytes: r.try_get("size_bytes")?,
            sha256: r.try_get("sha256")?,
            created_at: r.try_get("created_at")?,
        },
        r.try_get("data")?,
    ))
}
