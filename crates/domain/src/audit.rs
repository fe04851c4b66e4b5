//! The audit log's hash chain. Each entry's hash covers the previous entry's hash and the entry's own
//! fields, so an edited, removed or reordered entry breaks every hash after it.
//!
//! Two rules exist. **Version 1** (entries written before migration 0014) is a plain SHA-256 over most
//! columns: anyone with the database can recompute it, and it leaves `actor_user_id` out. **Version 2**
//! (every entry since) is an HMAC-SHA-256 under the installation's audit key, kept outside the database,
//! over every column; the head (entry count, last hash, where version 1 ends) carries an HMAC of its own.
//! Someone who can write the database but does not hold the key can neither forge an entry nor rewind the
//! head. See docs/ARCHITECTURE.md, "The audit log's threat model".

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The hash the first entry chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The shortest audit key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The secret behind version-2 hashes. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditKey(Vec<u8>);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

impl AuditKey {
    /// A key as written in the configuration or the key file: at least 32 characters (the key file holds
    /// 64 hex digits; any long random string will do). Surrounding white space is ignored.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let t = text.trim();
        if t.len() < MIN_KEY_BYTES {
            return Err("must be at least 32 characters (for example 64 random hex digits)");
        }
        Ok(Self(t.as_bytes().to_vec()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length; this cannot fail.
        match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }
}

/// The fields of an entry that its hash covers, in a fixed order.
#[derive(Debug, Clone, Copy)]
pub struct ChainedFields<'a> {
    pub seq: i64,
    pub at_ms: i64,
    pub org_id: Option<&'a str>,
    /// Covered by version 2 only.
    pub actor_user_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub entity_kind: &'a str,
    pub entity_id: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
}

/// Feeds each field length-prefixed, with a presence byte: no two different entries share an input (an
/// absent field differs from an empty one).
fn feed(h: &mut impl FnMut(&[u8]), s: Option<&str>) {
    match s {
        None => h(&[0u8]),
        Some(s) => {
            h(&[1u8]);
            h(&(s.len() as u64).to_be_bytes());
            h(s.as_bytes());
        }
    }
}

/// Version 1: `sha256(prev_hash ‖ each field but actor_user_id, length-prefixed)`, hex-encoded. Only
/// checks entries written before the audit key existed.
pub fn entry_hash_v1(prev_hash: &str, f: &ChainedFields<'_>) -> String {
    let mut h = Sha256::new();
    let mut put = |b: &[u8]| h.update(b);
    feed(&mut put, Some(prev_hash));
    feed(&mut put, Some(&f.seq.to_string()));
    feed(&mut put, Some(&f.at_ms.to_string()));
    feed(&mut put, f.org_id);
    feed(&mut put, Some(f.actor));
    feed(&mut put, Some(f.action));
    feed(&mut put, Some(f.entity_kind));
    feed(&mut put, Some(f.entity_id));
    feed(&mut put, f.before);
    feed(&mut put, f.after);
    hex::encode(h.finalize())
}

/// Version 2: `HMAC-SHA-256(key, "civitas-audit-v2" ‖ prev_hash ‖ every column, length-prefixed)`,
/// hex-encoded.
pub fn entry_hash(key: &AuditKey, prev_hash: &str, f: &ChainedFields<'_>) -> String {
    let mut m = key.mac();
    let mut put = |b: &[u8]| m.update(b);
    feed(&mut put, Some("civitas-audit-v2"));
    feed(&mut put, Some(prev_hash));
    feed(&mut put, Some(&f.seq.to_string()));
    feed(&mut put, Some(&f.at_ms.to_string()));
    feed(&mut put, f.org_id);
    feed(&mut put, f.actor_user_id);
    feed(&mut put, Some(f.actor));
    feed(&mut put, Some(f.action));
    feed(&mut put, Some(f.entity_kind));
    feed(&mut put, Some(f.entity_id));
    feed(&mut put, f.before);
    feed(&mut put, f.after);
    hex::encode(m.finalize().into_bytes())
}

/// The head's seal: `HMAC-SHA-256(key, "civitas-audit-head" ‖ seq ‖ hash ‖ legacy_seq)`. Without the key
/// nobody can move the head (to hide entries removed from the end) or the end of version 1 (to pass
/// recomputed entries off as legacy ones).
pub fn head_mac(key: &AuditKey, seq: i64, hash: &str, legacy_seq: i64) -> String {
    let mut m = key.mac();
    let mut put = |b: &[u8]| m.update(b);
    feed(&mut put, Some("civitas-audit-head"));
    feed(&mut put, Some(&seq.to_string()));
    feed(&mut put, Some(hash));
    feed(&mut put, Some(&legacy_seq.to_string()));
    hex::encode(m.finalize().into_bytes())
}

/// An outside record of the head, `HASH:COUNT` (printed by `civitas audit head` and the hourly checkpoint).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Checkpoint {
    pub hash: String,
    pub count: i64,
}

