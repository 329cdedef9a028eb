use super::*;

const S: Duration = Duration::from_secs(1);

fn spec(steps: &[(u32, Option<u64>)]) -> CanarySpec {
    CanarySpec {
        steps: steps
            .iter()
            .map(|&(weight, pause)| CanaryStep {
                weight,
                pause: pause.map(Duration::from_secs),
            })
            .collect(),
        pin_header: "x-shoal-revision".into(),
        analysis: AnalysisSpec {
            interval: 10 * S,
            max_error_rate: 0.05,
            max_p99: Some(Duration::from_millis(500)),
            failure_limit: 2,
            min_requests: 10,
        },
    }
}

fn window(requests: u64, errors: u64, p99_ms: u64) -> Window {
    Window {
        requests,
        errors,
        p99: Some(Duration::from_millis(p99_ms)),
    }
}

#[test]
fn analysis_passes_fails_or_abstains() {
    let a = spec(&[(10, None)]).analysis;
    let healthy = window(1000, 0, 20);
    assert!(matches!(
        analyse(&window(100, 2, 50), &healthy, &a),
        Check::Pass(_)
    ));
    let Check::Fail(why) = analyse(&window(100, 50, 50), &healthy, &a) else {
        panic!()
    };
    assert!(
        why.starts_with("error rate 50.0 % > allowed 5.0 %"),
        "{why}"
    );
    assert!(matches!(
        analyse(&window(100, 0, 900), &healthy, &a),
        Check::Fail(why) if why.starts_with("p99 900 ms")
    ));
    assert!(matches!(
        analyse(&window(5, 5, 50), &healthy, &a),
        Check::Inconclusive(_)
    ));
}

#[test]
fn what_the_stable_revision_suffers_too_is_not_held_against_the_canary() {
    let a = spec(&[(10, None)]).analysis;
    let struggling = window(1000, 300, 800);
    assert!(matches!(
        analyse(&window(100, 30, 800), &struggling, &a),
        Check::Pass(_)
    ));
    assert!(matches!(
        analyse(&window(100, 60, 800), &struggling, &a),
        Check::Fail(_)
    ));
}

#[test]
fn steps_advance_after_their_pause_and_promote_after_the_last() {
    let mut c = Canary::new(&spec(&[(10, Some(30)), (50, Some(30))]), Duration::ZERO);
    assert_eq!(c.weight(), 10);
    assert_eq!(c.tick(5 * S, None), Decision::Stay { wake: Some(5 * S) });
    assert_eq!(
        c.tick(30 * S, None),
        Decision::Step {
            index: 1,
            weight: 50
        }
    );
    // An analysis is due (none was recorded), so it wakes at once.
    assert_eq!(
        c.tick(59 * S, None),
        Decision::Stay {
            wake: Some(Duration::ZERO)
        }
    );
    assert_eq!(c.tick(60 * S, None), Decision::Promote);
}

#[test]
fn a_step_without_a_pause_waits_for_promote() {
    let mut c = Canary::new(&spec(&[(10, None), (50, None)]), Duration::ZERO);
    assert!(c.waiting_for_promote());
    assert!(matches!(c.tick(3600 * S, None), Decision::Stay { .. }));
    assert_eq!(
        c.tick(3600 * S, Some(Promote::Step)),
        Decision::Step {
            index: 1,
            weight: 50
        }
    );
    assert_eq!(c.tick(3601 * S, Some(Promote::Full)), Decision::Promote);
}

#[test]
fn failed_checks_abort_at_the_failure_limit() {
    let mut c = Canary::new(&spec(&[(10, None)]), Duration::ZERO);
    assert!(!c.check_due(9 * S));
    assert!(c.check_due(10 * S));
    assert_eq!(c.record(Check::Fail("bad".into()), 10 * S), None);
    assert_eq!(c.record(Check::Inconclusive("quiet".into()), 20 * S), None);
    assert!(!c.check_due(29 * S));
    let Some(Decision::Abort(why)) = c.record(Check::Fail("worse".into()), 30 * S) else {
        panic!()
    };
    assert_eq!(why, "2 of 2 checks failed, the last: worse");
    assert_eq!(c.recent_checks().len(), 3);
}

#[test]
fn canary_instance_counts_follow_the_weight() {
    assert_eq!(canary_instances(10, 3), 1);
    assert_eq!(canary_instances(50, 3), 2);
    assert_eq!(canary_instances(50, 10), 5);
    assert_eq!(canary_instances(100, 4), 4);
    assert_eq!(canary_instances(10, 0), 1);
}
