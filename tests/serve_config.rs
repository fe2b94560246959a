//! The daemon's config file: loading, defaults, path resolution, and every
//! rule reported with its line and column.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use assay::server::config::{
    self, AuthConfig, Check, Checks, ConfigError, Limits, ServeConfig, TokenSource, WindowPolicy,
};

const FIXTURES: &str = "tests/fixtures/serve";

/// A directory with a baseline (`train.csv`), a schema, a suite and a token
/// file, for configs written in the tests.
struct Dir {
    dir: tempfile::TempDir,
}

const SECRET: &str = "hunter2-SECRET-token";

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("train.csv", "age,sex\n41,F\n"),
            ("schema.toml", "format = \"assay.schema/1\"\n"),
            ("suite.toml", "format = \"assay.expectations/1\"\n"),
            ("token", &format!("  {SECRET}\n")),
            ("empty-token", "  \n"),
        ] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/a.csv"), "age\n1\n").unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn config_path(&self) -> PathBuf {
        self.path().join("assay.toml")
    }

    fn parse(&self, text: &str) -> Result<ServeConfig, ConfigError> {
        config::parse(text, &self.config_path())
    }

    fn ok(&self, text: &str) -> ServeConfig {
        match self.parse(text) {
            Ok(c) => c,
            Err(e) => panic!("expected a valid config, got:\n{e}"),
        }
    }

    /// The diagnostics without the file name: `line:column: message`.
    fn errors(&self, text: &str) -> Vec<String> {
        let prefix = format!("{}:", self.config_path().display());
        match self.parse(text) {
            Ok(c) => panic!("expected errors, got {c:#?}"),
            Err(ConfigError::Invalid { diagnostics }) => diagnostics
                .iter()
                .map(|d| {
                    d.strip_prefix(&prefix)
                        .unwrap_or_else(|| panic!("no file prefix: {d}"))
                        .to_string()
                })
                .collect(),
            Err(e) => panic!("expected Invalid, got {e}"),
        }
    }

    /// Exactly one diagnostic, starting with `start` and containing `part`.
    fn one_error(&self, text: &str, start: &str, part: &str) {
        let errors = self.errors(text);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with(start) && errors[0].contains(part),
            "expected `{start}...{part}...`, got {:?}",
            errors[0]
        );
    }
}

const MODEL: &str = "[models.credit]\nbaseline = \"train.csv\"\n";

// ------------------------------------------------------------------ loading

