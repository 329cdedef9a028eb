use super::*;

const S: Duration = Duration::from_secs(1);

fn deploy(surge: u32, unavailable: u32) -> DeploySpec {
    DeploySpec {
        max_surge: surge,
        max_unavailable: unavailable,
        min_healthy_time: 5 * S,
        healthy_deadline: 30 * S,
        progress_deadline: 60 * S,
        ..DeploySpec::default()
    }
}

/// A slot created at `created` that has been healthy since `ready` (if any).
fn slot(n: u32, revision: u64, created: u64, ready: Option<u64>) -> SlotView {
    SlotView {
        slot: n,
        id: format!("web-{n}"),
        revision,
        created: Duration::from_secs(created),
        ready_since: ready.map(Duration::from_secs),
        serving: ready.is_some(),
        settled_before: false,
        restarts: 0,
        last_exit: None,
    }
}

#[test]
fn steady_state_starts_the_missing_and_stops_the_surplus() {
    let d = deploy(1, 0);
    let two = [slot(1, 1, 0, Some(1)), slot(2, 1, 0, Some(1))];
    assert_eq!(
        converge(&two, 1, 4, &d, 100 * S).start,
        2,
        "scale-up is not held to the surge"
    );
    let step = converge(&two, 1, 1, &d, 100 * S);
    assert_eq!((step.start, step.stop), (0, vec![2]));
}

#[test]
fn scale_in_removes_unhealthy_instances_first() {
    let d = deploy(1, 0);
    let slots = [
        slot(1, 1, 0, Some(1)),
        slot(2, 1, 0, None),
        slot(3, 1, 0, Some(1)),
    ];
    assert_eq!(converge(&slots, 1, 2, &d, 100 * S).stop, vec![2]);
}

#[test]
fn rolling_with_surge_one_never_drops_below_desired() {
    let d = deploy(1, 0);
    let mut slots = vec![
        slot(1, 1, 0, Some(1)),
        slot(2, 1, 0, Some(1)),
        slot(3, 1, 0, Some(1)),
    ];
    // One new instance at a time.
    let step = converge(&slots, 2, 3, &d, 100 * S);
    assert_eq!((step.start, step.stop.len()), (1, 0));
    slots.push(slot(4, 2, 100, None));
    assert_eq!(converge(&slots, 2, 3, &d, 101 * S), Step::default());
    // Healthy but not yet for min_healthy_time: still nothing to stop.
    slots[3].ready_since = Some(102 * S);
    assert_eq!(converge(&slots, 2, 3, &d, 104 * S), Step::default());
    // Settled: one old instance goes, and the next new one starts.
    let step = converge(&slots, 2, 3, &d, 107 * S);
    assert_eq!(step.stop, vec![3]);
    slots.retain(|s| s.slot != 3);
    assert_eq!(converge(&slots, 2, 3, &d, 107 * S).start, 1);
}

#[test]
fn max_unavailable_lets_old_instances_go_before_new_ones_are_ready() {
    let d = deploy(0, 1);
    let slots = [
        slot(1, 1, 0, Some(1)),
        slot(2, 1, 0, Some(1)),
        slot(3, 1, 0, Some(1)),
    ];
    let step = converge(&slots, 2, 3, &d, 100 * S);
    assert_eq!(step.stop, vec![3]);
    // A leaving instance no longer counts, so its replacement starts at once.
    assert_eq!(step.start, 1);
}

#[test]
fn old_instances_that_serve_nothing_go_at_once() {
    let d = deploy(1, 0);
    let slots = [slot(1, 1, 0, None), slot(2, 1, 0, Some(1))];
    let step = converge(&slots, 2, 2, &d, 100 * S);
    assert_eq!(step.stop, vec![1]);
    // Two new instances fit under desired + max_surge beside the healthy old one.
    assert_eq!(step.start, 2);
}

#[test]
fn a_rollout_completes_when_every_instance_is_new_and_settled() {
    let d = deploy(1, 0);
    let slots = [slot(4, 2, 10, Some(12)), slot(5, 2, 20, Some(22))];
    assert_eq!(judge(&slots, 2, 2, &d, 10 * S, 27 * S), Verdict::Complete);
    assert!(matches!(
        judge(&slots, 2, 2, &d, 10 * S, 26 * S),
        Verdict::Progressing { wake: Some(w) } if w == S
    ));
    let with_old = [slots[0].clone(), slots[1].clone(), slot(1, 1, 0, Some(1))];
    assert!(matches!(
        judge(&with_old, 2, 2, &d, 10 * S, 40 * S),
        Verdict::Progressing { .. }
    ));
}

#[test]
fn an_instance_that_never_gets_healthy_fails_at_the_healthy_deadline() {
    let d = deploy(1, 0);
    let slots = [slot(1, 1, 0, Some(1)), slot(4, 2, 10, None)];
    assert!(matches!(
        judge(&slots, 2, 1, &d, 10 * S, 39 * S),
        Verdict::Progressing { wake: Some(w) } if w == S
    ));
    let Verdict::Failed(why) = judge(&slots, 2, 1, &d, 10 * S, 40 * S) else {
        panic!("expected a failure")
    };
    assert!(
        why.contains("web-4") && why.contains("healthy_deadline 30s"),
        "{why}"
    );
}

