//! One loop per service (DESIGN principle 2): compare the desired count with the slots that run
//! and take the next step — start a slot, or ask the least useful one to leave. Idempotent; each
//! slot task owns its instance, so no instance is ever acted on twice at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shoal_spec::ServiceSpec;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::instance::run_slot;
use crate::registry::InstanceState;
use crate::Context;

/// How often finished slot tasks are reaped when nothing else wakes the loop.
const REAP_EVERY: Duration = Duration::from_millis(200);

struct Slot {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Slot {
    fn leaving(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Runs until `shutdown` turns true and every slot has stopped.
pub(crate) async fn reconcile_service(
    ctx: Arc<Context>,
    spec: Arc<ServiceSpec>,
    mut desired: watch::Receiver<u32>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut slots: BTreeMap<u32, Slot> = BTreeMap::new();
    loop {
        slots.retain(|_, s| !s.task.is_finished());
        let closing = *shutdown.borrow();
        let want = if closing { 0 } else { *desired.borrow() } as usize;
        let active: Vec<u32> = slots
            .iter()
            .filter(|(_, s)| !s.leaving())
            .map(|(n, _)| *n)
            .collect();

        if active.len() < want {
            for _ in active.len()..want {
                let n = (1..)
                    .find(|n| !slots.contains_key(n))
                    .expect("a free slot number");
                let (stop, stop_rx) = watch::channel(false);
                let task = tokio::spawn(run_slot(Arc::clone(&ctx), Arc::clone(&spec), n, stop_rx));
                slots.insert(n, Slot { stop, task });
            }
        } else if active.len() > want {
            for n in removal_order(&ctx, &spec.name, active)
                .into_iter()
                .take(slots_to_stop(&slots, want))
            {
                if let Some(slot) = slots.get(&n) {
                    let _ = slot.stop.send(true);
                }
            }
        }

        if closing && slots.is_empty() {
            return;
        }
        tokio::select! {
            _ = desired.changed() => {}
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(REAP_EVERY) => {}
        }
    }
}

fn slots_to_stop(slots: &BTreeMap<u32, Slot>, want: usize) -> usize {
    slots
        .values()
        .filter(|s| !s.leaving())
        .count()
        .saturating_sub(want)
}

/// Best candidates for removal first: slots with no instance yet or not healthy (they serve
/// nothing), then the highest-numbered, so the remaining ids stay compact.
fn removal_order(ctx: &Context, service: &str, mut active: Vec<u32>) -> Vec<u32> {
    active.sort_by_key(|n| {
        let healthy = ctx.registry.instance_state(service, *n) == Some(InstanceState::Healthy);
        (healthy, std::cmp::Reverse(*n))
    });
    active
}
