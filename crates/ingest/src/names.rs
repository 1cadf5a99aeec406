//! Column names the notebook user will see, made from whatever the header says.
//!
//! The mapping is deterministic and documented, because the names in the preview are the names in the
//! table:
//! 1. Trim surrounding white space.
//! 2. Replace every run of characters that are not letters, digits or `_` with one `_`
//!    (letters include accented and non-Latin ones: `Prénom` stays `Prénom`).
//! 3. Drop leading and trailing `_`.
//! 4. An empty result (or no header at all) becomes `column_N`, N being the 1-based position.
//! 5. Names that repeat, ignoring case (Delta compares names that way), get `_2`, `_3`, ... in order.
//!
//! `"Order ID"` → `Order_ID`, `"amount (€)"` → `amount`, `""` in position 3 → `column_3`,
//! `"a", "A"` → `a`, `A_2`.

use std::collections::HashSet;

/// Normalizes one header cell, without the position and uniqueness rules.
pub fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_separator = false;
    for c in raw.trim().chars() {
        if c.is_alphanumeric() || c == '_' {
            if pending_separator && !out.is_empty() {
                out.push('_');
            }
            pending_separator = false;
            out.push(c);
        } else {
            pending_separator = true;
        }
    }
    out.trim_matches('_').to_string()
}

/// The names of all columns, from the header cells (`None` when the file has no header).
pub fn column_names(header: Option<&[String]>, count: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    (0..count)
        .map(|i| {
            let cleaned = header
                .and_then(|h| h.get(i))
                .map(|raw| clean(raw))
                .unwrap_or_default();
            let base = if cleaned.is_empty() {
                format!("column_{}", i + 1)
            } else {
                cleaned
            };
            unique(base, &mut seen)
        })
        .collect()
}

/// Makes `base` unique among `seen` (case-insensitively) and records it.
pub fn unique(base: String, seen: &mut HashSet<String>) -> String {
    let mut name = base.clone();
    let mut n = 2;
    while !seen.insert(name.to_lowercase()) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(header: &[&str]) -> Vec<String> {
        let header: Vec<String> = header.iter().map(|s| s.to_string()).collect();
        column_names(Some(&header), header.len())
    }

    #[test]
    fn documented_examples() {
        assert_eq!(
            names(&["Order ID", "amount (€)", "", "Prénom"]),
            ["Order_ID", "amount", "column_3", "Prénom"]
        );
        assert_eq!(names(&["a", "A", "a"]), ["a", "A_2", "a_3"]);
        assert_eq!(
            names(&["  x  y  ", "__z__", "!!!"]),
            ["x_y", "z", "column_3"]
        );
        assert_eq!(column_names(None, 2), ["column_1", "column_2"]);
        assert_eq!(names(&["column_2", ""]), ["column_2", "column_2_2"]);
    }
}
