//! Conformance: correlation rules [CR] (`sigma-correlation-rules-specification.md`).

mod common;
use common::{correlate, rejection};
use serde_json::json;

const FAILED: &str = "title: Failed logon\nid: 0b3c0000-0000-4000-8000-000000000001\nname: failed_logon\nlogsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4625}\n  condition: sel\n";
const SUCCESS: &str = "title: Successful logon\nid: 0b3c0000-0000-4000-8000-000000000002\nname: successful_logon\nlogsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4624}\n  condition: sel\n";

fn fail(ip: &str, user: &str) -> serde_json::Value {
    json!({"EventID": 4625, "IpAddress": ip, "TargetUserName": user})
}

fn ok(ip: &str, user: &str) -> serde_json::Value {
    json!({"EventID": 4624, "IpAddress": ip, "TargetUserName": user})
}

#[test]
fn cr_event_count_with_group_by_and_sliding_window() {
    // [CR Event Count] gte 3 in 60s per IpAddress.
    let yaml = format!("{FAILED}---\ntitle: Brute force\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 60s\n  condition: {{gte: 3}}\n");
    let ev = vec![
        (0, fail("10.0.0.1", "a")),
        (10, fail("10.0.0.2", "a")),
        (20, fail("10.0.0.1", "b")),
        (100, fail("10.0.0.1", "c")), // the first two of 10.0.0.1 have slid out
        (110, fail("10.0.0.1", "d")),
        (115, fail("10.0.0.1", "e")),
    ];
    let (_, alerts, reported) = correlate(&yaml, &ev);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].group,
        vec![("IpAddress".to_string(), "10.0.0.1".to_string())]
    );
    assert_eq!(alerts[0].ts_ms, 115_000);
    assert_eq!(alerts[0].events, 3);
    assert_eq!(
        alerts[0].tag, 5,
        "the alert points at the event that decided it"
    );
    // generate defaults to false: the base rule is not reported alone [CR generate].
    assert!(reported.is_empty());
}

#[test]
fn cr_group_by_is_optional() {
    // Documented choice: without group-by every event is in one group (spec text: "optionally").
    let yaml = format!("{FAILED}---\ntitle: Many failures\ncorrelation:\n  type: event_count\n  rules: failed_logon\n  timespan: 1m\n  condition: {{gt: 2}}\n");
    let ev = vec![
        (0, fail("1.1.1.1", "a")),
        (1, fail("2.2.2.2", "b")),
        (2, fail("3.3.3.3", "c")),
    ];
    assert_eq!(correlate(&yaml, &ev).1.len(), 1);
}

#[test]
fn cr_value_count() {
    // [CR Value Count] distinct TargetUserName per IpAddress.
    let yaml = format!("{FAILED}---\ntitle: Spray\ncorrelation:\n  type: value_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 5m\n  condition: {{field: TargetUserName, gte: 3}}\n");
    let same_user = vec![
        (0, fail("1.1.1.1", "a")),
        (1, fail("1.1.1.1", "a")),
        (2, fail("1.1.1.1", "a")),
    ];
    assert!(correlate(&yaml, &same_user).1.is_empty());
    let spray = vec![
        (0, fail("1.1.1.1", "a")),
        (1, fail("1.1.1.1", "b")),
        (2, fail("1.1.1.1", "c")),
    ];
    let alerts = correlate(&yaml, &spray).1;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].value, 3.0);
}

#[test]
fn cr_temporal_and_ordered() {
    // [CR Temporal Proximity] all rules within the timespan, any order; ordered needs the order.
    let temporal = format!("{FAILED}---\n{SUCCESS}---\ntitle: Fail and success\ncorrelation:\n  type: temporal\n  rules: [failed_logon, successful_logon]\n  group-by: [IpAddress]\n  timespan: 5m\n");
    let ordered = temporal.replace("type: temporal\n", "type: temporal_ordered\n");
    let success_first = vec![(0, ok("1.1.1.1", "a")), (10, fail("1.1.1.1", "a"))];
    assert_eq!(correlate(&temporal, &success_first).1.len(), 1);
    assert!(correlate(&ordered, &success_first).1.is_empty());
    let fail_first = vec![(0, fail("1.1.1.1", "a")), (10, ok("1.1.1.1", "a"))];
    assert_eq!(correlate(&ordered, &fail_first).1.len(), 1);
    let too_late = vec![(0, fail("1.1.1.1", "a")), (400, ok("1.1.1.1", "a"))];
    assert!(correlate(&ordered, &too_late).1.is_empty());
    let other_group = vec![(0, fail("1.1.1.1", "a")), (10, ok("2.2.2.2", "a"))];
    assert!(correlate(&ordered, &other_group).1.is_empty());
}

