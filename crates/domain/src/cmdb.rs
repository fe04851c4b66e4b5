//! The configuration management database: what the hub runs and what each member uses. Configuration items
//! (CIs) of a handful of types, each with its own attributes, and typed relationships between them; impact
//! analysis walks the relationships backwards — what stops working when this item does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

use crate::validation::FieldError;

vocabulary!(
    /// What a configuration item is.
    CiType, "ci_type" {
        Site = "site" / "Site",
        NetworkLink = "network_link" / "Network link",
        Server = "server" / "Server",
        VirtualMachine = "virtual_machine" / "Virtual machine",
        StorageVolume = "storage_volume" / "Storage volume",
        NetworkDevice = "network_device" / "Network device",
        Application = "application" / "Application",
        Database = "database" / "Database",
        BusinessService = "business_service" / "Business service",
    }
);

vocabulary!(
    /// Where an item is in its life.
    CiStatus, "status" {
        Planned = "planned" / "Planned",
        Active = "active" / "In service",
        Maintenance = "maintenance" / "In maintenance",
        Retired = "retired" / "Retired",
    }
);

vocabulary!(
    /// How one item relates to another: `from` *kind* `to` ("the payroll app runs on vm-17").
    RelationKind, "kind" {
        RunsOn = "runs_on" / "runs on",
        DependsOn = "depends_on" / "depends on",
        LocatedAt = "located_at" / "is located at",
        ConnectedTo = "connected_to" / "is connected to",
        BacksUpTo = "backs_up_to" / "backs up to",
    }
);

impl RelationKind {
    /// Whether the `from` side stops working when the `to` side does. A backup target failing does not stop
    /// what it backs up (it is a risk, not an outage); everything else carries the impact.
    pub fn carries_impact(self) -> bool {
        !matches!(self, Self::BacksUpTo)
    }
}

/// The kind of value an attribute takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Text,
    /// A whole number, zero or more.
    Count,
    /// A date (`2027-06-30`).
    Date,
}

/// One attribute a type of item has.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: AttrKind,
}

const fn text(name: &'static str, label: &'static str) -> Attr {
    Attr {
        name,
        label,
        kind: AttrKind::Text,
    }
}

const fn count(name: &'static str, label: &'static str) -> Attr {
    Attr {
        name,
        label,
        kind: AttrKind::Count,
    }
}

const fn day(name: &'static str, label: &'static str) -> Attr {
    Attr {
        name,
        label,
        kind: AttrKind::Date,
    }
}

const SITE_ATTRS: &[Attr] = &[text("address", "Address"), text("kind", "Kind of building")];
const NETWORK_LINK_ATTRS: &[Attr] = &[
    count("bandwidth_mbps", "Bandwidth (Mbit/s)"),
    text("provider", "Provider"),
    text("circuit_id", "Circuit id"),
];
const SERVER_ATTRS: &[Attr] = &[
    text("hostname", "Host name"),
    text("model", "Model"),
    text("serial", "Serial number"),
    count("vcpu", "CPU cores"),
    count("ram_gb", "Memory (GB)"),
    day("warranty_end", "Warranty ends"),
];
const VIRTUAL_MACHINE_ATTRS: &[Attr] = &[
    text("hostname", "Host name"),
    text("os", "Operating system"),
    count("vcpu", "vCPU"),
    count("ram_gb", "Memory (GB)"),
    count("disk_gb", "Disk (GB)"),
];
const STORAGE_VOLUME_ATTRS: &[Attr] = &[count("size_gb", "Size (GB)"), text("tier", "Tier")];
const NETWORK_DEVICE_ATTRS: &[Attr] = &[
    text("model", "Model"),
    text("serial", "Serial number"),
    text("management_ip", "Management address"),
];
const APPLICATION_ATTRS: &[Attr] = &[
    text("vendor", "Vendor"),
    text("version", "Version"),
    text("url", "Address"),
];
const DATABASE_ATTRS: &[Attr] = &[
    text("engine", "Engine"),
    text("version", "Version"),
    count("size_gb", "Size (GB)"),
];
const BUSINESS_SERVICE_ATTRS: &[Attr] = &[text("owner", "Owner")];

impl CiType {
    /// The attributes an item of this type may carry (all optional).
    pub fn attributes(self) -> &'static [Attr] {
        match self {
            Self::Site => SITE_ATTRS,
            Self::NetworkLink => NETWORK_LINK_ATTRS,
            Self::Server => SERVER_ATTRS,
            Self::VirtualMachine => VIRTUAL_MACHINE_ATTRS,
            Self::StorageVolume => STORAGE_VOLUME_ATTRS,
            Self::NetworkDevice => NETWORK_DEVICE_ATTRS,
            Self::Application => APPLICATION_ATTRS,
            Self::Database => DATABASE_ATTRS,
            Self::BusinessService => BUSINESS_SERVICE_ATTRS,
        }
    }
}

