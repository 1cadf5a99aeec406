//! Each corpus file's dialect, column names and types, against `corpus/expected.json`.
//! Set `UPDATE_GOLDEN=1` to rewrite the expectations after a deliberate change (then review the diff).

use std::path::Path;

use delta_bridge_ingest::{Options, preview};
use serde_json::{Value, json};

fn summary(file: &Path) -> Value {
    match preview(file, &Options::default()) {
        Ok(p) => json!({
            "encoding": p.dialect.encoding,
            "delimiter": (p.dialect.delimiter as char).to_string(),
            "header": p.dialect.has_header,
            "line_ending": p.dialect.line_ending,
            "columns": p.columns.iter().map(|c| format!("{}: {}{}", c.name, serde_json::to_value(&c.column_type).unwrap()["type"].as_str().unwrap(),
                match &c.column_type { delta_bridge_ingest::ColumnType::Date { order } => format!(" {order:?}"), _ => String::new() })).collect::<Vec<_>>(),
            "rows": p.rows.len(),
            "warnings": p.warnings.len(),
        }),
        Err(e) => json!({"error": e.to_string()}),
    }
}

#[test]
fn corpus_matches_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    let actual: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.clone(), summary(&dir.join(n))))
        .collect();
    let expected_path = dir.join("expected.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(
            &expected_path,
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        )
        .unwrap();
    }
    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
    for name in &names {
        assert_eq!(actual.get(name), expected.get(name), "{name}");
    }
    assert_eq!(
        actual.len(),
        expected.len(),
        "files added or removed: run with UPDATE_GOLDEN=1"
    );
}