#[test]
fn the_example_config_loads_and_resolves_paths() {
    let config = config::load(Path::new("examples/assay.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        config.listen,
        "127.0.0.1:9464".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.source, Path::new("examples/assay.toml"));
    assert_eq!(
        config.state_dir,
        Path::new("examples/../target/assay-state")
    );
    assert_eq!(config.default_model.as_deref(), Some("credit"));
    assert_eq!(config.auth, AuthConfig::default());
    assert_eq!(config.limits, Limits::default());
    assert_eq!(config.spool, None);
    assert_eq!(config.models.len(), 1);
    let credit = config.model("credit").unwrap();
    assert_eq!(credit.baseline, Path::new("examples/data/train.parquet"));
    assert!(credit.baseline.is_file());
    assert_eq!(
        credit.suites,
        [Path::new("examples/../expectations/credit.toml")]
    );
    assert!(credit.suites[0].is_file());
    assert_eq!(credit.slices, [vec!["sex".to_string()]]);
    assert_eq!(credit.request_id_column.as_deref(), Some("application_id"));
    assert_eq!(
        credit.window,
        WindowPolicy {
            rows: Some(5000),
            seconds: Some(60),
            keep: 1440
        }
    );
    assert_eq!(credit.checks.per_batch, [Check::Expectations]);
    assert_eq!(
        credit.checks.per_window,
        [Check::Expectations, Check::Skew, Check::Drift]
    );
    // The example is also valid from another working directory's view:
    // every path it names exists relative to the file.
    if let Some(schema) = &credit.schema {
        assert!(schema.is_file());
    }
}

#[test]
fn defaults_apply() {
    let config = config::load(&Path::new(FIXTURES).join("minimal.toml")).unwrap();
    assert_eq!(config.listen, config::DEFAULT_LISTEN);
    assert_eq!(config.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(config.state_dir, Path::new(FIXTURES).join("assay-state"));
    assert_eq!(config.default_model.as_deref(), Some("credit"));
    assert_eq!(config.auth.token, None);
    assert!(!config.auth.protect_metrics);
    assert_eq!(
        config.limits,
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            queue_depth: 64,
            max_batch_rows: 1_000_000,
        }
    );
    assert_eq!(config.spool, None);
    let model = &config.models[0];
    assert_eq!(model.baseline, Path::new(FIXTURES).join("train.csv"));
    assert_eq!(model.schema, None);
    assert!(model.suites.is_empty());
    assert_eq!(model.environment, None);
    assert!(model.slices.is_empty());
    assert_eq!(
        model.window,
        WindowPolicy {
            rows: Some(10_000),
            seconds: Some(60),
            keep: config::DEFAULT_KEEP_WINDOWS
        }
    );
    // Without schema and suites, only the checks that need neither.
    assert!(model.checks.per_batch.is_empty());
    assert_eq!(model.checks.per_window, [Check::Skew, Check::Drift]);
}

#[test]
fn default_checks_with_schema_and_suites_and_partial_tables() {
    let d = Dir::new();
    let config = d.ok(
        "[models.credit]\nbaseline = \"train.csv\"\nschema = \"schema.toml\"\nsuites = [\"suite.toml\"]\n\
         [models.credit.window]\nseconds = 30\nkeep = 12\n\
         [models.credit.checks]\nper_batch = [\"schema\"]\n",
    );
    let model = &config.models[0];
    assert_eq!(
        model.schema.as_deref(),
        Some(d.path().join("schema.toml").as_path())
    );
    assert_eq!(model.suites, [d.path().join("suite.toml")]);
    // A window table with one key sets only that one.
    assert_eq!(
        model.window,
        WindowPolicy {
            rows: None,
            seconds: Some(30),
            keep: 12
        }
    );
    // An absent list takes its default.
    assert_eq!(model.checks.per_batch, [Check::Schema]);
    assert_eq!(model.checks.per_window, Check::ALL);
    assert_eq!(Checks::defaults(true, true).per_window, Check::ALL);
}

#[test]
fn spool_and_limits_and_absolute_paths() {
    let d = Dir::new();
    let baseline = d.path().join("train.csv");
    let text = format!(
        "state_dir = {state:?}\n[limits]\nqueue_depth = 8\n[spool]\ndir = \"spool\"\n\
         [models.a]\nbaseline = {baseline:?}\n[models.b]\nbaseline = \"data\"\n\
         default_model = \"b\"\n",
        state = "/var/lib/assay",
        baseline = baseline.display().to_string(),
    );
    // `default_model` after [models.b] belongs to that table: a typo caught.
    let errors = d.errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("10:1: models.b: unknown key `default_model`"));
    assert!(errors[1].starts_with("6:2: models: `default_model` is required"));

    let text = format!(
        "default_model = \"b\"\n{}",
        text.replace("default_model = \"b\"\n", "")
    );
    let config = d.ok(&text);
    assert_eq!(config.state_dir, Path::new("/var/lib/assay"));
    assert_eq!(config.limits.queue_depth, 8);
    assert_eq!(config.limits.max_body_bytes, config::DEFAULT_MAX_BODY_BYTES);
    let spool = config.spool.as_ref().unwrap();
    assert_eq!(spool.dir, d.path().join("spool"));
    assert_eq!(spool.poll_interval_ms, 500);
    assert_eq!(spool.model.as_deref(), Some("b"));
    // File order, not name order; an absolute baseline stays as it is; a
    // directory is a valid baseline.
    let names: Vec<&str> = config.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(config.models[0].baseline, baseline);
    assert_eq!(config.models[1].baseline, d.path().join("data"));
}

