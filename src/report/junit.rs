//! JUnit XML for CI systems: one `<testsuites>` document gathering the
//! test suites of one run (the schema's findings, an expectation suite).

/// One `<testsuite>` element, already rendered, with its counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JunitSuite {
    pub xml: String,
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
}

impl JunitSuite {
    /// Starts a suite named `name`; add cases with [`JunitSuite::case`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a test case; `failure` is `Some((kind, message, body))` when it failed,
    /// and `error` marks a failure that was an exception rather than a check.
    pub fn case(
        &mut self,
        classname: &str,
        name: &str,
        failure: Option<(&str, &str, &str)>,
        error: bool,
    ) {
        self.tests += 1;
        self.xml.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\"",
            escape(classname),
            escape(name)
        ));
        let Some((kind, message, body)) = failure else {
            self.xml.push_str("/>\n");
            return;
        };
        let tag = if error {
            self.errors += 1;
            "error"
        } else {
            self.failures += 1;
            "failure"
        };
        self.xml.push_str(&format!(
            ">\n      <{tag} message=\"{}\" type=\"{}\">{}</{tag}>\n    </testcase>\n",
            escape(message),
            escape(kind),
            escape(body)
        ));
    }

    /// The `<testsuite name=...>` element.
    pub fn element(&self, name: &str) -> String {
        format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n{}  </testsuite>\n",
            escape(name),
            self.tests,
            self.failures,
            self.errors,
            self.xml
        )
    }
}

/// The whole document for named suites.
pub fn document(suites: &[(String, JunitSuite)]) -> String {
    let (tests, failures, errors) = suites.iter().fold((0, 0, 0), |(t, f, e), (_, s)| {
        (t + s.tests, f + s.failures, e + s.errors)
    });
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites name=\"assay\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\">\n"
    ));
    for (name, suite) in suites {
        xml.push_str(&suite.element(name));
    }
    xml.push_str("</testsuites>\n");
    xml
}

/// Escapes text for XML attributes and content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_escapes() {
        let mut suite = JunitSuite::new();
        suite.case("c", "ok", None, false);
        suite.case(
            "c",
            "bad <1>",
            Some(("check", "a & b", "{\"x\": 1}")),
            false,
        );
        suite.case("c", "boom", Some(("exception", "oops", "")), true);
        let xml = document(&[("s\"1".to_string(), suite)]);
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""));
        assert!(xml.contains("name=\"bad &lt;1&gt;\""));
        assert!(xml.contains("message=\"a &amp; b\""));
        assert!(xml.contains("<testsuite name=\"s&quot;1\""));
        assert!(xml.contains("<error message=\"oops\" type=\"exception\">"));
    }
}
