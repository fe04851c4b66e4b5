//! The audit log: append-only, hash-chained. Every change in every module appends one entry in the same
//! transaction as the change, so a change without its entry cannot be committed. Nothing here updates or
//! deletes an entry (and triggers refuse it in the database).

use crate::page::{Page, PageRequest};
use crate::sql::{Like, Sql};
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::audit::{AuditKey, ChainedFields, Checkpoint, entry_hash};
use domain::ids::{OrgId, UserId};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// Who made a change: a person (by id and email) or the system (a CLI command, a job).
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<UserId>,
    pub label: String,
}

impl Actor {
    pub fn user(id: UserId, email: &str) -> Self {
        Self {
            user_id: Some(id),
            label: email.to_owned(),
        }
    }

    pub fn system(what: &str) -> Self {
        Self {
            user_id: None,
            label: format!("system:{what}"),
        }
    }
}

/// One change to record.
pub struct Change<'a> {
    pub org_id: Option<OrgId>,
    pub action: &'a str,
    pub entity_kind: &'a str,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

/// The installation's audit key (see `domain::audit`): one per process, installed at start-up from the
/// configuration before anything is written. It is process-wide rather than carried by [`Db`] because every
/// change appends in its own transaction, in dozens of places; a process serves one installation.
static KEY: std::sync::OnceLock<AuditKey> = std::sync::OnceLock::new();

/// Installs the audit key. A second call with the same key is a no-op; with another key it is refused (one
/// process must never write one chain with two keys).
pub fn install_key(key: AuditKey) -> Result<()> {
    let installed = KEY.get_or_init(|| key.clone());
    if *installed == key {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            field: "audit_key".into(),
            message: "another audit key is already in use in this process".into(),
        })
    }
}

fn key() -> Result<&'static AuditKey> {
    KEY.get().ok_or_else(|| {
        StoreError::Corrupt(
            "no audit key is installed: the audit log cannot be written (set audit_key)".into(),
        )
    })
}

/// Appends `change` to the chain inside `tx`. The head row is updated first, which takes its row lock on
/// PostgreSQL and so serialises appenders across servers; SQLite has one writer anyway.
pub async fn append(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    change: Change<'_>,
) -> Result<i64> {
    let head = claim_sql(1)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the audit log has no head row".into()))?;
    let seq: i64 = head.try_get("seq")?;
    let prev: String = head.try_get("hash")?;
    let legacy: i64 = head.try_get("legacy_seq")?;
    let (entry, hash) = entry_sql(seq, &prev, actor, change)?;
    entry.execute(&mut **tx).await?;
    head_sql(seq, hash, legacy)?.execute(&mut **tx).await?;
    Ok(seq)
}

/// Takes the next `n` places in the chain: returns the last one's `seq`, the hash the first one chains
/// after and `legacy_seq` (columns 0, 1 and 2). The first step of [`append`], for callers that batch the
/// rest (see [`entry_sql`], [`head_sql`]).
pub(crate) fn claim_sql(n: i64) -> Sql {
    let mut q = Sql::new("UPDATE audit_head SET seq = seq + ");
    q.bind(n)
        .push(" WHERE id = 1 RETURNING seq, hash, legacy_seq");
    q
}

/// Moves the head to the last entry written, `seq` with `hash`, and seals it with the key.
pub(crate) fn head_sql(seq: i64, hash: String, legacy_seq: i64) -> Result<Sql> {
    let mac = domain::audit::head_mac(key()?, seq, &hash, legacy_seq);
    let mut q = Sql::new("UPDATE audit_head SET hash = ");
    q.bind(hash)
        .push(", mac = ")
        .bind(mac)
        .push(" WHERE id = 1");
    Ok(q)
}

