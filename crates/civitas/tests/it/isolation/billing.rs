//! The isolation matrix's cases for shared-services economics: rates, agreements, usage, invoices and the hub's finance: every route `crates/web/src/billing` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
        // Shared-services economics
        c(
            "POST",
            "/api/v1/usage/import?dry_run=true",
            Perm("billing-manage"),
            T::Org,
            |f| {
                Body::Csv(format!(
                    "id,org,meter,quantity,period\nimport-{},{},vm,2,2026-09\n",
                    f.n, f.slug
                ))
            },
        ),
        c(
            "GET",
            "/api/v1/rate-cards",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/rate-cards",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Json(json!({
                    "service_id": f.service, "name": format!("GIS seat {}", f.n), "model": "per_unit",
                    "unit": "seat", "price": "40.00", "effective_from": "2026-07-01"
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/rate-cards/{id}",
            Perm("billing-read"),
            T::RateCard,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/rate-cards/{id}",
            Perm("billing-manage"),
            T::RateCard,
            |_| Body::Json(json!({ "active": true })),
        ),
        c(
            "POST",
            "/api/v1/rate-cards/{id}/rates",
            Perm("billing-manage"),
            T::RateCard,
            |f| Body::Json(json!({ "price": "7.00", "effective_from": f.date })),
        ),
        c(
            "GET",
            "/api/v1/agreements",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/agreements",
            Perm("billing-manage"),
            T::Org,
            |f| {
                Body::Json(json!({
                    "org": f.slug, "title": "Shared IT services", "starts_on": "2026-07-01",
                    "cadence": "quarterly", "approving_body": "Select Board"
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/agreements/{id}",
            Perm("billing-read"),
            T::Agreement,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/agreements/{id}",
            Perm("billing-manage"),
            T::Agreement,
            |_| Body::Json(json!({ "notes": "Amended by the matrix" })),
        ),
        c(
            "POST",
            "/api/v1/agreements/{id}/subscriptions",
            Perm("billing-manage"),
            T::Agreement,
            |_| {
                Body::Json(json!({
                    "rate_card_id": RATE_CARD.get().map(|c| c.to_string()).unwrap_or_default(),
                    "quantity": 12, "starts_on": "2026-08-01"
                }))
            },
        ),
        c(
            "PATCH",
            "/api/v1/subscriptions/{id}",
            Perm("billing-manage"),
            T::Subscription,
            |_| Body::Json(json!({ "quantity": "14" })),
        ),
        c(
            "POST",
            "/api/v1/usage",
            Perm("billing-manage"),
            T::Org,
            |f| {
                Body::Json(json!({ "records": [
                { "id": format!("matrix-{}", f.n), "org": f.slug, "meter": "mailboxes", "quantity": 3, "period": "2026-09" }
            ] }))
            },
        ),
        c(
            "GET",
            "/api/v1/usage?month=2026-09",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/usage/totals?from=2026-07&to=2026-09",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/invoice-runs",
            Perm("billing-manage"),
            T::None,
            |f| Body::Json(json!({ "period": format!("2039-{:02}", f.n % 12 + 1) })),
        ),
        c(
            "GET",
            "/api/v1/invoices",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/invoices/{id}",
            Perm("billing-read"),
            T::DraftInvoice,
            none,
        ),
        c(
            "GET",
            "/api/v1/invoices/{id}/pdf",
            Perm("billing-read"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/api/v1/invoices/{id}/issue",
            Perm("billing-manage"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/api/v1/invoices/{id}/void",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| Body::Json(json!({ "reason": "Matrix" })),
        ),
        c(
            "POST",
            "/api/v1/invoices/{id}/payments",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| Body::Json(json!({ "amount": "1.00", "method": "ach" })),
        ),
        c("GET", "/billing", Perm("billing-read"), T::None, none),
        c(
            "GET",
            "/billing/agreements/new",
            Perm("billing-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/agreements",
            Perm("billing-manage"),
            T::Org,
            |f| {
                form(&[
                    ("org", f.slug),
                    ("title", "Shared services"),
                    ("status", "active"),
                    ("cadence", "monthly"),
                    ("starts_on", "2026-07-01"),
                    ("renewal", "annual"),
                    ("approving_body", "Select Board"),
                ])
            },
        ),
        c(
            "POST",
            "/billing/agreements/{id}/subscriptions",
            Perm("billing-manage"),
            T::Agreement,
            |_| {
                Body::Form(vec![
                    (
                        "rate_card_id".into(),
                        RATE_CARD.get().map(|c| c.to_string()).unwrap_or_default(),
                    ),
                    ("quantity".into(), "4".into()),
                    ("starts_on".into(), "2026-08-01".into()),
                ])
            },
        ),
        c(
            "GET",
            "/billing/rate-cards/new",
            Perm("billing-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/rate-cards",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.service.clone()),
                    ("name".into(), format!("Page card {}", f.n)),
                    ("model".into(), "fixed".into()),
                    ("price".into(), "100".into()),
                    ("effective_from".into(), "2026-07-01".into()),
                ])
            },
        ),
        c(
            "GET",
            "/billing/invoices",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/usage/import",
            Perm("billing-manage"),
            T::None,
            |_| {
                Body::Upload(
                    "usage.csv",
                    "id,org,meter,quantity,period\nmatrix-upload,north-reading,vm,1,2026-09\n",
                )
            },
        ),
        c(
            "POST",
            "/billing/invoice-runs",
            Perm("billing-manage"),
            T::None,
            |f| form(&[("period", &format!("2038-{:02}", f.n % 12 + 1))]),
        ),
        c(
            "GET",
            "/billing/invoices/{id}",
            Perm("billing-read"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/billing/invoices/{id}/issue",
            Perm("billing-manage"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/billing/invoices/{id}/void",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| form(&[("reason", "Matrix")]),
        ),
        c(
            "POST",
            "/billing/invoices/{id}/payments",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| form(&[("amount", "1.00")]),
        ),
        c(
            "GET",
            "/billing/agreements/{id}",
            Perm("billing-read"),
            T::Agreement,
            none,
        ),
        // The hub's finance: cost pools, benchmarks, credits, reports
        c(
            "GET",
            "/api/v1/costs?fy=2027",
            Hub("finance-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/costs",
            Hub("billing-manage"),
            T::None,
            |f| {
                Body::Json(json!({
                    "service_id": f.service, "fiscal_year": "2027", "category": "staff",
                    "description": format!("Analyst {}", f.n), "amount": "48000.00"
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/costs/{id}",
            Hub("finance-read"),
            T::Cost,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/costs/{id}",
            Hub("billing-manage"),
            T::Cost,
            |_| Body::Json(json!({ "amount": "50000" })),
        ),
        c(
            "DELETE",
            "/api/v1/costs/{id}",
            Hub("billing-manage"),
            T::Cost,
            none,
        ),
        c(
            "GET",
            "/api/v1/finance?fy=2027",
            Hub("finance-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/benchmarks",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/benchmarks",
            Hub("billing-manage"),
            T::None,
            |f| {
                // A fresh service per request: a service has one benchmark per size band.
                let band = ["small", "medium", "large", "very_large"][f.n % 4];
                Body::Json(json!({
                    "service_id": f.service, "size_band": band,
                    "staff": "1", "source": format!("Matrix {}", f.n)
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/benchmarks/{id}",
            Perm("billing-read"),
            T::Benchmark,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/benchmarks/{id}",
            Hub("billing-manage"),
            T::Benchmark,
            |_| Body::Json(json!({ "staff": "60000" })),
        ),
        c(
            "GET",
            "/api/v1/savings?fy=2027",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/credits",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/credits",
            Perm("billing-manage"),
            T::Agreement,
            |f| {
                Body::Json(json!({
                    "agreement_id": f.ticket, "month": "2026-09", "amount": "25.00", "reason": "Outage"
                }))
            },
        ),
        c(
            "DELETE",
            "/api/v1/credits/{id}",
            Perm("billing-manage"),
            T::Credit,
            none,
        ),
        c(
            "GET",
            "/billing/finance?fy=2027",
            Hub("finance-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/finance/costs",
            Hub("billing-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.service.clone()),
                    ("fiscal_year".into(), "2027".into()),
                    ("category".into(), "licences".into()),
                    ("description".into(), format!("Licence {}", f.n)),
                    ("amount".into(), "1200".into()),
                ])
            },
        ),
        c(
            "POST",
            "/billing/finance/costs/{id}/delete",
            Hub("billing-manage"),
            T::Cost,
            none,
        ),
        c(
            "GET",
            "/billing/savings?fy=2027",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/billing/benchmarks",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/benchmarks",
            Hub("billing-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.spare_service.clone()),
                    (
                        "size_band".into(),
                        ["small", "medium", "large", "very_large"][f.n % 4].into(),
                    ),
                    ("staff".into(), "100".into()),
                    ("source".into(), format!("Matrix {}", f.n)),
                ])
            },
        ),
        c(
            "GET",
            "/billing/benchmarks/{id}",
            Hub("billing-manage"),
            T::Benchmark,
            none,
        ),
        c(
            "POST",
            "/billing/benchmarks/{id}",
            Hub("billing-manage"),
            T::Benchmark,
            |_| form(&[("staff", "70000"), ("source", "Matrix survey")]),
        ),
        c(
            "POST",
            "/billing/agreements/{id}/credits",
            Perm("billing-manage"),
            T::Agreement,
            |_| form(&[("month", "2026-10"), ("amount", "10"), ("reason", "Matrix")]),
        ),
        // Agreement documents, amendments, subscription changes, prices
        c(
            "GET",
            "/api/v1/agreements/{id}/documents",
            Perm("billing-read"),
            T::Agreement,
            none,
        ),
        c(
            "POST",
            "/api/v1/agreements/{id}/documents?filename=agreement.txt",
            Perm("billing-manage"),
            T::Agreement,
            |_| Body::Csv("Signed by both parties".into()),
        ),
        c(
            "GET",
            "/api/v1/agreements/{id}/documents/{doc}",
            Perm("billing-read"),
            T::Document,
            none,
        ),
        c(
            "GET",
            "/billing/agreements/{id}/edit",
            Perm("billing-manage"),
            T::Agreement,
            none,
        ),
        c(
            "POST",
            "/billing/agreements/{id}",
            Perm("billing-manage"),
            T::Agreement,
            |_| {
                form(&[
                    ("title", "Amended"),
                    ("status", "active"),
                    ("cadence", "monthly"),
                    ("starts_on", "2026-07-01"),
                    ("renewal", "annual"),
                    ("approving_body", "Select Board"),
                ])
            },
        ),
        c(
            "POST",
            "/billing/subscriptions/{id}",
            Perm("billing-manage"),
            T::Subscription,
            |_| form(&[("quantity", "7")]),
        ),
        c(
            "GET",
            "/billing/rate-cards/{id}",
            Perm("billing-read"),
            T::RateCard,
            none,
        ),
        c(
            "POST",
            "/billing/rate-cards/{id}/rates",
            Perm("billing-manage"),
            T::RateCard,
            |f| form(&[("effective_from", f.date.as_str()), ("price", "7.00")]),
        ),
        c(
            "POST",
            "/billing/agreements/{id}/documents",
            Perm("billing-manage"),
            T::Agreement,
            |_| Body::Upload("minutes.txt", "Voted 5-0"),
        ),
        c(
            "GET",
            "/billing/agreements/{id}/documents/{doc}",
            Perm("billing-read"),
            T::Document,
            none,
        ),
    ]
}
