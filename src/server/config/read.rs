//! Reading the configuration: TOML syntax, then each table's types, with
//! every problem located.

use super::*;

/// Reads and checks the config at `path`.
pub fn load(path: &Path) -> Result<ServeConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Parses and checks config text; `path` names it in messages, and relative
/// paths in it are resolved against `path`'s directory.
pub fn parse(text: &str, path: &Path) -> Result<ServeConfig, ConfigError> {
    let file = path.display().to_string();
    let locate = Locator::new(text, &file);
    let base = path.parent().unwrap_or(Path::new(""));
    let invalid = |diagnostics: Vec<Diagnostic>| ConfigError::Invalid {
        diagnostics: diagnostics.iter().map(ToString::to_string).collect(),
    };

    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        let diagnostics = syntax_errors
            .iter()
            .map(|e| locate.error(DiagnosticKind::Syntax, e.span(), e.message()))
            .collect();
        return Err(invalid(diagnostics));
    }

    let mut reader = Reader {
        locate: &locate,
        diagnostics: Vec::new(),
    };
    let parts = reader.read(root);
    let mut types = reader.diagnostics;
    types.sort_by_key(|d| (d.line, d.column));

    let mut problems = Problems::default();
    let resolved = check_rules(&parts, base, &mut problems);
    if types.is_empty()
        && problems.0.is_empty()
        && let Some(config) = resolved
    {
        return Ok(build(parts, config, path));
    }
    // Re-parse for the spans: the first tree was consumed by deserialization.
    let (tree, _) = DeTable::parse_recoverable(text);
    let mut rules: Vec<Diagnostic> = problems
        .0
        .iter()
        .map(|p| {
            let message = if p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", dotted_path(&p.path), p.message)
            };
            let span = span_of(tree.get_ref(), &p.path).or(Some(0..0));
            locate.error(DiagnosticKind::Rule, span, &message)
        })
        .collect();
    rules.sort_by_key(|d| (d.line, d.column));
    types.extend(rules);
    if types.is_empty() {
        // check_rules resolves everything when nothing is wrong; say so
        // rather than panic if that ever changes.
        types.push(locate.error(DiagnosticKind::Rule, Some(0..0), "unreadable config"));
    }
    Err(invalid(types))
}

/// The keys of each table, in the order the docs list them.
pub(super) const TOP_KEYS: &[&str] = &[
    "listen",
    "state_dir",
    "default_model",
    "auth",
    "limits",
    "spool",
    "models",
    "alerts",
];
pub(super) const AUTH_KEYS: &[&str] = &["token_file", "token_env", "protect_metrics"];
pub(super) const LIMITS_KEYS: &[&str] = &["max_body_bytes", "queue_depth", "max_batch_rows"];
pub(super) const SPOOL_KEYS: &[&str] = &["dir", "poll_interval_ms", "model"];
pub(super) const MODEL_KEYS: &[&str] = &[
    "baseline",
    "schema",
    "suites",
    "environment",
    "slices",
    "request_id_column",
    "window",
    "checks",
    "quality",
    "data",
    "retrain",
];
pub(super) const WINDOW_KEYS: &[&str] = &["rows", "seconds", "keep"];
pub(super) const CHECKS_KEYS: &[&str] = &["per_batch", "per_window"];

/// The top-level scalars (the tables are read separately; they are declared
/// so that the struct and [`TOP_KEYS`] agree).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTop {
    pub(super) listen: Option<String>,
    pub(super) state_dir: Option<PathBuf>,
    pub(super) default_model: Option<String>,
    #[serde(default, rename = "auth")]
    pub(super) _auth: Option<IgnoredAny>,
    #[serde(default, rename = "limits")]
    pub(super) _limits: Option<IgnoredAny>,
    #[serde(default, rename = "spool")]
    pub(super) _spool: Option<IgnoredAny>,
    #[serde(default, rename = "models")]
    pub(super) _models: Option<IgnoredAny>,
    #[serde(default, rename = "alerts")]
    pub(super) _alerts: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) token_file: Option<PathBuf>,
    pub(super) token_env: Option<String>,
    #[serde(default)]
    pub(super) protect_metrics: bool,
}

