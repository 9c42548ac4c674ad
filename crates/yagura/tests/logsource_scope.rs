//! Hunting real Windows logs with all of SigmaHQ's `rules/` (Windows, Linux, macOS, Zeek, Cisco,
//! cloud, web …) must only ever fire Windows rules (or product-less categories that the Windows
//! pipeline maps, such as `antivirus`), and a process-creation rule must fire on Security 4688 as
//! well as on Sysmon 1.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use yagura_sigma::{LoadOptions, RuleSet};

const BIN: &str = env!("CARGO_BIN_EXE_yagura");

fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(rel)
}

#[test]
fn only_windows_rules_fire_on_windows_events_and_4688_counts_as_process_creation() {
    let rules = shared("sigma/rules");
    let logs = shared("data/evtx/DeepBlueCLI");
    let out = Command::new(BIN)
        .args(["hunt", "--no-builtin", "--format", "jsonl", "--rules"])
        .arg(&rules)
        .arg(&logs)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut set = RuleSet::new();
    set.load_path(&rules, &LoadOptions::default());
    let logsource: HashMap<String, (Option<String>, Option<String>)> = set
        .rules
        .iter()
        .filter_map(|r| {
            let ls = &r.rule.logsource;
            r.rule
                .meta
                .id
                .clone()
                .map(|id| (id, (ls.product.clone(), ls.category.clone())))
        })
        .collect();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(
        rows.len() > 50,
        "DeepBlueCLI's attacks fire many SigmaHQ rules ({})",
        rows.len()
    );
    let mut process_creation_on_4688 = 0;
    for r in &rows {
        let id = r["rule_id"].as_str().expect("rule id");
        let (product, category) = &logsource[id];
        assert!(
            product.as_deref() == Some("windows")
                || (product.is_none() && category.as_deref() == Some("antivirus")),
            "rule {id} ({product:?}/{category:?}) fired on a Windows event: {r}"
        );
        if category.as_deref() == Some("process_creation") && r["event_id"] == 4688 {
            process_creation_on_4688 += 1;
        }
    }
    assert!(
        process_creation_on_4688 > 0,
        "process-creation rules must see Security 4688 events"
    );
}