/// Seals the head as it stands. Run once, right after migration 0014 adds the seal (see `Db::migrate`):
/// what the database held before the upgrade is taken as it is (legacy entries are still checked with the
/// old rule); from then on only a holder of the key can move the head. Never run on any other occasion, or
/// someone who cleared the seal could have a tampered head sealed for them.
pub(crate) async fn seal_after_upgrade(db: &Db) -> Result<()> {
    let Some(key) = KEY.get() else {
        tracing::warn!(
            "no audit key installed while upgrading: the audit head stays unsealed until the next append"
        );
        return Ok(());
    };
    let row = sqlx::query("SELECT seq, hash, legacy_seq FROM audit_head WHERE id = 1")
        .fetch_one(&db.write)
        .await?;
    let (seq, hash, legacy): (i64, String, i64) = (
        row.try_get("seq")?,
        row.try_get("hash")?,
        row.try_get("legacy_seq")?,
    );
    sqlx::query("UPDATE audit_head SET mac = $1 WHERE id = 1")
        .bind(domain::audit::head_mac(key, seq, &hash, legacy))
        .execute(&db.write)
        .await?;
    Ok(())
}

/// The entry at `seq` chained after `prev`, and its hash (the next entry's `prev`).
pub(crate) fn entry_sql(
    seq: i64,
    prev: &str,
    actor: &Actor,
    change: Change<'_>,
) -> Result<(Sql, String)> {
    let at = now_ms();
    let org = change.org_id.map(|o| o.to_string());
    let before = change.before.map(|v| v.to_string());
    let after = change.after.map(|v| v.to_string());
    let user = actor.user_id.map(|u| u.to_string());
    let hash = entry_hash(
        key()?,
        prev,
        &ChainedFields {
            seq,
            at_ms: at,
            org_id: org.as_deref(),
            actor_user_id: user.as_deref(),
            actor: &actor.label,
            action: change.action,
            entity_kind: change.entity_kind,
            entity_id: &change.entity_id,
            before: before.as_deref(),
            after: after.as_deref(),
        },
    );
    let mut insert = Sql::new(
        "INSERT INTO audit_log (seq, at, org_id, actor_user_id, actor, action, entity_kind, entity_id, \
         before_json, after_json, prev_hash, hash) VALUES (",
    );
    insert
        .bind(seq)
        .push(", ")
        .bind(at)
        .push(", ")
        .bind(org)
        .push(", ")
        .bind(user)
        .push(", ")
        .bind(actor.label.as_str())
        .push(", ")
        .bind(change.action)
        .push(", ")
        .bind(change.entity_kind)
        .push(", ")
        .bind(change.entity_id)
        .push(", ")
        .bind(before)
        .push(", ")
        .bind(after)
        .push(", ")
        .bind(prev)
        .push(", ")
        .bind(hash.as_str())
        .push(")");
    Ok((insert, hash))
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Entry {
    pub seq: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub at: i64,
    pub org_id: Option<String>,
    pub org_slug: Option<String>,
    pub actor: String,
    pub action: String,
    pub entity_kind: String,
    pub entity_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub hash: String,
}

fn entry(r: &AnyRow) -> Result<Entry> {
    let json = |col: &str| -> Result<Option<serde_json::Value>> {
        let raw: Option<String> = r.try_get(col)?;
        raw.map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    };
    Ok(Entry {
        seq: r.try_get("seq")?,
        at: r.try_get("at")?,
        org_id: r.try_get("org_id")?,
        org_slug: r.try_get("org_slug")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        entity_kind: r.try_get("entity_kind")?,
        entity_id: r.try_get("entity_id")?,
        before: json("before_json")?,
        after: json("after_json")?,
        hash: r.try_get("hash")?,
    })
}

/// Filters for browsing the log.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub org: Option<OrgId>,
    /// Prefix of the action (`org.` for every organisation change).
    pub action: Option<String>,
    /// Substring of the actor's label (usually an email).
    pub actor: Option<String>,
    pub entity_id: Option<String>,
    /// Whether entries about internal notes (`ticket.note`) are listed: only to readers who may read
    /// internal notes (people with a grant on the hub; see `TicketView::internal`).
    pub internal_notes: bool,
}

