//! The rolling rules simulated tick by tick under a virtual clock: random counts, surge and
//! unavailable settings, and instances that take a random time to get healthy. Whatever the
//! draw, a rollout never has fewer serving instances than `desired - max_unavailable`, never
//! more than `desired + max_surge`, and ends with every instance on the new revision.

use std::time::Duration;

use proptest::prelude::*;
use shoal_rollout::{converge, judge, SlotView, Verdict};
use shoal_spec::DeploySpec;

const TICK: Duration = Duration::from_secs(1);

/// A simulated instance: its view, and the tick it becomes healthy.
struct Sim {
    view: SlotView,
    healthy_at: Duration,
}

fn slot(n: u32, revision: u64, now: Duration, healthy_at: Duration) -> Sim {
    Sim {
        view: SlotView {
            slot: n,
            id: format!("web-{n}"),
            revision,
            created: now,
            ready_since: None,
            serving: false,
            settled_before: false,
            restarts: 0,
            last_exit: None,
        },
        healthy_at,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn a_rolling_update_keeps_its_bounds_and_finishes(
        want in 1u32..8,
        surge in 0u32..4,
        unavailable in 0u32..4,
        startup_ticks in proptest::collection::vec(1u32..5, 64),
    ) {
        prop_assume!(surge + unavailable > 0);
        let deploy = DeploySpec {
            max_surge: surge,
            max_unavailable: unavailable,
            min_healthy_time: TICK,
            healthy_deadline: Duration::from_secs(3600),
            progress_deadline: Duration::from_secs(3600),
            ..DeploySpec::default()
        };
        // `want` healthy instances of revision 1.
        let mut now = Duration::from_secs(100);
        let mut slots: Vec<Sim> = (1..=want)
            .map(|n| {
                let mut s = slot(n, 1, Duration::ZERO, Duration::ZERO);
                s.view.ready_since = Some(Duration::ZERO);
                s.view.serving = true;
                s
            })
            .collect();
        let mut delays = startup_ticks.into_iter().cycle();
        let floor = want.saturating_sub(unavailable) as usize;
        let ceiling = (want + surge) as usize;
        let started = now;
        for _ in 0..500 {
            // Instances get healthy when their time comes.
            for s in &mut slots {
                if s.view.ready_since.is_none() && now >= s.healthy_at {
                    s.view.ready_since = Some(now);
                    s.view.serving = true;
                }
            }
            let views: Vec<SlotView> = slots.iter().map(|s| s.view.clone()).collect();
            match judge(&views, 2, want, &deploy, started, now) {
                Verdict::Complete => {
                    prop_assert_eq!(slots.len(), want as usize);
                    prop_assert!(slots.iter().all(|s| s.view.revision == 2));
                    return Ok(());
                }
                Verdict::Failed(why) => prop_assert!(false, "failed: {}", why),
                Verdict::Progressing { .. } => {}
            }
            let step = converge(&views, 2, want, &deploy, now);
            // Stopping takes an instance out of the selector at once.
            slots.retain(|s| !step.stop.contains(&s.view.slot));
            for _ in 0..step.start {
                let n = (1..).find(|n| slots.iter().all(|s| s.view.slot != *n)).unwrap();
                let delay = delays.next().unwrap();
                slots.push(slot(n, 2, now, now + TICK * delay));
            }
            let serving = slots.iter().filter(|s| s.view.serving).count();
            prop_assert!(
                serving >= floor,
                "{} serving < floor {} (want {}, surge {}, unavailable {})",
                serving, floor, want, surge, unavailable
            );
            prop_assert!(
                slots.len() <= ceiling,
                "{} instances > ceiling {}", slots.len(), ceiling
            );
            now += TICK;
        }
        prop_assert!(false, "did not finish in 500 ticks");
    }
}
