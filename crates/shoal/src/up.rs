//! `shoal up`: validate, bind, start every service, serve the gateway and the admin API, and on
//! Ctrl-C/SIGTERM/`shoal down` stop accepting, drain, stop every instance and exit 0.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use shoal_control::{AdminState, Controller};
use shoal_gateway::{Gateway, GatewayConfig, PoolConfig};
use shoal_runtime::ShimCommand;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::exit::Failure;

/// Runs until told to stop.
pub async fn run(file: &Path) -> Result<(), Failure> {
    let spec =
        shoal_spec::load(file, &shoal_spec::LoadOptions::default()).map_err(Failure::spec)?;

    // Bound here so a taken port is reported before anything starts; served on the gateway's
    // own runtime (see `gateway_runtime`).
    let gateway_listener = std::net::TcpListener::bind(spec.gateway.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| {
            Failure::op(format!(
                "cannot listen on {} (gateway.listen): {e}",
                spec.gateway.listen
            ))
        })?;
    let gateway_runtime = gateway_runtime(spec.gateway.threads)?;
    let admin_listener = TcpListener::bind(spec.admin.listen).await.map_err(|e| {
        Failure::op(format!(
            "cannot listen on {} (admin.listen): {e}",
            spec.admin.listen
        ))
    })?;
    let data_dir = spec.admin.data_dir.clone();
    let token = shoal_control::load_or_create_token(&data_dir).map_err(|e| {
        Failure::op(format!(
            "cannot create the token in {}: {e}",
            data_dir.display()
        ))
    })?;
    // Cgroups left by a shoal that was killed outright.
    shoal_runtime::cleanup_stale_cgroups();
    // Each relayed connection takes descriptors: use all the hard limit allows (instances
    // keep the limit shoal started with).
    match shoal_runtime::raise_nofile_limit() {
        Ok(limit) if limit.now < 4096 => tracing::warn!(
            limit = limit.now,
            "the open-file limit is low: the gateway may refuse connections before its own caps; raise it (ulimit -n, LimitNOFILE=)"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open-file limit"),
    }
    let shim = ShimCommand::current_exe()
        .map_err(|e| Failure::op(format!("cannot find shoal's own executable: {e}")))?;

    let gateway = Arc::new(Gateway::new(GatewayConfig {
        response_timeout: spec.gateway.response_timeout,
        header_timeout: spec.gateway.header_timeout,
        max_header_bytes: spec.gateway.max_header_bytes,
        retry_budget: spec.gateway.retry_budget,
        // TCP listeners are served on the gateway's runtime, like HTTP.
        runtime: Some(gateway_runtime.handle().clone()),
        pool: PoolConfig {
            connect_timeout: spec.gateway.connect_timeout,
            idle_timeout: spec.gateway.idle_timeout,
            ..PoolConfig::default()
        },
    }));
    // Open requests may take as long as the longest drain allows.
    let grace = spec
        .services
        .values()
        .map(|s| s.stop.drain)
        .max()
        .unwrap_or_default()
        + Duration::from_secs(1);
    let gateway_addr = gateway_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;

    let controller = Arc::new(
        Controller::start(spec.clone(), Arc::clone(&gateway), shim)
            .map_err(|e| Failure::op(format!("cannot use data dir {}: {e}", data_dir.display())))?,
    );

    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let admin = shoal_control::admin_router(AdminState {
        controller: Arc::clone(&controller),
        token: token.into(),
        shutdown: shutdown_tx.clone(),
        gateway_addr: format!("http://{gateway_addr}"),
    });

    println!("shoal is up");
    println!("  gateway  http://{gateway_addr}");
    println!("  admin    http://{admin_addr}");
    println!(
        "  token    {}",
        shoal_control::token_path(&data_dir).display()
    );
    println!(
        "  services {}",
        spec.services
            .values()
            .map(|s| format!("{} ×{}", s.name, s.instances.desired))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for svc in spec.services.values() {
        if let Some(tcp) = svc.tcp {
            println!("  tcp      {} {}", svc.name, tcp.listen);
        }
    }
    println!("Ctrl-C drains and stops everything.");
    tokio::spawn(print_events(controller.registry().clone()));

    // Stop signals: SIGINT, SIGTERM, or POST /v1/shutdown.
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let stop_requested = {
        let shutdown_tx = shutdown_tx.clone();
        async move {
            tokio::select! {
                _ = sigint.recv() => tracing::info!("interrupt received: draining"),
                _ = sigterm.recv() => tracing::info!("SIGTERM received: draining"),
                _ = shutdown_rx.wait_for(|s| *s) => tracing::info!("shutdown requested: draining"),
            }
            shutdown_tx.send_replace(true);
            // A second interrupt stops at once: the shims see shoal gone and kill their groups.
            tokio::spawn(async move {
                if let Ok(mut again) = signal(SignalKind::interrupt()) {
                    again.recv().await;
                    eprintln!("second interrupt: stopping now");
                    std::process::exit(130);
                }
            });
        }
    };

    let mut gateway_stop = shutdown_tx.subscribe();
    let gateway_task = {
        let gateway = Arc::clone(&gateway);
        gateway_runtime.handle().spawn(async move {
            // Registered with this runtime's reactor, so connections are served on its threads.
            let gateway_listener = TcpListener::from_std(gateway_listener)?;
            gateway
                .serve(
                    gateway_listener,
                    async move {
                        let _ = gateway_stop.wait_for(|s| *s).await;
                    },
                    grace,
                )
                .await
        })
    };
    let mut admin_stop = shutdown_tx.subscribe();
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin)
            .with_graceful_shutdown(async move {
                let _ = admin_stop.wait_for(|s| *s).await;
            })
            .await
    });

    stop_requested.await;
    // Stop accepting and drain instances at the same time: each instance leaves the selector,
    // finishes its in-flight requests, then gets SIGTERM.
    let (gateway_result, ()) = tokio::join!(gateway_task, controller.shutdown());
    if let Ok(Err(e)) = gateway_result {
        tracing::warn!(error = %e, "gateway ended with an error");
    }
    gateway.close_all_tcp();
    let _ = tokio::time::timeout(Duration::from_secs(2), admin_task).await;
    // Every connection has drained; what is left there (idle pool tasks) goes with the runtime.
    drop(gateway_runtime);
    shoal_runtime::remove_own_cgroups();
    println!("shoal stopped");
    Ok(())
}

