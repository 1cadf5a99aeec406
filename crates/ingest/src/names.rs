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
//! 6. A name is at most [`MAX_CHARS`] characters: a longer one is cut (before its `_N`, if any).
//!
//! `"Order ID"` → `Order_ID`, `"amount (€)"` → `amount`, `""` in position 3 → `column_3`,
//! `"a", "A"` → `a`, `A_2`.
//!
//! [`check`] holds names from elsewhere (a Parquet footer uploaded to the backend) to what these rules
//! guarantee: not empty, no control characters, at most [`MAX_CHARS`] characters, unique ignoring case.

use std::collections::HashSet;

/// The longest column name, in characters.
pub const MAX_CHARS: usize = 255;

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
    cut(out.trim_matches('_'), MAX_CHARS).to_string()
}

/// `name` cut to at most `chars` characters, without a trailing `_`.
fn cut(name: &str, chars: usize) -> &str {
    match name.char_indices().nth(chars) {
        Some((end, _)) => name[..end].trim_end_matches('_'),
        None => name,
    }
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
        let suffix = format!("_{n}");
        name = format!("{}{suffix}", cut(&base, MAX_CHARS - suffix.len()));
        n += 1;
    }
    name
}

/// Why a column name is not one the rules above could make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The name is empty.
    Empty,
    /// The name holds a control character (a line break, a tab, ...).
    Control,
    /// The name is longer than [`MAX_CHARS`] characters.
    TooLong,
    /// The name equals, ignoring case, the name of the column at this (0-based) position.
    Repeats(usize),
}

/// Checks names made elsewhere: the first one that breaks a rule, with its (0-based) position.
pub fn check<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), (usize, Problem)> {
    let mut seen = std::collections::HashMap::new();
    for (i, name) in names.into_iter().enumerate() {
        let problem = if name.is_empty() {
            Some(Problem::Empty)
        } else if name.chars().any(char::is_control) {
            Some(Problem::Control)
        } else if name.chars().nth(MAX_CHARS).is_some() {
            Some(Problem::TooLong)
        } else {
            seen.insert(name.to_lowercase(), i).map(Problem::Repeats)
        };
        if let Some(problem) = problem {
            return Err((i, problem));
        }
    }
    Ok(())
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

    #[test]
    fn long_names_are_cut_and_stay_unique() {
        let long = "é".repeat(300);
        let made = names(&[&long, &long, &format!("{}_x", "a".repeat(254))]);
        assert_eq!(made[0], "é".repeat(MAX_CHARS));
        assert_eq!(made[1], format!("{}_2", "é".repeat(MAX_CHARS - 2)));
        assert_eq!(made[2], "a".repeat(254));
        assert_eq!(check(made.iter().map(String::as_str)), Ok(()));
    }

    #[test]
    fn check_names_the_first_broken_rule() {
        let ok = ["a", "B", "Prénom", "数据"];
        assert_eq!(check(ok), Ok(()));
        assert_eq!(check(["a", ""]), Err((1, Problem::Empty)));
        assert_eq!(check(["a\tb"]), Err((0, Problem::Control)));
        assert_eq!(check(["a", "b\nc"]), Err((1, Problem::Control)));
        assert_eq!(check(["x", "\u{85}"]), Err((1, Problem::Control)));
        assert_eq!(check(["é".repeat(MAX_CHARS).as_str()]), Ok(()));
        assert_eq!(
            check(["é".repeat(MAX_CHARS + 1).as_str()]),
            Err((0, Problem::TooLong))
        );
        assert_eq!(
            check(["Amount", "x", "aMOUNT"]),
            Err((2, Problem::Repeats(0)))
        );
    }

    #[test]
    fn made_names_always_pass_the_check() {
        let mut next = crate::testing::draws(11);
        let pieces = [
            "a", "A", "é", "É", " ", "_", "\n", "\t", "1", "ß", "SS", "数", "-", "",
        ];
        for _ in 0..2000 {
            let header: Vec<String> = (0..1 + next(6))
                .map(|_| {
                    let repeat = [1, 1, 1, 130, 300][next(5)];
                    (0..next(4))
                        .map(|_| pieces[next(pieces.len())].repeat(repeat))
                        .collect()
                })
                .collect();
            let made = column_names(Some(&header), header.len());
            assert_eq!(
                check(made.iter().map(String::as_str)),
                Ok(()),
                "{header:?} {made:?}"
            );
        }
    }
}
