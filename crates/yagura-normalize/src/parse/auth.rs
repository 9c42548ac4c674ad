//! Linux authentication messages (the MSG of syslog lines, dataset `system.auth`): sshd, PAM
//! (any program), sudo, su, useradd/groupadd and friends. sshd, su and the account tools are
//! tables of [`pattern`](super::pattern) templates; PAM `key=value` lists and sudo's
//! `KEY=value ; ...` lists are scanned by hand.

use yagura_event::{Kind, Record};

use super::out;
use super::pattern::{self, Caps, MAX_CAPS};

/// One message template and the event it describes.
struct Rule {
    tmpl: &'static str,
    action: &'static str,
    /// `event.outcome` (`""`: none).
    outcome: &'static str,
    /// `event.category` (`""`: none).
    category: &'static str,
    /// `event.type` (`""`: none).
    kind: &'static str,
    /// sshd: `system.auth.ssh.event` (Filebeat's `Accepted`/`Failed`/`Invalid`, `""`: none).
    ssh_event: &'static str,
    /// The user is not a valid account (`system.auth.ssh.invalid_user: true`).
    invalid: bool,
}

const fn r(
    tmpl: &'static str,
    action: &'static str,
    outcome: &'static str,
    category: &'static str,
    kind: &'static str,
) -> Rule {
    Rule {
        tmpl,
        action,
        outcome,
        category,
        kind,
        ssh_event: "",
        invalid: false,
    }
}

const fn ssh(
    tmpl: &'static str,
    outcome: &'static str,
    ssh_event: &'static str,
    invalid: bool,
) -> Rule {
    Rule {
        tmpl,
        action: "ssh_login",
        outcome,
        category: "authentication",
        kind: if !outcome.is_empty() && outcome.as_bytes()[0] == b's' {
            "start"
        } else {
            "info"
        },
        ssh_event,
        invalid,
    }
}

const AUTH: &str = "authentication";
const NET: &str = "network";
const FAIL: &str = "failure";
const OK: &str = "success";