#[test]
fn cr_value_sum_avg_percentile() {
    // [CR Value Sum, Value Average, Value Percentile]
    let base = "title: Transfer\nname: transfer\nlogsource: {product: test}\ndetection:\n  sel: {Action: send}\n  condition: sel\n";
    let ev = |b: i64| json!({"Action": "send", "Host": "h1", "Bytes": b});
    let sum = format!("{base}---\ntitle: Big transfer\ncorrelation:\n  type: value_sum\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 1h\n  condition: {{field: Bytes, gt: 1000}}\n");
    assert_eq!(correlate(&sum, &[(0, ev(400)), (1, ev(500))]).1.len(), 0);
    let alerts = correlate(&sum, &[(0, ev(400)), (1, ev(500)), (2, ev(200))]).1;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].value, 1100.0);
    let avg = format!("{base}---\ntitle: Avg\ncorrelation:\n  type: value_avg\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 1h\n  condition: {{field: Bytes, gte: 300}}\n");
    assert_eq!(correlate(&avg, &[(0, ev(100)), (1, ev(500))]).1.len(), 1);
    let pct = format!("{base}---\ntitle: P90\ncorrelation:\n  type: value_percentile\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 1h\n  condition: {{field: Bytes, percentile: 90, gte: 900}}\n");
    let evs: Vec<_> = (1..=10).map(|i| (i, ev(i * 100))).collect();
    assert_eq!(correlate(&pct, &evs).1.len(), 1);
}

#[test]
fn cr_value_percentile_interpolates_between_closest_ranks() {
    // [CR Value Percentile] with `percentile: P`: linear interpolation between the closest ranks
    // (numpy's default), rank P/100·(n−1). A range condition is decided when the window closes,
    // so the alert carries the percentile of all the group's values.
    let base = "title: Transfer\nname: transfer\nlogsource: {product: test}\ndetection:\n  sel: {Action: send}\n  condition: sel\n";
    let ev = |b: i64| json!({"Action": "send", "Host": "h1", "Bytes": b});
    let rule = |p: u32| {
        format!("{base}---\ntitle: P{p}\ncorrelation:\n  type: value_percentile\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 1h\n  condition: {{field: Bytes, percentile: {p}, gte: 0, lte: 1000000}}\n")
    };
    let value = |p: u32, bytes: &[i64]| {
        let evs: Vec<_> = bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| (i as i64, ev(b)))
            .collect();
        let alerts = correlate(&rule(p), &evs).1;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        alerts[0].value
    };
    // Even counts: the median of [10, 90] is 50 (nearest rank rounding gave 90).
    assert_eq!(value(50, &[90, 10]), 50.0);
    assert_eq!(value(50, &[40, 10, 30, 20]), 25.0);
    assert_eq!(value(25, &[10, 90]), 30.0);
    // Odd counts: the median is the middle value; P75 of [10, 20, 90] lies halfway from 20 to 90.
    assert_eq!(value(50, &[90, 10, 20]), 20.0);
    assert_eq!(value(75, &[10, 20, 90]), 55.0);
    // Ends: P0 is the smallest value, P100 the largest.
    assert_eq!(value(0, &[10, 20, 90]), 10.0);
    assert_eq!(value(100, &[10, 20, 90]), 90.0);
    // The threshold applies to the interpolated value.
    let median_over_60 = format!("{base}---\ntitle: Median\ncorrelation:\n  type: value_percentile\n  rules: [transfer]\n  group-by: [Host]\n  timespan: 1h\n  condition: {{field: Bytes, percentile: 50, gt: 60, lte: 1000000}}\n");
    assert!(correlate(&median_over_60, &[(0, ev(10)), (1, ev(90))])
        .1
        .is_empty());
    // A percentile outside 0–100 is rejected.
    assert!(rejection(&rule(150)).contains("between 0 and 100"));
}