/// Integers are read signed so that 0 and negative values get the same
/// rule message ("must be greater than 0").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_body_bytes: Option<i64>,
    pub(super) queue_depth: Option<i64>,
    pub(super) max_batch_rows: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpool {
    pub(super) dir: PathBuf,
    pub(super) poll_interval_ms: Option<i64>,
    pub(super) model: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    pub(super) baseline: PathBuf,
    pub(super) schema: Option<PathBuf>,
    #[serde(default)]
    pub(super) suites: Vec<PathBuf>,
    pub(super) environment: Option<String>,
    #[serde(default)]
    pub(super) slices: Vec<Vec<String>>,
    pub(super) request_id_column: Option<String>,
    #[serde(default, rename = "window")]
    pub(super) _window: Option<IgnoredAny>,
    #[serde(default, rename = "checks")]
    pub(super) _checks: Option<IgnoredAny>,
    #[serde(default, rename = "quality")]
    pub(super) _quality: Option<IgnoredAny>,
    #[serde(default, rename = "data")]
    pub(super) _data: Option<IgnoredAny>,
    #[serde(default, rename = "retrain")]
    pub(super) _retrain: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWindow {
    pub(super) rows: Option<i64>,
    pub(super) seconds: Option<i64>,
    pub(super) keep: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChecks {
    pub(super) per_batch: Option<Vec<Check>>,
    pub(super) per_window: Option<Vec<Check>>,
}

/// A table as read: absent, present but with a type error (reported), or
/// read.
pub(crate) enum Read<T> {
    Absent,
    Invalid,
    Present(T),
}

impl<T> Read<T> {
    pub(super) fn present(&self) -> Option<&T> {
        match self {
            Read::Present(t) => Some(t),
            _ => None,
        }
    }

    /// The value; an absent table is its default.
    pub(crate) fn or_default(self) -> Option<T>
    where
        T: Default,
    {
        match self {
            Read::Absent => Some(T::default()),
            Read::Invalid => None,
            Read::Present(t) => Some(t),
        }
    }

    /// The value, if it was read.
    pub(crate) fn into_present(self) -> Option<T> {
        match self {
            Read::Present(t) => Some(t),
            _ => None,
        }
    }
}

pub(super) struct Parts {
    pub(super) top: Read<RawTop>,
    pub(super) auth: Read<RawAuth>,
    pub(super) limits: Read<RawLimits>,
    pub(super) spool: Read<RawSpool>,
    /// Whether `models` is there and is a table (its models are in
    /// `models`, read or not).
    pub(super) models_table: Read<()>,
    pub(super) models: Vec<ModelPart>,
    /// `[alerts]`, read by `alerts::config`.
    pub(super) alerts: AlertsParts,
}

pub(super) struct ModelPart {
    pub(super) name: String,
    pub(super) body: Read<RawModel>,
    pub(super) window: Read<RawWindow>,
    /// Unknown keys were dropped from the window table: what is left may be
    /// incomplete, so its rule about missing keys would only repeat them.
    pub(super) window_had_unknown_keys: bool,
    pub(super) checks: Read<RawChecks>,
    pub(super) quality: Read<super::quality::RawQuality>,
    pub(super) data: Read<super::retrain::RawData>,
    pub(super) retrain: Read<super::retrain::RawRetrain>,
}

/// The type stage: each table deserialized on its own.
/// The type stage's reader, shared with `retrain.toml`'s
/// (`crate::retrain::config`): one wording for every config's unknown
/// keys, wrong types and misplaced tables.
pub(crate) struct Reader<'a> {
    pub(crate) locate: &'a Locator<'a>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    pub(super) fn read(&mut self, root: Spanned<DeTable<'_>>) -> Parts {
        let root_span = root.span();
        let mut top = root.into_inner();
        let top_had_unknown_keys = self.drop_unknown_keys(&mut top, TOP_KEYS, None);
        let (auth, _) = self.section(&mut top, "auth", "auth", AUTH_KEYS);
        let (limits, _) = self.section(&mut top, "limits", "limits", LIMITS_KEYS);
        let (spool, _) = self.section(&mut top, "spool", "spool", SPOOL_KEYS);
        let (models_table, models) = match top.remove("models") {
            None => (Read::Absent, Vec::new()),
            Some(value) => match (value.span(), value.into_inner()) {
                (_, DeValue::Table(table)) => (Read::Present(()), self.models(table)),
                (span, other) => {
                    let message = format!(
                        "`models` must be a table of [models.NAME] tables, found {}",
                        other.type_str()
                    );
                    self.type_error(Some(span), &message);
                    (Read::Invalid, Vec::new())
                }
            },
        };
        let alerts = match top.remove_entry("alerts") {
            None => AlertsParts::absent(),
            Some((key, value)) => {
                let (parts, diagnostics) = read_alerts(value, key.span(), self.locate);
                self.diagnostics.extend(diagnostics);
                parts
            }
        };
        let top = self.deserialize(DeValue::Table(top), root_span, None, top_had_unknown_keys);
        Parts {
            top,
            auth,
            limits,
            spool,
            models_table,
            models,
            alerts,
        }
    }

    pub(super) fn models(&mut self, table: DeTable<'_>) -> Vec<ModelPart> {
        let mut models = Vec::new();
        for (key, value) in table {
            let key_span = key.span();
            let name = key.into_inner().into_owned();
            let context = format!("models.{}", toml_key(&name));
            let value_span = value.span();
            let mut body = match value.into_inner() {
                DeValue::Table(body) => body,
                other => {
                    let message = format!(
                        "{context}: must be a table (a [{context}] section), found {}",
                        other.type_str()
                    );
                    self.type_error(Some(value_span), &message);
                    models.push((
                        key_span.start,
                        ModelPart {
                            name,
                            body: Read::Invalid,
                            window: Read::Invalid,
                            window_had_unknown_keys: false,
                            checks: Read::Invalid,
                            quality: Read::Invalid,
                            data: Read::Invalid,
                            retrain: Read::Invalid,
                        },
                    ));
                    continue;
                }
            };
            let had_unknown_keys = self.drop_unknown_keys(&mut body, MODEL_KEYS, Some(&context));
            let (window, window_had_unknown_keys) = self.section(
                &mut body,
                "window",
                &format!("{context}.window"),
                WINDOW_KEYS,
            );
            let (checks, _) = self.section(
                &mut body,
                "checks",
                &format!("{context}.checks"),
                CHECKS_KEYS,
            );
            let (quality, _) = self.section(
                &mut body,
                "quality",
                &format!("{context}.quality"),
                super::quality::QUALITY_KEYS,
            );
            let (data, _) = self.section(
                &mut body,
                "data",
                &format!("{context}.data"),
                super::retrain::DATA_KEYS,
            );
            let (retrain, _) = self.section(
                &mut body,
                "retrain",
                &format!("{context}.retrain"),
                super::retrain::RETRAIN_KEYS,
            );
            // A missing `baseline` is reported at the model's name.
            let body = self.deserialize(
                DeValue::Table(body),
                key_span.clone(),
                Some(&context),
                had_unknown_keys,
            );
            models.push((
                key_span.start,
                ModelPart {
                    name,
                    body,
                    window,
                    window_had_unknown_keys,
                    checks,
                    quality,
                    data,
                    retrain,
                },
            ));
        }
        models.sort_by_key(|(position, _)| *position);
        models.into_iter().map(|(_, m)| m).collect()
    }

    /// Takes the table `key` out of `parent` and reads it; also says
    /// whether it had unknown keys.
    pub(crate) fn section<T: for<'de> Deserialize<'de>>(
        &mut self,
        parent: &mut DeTable<'_>,
        key: &str,
        context: &str,
        known: &[&str],
    ) -> (Read<T>, bool) {
        let Some((name, value)) = parent.remove_entry(key) else {
            return (Read::Absent, false);
        };
        let value_span = value.span();
        match value.into_inner() {
            DeValue::Table(mut table) => {
                let unknown = self.drop_unknown_keys(&mut table, known, Some(context));
                let read =
                    self.deserialize(DeValue::Table(table), name.span(), Some(context), unknown);
                (read, unknown)
            }
            other => {
                let message = format!("`{context}` must be a table, found {}", other.type_str());
                self.type_error(Some(value_span), &message);
                (Read::Invalid, false)
            }
        }
    }

    /// Reports and removes every key of `table` not in `known`, so that all
    /// of them are reported (serde stops at the first); true if there were
    /// any.
    pub(crate) fn drop_unknown_keys(
        &mut self,
        table: &mut DeTable<'_>,
        known: &[&str],
        context: Option<&str>,
    ) -> bool {
        let unknown: Vec<(String, Range<usize>)> = table
            .keys()
            .filter(|k| !known.contains(&k.get_ref().as_ref()))
            .map(|k| (k.get_ref().to_string(), k.span()))
            .collect();
        for (key, span) in &unknown {
            table.remove(key.as_str());
            let key = key.as_str();
            let mut message = String::new();
            if let Some(context) = context {
                message.push_str(&format!("{context}: "));
            }
            message.push_str(&format!("unknown key `{key}`"));
            if context == Some("auth") && key == "token" {
                message.push_str(
                    "; never write the token into the config: \
                     use `token_file` (a file holding it) or `token_env` (a variable holding it)",
                );
            } else if let Some(near) = closest(key, known) {
                message.push_str(&format!("; did you mean `{near}`?"));
            } else {
                let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                message.push_str(&format!("; expected one of {}", known.join(", ")));
            }
            self.type_error(Some(span.clone()), &message);
        }
        !unknown.is_empty()
    }

    /// Deserializes one table; `span` is where a problem without its own
    /// place (a missing key) is reported. After unknown keys were reported
    /// (`after_unknown_keys`), a missing key is most likely one of them,
    /// misspelt: it is not reported again.
    pub(crate) fn deserialize<T: for<'de> Deserialize<'de>>(
        &mut self,
        value: DeValue<'_>,
        span: Range<usize>,
        context: Option<&str>,
        after_unknown_keys: bool,
    ) -> Read<T> {
        match T::deserialize(ValueDeserializer::from(Spanned::new(span.clone(), value))) {
            Ok(v) => Read::Present(v),
            Err(e) if after_unknown_keys && e.message().starts_with("missing field") => {
                Read::Invalid
            }
            Err(e) => {
                let message = with_suggestion(e.message());
                let message = match context {
                    Some(context) => format!("{context}: {message}"),
                    None => message,
                };
                self.type_error(e.span().or(Some(span)), &message);
                Read::Invalid
            }
        }
    }

    pub(crate) fn type_error(&mut self, span: Option<Range<usize>>, message: &str) {
        self.diagnostics
            .push(self.locate.error(DiagnosticKind::Type, span, message));
    }
}
