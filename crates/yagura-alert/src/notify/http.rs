//! The HTTP channels: a generic JSON webhook, Slack and Teams incoming webhooks. One blocking
//! POST per attempt through `ureq` (rustls with the ring provider, like the rest of the
//! workspace); a 2xx answer is a delivery.

use super::render::{attack_url, facts, headline, one_line, rfc3339_ms, truncate};
use super::{Failure, Message, Notice};
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use ureq::http::{HeaderName, HeaderValue, Uri};
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

/// The header that carries the notice id on every HTTP delivery.
pub(crate) const ID_HEADER: &str = "X-Yagura-Notice-Id";

/// What the body looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    /// The [`Notice`] as JSON.
    Webhook,
    /// Slack incoming webhook: `{"text", "blocks"}`.
    Slack,
    /// Teams: a message with one Adaptive Card attachment (workflows and connectors).
    TeamsAdaptive,
    /// Teams: a legacy Office 365 connector MessageCard.
    TeamsMessageCard,
}

/// A checked HTTP channel.
pub(crate) struct HttpChannel {
    style: Style,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    agent: ureq::Agent,
}

impl HttpChannel {
    /// Checks the URL and headers and builds the agent. Errors: (field, reason).
    pub(crate) fn new(
        style: Style,
        url: &str,
        headers: &BTreeMap<String, String>,
        roots: Option<Vec<CertificateDer<'static>>>,
        timeout: Duration,
    ) -> Result<Self, (&'static str, String)> {
        let uri: Uri = url
            .parse()
            .map_err(|e| ("url", format!("not a valid URL: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err((
                "url",
                "expected an http:// or https:// URL with a host".into(),
            ));
        }
        let mut checked = Vec::with_capacity(headers.len());
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ("headers", format!("{name:?} is not a valid header name")))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| ("headers", format!("the value of {name:?} is not valid")))?;
            checked.push((n, v));
        }
        let mut tls = TlsConfig::builder().provider(TlsProvider::Rustls);
        if let Some(roots) = roots {
            let certs: Vec<Certificate<'static>> = roots
                .iter()
                .map(|c| Certificate::from_der(c.as_ref()).to_owned())
                .collect();
            tls = tls.root_certs(RootCerts::new_with_certs(&certs));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .user_agent(format!("yagura/{}", env!("CARGO_PKG_VERSION")))
            .tls_config(tls.build())
            .build();
        Ok(Self {
            style,
            url: url.to_string(),
            headers: checked,
            agent: ureq::Agent::new_with_config(config),
        })
    }

    /// One attempt.
    pub(crate) fn deliver(&self, msg: &Message) -> Result<(), Failure> {
        let body = match self.style {
            Style::Webhook => serde_json::to_vec(&msg.notice),
            Style::Slack => serde_json::to_vec(&slack(&msg.notice, &msg.id)),
            Style::TeamsAdaptive => serde_json::to_vec(&teams_adaptive(&msg.notice, &msg.id)),
            Style::TeamsMessageCard => serde_json::to_vec(&teams_card(&msg.notice, &msg.id)),
        }
        .map_err(|e| Failure::permanent(format!("cannot encode the body: {e}")))?;
        let mut req = self.agent.post(&self.url);
        let has = |name: &str| self.headers.iter().any(|(n, _)| n.as_str() == name);
        if !has("content-type") {
            req = req.header("Content-Type", "application/json");
        }
        req = req.header(ID_HEADER, msg.id.as_str());
        for (n, v) in &self.headers {
            req = req.header(n, v);
        }
        let mut resp = req
            .send(&body[..])
            .map_err(|e| Failure::transient(format!("POST failed: {e}")))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp
            .body_mut()
            .with_config()
            .limit(4096)
            .lossy_utf8(true)
            .read_to_string()
            .unwrap_or_default();
        let mut reason = format!("HTTP {status}");
        let text = truncate(one_line(&text).trim(), 200);
        if !text.is_empty() {
            reason.push_str(": ");
            reason.push_str(&text);
        }
        let code = status.as_u16();
        // A 4xx other than timeout / too early / too many requests will not get better by
        // asking again (bad payload, revoked token, deleted webhook).
        let permanent = (400..500).contains(&code) && !matches!(code, 408 | 425 | 429);
        Err(Failure {
            reason,
            permanent,
            retry_after,
        })
    }
}