#[test]
fn cr_events_missing_a_group_by_field_belong_to_no_group() {
    // [CR group-by]: events are counted together when all group-by values are equal; an event
    // that lacks a group-by field (absent or null) belongs to no group (as pySigma's SQL), while
    // an explicit empty string is a value of its own.
    let yaml = format!("{FAILED}---\ntitle: Brute force\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [TargetUserName]\n  timespan: 60s\n  condition: {{gte: 3}}\n");
    let missing = || json!({"EventID": 4625, "IpAddress": "1.1.1.1"});
    let null = || json!({"EventID": 4625, "IpAddress": "1.1.1.1", "TargetUserName": null});
    let empty = || json!({"EventID": 4625, "IpAddress": "1.1.1.1", "TargetUserName": ""});
    // Events without the field form no group, so they never fire.
    let (_, alerts, _) = correlate(
        &yaml,
        &[(0, missing()), (1, null()), (2, missing()), (3, null())],
    );
    assert!(alerts.is_empty(), "{alerts:?}");
    // Explicit empty strings are one group of their own...
    let alerts = correlate(&yaml, &[(0, empty()), (1, empty()), (2, empty())]).1;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].group,
        vec![("TargetUserName".to_string(), String::new())]
    );
    // ...that events lacking the field do not join.
    let mixed = [(0, empty()), (1, missing()), (2, empty()), (3, null())];
    assert!(correlate(&yaml, &mixed).1.is_empty());
    // With several group-by fields, lacking any one of them is enough to belong to no group.
    let two = format!("{FAILED}---\ntitle: Brute force\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [IpAddress, TargetUserName]\n  timespan: 60s\n  condition: {{gte: 2}}\n");
    assert!(correlate(&two, &[(0, missing()), (1, missing())])
        .1
        .is_empty());
    let alerts = correlate(
        &two,
        &[
            (0, missing()),
            (1, fail("1.1.1.1", "a")),
            (2, fail("1.1.1.1", "a")),
        ],
    )
    .1;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].events, 2);
}

#[test]
fn cr_value_percentile_rare_value_share() {
    // [CR Value Percentile] spec example: a value seen in ≤ N percent of the group's events
    // (decided when the window closes: an upper bound).
    let base = "title: Proc\nname: proc\nlogsource: {product: test}\ndetection:\n  sel: {Kind: proc}\n  condition: sel\n";
    let yaml = format!("{base}---\ntitle: Rare image\ncorrelation:\n  type: value_percentile\n  rules: [proc]\n  group-by: [Host]\n  timespan: 1h\n  condition: {{field: Image, lte: 10}}\n");
    let mut ev: Vec<_> = (0..19)
        .map(|i| {
            (
                i,
                json!({"Kind": "proc", "Host": "h", "Image": "common.exe"}),
            )
        })
        .collect();
    ev.push((
        30,
        json!({"Kind": "proc", "Host": "h", "Image": "rare.exe"}),
    ));
    let alerts = correlate(&yaml, &ev).1;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].value, 5.0);
}

#[test]
fn cr_condition_range_and_upper_bounds_close_with_the_window() {
    // [CR Condition] two operators form a range (spec; pySigma accepts one only: documented).
    let yaml = format!("{FAILED}---\ntitle: Few failures\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 60s\n  condition: {{gte: 2, lte: 3}}\n");
    let two = vec![(0, fail("1.1.1.1", "a")), (5, fail("1.1.1.1", "a"))];
    assert_eq!(correlate(&yaml, &two).1.len(), 1);
    let five: Vec<_> = (0..5).map(|i| (i, fail("1.1.1.1", "a"))).collect();
    assert!(correlate(&yaml, &five).1.is_empty());
    // A window closes when a later event of the group arrives after the timespan.
    let mut two_then_more = two.clone();
    two_then_more.push((200, fail("1.1.1.1", "a")));
    let alerts = correlate(&yaml, &two_then_more).1;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].ts_ms, 5_000);
}

