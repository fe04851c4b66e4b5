//! Canned replies.

use super::*;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CannedReply {
    pub id: String,
    pub title: String,
    pub body: String,
}

pub async fn canned_replies(db: &Db) -> Result<Vec<CannedReply>> {
    sqlx::query("SELECT id, title, body FROM canned_replies ORDER BY title")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(CannedReply {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

pub async fn add_canned_reply(
    db: &Db,
    actor: &Actor,
    title: &str,
    body: &str,
) -> Result<CannedReply> {
    let c = CannedReply {
        id: uuid::Uuid::now_v7().to_string(),
        title: title.to_owned(),
        body: body.to_owned(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO canned_replies (id, title, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&c.id)
        .bind(&c.title)
        .bind(&c.body)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::on_unique(
                e,
                "title",
                "title",
                "is already the title of a canned reply",
            )
        })?;
    log(
        &mut tx,
        actor,
        None,
        "canned_reply.create",
        ("canned_reply", c.id.clone()),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}