#[test]
fn a_missing_config_file_is_a_read_error() {
    let err = config::load(Path::new("tests/fixtures/serve/nope.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("cannot read config file tests/fixtures/serve/nope.toml: ")
    );
}

// ------------------------------------------------------------------ all errors at once

#[test]
fn every_problem_is_reported_with_its_line_and_column() {
    let path = Path::new(FIXTURES).join("many_problems.toml");
    let err = config::load(&path).unwrap_err();
    let ConfigError::Invalid { diagnostics } = &err else {
        panic!("{err}");
    };
    let file = path.display().to_string();
    let expected = [
        // type errors, in file order
        "5:1: unknown key `colour`; expected one of `listen`, `state_dir`, `default_model`, `auth`, `limits`, `spool`, `models`, `alerts`",
        "13:1: limits: unknown key `max_batch_rowz`; did you mean `max_batch_rows`?",
        "27:1: models.\"bad name\": unknown key `baselin`; did you mean `baseline`?",
        "30:23: models.\"bad name\".checks: unknown variant `drifts`, expected one of `schema`, `expectations`, `skew`, `drift`; did you mean `drift`?",
        // then rule violations, in file order
        "2:10: listen: binding to a non-loopback address (0.0.0.0:9464) needs [auth] token_file or token_env",
        "4:17: default_model: unknown model \"fraud\"; the config defines credit, bad name",
        "8:19: auth.protect_metrics: `protect_metrics` needs a token: set `token_file` or `token_env`",
        "11:18: limits.max_body_bytes: must be greater than 0, found 0",
        "12:15: limits.queue_depth: must be greater than 0, found -3",
        "16:12: models.credit.baseline: baseline not found: tests/fixtures/serve/missing.parquet (relative paths are resolved against the config file's directory)",
        "18:19: models.credit.slices[0][1]: column \"sex\" listed twice in one slice",
        "18:27: models.credit.slices[1]: a slice needs at least one column",
        "21:8: models.credit.window.rows: must be greater than 0, found 0",
        "24:14: models.credit.checks.per_batch[0]: check `schema` needs `models.credit.schema`, the schema to check against",
        "24:24: models.credit.checks.per_batch[1]: check `expectations` needs `models.credit.suites`, at least one expectation suite",
        "24:40: models.credit.checks.per_batch[2]: check `schema` listed twice",
        "24:50: models.credit.checks.per_batch[3]: check `skew` compares whole windows: list it in `per_window`",
        "26:9: models.\"bad name\": model name \"bad name\" may only contain letters, digits, `_`, `.` and `-` (it appears in URLs and metric labels)",
    ];
    let got: Vec<&str> = diagnostics
        .iter()
        .map(|d| d.strip_prefix(&format!("{file}:")).unwrap())
        .collect();
    assert_eq!(got, expected);
    // Display: one `file:line:column: message` per line, all of them.
    let display = err.to_string();
    assert_eq!(display.lines().count(), expected.len());
    for (line, want) in display.lines().zip(expected) {
        assert_eq!(line, format!("{file}:{want}"));
    }
}

#[test]
fn syntax_errors_are_all_reported_first() {
    let d = Dir::new();
    let errors = d.errors("listen = \n[models.credit]\nbaseline = \"train.csv\n");
    assert!(errors.len() >= 2, "{errors:#?}");
    assert!(errors[0].starts_with("1:"), "{errors:#?}");
    assert!(errors[1].starts_with("3:"), "{errors:#?}");
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    let d = Dir::new();
    d.one_error(
        "[models.credit]\nbaselne = \"train.csv\"\nbaseline = \"train.csv\"\n",
        "2:1: models.credit: unknown key `baselne`",
        "did you mean `baseline`?",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.window]\nrow = 5\n"),
        "4:1: models.credit.window: unknown key `row`",
        "did you mean `rows`?",
    );
    d.one_error(
        &format!("listn = \"127.0.0.1:1\"\n{MODEL}"),
        "1:1: unknown key `listn`",
        "did you mean `listen`?",
    );
    d.one_error(
        &format!("[spool]\ndir = \"s\"\nevery = 5\n{MODEL}"),
        "3:1: spool: unknown key `every`",
        "expected one of `dir`, `poll_interval_ms`, `model`",
    );
    // A misspelt required key is reported once, not again as missing.
    d.one_error(
        &format!("[spool]\ndirr = \"s\"\n{MODEL}"),
        "2:1: spool: unknown key `dirr`",
        "did you mean `dir`?",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.checks]\nper_window = [\"skw\"]\n"),
        "4:15: models.credit.checks: unknown variant `skw`",
        "did you mean `skew`?",
    );
}