impl std::str::FromStr for Checkpoint {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const FORM: &str = "must be HASH:COUNT, as printed by `civitas audit head`";
        let (hash, count) = s.trim().split_once(':').ok_or(FORM)?;
        let count: i64 = count.parse().map_err(|_| FORM)?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || count < 0 {
            return Err(FORM);
        }
        Ok(Self {
            hash: hash.to_ascii_lowercase(),
            count,
        })
    }
}

impl std::fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.hash, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(c: char) -> AuditKey {
        AuditKey::parse(&c.to_string().repeat(40)).expect("key")
    }

    fn fields(after: Option<&str>) -> ChainedFields<'_> {
        ChainedFields {
            seq: 1,
            at_ms: 1_700_000_000_000,
            org_id: Some("o"),
            actor_user_id: Some("u"),
            actor: "a",
            action: "org.create",
            entity_kind: "org",
            entity_id: "x",
            before: None,
            after,
        }
    }

    #[test]
    fn any_change_changes_the_hash() {
        let k = key('k');
        let a = entry_hash(&k, GENESIS_HASH, &fields(Some("{}")));
        assert_eq!(a.len(), 64);
        assert_eq!(a, entry_hash(&k, GENESIS_HASH, &fields(Some("{}"))));
        assert_ne!(a, entry_hash(&k, GENESIS_HASH, &fields(Some("{ }"))));
        assert_ne!(a, entry_hash(&k, &a, &fields(Some("{}"))));
        assert_ne!(
            entry_hash(&k, GENESIS_HASH, &fields(Some(""))),
            entry_hash(&k, GENESIS_HASH, &fields(None))
        );
    }

    #[test]
    fn version_2_covers_the_actor_id_and_the_key() {
        let k = key('k');
        let f = fields(Some("{}"));
        let other = ChainedFields {
            actor_user_id: Some("v"),
            ..f
        };
        assert_ne!(
            entry_hash(&k, GENESIS_HASH, &f),
            entry_hash(&k, GENESIS_HASH, &other)
        );
        assert_ne!(
            entry_hash(&k, GENESIS_HASH, &f),
            entry_hash(&key('j'), GENESIS_HASH, &f)
        );
        // Version 1 never covered it (why it is only used for entries written before the key).
        assert_eq!(
            entry_hash_v1(GENESIS_HASH, &f),
            entry_hash_v1(GENESIS_HASH, &other)
        );
        assert_ne!(
            entry_hash_v1(GENESIS_HASH, &f),
            entry_hash(&k, GENESIS_HASH, &f)
        );
    }

    #[test]
    fn version_1_is_the_rule_entries_were_written_with() {
        // Computed by the code before the audit key (kept so that old entries still verify).
        let f = ChainedFields {
            before: Some("{\"a\":1}"),
            ..fields(None)
        };
        let h = entry_hash_v1(GENESIS_HASH, &f);
        let mut s = Sha256::new();
        for part in [
            GENESIS_HASH,
            "1",
            "1700000000000",
            "o",
            "a",
            "org.create",
            "org",
            "x",
        ] {
            s.update([1u8]);
            s.update((part.len() as u64).to_be_bytes());
            s.update(part.as_bytes());
        }
        s.update([1u8]);
        s.update(7u64.to_be_bytes());
        s.update(b"{\"a\":1}");
        s.update([0u8]);
        assert_eq!(h, hex::encode(s.finalize()));
    }

    #[test]
    fn head_mac_covers_count_hash_and_legacy_end() {
        let k = key('k');
        let m = head_mac(&k, 10, GENESIS_HASH, 0);
        assert_ne!(m, head_mac(&k, 9, GENESIS_HASH, 0));
        assert_ne!(m, head_mac(&k, 10, &"1".repeat(64), 0));
        assert_ne!(m, head_mac(&k, 10, GENESIS_HASH, 10));
        assert_ne!(m, head_mac(&key('j'), 10, GENESIS_HASH, 0));
    }

    #[test]
    fn keys_are_long_enough() {
        assert!(AuditKey::parse("short").is_err());
        assert!(AuditKey::parse(&" ".repeat(40)).is_err());
        assert!(AuditKey::parse(&"a".repeat(32)).is_ok());
        assert_eq!(format!("{:?}", key('s')), "AuditKey(***)");
    }

    #[test]
    fn checkpoints_read_back_what_they_print() {
        let c = Checkpoint {
            hash: "ab".repeat(32),
            count: 42,
        };
        assert_eq!(c.to_string().parse::<Checkpoint>(), Ok(c));
        for bad in [
            "",
            "abc",
            ":1",
            &format!("{}:x", "a".repeat(64)),
            &format!("{}:-1", "a".repeat(64)),
        ] {
            assert!(bad.parse::<Checkpoint>().is_err(), "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn checkpoint_parsing_never_panics(s in any::<String>()) {
            let _ = s.parse::<Checkpoint>();
        }
    }
}