/// sshd messages, most specific first. Capture names are the ECS fields they fill.
const SSHD: &[Rule] = &[
    ssh("Accepted {system.auth.ssh.method} for {user.name} from {source.ip} port {source.port} ssh2: {system.auth.ssh.signature*}", OK, "Accepted", false),
    ssh("Accepted {system.auth.ssh.method} for {user.name} from {source.ip} port {source.port}", OK, "Accepted", false),
    ssh("Failed {system.auth.ssh.method} for invalid user {user.name} from {source.ip} port {source.port}", FAIL, "Failed", true),
    ssh("Failed {system.auth.ssh.method} for illegal user {user.name} from {source.ip} port {source.port}", FAIL, "Failed", true),
    ssh("Failed {system.auth.ssh.method} for {user.name} from {source.ip} port {source.port}", FAIL, "Failed", false),
    ssh("Failed {system.auth.ssh.method} for invalid user {user.name} from {source.ip}", FAIL, "Failed", true),
    ssh("Failed {system.auth.ssh.method} for {user.name} from {source.ip}", FAIL, "Failed", false),
    ssh("Invalid user {user.name} from {source.ip} port {source.port}", FAIL, "Invalid", true),
    ssh("Invalid user {user.name} from {source.ip}", FAIL, "Invalid", true),
    ssh("Illegal user {user.name} from {source.ip}", FAIL, "Invalid", true),
    ssh("input_userauth_request: invalid user {user.name} [preauth]", FAIL, "Invalid", true),
    ssh("input_userauth_request: invalid user {user.name}", FAIL, "Invalid", true),
    ssh("error: PAM: Authentication failure for illegal user {user.name} from {source.ip}", FAIL, "Failed", true),
    ssh("error: PAM: Authentication failure for {user.name} from {source.ip}", FAIL, "Failed", false),
    ssh("error: PAM: authentication error for illegal user {user.name} from {source.ip}", FAIL, "Failed", true),
    ssh("error: PAM: authentication error for {user.name} from {source.ip}", FAIL, "Failed", false),
    ssh("PAM: Authentication failure for illegal user {user.name} from {source.ip}", FAIL, "Failed", true),
    ssh("PAM: Authentication failure for {user.name} from {source.ip}", FAIL, "Failed", false),
    ssh("User {user.name} from {source.ip} not allowed because {system.auth.ssh.reason*}", FAIL, "Failed", false),
    ssh("User {user.name} not allowed because {system.auth.ssh.reason*}", FAIL, "Failed", false),
    ssh("ROOT LOGIN REFUSED FROM {source.ip}", FAIL, "Failed", false),
    ssh("error: maximum authentication attempts exceeded for invalid user {user.name} from {source.ip} port {source.port}", FAIL, "Failed", true),
    ssh("error: maximum authentication attempts exceeded for {user.name} from {source.ip} port {source.port}", FAIL, "Failed", false),
    ssh("Disconnecting invalid user {user.name} {source.ip} port {source.port}: Too many authentication failures", FAIL, "Failed", true),
    ssh("Disconnecting authenticating user {user.name} {source.ip} port {source.port}: Too many authentication failures", FAIL, "Failed", false),
    ssh("Disconnecting: Too many authentication failures for invalid user {user.name} [preauth]", FAIL, "Failed", true),
    ssh("Disconnecting: Too many authentication failures for {user.name} [preauth]", FAIL, "Failed", false),
    ssh("Disconnecting: Too many authentication failures for {user.name}", FAIL, "Failed", false),
    ssh("Received disconnect from {source.ip} port {source.port}:{system.auth.ssh.disconnect_code}: Too many authentication failures", FAIL, "Failed", false),
    ssh("error: Received disconnect from {source.ip} port {source.port}:{system.auth.ssh.disconnect_code}: {system.auth.ssh.reason*}", FAIL, "Failed", false),
    ssh("error: Received disconnect from {source.ip}: {system.auth.ssh.disconnect_code}: {system.auth.ssh.reason*}", FAIL, "Failed", false),
    r("Postponed {system.auth.ssh.method} for invalid user {user.name} from {source.ip} port {source.port}", "ssh_login", "", AUTH, "info"),
    r("Postponed {system.auth.ssh.method} for {user.name} from {source.ip} port {source.port}", "ssh_login", "", AUTH, "info"),
    r("Connection closed by authenticating user {user.name} {source.ip} port {source.port}", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Connection closed by invalid user {user.name} {source.ip} port {source.port}", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Connection closed by {source.ip} port {source.port} [preauth]", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Connection closed by {source.ip} port {source.port}", "ssh_disconnect", "", NET, "end"),
    r("Connection closed by {source.ip}", "ssh_disconnect", "", NET, "end"),
    r("Connection reset by authenticating user {user.name} {source.ip} port {source.port}", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Connection reset by invalid user {user.name} {source.ip} port {source.port}", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Connection reset by {source.ip} port {source.port}", "ssh_disconnect", "", NET, "end"),
    r("Connection reset by {source.ip}", "ssh_disconnect", "", NET, "end"),
    r("Disconnected from authenticating user {user.name} {source.ip} port {source.port}", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Disconnected from invalid user {user.name} {source.ip} port {source.port}", "ssh_disconnect", FAIL, AUTH, "end"),
    r("Disconnected from user {user.name} {source.ip} port {source.port}", "ssh_disconnect", "", "session", "end"),
    r("Disconnected from {source.ip} port {source.port}", "ssh_disconnect", "", NET, "end"),
    r("Received disconnect from {source.ip} port {source.port}:{system.auth.ssh.disconnect_code}: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("Received disconnect from {source.ip}: {system.auth.ssh.disconnect_code}: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("Close session: user {user.name} from {source.ip} port {source.port}", "ssh_disconnect", "", "session", "end"),
    r("Did not receive identification string from {source.ip} port {source.port}", "ssh_no_identification", FAIL, NET, "connection"),
    r("Did not receive identification string from {source.ip}", "ssh_no_identification", FAIL, NET, "connection"),
    r("Bad protocol version identification {system.auth.ssh.reason} from {source.ip} port {source.port}", "ssh_bad_protocol", FAIL, NET, "connection"),
    r("Bad protocol version identification {system.auth.ssh.reason} from {source.ip}", "ssh_bad_protocol", FAIL, NET, "connection"),
    r("Connection from {source.ip} port {source.port} on {destination.ip} port {destination.port}", "ssh_connection", "", NET, "connection"),
    r("Timeout before authentication for connection from {source.ip} to {destination.ip}", "ssh_auth_timeout", FAIL, AUTH, "info"),
    r("Timeout before authentication for {source.ip} port {source.port}", "ssh_auth_timeout", FAIL, AUTH, "info"),
    r("fatal: Timeout before authentication for {source.ip} port {source.port}", "ssh_auth_timeout", FAIL, AUTH, "info"),
    r("reverse mapping checking getaddrinfo for {source.domain} [{source.ip}] failed", "ssh_reverse_mapping_failed", "", NET, "info"),
    r("Address {source.ip} maps to {source.domain}, but this does not map back to the address", "ssh_reverse_mapping_failed", "", NET, "info"),
    r("Nasty PTR record {source.domain} is set up for {source.ip},", "ssh_reverse_mapping_failed", "", NET, "info"),
    r("Unable to negotiate with {source.ip} port {source.port}: no matching {system.auth.ssh.reason*}", "ssh_negotiation_failed", FAIL, NET, "connection"),
    r("Unable to negotiate with {source.ip}: no matching {system.auth.ssh.reason*}", "ssh_negotiation_failed", FAIL, NET, "connection"),
    r("fatal: Unable to negotiate with {source.ip} port {source.port}: no matching {system.auth.ssh.reason*}", "ssh_negotiation_failed", FAIL, NET, "connection"),
    r("banner exchange: Connection from {source.ip} port {source.port}: {system.auth.ssh.reason*}", "ssh_bad_banner", FAIL, NET, "connection"),
    r("ssh_dispatch_run_fatal: Connection from authenticating user {user.name} {source.ip} port {source.port}: {system.auth.ssh.reason*}", "ssh_dispatch_fatal", FAIL, NET, "connection"),
    r("ssh_dispatch_run_fatal: Connection from invalid user {user.name} {source.ip} port {source.port}: {system.auth.ssh.reason*}", "ssh_dispatch_fatal", FAIL, NET, "connection"),
    r("ssh_dispatch_run_fatal: Connection from {source.ip} port {source.port}: {system.auth.ssh.reason*}", "ssh_dispatch_fatal", FAIL, NET, "connection"),
    r("refused connect from {source.domain} ({source.ip})", "ssh_connection_refused", FAIL, NET, "connection"),
    r("error: kex_exchange_identification: {system.auth.ssh.reason*}", "ssh_bad_banner", FAIL, NET, "connection"),
    r("error: Protocol major versions differ: {system.auth.ssh.reason*}", "ssh_bad_protocol", FAIL, NET, "connection"),
    r("Protocol major versions differ for {source.ip}: {system.auth.ssh.reason*}", "ssh_bad_protocol", FAIL, NET, "connection"),
    r("fatal: Write failed: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("fatal: Read from socket failed: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("Read error from remote host {source.ip} port {source.port}: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("Read error from remote host {source.ip}: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("Authentication refused: {system.auth.ssh.reason*}", "ssh_login", FAIL, AUTH, "info"),
    r("error: Could not get shadow information for {user.name}", "ssh_login", FAIL, AUTH, "info"),
    r("Server listening on {destination.ip} port {destination.port}.", "ssh_server_start", "", "process", "start"),
    r("Received signal {process.exit_code}; terminating.", "ssh_server_stop", "", "process", "end"),
    r("subsystem request for {system.auth.ssh.subsystem} by user {user.name}", "ssh_subsystem", "", "session", "info"),
    r("Starting session: {system.auth.ssh.session*}", "ssh_session", "", "session", "start"),
    r("PAM service({system.auth.pam.service}) ignoring max retries; {system.auth.ssh.reason*}", "ssh_login", FAIL, AUTH, "info"),
    ssh("Disconnecting invalid user {user.name} {source.ip} port {source.port}: {system.auth.ssh.reason*}", FAIL, "Failed", true),
    ssh("Disconnecting authenticating user {user.name} {source.ip} port {source.port}: {system.auth.ssh.reason*}", FAIL, "Failed", false),
    r("Connection from {source.ip} port {source.port}", "ssh_connection", "", NET, "connection"),
    r("Connection from {source.ip}", "ssh_connection", "", NET, "connection"),
    r("Magic value check failed ({system.auth.ssh.reason}) on obfuscated handshake from {source.ip} port {source.port}", "ssh_bad_protocol", FAIL, AUTH, "info"),
    r("Corrupted MAC on input.", "ssh_bad_protocol", FAIL, NET, "connection"),
    r("Bad packet length {system.auth.ssh.reason}.", "ssh_bad_protocol", FAIL, NET, "connection"),
    r("SSH: {system.auth.ssh.reason*}", "ssh_info", "", "", "info"),
    r("debug1: {system.auth.ssh.reason*}", "ssh_debug", "", "", "info"),
    ssh("Disconnecting invalid user {user.name} {source.ip} port {source.port}", FAIL, "Failed", true),
    r("Disconnecting: {system.auth.ssh.reason*}", "ssh_disconnect", "", NET, "end"),
    r("error: {system.auth.ssh.reason*}", "ssh_error", "", "", "info"),
    r("fatal: {system.auth.ssh.reason*}", "ssh_error", "", "", "info"),
];

/// su messages (`su`, `su-l`).
const SU: &[Rule] = &[
    r(
        "Successful su for {user.target.name} by {user.name}",
        "su",
        OK,
        AUTH,
        "start",
    ),
    r(
        "FAILED su for {user.target.name} by {user.name}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "FAILED SU (to {user.target.name}) {user.name} on {system.auth.su.tty}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "(to {user.target.name}) {user.name} on {system.auth.su.tty}",
        "su",
        OK,
        AUTH,
        "start",
    ),
    r(
        "+ {system.auth.su.tty} {user.name}:{user.target.name}",
        "su",
        OK,
        AUTH,
        "start",
    ),
    r(
        "- {system.auth.su.tty} {user.name}:{user.target.name}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "pam_authenticate: {system.auth.su.reason*}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "BAD SU {user.name} to {user.target.name} on {system.auth.su.tty}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "Authentication failed for {user.target.name}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "failed: {system.auth.su.tty} changing from {user.name} to {user.target.name}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "+ {system.auth.su.tty} {user.name}-{user.target.name}",
        "su",
        OK,
        AUTH,
        "start",
    ),
    r(
        "- {system.auth.su.tty} {user.name}-{user.target.name}",
        "su",
        FAIL,
        AUTH,
        "info",
    ),
    r(
        "{user.name} to {user.target.name} on {system.auth.su.tty}",
        "su",
        OK,
        AUTH,
        "start",
    ),
];

/// Account management tools (`useradd`, `groupadd`, `usermod`, `userdel`, `passwd`, `chpasswd`).
const ACCOUNTS: &[Rule] = &[
    r("new user: name={user.name}, UID={user.id}, GID={group.id}, home={system.auth.useradd.home}, shell={system.auth.useradd.shell}, from={system.auth.useradd.from}", "user_created", OK, "iam", "user"),
    r("new user: name={user.name}, UID={user.id}, GID={group.id}, home={system.auth.useradd.home}, shell={system.auth.useradd.shell*}", "user_created", OK, "iam", "user"),
    r("new group: name={group.name}, GID={group.id}, from={system.auth.groupadd.from}", "group_created", OK, "iam", "group"),
    r("new group: name={group.name}, GID={group.id}", "group_created", OK, "iam", "group"),
    r("new group: name={group.name}, gid={group.id}", "group_created", OK, "iam", "group"),
    r("failed adding user '{user.name}'", "user_created", FAIL, "iam", "user"),
    r("group added to {system.auth.groupadd.file}: name={group.name}, GID={group.id}", "group_created", OK, "iam", "group"),
    r("group added to {system.auth.groupadd.file}: name={group.name}", "group_created", OK, "iam", "group"),
    r("delete user '{user.name}'", "user_deleted", OK, "iam", "user"),
    r("removed group '{group.name}' owned by '{user.name}'", "group_deleted", OK, "iam", "group"),
    r("add '{user.name}' to group '{group.name}'", "user_added_to_group", OK, "iam", "group"),
    r("add '{user.name}' to shadow group '{group.name}'", "user_added_to_group", OK, "iam", "group"),
    r("change user '{user.name}' password", "password_changed", OK, "iam", "user"),
    r("password for '{user.name}' changed by '{user.changes.name}'", "password_changed", OK, "iam", "user"),
    r("password changed for {user.name}", "password_changed", OK, "iam", "user"),
];

/// Parses an authentication message of program `app` (`None`: unknown program). Returns
/// `false` (and pushes nothing) when no rule of the program knows the message.
pub(crate) fn program(app: Option<&str>, msg: &str, rec: &mut Record) -> bool {
    let base = app.map_or("", |a| a.split('(').next().unwrap_or(a));
    // `sshd(pam_unix)[123]: authentication failure; ...` (old PAM tag style).
    let pam_tag = app.and_then(|a| {
        let open = a.find("(pam_")?;
        Some(a[open + 1..].trim_end_matches(')'))
    });
    if let Some(module) = pam_tag {
        return pam_body(module, base, "", msg, rec);
    }
    if msg.starts_with("pam_") {
        return pam(msg, rec);
    }
    match base {
        "sshd" | "sshd-session" | "sshd-auth" => sshd(msg, rec),
        "sudo" => sudo(msg, rec),
        "su" | "su-l" => table(SU, msg, rec, "system.auth"),
        "useradd" | "groupadd" | "usermod" | "userdel" | "groupdel" | "passwd" | "chpasswd"
        | "gpasswd" => table(ACCOUNTS, msg, rec, "system.auth"),
        _ => false,
    }
}

/// True when `app` is a program whose messages [`program`] reads.
pub(crate) fn is_auth_program(app: &str) -> bool {
    let base = app.split('(').next().unwrap_or(app);
    app.contains("(pam_")
        || matches!(
            base,
            "sshd"
                | "sshd-session"
                | "sshd-auth"
                | "sudo"
                | "su"
                | "su-l"
                | "useradd"
                | "groupadd"
                | "usermod"
                | "userdel"
                | "groupdel"
                | "passwd"
                | "chpasswd"
                | "gpasswd"
        )
}

fn sshd(msg: &str, rec: &mut Record) -> bool {
    // `message repeated 2 times: [ Failed password for root from ... port 1 ssh2]`
    let msg = match msg.strip_prefix("message repeated ") {
        Some(rest) => match rest.split_once(": [ ") {
            Some((_, inner)) => inner.strip_suffix(']').unwrap_or(inner),
            None => msg,
        },
        None => msg,
    };
    // Solaris: `[ID 800047 auth.info] Failed ...`
    let msg = match msg.strip_prefix("[ID ") {
        Some(r) => r.split_once("] ").map_or(msg, |(_, m)| m),
        None => msg,
    };
    if let Some(body) = msg.strip_prefix("(pam_unix) ") {
        return pam_body("pam_unix", "sshd", "", body, rec);
    }
    if msg.starts_with("PAM ") && msg.contains("more authentication failure") {
        return pam_body("pam_unix", "sshd", "auth", msg, rec);
    }
    table(SSHD, msg, rec, "system.auth")
}

fn table(rules: &[Rule], msg: &str, rec: &mut Record, dataset: &str) -> bool {
    let mut caps: Caps = [("", ""); MAX_CAPS];
    for rule in rules {
        if !msg.starts_with(pattern::lead(rule.tmpl)) {
            continue;
        }
        let Some(n) = pattern::matches(rule.tmpl, msg, &mut caps) else {
            continue;
        };
        event(
            rec,
            dataset,
            rule.action,
            rule.category,
            rule.kind,
            rule.outcome,
        );
        if !rule.ssh_event.is_empty() {
            rec.push("system.auth.ssh.event", Kind::Str, rule.ssh_event);
        }
        if rule.invalid {
            rec.push("system.auth.ssh.invalid_user", Kind::Bool, "true");
        }
        for &(name, value) in &caps[..n] {
            capture(rec, name, value);
        }
        return true;
    }
    false
}

/// Pushes one captured value under its ECS name: ports and ids as numbers, `source.ip` as
/// `source.domain` when it is a host name, quotes trimmed.
fn capture(rec: &mut Record, name: &str, value: &str) {
    let value = value.trim_matches(|c| c == '"' || c == '\'');
    if value.is_empty() {
        return;
    }
    match name {
        "source.ip" => out::addr(rec, "source", value),
        "destination.ip" => out::addr(rec, "destination", value),
        "source.port" | "destination.port" | "user.id" | "group.id" | "process.exit_code" => {
            out::int(rec, name, value)
        }
        _ => rec.push(name, Kind::Str, value),
    }
}

/// The `event.*` fields of an authentication event.
fn event(rec: &mut Record, dataset: &str, action: &str, category: &str, kind: &str, outcome: &str) {
    out::dataset(rec, "system", dataset);
    rec.push("event.action", Kind::Str, action);
    if !category.is_empty() {
        rec.push("event.category", Kind::Str, category);
    }
    if !kind.is_empty() {
        rec.push("event.type", Kind::Str, kind);
    }
    if !outcome.is_empty() {
        rec.push("event.outcome", Kind::Str, outcome);
    }
}

/// `pam_unix(sshd:auth): authentication failure; logname= uid=0 ... rhost=1.2.3.4 user=root`
fn pam(msg: &str, rec: &mut Record) -> bool {
    let Some(open) = msg.find('(') else {
        return false;
    };
    let module = &msg[..open];
    let Some(close) = msg[open..].find("): ").map(|c| c + open) else {
        return false;
    };
    let (service, ptype) = msg[open + 1..close]
        .split_once(':')
        .unwrap_or((&msg[open + 1..close], ""));
    pam_body(module, service, ptype, &msg[close + 3..], rec)
}

fn pam_body(module: &str, service: &str, ptype: &str, body: &str, rec: &mut Record) -> bool {
    let mut caps: Caps = [("", ""); MAX_CAPS];
    let (action, category, kind, outcome, kv) = if body.starts_with("authentication failure;")
        || body.contains("more authentication failure")
    {
        ("authentication_failure", AUTH, "info", FAIL, true)
    } else if body.starts_with("check pass; user unknown") {
        ("check_pass", AUTH, "info", FAIL, false)
    } else if body.starts_with("session opened for user ") {
        ("session_opened", "session", "start", OK, false)
    } else if body.starts_with("session closed for user ") {
        ("session_closed", "session", "end", OK, false)
    } else if (body.starts_with("user ") && body.contains(" tally "))
        || body.starts_with("Consecutive login failures for user ")
    {
        ("user_locked", AUTH, "info", FAIL, false)
    } else if body.starts_with("password changed for ") {
        ("password_changed", "iam", "change", OK, false)
    } else if body.starts_with("auth could not identify password for ")
        || body.starts_with("conversation failed")
        || body.starts_with("Authentication failure")
    {
        ("authentication_failure", AUTH, "info", FAIL, false)
    } else if body.starts_with("Failed to ") {
        ("pam_error", "session", "info", FAIL, false)
    } else if body.starts_with("requirement ")
        || body.starts_with("account ")
        || body.starts_with("Registered")
        || body.starts_with("New session")
    {
        ("pam", "", "info", "", false)
    } else {
        return false;
    };
    event(rec, "system.auth", action, category, kind, outcome);
    rec.push("system.auth.pam.module", Kind::Str, module);
    if !service.is_empty() {
        rec.push("system.auth.pam.service", Kind::Str, service);
    }
    if !ptype.is_empty() {
        rec.push("system.auth.pam.type", Kind::Str, ptype);
    }
    if kv {
        let mut user = "";
        let mut ruser = "";
        for tok in body.split(' ') {
            let Some((k, v)) = tok.split_once('=') else {
                continue;
            };
            match k {
                "user" => user = v,
                "ruser" => ruser = v,
                "rhost" => out::addr(rec, "source", v),
                "logname" | "uid" | "euid" | "tty" => {}
                _ => continue,
            }
            if !v.is_empty() {
                rec.push_parts(&["system.auth.pam.", k], Kind::Str, v);
            }
        }
        let user = if user.is_empty() { ruser } else { user };
        if !user.is_empty() {
            rec.push("user.name", Kind::Str, user);
        }
        return true;
    }
    let user_tmpls: &[&'static str] = &[
        "session opened for user {user.name}(uid={user.id}) by {system.auth.pam.by}",
        "session opened for user {user.name} by {system.auth.pam.by}",
        "session closed for user {user.name}",
        "user {user.name} ({user.id}) tally",
        "Consecutive login failures for user {user.name} account",
        "password changed for {user.name}",
        "auth could not identify password for [{user.name}]",
    ];
    for t in user_tmpls {
        if let Some(n) = pattern::matches(t, body, &mut caps) {
            for &(name, value) in &caps[..n] {
                capture(rec, name, value);
            }
            break;
        }
    }
    true
}

/// `alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -l`, with an optional
/// error item (`user NOT in sudoers ;`, `3 incorrect password attempts ;`).
fn sudo(msg: &str, rec: &mut Record) -> bool {
    let Some((user, rest)) = msg.split_once(" : ") else {
        return false;
    };
    let user = user.trim();
    if user.is_empty()
        || user.contains(' ')
        || !(rest.contains("COMMAND=") || rest.contains("TTY="))
    {
        return false;
    }
    // Everything after `COMMAND=` is the command, `;` included.
    let (items, command) = match rest.find("COMMAND=") {
        Some(at) => (&rest[..at], Some(&rest[at + 8..])),
        None => (rest, None),
    };
    let mut error = "";
    for item in items.split(" ; ") {
        let item = item.trim().trim_end_matches(';').trim();
        if item.is_empty() {
            continue;
        }
        if !item.contains('=') {
            error = item;
        }
    }
    let outcome = if error.is_empty() { OK } else { FAIL };
    event(
        rec,
        "system.auth",
        "sudo",
        "process",
        if error.is_empty() { "start" } else { "info" },
        outcome,
    );
    rec.push("user.name", Kind::Str, user);
    if !error.is_empty() {
        rec.push("system.auth.sudo.error", Kind::Str, error);
    }
    for item in items.split(" ; ") {
        let item = item.trim().trim_end_matches(';').trim();
        let Some((k, v)) = item.split_once('=') else {
            continue;
        };
        let key = match k {
            "TTY" => "system.auth.sudo.tty",
            "PWD" => "system.auth.sudo.pwd",
            "USER" => "system.auth.sudo.user",
            "GROUP" => "system.auth.sudo.group",
            "ENV" => "system.auth.sudo.env",
            _ => continue,
        };
        rec.push(key, Kind::Str, v);
        if k == "USER" {
            rec.push("user.effective.name", Kind::Str, v);
        }
    }
    if let Some(cmd) = command {
        rec.push("system.auth.sudo.command", Kind::Str, cmd.trim_end());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(rec: &'a Record, k: &str) -> Option<&'a str> {
        rec.get(k).map(|f| f.value)
    }

    #[test]
    fn sshd_rules() {
        let mut rec = Record::new();
        assert!(program(
            Some("sshd"),
            "Failed password for invalid user admin from 5.36.59.76 port 42393 ssh2",
            &mut rec
        ));
        assert_eq!(get(&rec, "event.outcome"), Some("failure"));
        assert_eq!(get(&rec, "user.name"), Some("admin"));
        assert_eq!(get(&rec, "source.port"), Some("42393"));
        assert_eq!(rec.get("source.port").unwrap().kind, Kind::Num);
        rec.clear();
        assert!(program(
            Some("sshd"),
            "Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2: RSA 39:33",
            &mut rec
        ));
        assert_eq!(get(&rec, "system.auth.ssh.method"), Some("publickey"));
        assert_eq!(get(&rec, "system.auth.ssh.signature"), Some("RSA 39:33"));
        assert_eq!(get(&rec, "event.outcome"), Some("success"));
        rec.clear();
        assert!(program(Some("sshd"), "reverse mapping checking getaddrinfo for 1.2.3.4.example [1.2.3.4] failed - POSSIBLE BREAK-IN ATTEMPT!", &mut rec));
        assert_eq!(get(&rec, "source.domain"), Some("1.2.3.4.example"));
        rec.clear();
        assert!(program(
            Some("sshd"),
            "message repeated 2 times: [ Failed password for root from 1.2.3.4 port 5 ssh2]",
            &mut rec
        ));
        assert_eq!(get(&rec, "user.name"), Some("root"));
        rec.clear();
        assert!(!program(Some("sshd"), "something else entirely", &mut rec));
        assert!(rec.is_empty());
    }

    #[test]
    fn pam_sudo_su() {
        let mut rec = Record::new();
        assert!(program(Some("sshd"), "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=5.33.63.160  user=workshop", &mut rec));
        assert_eq!(get(&rec, "source.ip"), Some("5.33.63.160"));
        assert_eq!(get(&rec, "user.name"), Some("workshop"));
        assert_eq!(get(&rec, "system.auth.pam.service"), Some("sshd"));
        rec.clear();
        assert!(program(
            Some("su(pam_unix)"),
            "session opened for user news by (uid=0)",
            &mut rec
        ));
        assert_eq!(get(&rec, "user.name"), Some("news"));
        rec.clear();
        assert!(program(Some("sudo"), "   tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; USER=root ; COMMAND=/bin/ls -a;b", &mut rec));
        assert_eq!(get(&rec, "user.name"), Some("tsg"));
        assert_eq!(
            get(&rec, "system.auth.sudo.error"),
            Some("user NOT in sudoers")
        );
        assert_eq!(get(&rec, "system.auth.sudo.command"), Some("/bin/ls -a;b"));
        assert_eq!(get(&rec, "system.auth.sudo.user"), Some("root"));
        assert_eq!(get(&rec, "event.outcome"), Some("failure"));
        rec.clear();
        assert!(program(
            Some("su"),
            "Successful su for root by alice",
            &mut rec
        ));
        assert_eq!(
            (get(&rec, "user.name"), get(&rec, "user.target.name")),
            (Some("alice"), Some("root"))
        );
        rec.clear();
        assert!(program(
            Some("useradd"),
            "new user: name=apache, UID=48, GID=48, home=/usr/share/httpd, shell=/sbin/nologin",
            &mut rec
        ));
        assert_eq!(
            get(&rec, "system.auth.useradd.shell"),
            Some("/sbin/nologin")
        );
    }
}
