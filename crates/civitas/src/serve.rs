//! `civitas serve`: migrate, optionally load the demo, serve HTTP and run jobs until a signal, then finish
//! in-flight requests and stop.

use crate::config::Config;
use crate::{cli, demo, runner};
use anyhow::Context;
use std::time::Instant;
use tokio::sync::watch;

pub async fn run(config: Config, with_demo: bool) -> anyhow::Result<()> {
    let started = Instant::now();
    let db = cli::open(&config).await?;
    let demo_summary = if with_demo {
        if store::tenancy::orgs::count(&db).await? == 0 {
            Some(demo::load(&db).await?)
        } else {
            tracing::info!("the database already has data; the demo region is not loaded again");
            Some(demo::summary())
        }
    } else {
        None
    };
    let region_name = store::tenancy::orgs::region_name(&db)
        .await?
        .unwrap_or_else(|| config.region_name.clone());
    let state = web::AppState::new(
        db.clone(),
        web::WebConfig {
            region_name,
            secure_cookies: config.secure_cookies,
            trusted_proxies: config.trusted_proxies()?,
            metrics_on_main: config.metrics_bind.is_none(),
            metrics_token: config.metrics_token.clone(),
            ..web::WebConfig::default()
        },
    );
    let metrics = match &config.metrics_bind {
        Some(b) => {
            let l = tokio::net::TcpListener::bind(b)
                .await
                .with_context(|| format!("listening on {b} (metrics_bind)"))?;
            tracing::info!(addr = %l.local_addr()?, "metrics are served on their own listener");
            Some((l, web::metrics_app(state.clone())))
        }
        None => None,
    };
    let app = web::app(state);
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("listening on {}", config.bind))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    tracing::info!(%url, backend = ?db.backend(), ms = started.elapsed().as_millis() as u64, "civitas is serving");
    if let Some(s) = &demo_summary {
        demo::print_sign_ins(s, Some(&url));
    } else {
        println!("Civitas is serving at {url}");
    }
    let mailer = crate::notify::Mailer::from_config(&config)?;
    if mailer.is_none() {
        tracing::info!("no smtp_url configured: mail notifications are off");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let jobs = config.jobs.then(|| {
        tokio::spawn(
            runner::Runner::new(db.clone())
                .with_retention_days(config.job_retention_days)
                .with_mailer(mailer)
                .with_imap(config.imap_mailbox(), config.own_address())
                .run_until(stop_rx),
        )
    });
    let metrics = metrics.map(|(l, m)| {
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, m).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        })
    });
    // The peer's address reaches the handlers (sign-in throttling by client address).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("serving HTTP")?;
    if let Some(m) = metrics {
        m.abort();
    }
    tracing::info!("in-flight requests finished; stopping the job runner");
    let _ = stop_tx.send(true);
    if let Some(j) = jobs {
        let _ = j.await;
    }
    db.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