#[test]
fn wrong_types_are_reported_at_the_value() {
    let d = Dir::new();
    d.one_error(
        &format!("listen = 9464\n{MODEL}"),
        "1:10: invalid type: integer `9464`",
        "expected a string",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.window]\nrows = \"many\"\n"),
        "4:8: models.credit.window: invalid type: string \"many\"",
        "",
    );
    d.one_error(
        &format!("auth = \"on\"\n{MODEL}"),
        "1:8: `auth` must be a table, found string",
        "",
    );
    d.one_error(
        "models = [\"credit\"]\n",
        "1:10: `models` must be a table of [models.NAME] tables, found array",
        "",
    );
    d.one_error(
        &format!("{MODEL}[spool]\npoll_interval_ms = 5\n"),
        "3:2: spool: missing field `dir`",
        "",
    );
}

// ------------------------------------------------------------------ the token

#[test]
fn the_token_is_never_printed() {
    let d = Dir::new();
    let config = d.ok(&format!(
        "listen = \"0.0.0.0:9464\"\n[auth]\ntoken_file = \"token\"\nprotect_metrics = true\n{MODEL}"
    ));
    let token = config.auth.token.as_ref().unwrap();
    assert_eq!(token, &TokenSource::File(d.path().join("token")));
    assert_eq!(token.read().unwrap(), SECRET);
    assert!(config.auth.protect_metrics);
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains("hunter2"), "{debug}");

    // Errors of a config with a token do not contain it either.
    let err = d
        .parse(&format!(
            "listen = \"0.0.0.0:9464\"\n[auth]\ntoken_file = \"token\"\n[limits]\nqueue_depth = 0\n{MODEL}"
        ))
        .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"));

    // The token written into the config by mistake is not echoed.
    for auth in [
        format!("token = \"{SECRET}\""),
        format!("token_env = \"{SECRET}\""),
        format!("token_file = \"token\"\ntoken_env = \"{SECRET}\""),
    ] {
        let err = d.parse(&format!("[auth]\n{auth}\n{MODEL}")).unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
    let errors = d.errors(&format!("[auth]\ntoken = \"{SECRET}\"\n{MODEL}"));
    assert!(errors[0].contains("never write the token into the config"));
    let errors = d.errors(&format!("[auth]\ntoken_env = \"{SECRET}\"\n{MODEL}"));
    assert!(
        errors[0].starts_with("2:13: auth.token_env: must be the name of an environment variable")
    );

    // A source built in code with a pasted token is not shown by Debug.
    let pasted = TokenSource::Env(SECRET.to_string());
    assert!(!format!("{pasted:?}").contains("hunter2"));
}

#[test]
fn reading_the_token() {
    let d = Dir::new();
    let empty = TokenSource::File(d.path().join("empty-token"))
        .read()
        .unwrap_err();
    assert!(empty.ends_with("is empty"), "{empty}");
    let missing = TokenSource::File(d.path().join("nope")).read().unwrap_err();
    assert!(
        missing.starts_with("cannot read the token file"),
        "{missing}"
    );
    let unset = TokenSource::Env("ASSAY_TEST_SURELY_UNSET_VARIABLE".into())
        .read()
        .unwrap_err();
    assert_eq!(
        unset,
        "the token variable ASSAY_TEST_SURELY_UNSET_VARIABLE is not set"
    );
    // PATH is set wherever tests run; it stands in for a token variable.
    let path = TokenSource::Env("PATH".into()).read().unwrap();
    assert_eq!(path, std::env::var("PATH").unwrap().trim());

    let config = d.ok(&format!("[auth]\ntoken_env = \"ASSAY_TOKEN\"\n{MODEL}"));
    assert_eq!(
        config.auth.token,
        Some(TokenSource::Env("ASSAY_TOKEN".into()))
    );
}

// ------------------------------------------------------------------ each rule

