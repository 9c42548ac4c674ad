//! Words of the table header and the summary, in English or Japanese.

/// Output language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// Japanese when `LC_ALL`, `LC_MESSAGES` or `LANG` (the first one set) starts with `ja`.
    pub fn from_env() -> Self {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        if locale.starts_with("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// The labels of this language.
    pub fn labels(self) -> &'static Labels {
        match self {
            Lang::En => &EN,
            Lang::Ja => &JA,
        }
    }
}

/// Every label printed.
pub struct Labels {
    pub timestamp: &'static str,
    pub computer: &'static str,
    pub channel: &'static str,
    pub event_id: &'static str,
    pub title: &'static str,
    pub level: &'static str,
    pub tags: &'static str,
    pub rule_id: &'static str,
    pub file: &'static str,
    pub record: &'static str,
    pub fields: &'static str,
    pub summary: &'static str,
    pub detections: &'static str,
    pub by_level: &'static str,
    pub by_rule: &'static str,
    pub by_host: &'static str,
    pub rules_loaded: &'static str,
    pub rules_rejected: &'static str,
    pub files_read: &'static str,
    pub files_skipped: &'static str,
    pub records: &'static str,
    pub input_errors: &'static str,
    pub elapsed: &'static str,
    pub events_per_sec: &'static str,
    pub never_active: &'static str,
    pub never_active_hint: &'static str,
}

static EN: Labels = Labels {
    timestamp: "Timestamp",
    computer: "Computer",
    channel: "Channel",
    event_id: "EventID",
    title: "Rule",
    level: "Level",
    tags: "ATT&CK",
    rule_id: "RuleID",
    file: "File",
    record: "Record",
    fields: "Details",
    summary: "Summary",
    detections: "Detections",
    by_level: "Detections by level",
    by_rule: "Top rules",
    by_host: "Top hosts",
    rules_loaded: "Rules loaded",
    rules_rejected: "Rules rejected",
    files_read: "Files read",
    files_skipped: "Files skipped",
    records: "Events",
    input_errors: "Input errors",
    elapsed: "Elapsed",
    events_per_sec: "Events/s",
    never_active: "Rules never active on these inputs",
    never_active_hint: "no input event of their logsource; per logsource, -v lists them",
};

static JA: Labels = Labels {
    timestamp: "日時",
    computer: "コンピュータ",
    channel: "チャネル",
    event_id: "イベントID",
    title: "ルール",
    level: "レベル",
    tags: "ATT&CK",
    rule_id: "ルールID",
    file: "ファイル",
    record: "レコード",
    fields: "詳細",
    summary: "サマリー",
    detections: "検知数",
    by_level: "レベル別検知数",
    by_rule: "検知の多いルール",
    by_host: "検知の多いホスト",
    rules_loaded: "読み込んだルール",
    rules_rejected: "拒否されたルール",
    files_read: "読み込んだファイル",
    files_skipped: "スキップしたファイル",
    records: "イベント数",
    input_errors: "入力エラー",
    elapsed: "経過時間",
    events_per_sec: "イベント/秒",
    never_active: "入力に該当イベントがなく一度も評価されなかったルール",
    never_active_hint: "ログソース別。-v で一覧",
};