#[test]
fn a_crash_of_a_new_instance_fails_the_rollout() {
    let d = deploy(1, 0);
    let mut crashed = slot(4, 2, 10, None);
    crashed.restarts = 1;
    crashed.last_exit = Some("exited (code 3)".into());
    let Verdict::Failed(why) = judge(&[crashed], 2, 1, &d, 10 * S, 11 * S) else {
        panic!("expected a failure")
    };
    assert_eq!(why, "web-4 (revision 2) stopped running: exited (code 3)");
}

#[test]
fn the_progress_deadline_counts_from_the_last_settled_instance() {
    let mut d = deploy(1, 0);
    d.healthy_deadline = 2000 * S;
    d.progress_deadline = 1000 * S;
    let slots = [slot(4, 2, 0, Some(50)), slot(5, 2, 40, None)];
    // Settled at 55, so the deadline is 1055, not 1000.
    assert!(matches!(
        judge(&slots, 2, 2, &d, Duration::ZERO, 1054 * S),
        Verdict::Progressing { .. }
    ));
    assert!(matches!(
        judge(&slots, 2, 2, &d, Duration::ZERO, 1055 * S),
        Verdict::Failed(why) if why.contains("progress_deadline")
    ));
}

#[test]
fn progress_counts_updated_new_and_old() {
    let d = deploy(1, 0);
    let slots = [
        slot(1, 1, 0, Some(1)),
        slot(4, 2, 10, Some(11)),
        slot(5, 2, 20, None),
    ];
    assert_eq!(
        progress(&slots, 2, 2, &d, 30 * S),
        Progress {
            updated: 1,
            new: 2,
            healthy: 1,
            old: 1,
            desired: 2
        }
    );
}

#[test]
fn a_new_instance_restarts_the_progress_clock() {
    let mut d = deploy(1, 0);
    d.healthy_deadline = 30 * S;
    d.progress_deadline = 60 * S;
    // Settled at 15; a second one started at 500 (the count grew after a long pause).
    let slots = [slot(4, 2, 0, Some(10)), slot(5, 2, 500, None)];
    assert!(matches!(
        judge(&slots, 2, 2, &d, Duration::ZERO, 510 * S),
        Verdict::Progressing { .. }
    ));
}

#[test]
fn unhealthy_instances_serving_while_failing_open_are_not_dropped_at_once() {
    let d = deploy(1, 0);
    let mut failing_open = vec![slot(1, 1, 0, None), slot(2, 1, 0, None)];
    for s in &mut failing_open {
        s.serving = true;
    }
    let step = converge(&failing_open, 2, 2, &d, 100 * S);
    assert!(step.stop.is_empty(), "{step:?}");
    assert_eq!(step.start, 1);
}

#[test]
fn an_instance_counted_for_the_rollout_is_not_held_to_deadlines_again() {
    let d = deploy(1, 0);
    let mut wobbly = slot(4, 2, 0, None);
    wobbly.settled_before = true;
    wobbly.restarts = 1;
    // Created long ago, unhealthy now and restarted once: still progressing, not failed.
    let v = judge(&[wobbly.clone()], 2, 1, &d, 490 * S, 500 * S);
    assert!(matches!(v, Verdict::Progressing { .. }), "{v:?}");
    // The same slot never counted before: both rules apply.
    wobbly.settled_before = false;
    let v = judge(&[wobbly], 2, 1, &d, 490 * S, 500 * S);
    assert!(matches!(v, Verdict::Failed(_)), "{v:?}");
}

/// A stateful service's deploy settings, as the spec compiles them.
fn ordered() -> DeploySpec {
    DeploySpec {
        ordered: true,
        ..deploy(0, 1)
    }
}

#[test]
fn stateful_scale_in_removes_the_highest_identity_whatever_its_state() {
    let slots = [
        slot(1, 1, 0, Some(1)),
        slot(2, 1, 0, None),
        slot(3, 1, 0, Some(1)),
    ];
    assert_eq!(converge(&slots, 1, 2, &ordered(), 100 * S).stop, vec![3]);
    assert_eq!(converge(&slots, 1, 1, &ordered(), 100 * S).stop, vec![3, 2]);
}

#[test]
fn a_stateful_rollout_replaces_the_highest_first_and_one_at_a_time() {
    let d = ordered();
    let mut slots = vec![
        slot(1, 1, 0, Some(1)),
        slot(2, 1, 0, Some(1)),
        slot(3, 1, 0, Some(1)),
    ];
    // Stop first (no surge): the highest old one, and its replacement is asked for at once
    // (the loop starts it once the old one is gone: identities are never doubled).
    let step = converge(&slots, 2, 3, &d, 100 * S);
    assert_eq!((step.start, step.stop), (1, vec![3]));
    slots.retain(|s| s.slot != 3);
    slots.push(slot(3, 2, 100, None));
    // Nothing more until the new one has settled.
    let step = converge(&slots, 2, 3, &d, 101 * S);
    assert_eq!((step.start, step.stop), (0, vec![]));
    slots[2] = slot(3, 2, 100, Some(101));
    let step = converge(&slots, 2, 3, &d, 110 * S);
    assert_eq!((step.start, step.stop), (1, vec![2]));
}

#[test]
fn a_stateful_rollout_replaces_the_highest_serving_identity_even_if_a_lower_one_just_restarted() {
    // db-1 restarted a moment ago (serving, not settled); db-3 is settled: db-3 goes first.
    let slots = [
        slot(1, 1, 0, Some(99)),
        slot(2, 1, 0, Some(1)),
        slot(3, 1, 0, Some(1)),
    ];
    assert_eq!(converge(&slots, 2, 3, &ordered(), 100 * S).stop, vec![3]);
}