#[test]
fn listen_must_be_an_ip_and_port() {
    let d = Dir::new();
    d.one_error(
        &format!("listen = \"localhost:9464\"\n{MODEL}"),
        "1:10: listen: must be IP:PORT such as 127.0.0.1:9464 or [::1]:9464, found \"localhost:9464\"",
        "write 127.0.0.1",
    );
    d.one_error(
        &format!("listen = \"127.0.0.1\"\n{MODEL}"),
        "1:10: listen: must be IP:PORT",
        "",
    );
    let config = d.ok(&format!("listen = \"[::1]:0\"\n{MODEL}"));
    assert_eq!(config.listen, "[::1]:0".parse::<SocketAddr>().unwrap());
}

#[test]
fn a_non_loopback_listen_needs_a_token() {
    let d = Dir::new();
    d.one_error(
        &format!("listen = \"[::]:9464\"\n{MODEL}"),
        "1:10: listen: binding to a non-loopback address ([::]:9464) needs [auth] token_file or token_env",
        "",
    );
    d.ok(&format!(
        "listen = \"[::]:9464\"\n[auth]\ntoken_env = \"ASSAY_TOKEN\"\n{MODEL}"
    ));
    // The same rule for `--listen` on the command line.
    let auth = AuthConfig::default();
    assert!(ServeConfig::check_listen("0.0.0.0:1".parse().unwrap(), &auth).is_err());
    assert!(ServeConfig::check_listen("127.0.0.1:1".parse().unwrap(), &auth).is_ok());
}

#[test]
fn at_least_one_model() {
    let d = Dir::new();
    d.one_error("", "1:1: at least one model is needed", "[models.NAME]");
    d.one_error(
        "listen = \"127.0.0.1:1\"\n[models]\n",
        "2:2: models: at least one model is needed",
        "",
    );
}

#[test]
fn default_model_names_a_model() {
    let d = Dir::new();
    d.one_error(
        &format!("default_model = \"credt\"\n{MODEL}"),
        "1:17: default_model: unknown model \"credt\"",
        "did you mean \"credit\"?",
    );
    let two = format!("{MODEL}[models.fraud]\nbaseline = \"train.csv\"\n");
    d.one_error(
        &two,
        "1:2: models: `default_model` is required when there are several models (credit, fraud)",
        "",
    );
    let config = d.ok(&format!("default_model = \"fraud\"\n{two}"));
    assert_eq!(config.default_model.as_deref(), Some("fraud"));
}

#[test]
fn model_names_fit_urls_and_labels() {
    let d = Dir::new();
    d.one_error(
        "[models.\"credit/v2\"]\nbaseline = \"train.csv\"\n",
        "1:9: models.\"credit/v2\": model name \"credit/v2\" may only contain",
        "",
    );
    d.ok("[models.credit-v2_1]\nbaseline = \"train.csv\"\n");
    d.ok("[models.\"credit.v2\"]\nbaseline = \"train.csv\"\n");
}

#[test]
fn windows_need_a_positive_limit() {
    let d = Dir::new();
    d.one_error(
        &format!("{MODEL}[models.credit.window]\n"),
        "3:16: models.credit.window: a window needs `rows`, `seconds` or both",
        "",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.window]\nrows = 10\nseconds = -1\n"),
        "5:11: models.credit.window.seconds: must be greater than 0, found -1",
        "",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.window]\nrows = 0\n"),
        "4:8: models.credit.window.rows: must be greater than 0, found 0",
        "",
    );
}

#[test]
fn limits_are_positive() {
    let d = Dir::new();
    let errors = d.errors(&format!(
        "[limits]\nmax_body_bytes = 0\nqueue_depth = 0\nmax_batch_rows = -1\n{MODEL}"
    ));
    assert_eq!(
        errors,
        [
            "2:18: limits.max_body_bytes: must be greater than 0, found 0",
            "3:15: limits.queue_depth: must be greater than 0, found 0",
            "4:18: limits.max_batch_rows: must be greater than 0, found -1",
        ]
    );
    d.one_error(
        &format!("[spool]\ndir = \"s\"\npoll_interval_ms = 0\n{MODEL}"),
        "3:20: spool.poll_interval_ms: must be greater than 0, found 0",
        "",
    );
}