/// Checks an item's attributes against its type: known names only, counts as whole numbers, dates as dates,
/// text at most 500 characters; empty values are dropped. Errors name the attribute (`attributes.vcpu`).
pub fn check_attributes(
    ty: CiType,
    raw: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let known: BTreeMap<&str, &Attr> = ty.attributes().iter().map(|a| (a.name, a)).collect();
    let mut out = Map::new();
    let mut errors = Vec::new();
    for (name, value) in raw {
        let field = format!("attributes.{name}");
        let Some(attr) = known.get(name.as_str()) else {
            errors.push(FieldError::new(
                &field,
                format!(
                    "is not an attribute of a {} (it has {})",
                    ty.label().to_lowercase(),
                    ty.attributes()
                        .iter()
                        .map(|a| a.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            continue;
        };
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) if attr.kind == AttrKind::Count => n.to_string(),
            _ => {
                errors.push(FieldError::new(&field, "must be text"));
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        match attr.kind {
            // One line of text like every other: no control or bidirectional control characters.
            AttrKind::Text => match crate::validation::text(&field, &text, 500) {
                Ok(t) => {
                    out.insert(name.clone(), Value::String(t));
                }
                Err(e) => errors.push(e),
            },
            AttrKind::Count => match text.parse::<u64>() {
                Ok(n) if n <= 1_000_000_000_000 => {
                    out.insert(name.clone(), Value::from(n));
                }
                _ => errors.push(FieldError::new(
                    &field,
                    format!("{text:?} is not a whole number of zero or more"),
                )),
            },
            AttrKind::Date => match text.parse::<jiff::civil::Date>() {
                Ok(d) => {
                    out.insert(name.clone(), Value::String(d.to_string()));
                }
                Err(_) => errors.push(FieldError::new(
                    &field,
                    format!("{text:?} is not a date (write it like 2027-06-30)"),
                )),
            },
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// One relationship as impact analysis walks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge<K> {
    pub from: K,
    pub to: K,
    pub kind: RelationKind,
}

/// One item reached by impact analysis: how far from the failing item, and through which item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reached<K> {
    pub id: K,
    pub depth: u32,
    /// The item it depends on, one step closer to the failing one.
    pub via: K,
    pub kind: RelationKind,
}

/// Impact analysis over a graph held as "who depends on me" lists: breadth first from `root`, at most
/// `depth` steps, each item once (at its shortest distance), in the order found. `dependents(x)` gives the
/// relationships whose `to` is `x`.
pub fn impact<K: Ord + Clone>(
    root: &K,
    depth: u32,
    mut dependents: impl FnMut(&[K]) -> Vec<Edge<K>>,
) -> Vec<Reached<K>> {
    let mut seen: std::collections::BTreeSet<K> = [root.clone()].into();
    let mut out = Vec::new();
    let mut frontier = vec![root.clone()];
    for level in 1..=depth {
        if frontier.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for e in dependents(&frontier) {
            if e.kind.carries_impact() && seen.insert(e.from.clone()) {
                next.push(e.from.clone());
                out.push(Reached {
                    id: e.from,
                    depth: level,
                    via: e.to,
                    kind: e.kind,
                });
            }
        }
        frontier = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn attributes_are_checked_against_the_type() {
        let ok = check_attributes(
            CiType::VirtualMachine,
            &attrs(
                json!({ "vcpu": 4, "ram_gb": "16", "os": " Windows Server 2022 ", "hostname": "" }),
            ),
        )
        .unwrap();
        assert_eq!(
            ok,
            attrs(json!({ "vcpu": 4, "ram_gb": 16, "os": "Windows Server 2022" }))
        );
        let errs = check_attributes(
            CiType::VirtualMachine,
            &attrs(json!({ "vcpu": -2, "colour": "blue", "ram_gb": 1.5 })),
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["attributes.colour", "attributes.ram_gb", "attributes.vcpu"]
        );
        let errs = check_attributes(
            CiType::Server,
            &attrs(json!({ "warranty_end": "2027-02-30" })),
        )
        .unwrap_err();
        assert_eq!(errs[0].field, "attributes.warranty_end");
        // Text attributes are single-line text: a right-to-left override is refused, naming the attribute.
        let errs = check_attributes(
            CiType::VirtualMachine,
            &attrs(json!({ "hostname": "web\u{202E}gpj.exe" })),
        )
        .unwrap_err();
        assert_eq!(errs[0].field, "attributes.hostname");
        assert!(
            errs[0].message.contains("right-to-left"),
            "{}",
            errs[0].message
        );
    }

    fn graph(edges: &[(u32, u32, RelationKind)]) -> impl FnMut(&[u32]) -> Vec<Edge<u32>> + '_ {
        move |frontier: &[u32]| {
            edges
                .iter()
                .filter(|(_, to, _)| frontier.contains(to))
                .map(|&(from, to, kind)| Edge { from, to, kind })
                .collect()
        }
    }

    #[test]
    fn impact_walks_dependents_breadth_first_each_once() {
        use RelationKind::*;
        // 1 = a storage array; 2, 3 = VMs on it; 4 = an app on both VMs; 5 = a service on the app;
        // 6 = a backup job that backs up to 1 (not an outage); 7 depends on 5.
        let edges = [
            (2, 1, RunsOn),
            (3, 1, RunsOn),
            (4, 2, RunsOn),
            (4, 3, RunsOn),
            (5, 4, DependsOn),
            (6, 1, BacksUpTo),
            (7, 5, DependsOn),
        ];
        let all = impact(&1, 5, graph(&edges));
        let ids: Vec<(u32, u32)> = all.iter().map(|r| (r.id, r.depth)).collect();
        assert_eq!(ids, [(2, 1), (3, 1), (4, 2), (5, 3), (7, 4)]);
        // Depth limits the walk.
        assert_eq!(impact(&1, 2, graph(&edges)).len(), 3);
        // A cycle ends.
        let cycle = [(1, 2, DependsOn), (2, 1, DependsOn)];
        assert_eq!(impact(&1, 5, graph(&cycle)).len(), 1);
    }
}