/// Newest first. Region-wide entries (no organisation) are shown only to region scopes.
pub async fn list(db: &Db, scope: &Scope, f: &Filter, page: &PageRequest) -> Result<Page<Entry>> {
    let mut q = Sql::new(
        "SELECT a.seq, a.at, a.org_id, o.slug AS org_slug, a.actor, a.action, a.entity_kind, a.entity_id, \
         a.before_json, a.after_json, a.hash FROM audit_log a LEFT JOIN orgs o ON o.id = a.org_id WHERE 1 = 1",
    );
    q.scope("a.org_id", scope);
    if let Some(o) = f.org {
        q.push(" AND a.org_id = ").bind(o.to_string());
    }
    if let Some(a) = f.action.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND ").like("a.action", a, Like::Prefix);
    }
    if let Some(a) = f.actor.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND ")
            .like("LOWER(a.actor)", &a.to_lowercase(), Like::Anywhere);
    }
    if let Some(e) = f.entity_id.as_deref().filter(|s| !s.is_empty()) {
        q.push(" AND a.entity_id = ").bind(e.to_owned());
    }
    if !f.internal_notes {
        q.push(" AND a.action <> 'ticket.note'");
    }
    if let Some(after) = page.after.as_deref() {
        let seq: i64 = after
            .parse()
            .map_err(|_| domain::Invalid::one("cursor", "is not a cursor from this list"))?;
        q.push(" AND a.seq < ").bind(seq);
    }
    q.push(" ORDER BY a.seq DESC LIMIT ").bind(page.fetch());
    let rows = q.fetch_all(&db.read).await?;
    let mut items = rows.iter().map(entry).collect::<Result<Vec<_>>>()?;
    if !matches!(scope, Scope::Region) {
        redact(db, scope, &mut items).await?;
    }
    Ok(Page::from_rows(items, page, |e| e.seq.to_string()))
}

