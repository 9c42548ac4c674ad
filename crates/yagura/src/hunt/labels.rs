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
    /// `N more logsources` after the top ten.
    pub more_logsources: &'static str,
    /// Level names (informational, low, medium, high, critical) for the table and summary;
    /// CSV and JSON lines keep the English names.
    pub levels: [&'static str; 5],
    /// The same, as short as the table shows them.
    pub table_levels: [&'static str; 5],
    /// Prefix of an input error line.
    pub input_error: &'static str,
    /// `(+N more in this file; -v lists them)` after the first error of a damaged file.
    pub more_errors: fn(u64) -> String,
    /// After the damaged files: how many, and what exit status 1 means.
    pub damaged_files: fn(usize) -> String,
    /// Prefix of a file met in a folder and not read.
    pub skipped: &'static str,
    /// Prefix of a rejected rule.
    pub rule_rejected: &'static str,
    /// No detection rule loaded.
    pub no_rules: &'static str,
    /// No log file in the inputs.
    pub no_files: &'static str,
    /// After the event count of the progress bar.
    pub progress_events: &'static str,
    /// The rule cache could not be written (file, reason).
    pub cache_not_written: fn(&str, &str) -> String,
    /// Prefix of a fatal error.
    pub error: &'static str,
    /// An input path that does not exist.
    pub missing_input: &'static str,
    /// `--from` later than `--to`.
    pub from_after_to: &'static str,
    /// `-v`: how the correlations ran.
    pub correlation_stats: fn(&CorrelationStats) -> String,
    /// `-v`: correlation matches spilled to disk (runs, origins).
    pub correlation_spilled: fn(usize, usize) -> String,
    /// Why a rule could not fire: no pipeline serves its logsource, no input event of its
    /// logsource, no pipeline serves the rules it counts, the rules it counts could not fire.
    pub inactive_reasons: [&'static str; 4],
}

/// What `-v` says about the correlations of a hunt.
pub struct CorrelationStats {
    /// Alerts reported (at or above `--min-level`).
    pub alerts: usize,
    /// Most windows open at once.
    pub peak_windows: usize,
    /// Their approximate memory, KiB.
    pub peak_kib: usize,
    /// Entries dropped at the memory bound.
    pub dropped: u64,
    /// Groups refused at the memory bound.
    pub refused: u64,
}

impl Labels {
    /// The name of `level` in this language.
    pub fn level(&self, level: yagura_sigma::rule::Level) -> &'static str {
        self.levels[level_index(level)]
    }

    /// The name of `level` in the table.
    pub fn table_level(&self, level: yagura_sigma::rule::Level) -> &'static str {
        self.table_levels[level_index(level)]
    }
}

fn level_index(level: yagura_sigma::rule::Level) -> usize {
    use yagura_sigma::rule::Level;
    match level {
        Level::Informational => 0,
        Level::Low => 1,
        Level::Medium => 2,
        Level::High => 3,
        Level::Critical => 4,
    }
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
    more_logsources: "more logsources",
    levels: ["informational", "low", "medium", "high", "critical"],
    table_levels: ["info", "low", "medium", "high", "critical"],
    input_error: "input error",
    more_errors: |n| format!("(+{n} more in this file; -v lists them)"),
    damaged_files: |n| {
        format!("{n} damaged files: what could be read of them is in the timeline; exit status 1")
    },
    skipped: "skipped",
    rule_rejected: "rule rejected",
    no_rules: "warning: no detection rules loaded (use --rules DIR)",
    no_files: "no log files found in the inputs",
    progress_events: "events",
    cache_not_written: |file, e| format!("warning: cannot write the rule cache {file}: {e}"),
    error: "error",
    missing_input: "no such file or folder",
    from_after_to: "--from is after --to",
    correlation_stats: |s| {
        format!(
            "correlation: {} alerts; peak {} open windows, ~{} KiB; {} entries dropped, {} groups refused (memory bounds)",
            s.alerts, s.peak_windows, s.peak_kib, s.dropped, s.refused
        )
    },
    correlation_spilled: |runs, origins| {
        format!("correlation: matches sorted in {runs} runs on disk, {origins} event origins on disk (memory bound)")
    },
    inactive_reasons: [
        "no pipeline serves its logsource",
        "no input event of its logsource",
        "no pipeline serves the rules it counts",
        "the rules it counts could not fire",
    ],
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
    more_logsources: "その他のログソース",
    levels: ["情報", "低", "中", "高", "重大"],
    table_levels: ["情報", "低", "中", "高", "重大"],
    input_error: "入力エラー",
    more_errors: |n| format!("(このファイルにほか {n} 件。-v で一覧)"),
    damaged_files: |n| {
        format!("破損したファイル {n} 件: 読めた部分は時系列に含まれます。終了ステータスは 1")
    },
    skipped: "スキップ",
    rule_rejected: "拒否されたルール",
    no_rules: "警告: 検知ルールが読み込まれていません(--rules DIR で指定)",
    no_files: "入力にログファイルが見つかりません",
    progress_events: "イベント",
    cache_not_written: |file, e| format!("警告: ルールキャッシュ {file} を書き込めません: {e}"),
    error: "エラー",
    missing_input: "そのようなファイルもフォルダもありません",
    from_after_to: "--from が --to より後です",
    correlation_stats: |s| {
        format!(
            "相関: アラート {} 件。同時に開いたウィンドウ最大 {}、約 {} KiB。メモリ上限で破棄したエントリ {}、拒否したグループ {}",
            s.alerts, s.peak_windows, s.peak_kib, s.dropped, s.refused
        )
    },
    correlation_spilled: |runs, origins| {
        format!("相関: 一致を {runs} 個のランに分けてディスク上で整列、イベントの出所 {origins} 件をディスクに退避(メモリ上限)")
    },
    inactive_reasons: [
        "ログソースを扱うパイプラインがない",
        "ログソースの入力イベントがない",
        "数えるルールのログソースを扱うパイプラインがない",
        "数えるルールが発火し得ない",
    ],
};