#[test]
fn cr_aliases_group_different_fields() {
    // [CR Field Name Aliases]: one virtual field read from a different field per rule.
    let a = "title: DNS\nname: dns\nlogsource: {product: test}\ndetection:\n  sel: {Kind: dns}\n  condition: sel\n";
    let b = "title: Conn\nname: conn\nlogsource: {product: test}\ndetection:\n  sel: {Kind: conn}\n  condition: sel\n";
    let yaml = format!("{a}---\n{b}---\ntitle: Resolved then connected\ncorrelation:\n  type: temporal_ordered\n  rules: [dns, conn]\n  group-by: [ip]\n  timespan: 10s\n  aliases:\n    ip:\n      dns: answer\n      conn: dst_ip\n");
    let ev = vec![
        (0, json!({"Kind": "dns", "answer": "1.2.3.4"})),
        (1, json!({"Kind": "conn", "dst_ip": "9.9.9.9"})),
        (2, json!({"Kind": "conn", "dst_ip": "1.2.3.4"})),
    ];
    let alerts = correlate(&yaml, &ev).1;
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].group,
        vec![("ip".to_string(), "1.2.3.4".to_string())]
    );
}

#[test]
fn cr_chaining_and_generate() {
    // [CR] a correlation of correlations; `generate: true` keeps the base rule's own alerts.
    let yaml = format!(
        "{FAILED}---\n{SUCCESS}---\ntitle: Many failures\nname: many_failures\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 5m\n  generate: true\n  condition: {{gte: 3}}\n---\ntitle: Brute force then success\ncorrelation:\n  type: temporal_ordered\n  rules: [many_failures, successful_logon]\n  group-by: [IpAddress]\n  timespan: 10m\n"
    );
    let mut ev: Vec<_> = (0..3).map(|i| (i, fail("5.5.5.5", "x"))).collect();
    ev.push((60, ok("5.5.5.5", "x")));
    let (set, alerts, reported) = correlate(&yaml, &ev);
    let titles: Vec<&str> = alerts
        .iter()
        .map(|a| {
            set.correlations[a.correlation as usize]
                .rule
                .meta
                .title
                .as_str()
        })
        .collect();
    assert_eq!(titles, ["Many failures", "Brute force then success"]);
    assert_eq!(
        reported.iter().filter(|t| *t == "Failed logon").count(),
        3,
        "generate: true"
    );
    // The inner correlation is referenced by a parent without `generate`: used only for chaining.
    assert!(!alerts[0].reported);
    assert!(alerts[1].reported);
    // successful_logon is referenced with generate false only: suppressed.
    assert!(!reported.iter().any(|t| t == "Successful logon"));
}

#[test]
fn cr_invalid_correlations_are_rejected_with_reasons() {
    assert!(rejection("title: c\ncorrelation: {type: event_count, rules: [nope], timespan: 5m, condition: {gte: 1}}\n").contains("unknown rule"));
    assert!(rejection(&format!("{FAILED}---\ntitle: c\ncorrelation: {{type: event_total, rules: [failed_logon], timespan: 5m, condition: {{gte: 1}}}}\n")).contains("unknown correlation type"));
    assert!(rejection(&format!("{FAILED}---\ntitle: c\ncorrelation: {{type: event_count, rules: [failed_logon], timespan: 5x, condition: {{gte: 1}}}}\n")).contains("unit"));
    assert!(rejection(&format!("{FAILED}---\ntitle: c\ncorrelation: {{type: value_count, rules: [failed_logon], timespan: 5m, condition: {{gte: 1}}}}\n")).contains("field"));
}

#[test]
fn cr_memory_is_bounded_and_counted() {
    use yagura_sigma::correlation::{Correlator, Limits};
    use yagura_sigma::{Pipeline, Plan};
    let yaml = format!("{FAILED}---\ntitle: c\ncorrelation:\n  type: event_count\n  rules: [failed_logon]\n  group-by: [IpAddress]\n  timespan: 1h\n  condition: {{gte: 1000000}}\n");
    let set = common::rules(&yaml);
    let plan = Plan::compile(&set, &Pipeline::passthrough());
    let limits = Limits {
        max_window_entries: 10,
        max_groups: 5,
    };
    let mut c = Correlator::with_limits(&set, &Pipeline::passthrough(), limits);
    let mut s = plan.scratch();
    let mut out = Vec::new();
    for i in 0..100 {
        let rec = common::record(&fail(&format!("10.0.0.{}", i % 8), "u"));
        let mut hits = Vec::new();
        plan.evaluate(&rec, &mut s, &mut hits);
        let cap = c.capture(hits[0], &rec).unwrap();
        c.observe(&cap, i, &mut out);
    }
    let st = c.stats();
    assert_eq!(st.open_windows, 5);
    assert!(st.entries <= 50);
    assert!(st.refused_groups > 0 && st.dropped_entries > 0);
    assert!(st.bytes > 0);
}