/// Takes out of entries, as they are served to a reader whose scope is not the region, the names and ids
/// of records that reader may not read, replaced by the words of `domain::authz::hidden`. Entries are
/// immutable, and those written before names were left out carry them: a relationship's other item
/// (`ci.relate`, `ci.unrelate`: `from_ci`/`from_name`, `to_ci`/`to_name`, when that item is another
/// member's), an article linked to a ticket (`ticket.article`: `article`, `title`) and an article's own
/// entries (`article.create`, `article.update`: `title`, `body`) when the article is internal, a draft or
/// another member's. New entries refer to such records by id only: `ticket.link`'s `other_ticket_id` is
/// hidden the same way when the other ticket is another member's. The hash is served as stored: it covers
/// the entry as written.
async fn redact(db: &Db, scope: &Scope, items: &mut [Entry]) -> Result<()> {
    use domain::authz::hidden;
    use serde_json::Value;
    use std::collections::BTreeSet;
    const CI_FIELDS: [(&str, &str); 2] = [("from_ci", "from_name"), ("to_ci", "to_name")];
    let (mut cis, mut articles, mut tickets) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    for e in items.iter() {
        for v in [&e.before, &e.after].into_iter().flatten() {
            match e.action.as_str() {
                "ci.relate" | "ci.unrelate" => {
                    cis.extend(CI_FIELDS.iter().filter_map(|(id, _)| text(v, id)));
                }
                "ticket.article" => articles.extend(text(v, "article")),
                "ticket.link" => tickets.extend(text(v, "other_ticket_id")),
                "article.create" | "article.update" => {
                    articles.insert(e.entity_id.clone());
                }
                _ => {}
            }
        }
    }
    if cis.is_empty() && articles.is_empty() && tickets.is_empty() {
        return Ok(());
    }
    let names = crate::refs::cis(db, scope, &cis.into_iter().collect::<Vec<_>>()).await?;
    let readable = crate::desk::kb::readable(
        db,
        &crate::desk::kb::Reader::Member(scope.clone()),
        &articles.into_iter().collect::<Vec<_>>(),
    )
    .await?;
    let mut own_tickets = BTreeSet::new();
    if !tickets.is_empty() {
        let mut q = Sql::new("SELECT t.id FROM tickets t WHERE t.id IN (");
        crate::refs::in_list(&mut q, tickets.into_iter());
        q.push(")");
        q.scope("t.org_id", scope);
        for r in q.fetch_all(&db.read).await? {
            own_tickets.insert(r.try_get::<String, _>("id")?);
        }
    }
    let hide = |v: &mut Value, key: &str, words: &str| {
        if let Some(slot) = v.get_mut(key) {
            *slot = Value::String(words.to_owned());
        }
    };
    for e in items.iter_mut() {
        let action = e.action.clone();
        let entity = e.entity_id.clone();
        for v in [&mut e.before, &mut e.after].into_iter().flatten() {
            match action.as_str() {
                "ci.relate" | "ci.unrelate" => {
                    for (id, name) in CI_FIELDS {
                        if text(v, id).is_some_and(|o| !matches!(names.get(&o), Some(Some(_)))) {
                            hide(v, id, hidden::ITEM);
                            hide(v, name, hidden::ITEM);
                        }
                    }
                }
                "ticket.article" if text(v, "article").is_none_or(|a| !readable.contains(&a)) => {
                    hide(v, "article", hidden::ARTICLE);
                    hide(v, "title", hidden::ARTICLE);
                }
                "ticket.link"
                    if text(v, "other_ticket_id").is_some_and(|t| !own_tickets.contains(&t)) =>
                {
                    hide(v, "other_ticket_id", hidden::TICKET);
                }
                "article.create" | "article.update" if !readable.contains(&entity) => {
                    hide(v, "title", hidden::ARTICLE);
                    hide(v, "body", hidden::ARTICLE);
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Verification {
    /// Entries read.
    pub entries: i64,
    /// Of which written with the version-1 rule (before the audit key): checked with it, but it can be
    /// recomputed by anyone and does not cover `actor_user_id`.
    pub legacy_entries: i64,
    /// The first entry found wrong (changed, missing or out of place), if any. `None` when every entry
    /// checks out, even if the head's seal does not (see `head_seal`): that names no entry.
    pub first_bad_seq: Option<i64>,
    /// Whether the head row carries this key's seal.
    pub head_seal: HeadSeal,
    /// What is wrong, and where, in words; empty when intact.
    pub problems: Vec<String>,
    /// The head as recorded, `HASH:COUNT`: an outside record to check later with `--expect-head`.
    pub head: Checkpoint,
}

/// The head row's seal, as checked with the installed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeadSeal {
    Matches,
    /// No seal at all: written without the key, or the seal was removed.
    Missing,
    /// A seal this key did not make: the head was altered, or the key is not this installation's.
    Differs,
    /// No head row to check.
    NoHead,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// The verdict in one line, for `civitas audit verify`: where the first wrong entry is, or — when every
    /// entry checks out and only the head's seal does not — that, without pointing at an entry.
    pub fn summary(&self) -> String {
        if self.intact() {
            return format!(
                "audit log intact: {} entries verified ({} keyed, {} legacy unkeyed from before the audit \
                 key); head {}",
                self.entries,
                self.entries - self.legacy_entries,
                self.legacy_entries,
                self.head
            );
        }
        let seal = match self.head_seal {
            HeadSeal::Missing => Some("the audit head carries no seal"),
            HeadSeal::Differs => Some(
                "the seal of the audit head does not match: the head was altered (moved, rewound or \
                 resealed without the key), or the audit key is not this installation's",
            ),
            HeadSeal::Matches | HeadSeal::NoHead => None,
        };
        match (self.first_bad_seq, seal) {
            (Some(seq), _) => format!(
                "audit log NOT intact: {} problem(s), first at entry {seq} ({} entries read)",
                self.problems.len(),
                self.entries
            ),
            (None, Some(seal)) if self.problems.len() == 1 => format!(
                "audit log NOT intact: {seal}; every one of the {} entries read chains correctly",
                self.entries
            ),
            (None, _) => format!(
                "audit log NOT intact: {} problem(s) ({} entries read)",
                self.problems.len(),
                self.entries
            ),
        }
    }
}

/// The head as recorded: the chain's last hash and its length, for an outside record.
pub async fn head(db: &Db) -> Result<Checkpoint> {
    let h = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
        .fetch_optional(&db.read)
        .await?
        .ok_or_else(|| StoreError::Corrupt("the audit log has no head row".into()))?;
    Ok(Checkpoint {
        hash: h.try_get("hash")?,
        count: h.try_get("seq")?,
    })
}

/// Checks the whole chain with the installed key: every entry's hash (version 1 up to `legacy_seq`,
/// keyed version 2 after), every link, no gap; then that the chain ends where the sealed head says (so
/// entries removed from the end, a rewound head or an emptied table are caught); and, given an outside
/// record of an earlier head (`expect`), that the chain still passes through it. Streams in batches so
/// memory stays flat.
pub async fn verify(db: &Db, expect: Option<&Checkpoint>) -> Result<Verification> {
    let key = key()?;
    let head_row = sqlx::query("SELECT seq, hash, legacy_seq, mac FROM audit_head WHERE id = 1")
        .fetch_optional(&db.read)
        .await?;
    let mut problems = Vec::new();
    let mut first_bad = None;
    let Some(head_row) = head_row else {
        return Ok(Verification {
            entries: 0,
            legacy_entries: 0,
            first_bad_seq: Some(1),
            head_seal: HeadSeal::NoHead,
            problems: vec!["the audit head row is missing".into()],
            head: Checkpoint {
                hash: domain::audit::GENESIS_HASH.into(),
                count: 0,
            },
        });
    };
    let head_seq: i64 = head_row.try_get("seq")?;
    let head_hash: String = head_row.try_get("hash")?;
    let legacy_seq: i64 = head_row.try_get("legacy_seq")?;
    let mac: Option<String> = head_row.try_get("mac")?;
    let head_seal = match mac {
        None => HeadSeal::Missing,
        Some(m) if m != domain::audit::head_mac(key, head_seq, &head_hash, legacy_seq) => {
            HeadSeal::Differs
        }
        Some(_) => HeadSeal::Matches,
    };
    match head_seal {
        HeadSeal::Missing => problems.push(
            "the audit head is not sealed: it was written without the audit key, or its seal was removed"
                .into(),
        ),
        HeadSeal::Differs => problems.push(format!(
            "the seal of the audit head does not match (the head records {head_seq} entries, version 1 up \
             to {legacy_seq}): the head was altered by someone without the key (entries removed and the \
             head rewound?), or the audit key is not this installation's"
        )),
        HeadSeal::Matches | HeadSeal::NoHead => {}
    }
    let mut prev = domain::audit::GENESIS_HASH.to_owned();
    let mut last_seq = 0_i64;
    let mut count = 0_i64;
    let mut legacy = 0_i64;
    let mut at_expected: Option<String> = None;
    'walk: loop {
        let rows = sqlx::query(
            "SELECT seq, at, org_id, actor_user_id, actor, action, entity_kind, entity_id, before_json, \
             after_json, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000",
        )
        .bind(last_seq)
        .fetch_all(&db.read)
        .await?;
        if rows.is_empty() {
            break;
        }
        for r in &rows {
            let seq: i64 = r.try_get("seq")?;
            let org: Option<String> = r.try_get("org_id")?;
            let user: Option<String> = r.try_get("actor_user_id")?;
            let before: Option<String> = r.try_get("before_json")?;
            let after: Option<String> = r.try_get("after_json")?;
            let stored_prev: String = r.try_get("prev_hash")?;
            let stored: String = r.try_get("hash")?;
            let actor: String = r.try_get("actor")?;
            let action: String = r.try_get("action")?;
            let kind: String = r.try_get("entity_kind")?;
            let id: String = r.try_get("entity_id")?;
            let fields = ChainedFields {
                seq,
                at_ms: r.try_get("at")?,
                org_id: org.as_deref(),
                actor_user_id: user.as_deref(),
                actor: &actor,
                action: &action,
                entity_kind: &kind,
                entity_id: &id,
                before: before.as_deref(),
                after: after.as_deref(),
            };
            let v1 = seq <= legacy_seq;
            let computed = if v1 {
                domain::audit::entry_hash_v1(&prev, &fields)
            } else {
                entry_hash(key, &prev, &fields)
            };
            count += 1;
            legacy += i64::from(v1);
            let problem = if seq != last_seq + 1 {
                Some(if last_seq + 1 == seq - 1 {
                    format!(
                        "entry {} is missing (the chain jumps from {last_seq} to {seq})",
                        last_seq + 1
                    )
                } else {
                    format!(
                        "entries {} to {} are missing (the chain jumps from {last_seq} to {seq})",
                        last_seq + 1,
                        seq - 1
                    )
                })
            } else if stored_prev != prev {
                Some(format!(
                    "entry {seq} does not chain after entry {last_seq}: its prev_hash differs from that \
                     entry's hash"
                ))
            } else if computed != stored {
                Some(if v1 {
                    format!("entry {seq} ({action} {kind} {id}) was changed after it was written")
                } else {
                    format!(
                        "entry {seq} ({action} {kind} {id}) does not match its keyed hash: changed after it \
                         was written, or the chain was recomputed without the audit key"
                    )
                })
            } else {
                None
            };
            if let Some(p) = problem {
                problems.push(p);
                first_bad = Some(seq);
                break 'walk;
            }
            if let Some(e) = expect
                && e.count == seq
            {
                at_expected = Some(stored.clone());
            }
            prev = stored;
            last_seq = seq;
        }
    }
    if first_bad.is_none() {
        if last_seq != head_seq {
            problems.push(if last_seq < head_seq {
                format!(
                    "the chain ends at entry {last_seq} but the head records {head_seq} entries: entries \
                     {} to {head_seq} were removed",
                    last_seq + 1
                )
            } else {
                format!(
                    "the chain runs to entry {last_seq} but the head records {head_seq} entries: the head \
                     was rewound"
                )
            });
            first_bad = Some(last_seq.min(head_seq) + 1);
        } else if prev != head_hash {
            problems.push(format!(
                "the chain's last hash (entry {last_seq}) differs from the head's: the last entry was \
                 replaced"
            ));
            first_bad = Some(last_seq.max(1));
        }
        if let Some(e) = expect {
            let genesis_ok = e.count == 0 && e.hash == domain::audit::GENESIS_HASH;
            match at_expected {
                _ if genesis_ok => {}
                Some(h) if h == e.hash => {}
                Some(h) => {
                    problems.push(format!(
                        "entry {} has hash {h}, but the outside record says {}: the log was rewritten \
                         up to there",
                        e.count, e.hash
                    ));
                    first_bad = first_bad.or(Some(e.count));
                }
                None => {
                    problems.push(format!(
                        "the outside record names {} entries, but the chain has only {last_seq}: entries \
                         were removed",
                        e.count
                    ));
                    first_bad = first_bad.or(Some(last_seq + 1));
                }
            }
        }
    }
    // A head whose seal alone is wrong names no entry: every entry checked out.
    Ok(Verification {
        entries: count,
        legacy_entries: legacy,
        first_bad_seq: first_bad,
        head_seal,
        problems,
        head: Checkpoint {
            hash: head_hash,
            count: head_seq,
        },
    })
}