#[test]
fn exactly_one_token_source() {
    let d = Dir::new();
    d.one_error(
        &format!("[auth]\ntoken_file = \"token\"\ntoken_env = \"ASSAY_TOKEN\"\n{MODEL}"),
        "3:13: auth.token_env: set one of `token_file` and `token_env`, not both",
        "",
    );
    d.one_error(
        &format!("[auth]\nprotect_metrics = true\n{MODEL}"),
        "2:19: auth.protect_metrics: `protect_metrics` needs a token",
        "",
    );
    // An [auth] table without a token means no authentication.
    let config = d.ok(&format!("[auth]\nprotect_metrics = false\n{MODEL}"));
    assert_eq!(config.auth.token, None);
}

#[test]
fn check_lists() {
    let d = Dir::new();
    d.one_error(
        &format!("{MODEL}[models.credit.checks]\nper_window = [\"drift\", \"skew\", \"drift\"]\n"),
        "4:32: models.credit.checks.per_window[2]: check `drift` listed twice",
        "",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.checks]\nper_window = [\"schema\"]\n"),
        "4:15: models.credit.checks.per_window[0]: check `schema` needs `models.credit.schema`",
        "",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.checks]\nper_batch = [\"expectations\"]\n"),
        "4:14: models.credit.checks.per_batch[0]: check `expectations` needs `models.credit.suites`",
        "",
    );
    d.one_error(
        &format!("{MODEL}[models.credit.checks]\nper_batch = [\"drift\"]\n"),
        "4:14: models.credit.checks.per_batch[0]: check `drift` compares whole windows",
        "",
    );
    // Skew and drift need no schema; empty lists switch checks off.
    let config = d.ok(&format!(
        "{MODEL}[models.credit.checks]\nper_batch = []\nper_window = [\"drift\", \"skew\"]\n"
    ));
    assert!(config.models[0].checks.per_batch.is_empty());
    assert_eq!(
        config.models[0].checks.per_window,
        [Check::Drift, Check::Skew]
    );
}

#[test]
fn named_files_must_exist() {
    let d = Dir::new();
    let errors = d.errors(
        "[auth]\ntoken_file = \"secret/token\"\n\
         [models.credit]\nbaseline = \"nope.parquet\"\nschema = \"nope.toml\"\n\
         suites = [\"suite.toml\", \"nope-suite.toml\"]\n",
    );
    let dir = d.path().display().to_string();
    let note = " (relative paths are resolved against the config file's directory)";
    assert_eq!(
        errors,
        [
            format!("2:14: auth.token_file: token file not found: {dir}/secret/token{note}"),
            format!("4:12: models.credit.baseline: baseline not found: {dir}/nope.parquet{note}"),
            format!("5:10: models.credit.schema: schema not found: {dir}/nope.toml{note}"),
            format!("6:25: models.credit.suites[1]: suite not found: {dir}/nope-suite.toml{note}"),
        ]
    );
    // A baseline may be a glob that matches files.
    let config = d.ok("[models.credit]\nbaseline = \"data/*.csv\"\n");
    assert_eq!(config.models[0].baseline, d.path().join("data/*.csv"));
    d.one_error(
        "[models.credit]\nbaseline = \"nothing/*.csv\"\n",
        "2:12: models.credit.baseline: baseline: no file matches",
        "",
    );
}

#[test]
fn spool_model_names_a_model() {
    let d = Dir::new();
    d.one_error(
        &format!("[spool]\ndir = \"s\"\nmodel = \"fraud\"\n{MODEL}"),
        "3:9: spool.model: unknown model \"fraud\"; the config defines credit",
        "",
    );
}

#[test]
fn a_bad_table_hides_nothing_elsewhere() {
    let d = Dir::new();
    // A type error in one model, rule violations in another and at the top.
    let errors = d.errors(
        "listen = \"nowhere\"\ndefault_model = \"a\"\n\
         [models.a]\nbaseline = 3\n\
         [models.b]\nbaseline = \"train.csv\"\n[models.b.window]\nrows = 0\n",
    );
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors[0].starts_with("4:12: models.a: invalid type: integer `3`"));
    assert!(errors[1].starts_with("1:10: listen: must be IP:PORT"));
    assert!(errors[2].starts_with("8:8: models.b.window.rows: must be greater than 0"));
}