/// Slack `mrkdwn` escaping.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn severity_color(severity: &str) -> (&'static str, &'static str) {
    // (hex colour for MessageCard, Adaptive Card text colour)
    match severity.to_ascii_lowercase().as_str() {
        "critical" => ("8B0000", "Attention"),
        "high" => ("D13438", "Attention"),
        "medium" => ("F2A900", "Warning"),
        "low" => ("2D7FF9", "Accent"),
        _ => ("8A8886", "Default"),
    }
}

/// Slack incoming-webhook payload: a fallback `text` and blocks (header, up to ten fields,
/// the description, a context line and a console button).
pub(crate) fn slack(n: &Notice, notice_id: &str) -> Value {
    let mut fields = Vec::new();
    for (name, value) in facts(n) {
        if matches!(name, "First seen" | "Alert id") || fields.len() == 10 {
            continue;
        }
        let value = if name == "Techniques" {
            n.techniques
                .iter()
                .take(10)
                .map(|t| match attack_url(t) {
                    Some(u) => format!("<{u}|{t}>"),
                    None => slack_escape(t),
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            slack_escape(&one_line(&value))
        };
        fields.push(json!({
            "type": "mrkdwn",
            "text": truncate(&format!("*{name}*\n{value}"), 1900),
        }));
    }
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&headline(n), 150), "emoji": false},
        }),
        json!({"type": "section", "fields": fields}),
    ];
    if !n.description.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&n.description), 2900)},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!(
                "Yagura · alert {} · first seen {} · notice {}",
                n.alert_id,
                rfc3339_ms(n.first_seen_ms),
                notice_id
            ),
        }],
    }));
    if let Some(url) = &n.url {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in console"},
                "url": url,
            }],
        }));
    }
    json!({
        "text": truncate(
            &format!("{} (rule {}, alert {})", headline(n), one_line(&n.rule_id), n.alert_id),
            3000,
        ),
        "blocks": blocks,
    })
}

/// Teams: a message with one Adaptive Card 1.4 (what Teams workflows' "post to a channel
/// when a webhook request is received" expects).
pub(crate) fn teams_adaptive(n: &Notice, notice_id: &str) -> Value {
    let facts: Vec<Value> = facts(n)
        .into_iter()
        .map(|(name, value)| json!({"title": name, "value": one_line(&value)}))
        .collect();
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": headline(n),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": true,
            "color": severity_color(&n.severity).1,
        }),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if !n.description.is_empty() {
        body.push(
            json!({"type": "TextBlock", "text": truncate(&n.description, 4000), "wrap": true}),
        );
    }
    body.push(json!({
        "type": "TextBlock",
        "text": format!("Yagura notice {notice_id}"),
        "isSubtle": true,
        "size": "Small",
        "wrap": true,
    }));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    });
    if let Some(url) = &n.url {
        card["actions"] =
            json!([{"type": "Action.OpenUrl", "title": "Open in console", "url": url}]);
    }
    json!({
        "type": "message",
        "summary": headline(n),
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// Teams: a legacy connector MessageCard.
pub(crate) fn teams_card(n: &Notice, notice_id: &str) -> Value {
    let facts: Vec<Value> = facts(n)
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": one_line(&value)}))
        .collect();
    let mut card = json!({
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": headline(n),
        "themeColor": severity_color(&n.severity).0,
        "title": headline(n),
        "text": format!("Yagura notice {notice_id}"),
        "sections": [{
            "facts": facts,
            "text": truncate(&n.description, 4000),
            "markdown": false,
        }],
    });
    if let Some(url) = &n.url {
        card["potentialAction"] = json!([{
            "@type": "OpenUri",
            "name": "Open in console",
            "targets": [{"os": "default", "uri": url}],
        }]);
    }
    card
}