/// The data plane's own runtime, apart from the control plane's: health checks, reconcilers and
/// the admin API never queue behind proxied requests, and the gateway's thread count is chosen
/// for proxying. By default half the CPUs (at least one), leaving the rest to the instances:
/// on a 2-core machine one gateway thread used 17–28 % less CPU per request and had a lower p99
/// than two (bench/gateway.sh, `TOKIO_WORKER_THREADS`), because instances and clients compete
/// for the same cores.
fn gateway_runtime(threads: Option<u32>) -> Result<GatewayRuntime, Failure> {
    let threads = threads.map_or_else(
        || {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get().div_ceil(2))
                .max(1)
        },
        |n| n as usize,
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("shoal-gateway")
        .enable_all()
        .build()
        .map(|rt| GatewayRuntime(Some(rt)))
        .map_err(|e| Failure::op(format!("cannot start the gateway's runtime: {e}")))
}

/// The gateway's runtime, shut down without blocking when dropped: `up` runs inside the main
/// runtime, where dropping a runtime the usual way (waiting for its threads) is not allowed —
/// on every path out of `up`, early errors included.
struct GatewayRuntime(Option<tokio::runtime::Runtime>);

impl GatewayRuntime {
    fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for GatewayRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// One line per event on the console, as they happen.
async fn print_events(registry: shoal_control::Registry) {
    let mut changed = registry.subscribe();
    let mut since = 0;
    loop {
        for e in registry.events_since(since, 1000) {
            since = e.seq;
            // `2026-11-23T14:23:27.826Z` → `14:23:27.826`
            let clock = e.time.get(11..23).unwrap_or(&e.time);
            println!("{clock}  {:<10} {}", e.kind, e.message);
        }
        if changed.changed().await.is_err() {
            return;
        }
    }
}
