//! `/metrics` parsed into samples (name and labels → value), so that a test asserts an
//! exact value: a text search for `... 2` also matches `... 20`.

use std::collections::BTreeMap;

/// Every sample of one exposition.
#[derive(Debug, Clone)]
pub struct Samples {
    samples: BTreeMap<(String, BTreeMap<String, String>), f64>,
    text: String,
}

/// Splits `k="v",k2="v2"` (values escaped as the exposition format escapes them).
fn labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("malformed labels {text:?}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("malformed labels {text:?}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value in {text:?}"),
            }
        };
        labels.insert(name.trim().to_owned(), value);
        rest = after[end + 1..].trim_start_matches(',').trim();
    }
    labels
}

impl Samples {
    /// Parses an exposition; panics on a line that is neither a comment nor a sample.
    pub fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = line
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("malformed sample {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let inner = rest
                        .strip_suffix('}')
                        .unwrap_or_else(|| panic!("malformed sample {line:?}"));
                    (name, labels(inner))
                }
                None => (series, BTreeMap::new()),
            };
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("malformed value in {line:?}: {e}"));
            let previous = samples.insert((name.to_owned(), labels), value);
            assert!(previous.is_none(), "{line:?} appears twice");
        }
        Self {
            samples,
            text: text.to_owned(),
        }
    }

    /// The value of `name` with exactly these labels; panics (showing the exposition)
    /// when there is no such sample.
    #[track_caller]
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let key = (
            name.to_owned(),
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        *self
            .samples
            .get(&key)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?} in\n{}", self.text))
    }

    /// Asserts that `name` with these labels is exactly `expected`.
    #[track_caller]
    pub fn assert(&self, name: &str, labels: &[(&str, &str)], expected: f64) {
        let got = self.value(name, labels);
        #[allow(clippy::float_cmp)] // counts: exact integers in a double
        let equal = got == expected;
        assert!(
            equal,
            "{name} {labels:?} is {got}, not {expected}:\n{}",
            self.text
        );
    }
}

#[test]
fn samples_are_exact() {
    let text = "# HELP menon_x X.\n# TYPE menon_x counter\nmenon_x_total 20\n\
                menon_y_total{outcome=\"failed\"} 2\nmenon_y_total{outcome=\"de\\\"l\"} 3\n\
                menon_h_bucket{le=\"0.5\",kind=\"a\"} 1.5\n# EOF\n";
    let samples = Samples::parse(text);
    assert_eq!(samples.value("menon_x_total", &[]), 20.0);
    assert_ne!(samples.value("menon_x_total", &[]), 2.0);
    samples.assert("menon_y_total", &[("outcome", "failed")], 2.0);
    samples.assert("menon_y_total", &[("outcome", "de\"l")], 3.0);
    samples.assert("menon_h_bucket", &[("kind", "a"), ("le", "0.5")], 1.5);
    let missing = std::panic::catch_unwind(|| samples.value("menon_y_total", &[]));
    assert!(missing.is_err(), "labels must match exactly");
}
