//! Conformance: the condition grammar [RS Condition] and filters [FR].

mod common;
use common::{check, rejects, rules};
use serde_json::json;
use yagura_sigma::{Pipeline, Plan};

#[test]
fn rs_condition_and_or_not_precedence() {
    // [RS Condition] `not` binds tighter than `and`, `and` tighter than `or`.
    let det = "a: {A: 1}\nb: {B: 1}\nc: {C: 1}\ncondition: a or b and not c";
    check(
        det,
        &[json!({"A": 1, "C": 1}), json!({"B": 1})],
        &[json!({"B": 1, "C": 1}), json!({})],
    );
    check(
        "a: {A: 1}\nb: {B: 1}\nc: {C: 1}\ncondition: (a or b) and not c",
        &[json!({"B": 1})],
        &[json!({"A": 1, "C": 1})],
    );
}

#[test]
fn rs_condition_one_of_and_all_of_patterns() {
    // [RS Condition] `1 of`, `all of` with wildcard patterns.
    let det = "sel_a: {A: 1}\nsel_b: {B: 1}\nfilter: {C: 1}\ncondition: 1 of sel_* and not filter";
    check(
        det,
        &[json!({"B": 1})],
        &[json!({"B": 1, "C": 1}), json!({"C": 1})],
    );
    check(
        "sel_a: {A: 1}\nsel_b: {B: 1}\ncondition: all of sel_*",
        &[json!({"A": 1, "B": 1})],
        &[json!({"A": 1})],
    );
}

#[test]
fn rs_condition_them_excludes_underscore_identifiers() {
    // [RS Condition] `them` means every identifier except those starting with `_`.
    let det = "a: {A: 1}\nb: {B: 1}\n_helper: {H: 1}\ncondition: all of them";
    check(
        det,
        &[json!({"A": 1, "B": 1})],
        &[json!({"A": 1}), json!({"H": 1})],
    );
    check(
        "a: {A: 1}\n_h: {H: 1}\ncondition: 1 of them",
        &[json!({"A": 1})],
        &[json!({"H": 1})],
    );
}

#[test]
fn rs_condition_list_is_ored() {
    // [RS Condition] a list of conditions is ORed.
    check(
        "a: {A: 1}\nb: {B: 1}\ncondition:\n  - a\n  - b",
        &[json!({"A": 1}), json!({"B": 1})],
        &[json!({"C": 1})],
    );
}

#[test]
fn rs_condition_errors() {
    // [RS Condition] unknown identifiers, dangling operators and v1 aggregations are rejected.
    assert!(rejects("a: {A: 1}\ncondition: b").contains("unknown search identifier"));
    assert!(rejects("a: {A: 1}\ncondition: a and").contains("end of condition"));
    assert!(rejects("a: {A: 1}\ncondition: 1 of x*").contains("matches no"));
    assert!(rejects("a: {A: 1}\ncondition: a | count() > 5").contains("correlation"));
    assert!(rejects("a: {A: 1}").contains("condition"));
}

#[test]
fn rs_multi_document_files_load_every_document() {
    // [RS File Structure] several YAML documents in one file.
    let set = rules(
        "title: one\nlogsource: {product: test}\ndetection: {s: {A: 1}, condition: s}\n---\ntitle: two\nlogsource: {product: test}\ndetection: {s: {B: 1}, condition: s}\n",
    );
    assert_eq!(set.rules.len(), 2);
}

#[test]
fn rs_required_keys_and_enums() {
    // [RS Components]: title, logsource and detection are required; level is a closed set.
    assert!(
        common::rejection("logsource: {product: t}\ndetection: {s: {A: 1}, condition: s}\n")
            .contains("title")
    );
    assert!(
        common::rejection("title: t\ndetection: {s: {A: 1}, condition: s}\n").contains("logsource")
    );
    assert!(common::rejection(
        "title: t\nlogsource: {product: t}\nlevel: severe\ndetection: {s: {A: 1}, condition: s}\n"
    )
    .contains("level"));
}

const RULE: &str = "title: Whoami\nid: 11111111-1111-4111-8111-111111111111\nname: whoami_exec\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel\n";

fn fire(yaml: &str, ev: serde_json::Value) -> bool {
    let set = rules(yaml);
    let plan = Plan::compile(&set, &Pipeline::passthrough());
    let mut s = plan.scratch();
    let mut out = Vec::new();
    plan.evaluate(&common::record(&ev), &mut s, &mut out);
    !out.is_empty()
}

#[test]
fn fr_filter_is_anded_as_written() {
    // [FR] Filter polarity (documented choice, pySigma and the v2.2 draft): the rule becomes
    // `(rule) and (filter condition)`, so exclusions are written `not selection`.
    let filter = "---\ntitle: Ignore admin\nlogsource: {category: process_creation, product: windows}\nfilter:\n  rules: [whoami_exec]\n  sel: {User: admin}\n  condition: not sel\n";
    let yaml = format!("{RULE}{filter}");
    assert!(fire(
        &yaml,
        json!({"Image": "C:\\w\\whoami.exe", "User": "bob"})
    ));
    assert!(!fire(
        &yaml,
        json!({"Image": "C:\\w\\whoami.exe", "User": "ADMIN"})
    ));
}

#[test]
fn fr_filter_applies_only_to_named_rules_and_matching_logsource() {
    // [FR] by id or name; the rule's logsource must be within the filter's.
    let other_ls = "---\ntitle: f\nlogsource: {category: network_connection, product: windows}\nfilter:\n  rules: [whoami_exec]\n  sel: {User: admin}\n  condition: not sel\n";
    assert!(fire(
        &format!("{RULE}{other_ls}"),
        json!({"Image": "x\\whoami.exe", "User": "admin"})
    ));
    let other_rule = "---\ntitle: f\nlogsource: {product: windows}\nfilter:\n  rules: [some-other-rule]\n  sel: {User: admin}\n  condition: not sel\n";
    assert!(fire(
        &format!("{RULE}{other_rule}"),
        json!({"Image": "x\\whoami.exe", "User": "admin"})
    ));
    let by_id = "---\ntitle: f\nlogsource: {product: windows}\nfilter:\n  rules: [11111111-1111-4111-8111-111111111111]\n  sel: {User: admin}\n  condition: not sel\n";
    assert!(!fire(
        &format!("{RULE}{by_id}"),
        json!({"Image": "x\\whoami.exe", "User": "admin"})
    ));
    let any = "---\ntitle: f\nlogsource: {product: windows}\nfilter:\n  rules: any\n  sel: {User: admin}\n  condition: not sel\n";
    assert!(!fire(
        &format!("{RULE}{any}"),
        json!({"Image": "x\\whoami.exe", "User": "admin"})
    ));
}

#[test]
fn regression_userdata_channel_does_not_hide_system_channel() {
    // A field repeated later in the event (UserData's Channel) must not replace the first one for
    // logsource selection: System 104 "log cleared" carries `Channel` in its UserData too.
    let set = rules("title: probe\nlogsource: {product: windows, service: system}\ndetection: {sel: {EventID: 104}, condition: sel}\n");
    let plan = Plan::compile(&set, Pipeline::windows());
    let mut s = plan.scratch();
    let mut rec = yagura_event::Record::new();
    rec.push("EventID", yagura_event::Kind::Num, "104");
    rec.push("Channel", yagura_event::Kind::Str, "System");
    rec.push("Channel", yagura_event::Kind::Str, "Application");
    let mut out = Vec::new();
    plan.evaluate(&rec, &mut s, &mut out);
    assert_eq!(out, [0]);
}
