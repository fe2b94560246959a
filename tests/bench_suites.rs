//! The benchmark suites (written by scripts/bench_suite.py) are the same
//! suite in both forms: assay reads the TOML and Great Expectations the
//! JSON, so a comparison of the two tools runs the same 20 expectations.

use std::path::Path;

use assay::expectations::load;

#[test]
fn each_bench_suite_is_the_same_twenty_expectations_in_toml_and_json() {
    for name in ["bench_table", "bench_mixed"] {
        let toml = load(Path::new(&format!("expectations/{name}.toml"))).unwrap();
        let json = load(Path::new(&format!("expectations/{name}.json"))).unwrap();
        assert_eq!(toml.name, name);
        assert_eq!(json.name, name);
        assert_eq!(toml.expectations.len(), 20, "{name}");
        assert_eq!(json.expectations.len(), 20, "{name}");
        for (t, j) in toml.expectations.iter().zip(&json.expectations) {
            assert_eq!(t.type_name, j.type_name, "{name} #{}", t.index + 1);
            assert_eq!(t.kwargs, j.kwargs, "{name} #{}", t.index + 1);
            assert_eq!(t.mostly, j.mostly, "{name} #{}", t.index + 1);
        }
    }
}
