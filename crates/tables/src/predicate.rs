//! `jsonPredicateHints`: skipping files that cannot hold a matching row.
//!
//! The hint is best effort and the Python client does not filter rows again, so the one rule here is:
//! never drop a file that might match. Every file is judged [`Truth::Never`] (no row can match),
//! [`Truth::Always`] or [`Truth::Maybe`] from its partition values and statistics; only `Never` drops it.
//! A hint that does not parse, an unknown column, a missing statistic or a type mismatch all give `Maybe`.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

/// Per-file statistics from an `add` action's `stats` string.
#[derive(Debug, Default)]
pub struct Stats {
    /// `numRecords`.
    pub num_records: Option<i64>,
    min_values: Map<String, Value>,
    max_values: Map<String, Value>,
    null_count: Map<String, Value>,
}

impl Stats {
    /// Parses a `stats` JSON string; `None` if it is not JSON.
    pub fn parse(text: &str) -> Option<Stats> {
        let Value::Object(mut object) = serde_json::from_str(text).ok()? else {
            return None;
        };
        let mut take = |key: &str| match object.remove(key) {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let (min_values, max_values, null_count) =
            (take("minValues"), take("maxValues"), take("nullCount"));
        Some(Stats {
            num_records: object.get("numRecords").and_then(Value::as_i64),
            min_values,
            max_values,
            null_count,
        })
    }
}

fn lookup<'a>(map: &'a Map<String, Value>, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut value = map.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Whether the rows of a file satisfy an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truth {
    /// Every row does.
    Always,
    /// No row does: the file can be skipped.
    Never,
    /// Unknown.
    Maybe,
}

impl Truth {
    fn not(self) -> Truth {
        match self {
            Truth::Always => Truth::Never,
            Truth::Never => Truth::Always,
            Truth::Maybe => Truth::Maybe,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueType {
    Bool,
    Int,
    Float,
    String,
    Date,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn flip(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Eq,
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
        }
    }
}

/// A parsed predicate.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// A column reference.
    Column(String, ValueKind),
    /// A literal.
    Literal(String, ValueKind),
    /// `isNull`.
    IsNull(Box<Predicate>),
    /// A comparison.
    Compare(CmpKind, Box<Predicate>, Box<Predicate>),
    /// `and`.
    And(Vec<Predicate>),
    /// `or`.
    Or(Vec<Predicate>),
    /// `not`.
    Not(Box<Predicate>),
}

/// Most columns and literals a `jsonPredicateHints` may hold before it is ignored.
pub const MAX_LEAVES: usize = 1000;

/// The `valueType` of a column or literal (opaque outside this module).
#[derive(Debug, Clone, Copy)]
pub struct ValueKind(ValueType);

/// A comparison operator (opaque outside this module).
#[derive(Debug, Clone, Copy)]
pub struct CmpKind(Cmp);

impl Predicate {
    /// Parses the JSON of `jsonPredicateHints`. `None` if it is not a predicate this module understands,
    /// in which case no file may be skipped.
    /// A predicate of more than [`MAX_LEAVES`] columns and literals is ignored too (every file is
    /// returned, as the protocol allows), so its cost per file stays bounded.
    pub fn parse(text: &str) -> Option<Predicate> {
        let value: Value = serde_json::from_str(text).ok()?;
        Self::from_json(&value, 0, &std::cell::Cell::new(0))
    }

    fn from_json(
        value: &Value,
        depth: usize,
        leaves: &std::cell::Cell<usize>,
    ) -> Option<Predicate> {
        if depth > 64 {
            return None;
        }
        let op = value.get("op")?.as_str()?;
        let children = || -> Option<Vec<Predicate>> {
            value
                .get("children")?
                .as_array()?
                .iter()
                .map(|c| Self::from_json(c, depth + 1, leaves))
                .collect()
        };
        let value_type = || -> Option<ValueKind> {
            Some(ValueKind(match value.get("valueType")?.as_str()? {
                "bool" | "boolean" => ValueType::Bool,
                "int" | "long" | "short" | "byte" => ValueType::Int,
                "float" | "double" => ValueType::Float,
                "string" => ValueType::String,
                "date" => ValueType::Date,
                "timestamp" => ValueType::Timestamp,
                _ => return None,
            }))
        };
        let cmp = |c| -> Option<Predicate> {
            let mut kids = children()?;
            if kids.len() != 2 {
                return None;
            }
            let right = kids.pop()?;
            let left = kids.pop()?;
            Some(Predicate::Compare(
                CmpKind(c),
                Box::new(left),
                Box::new(right),
            ))
        };
        if matches!(op, "column" | "literal") {
            leaves.set(leaves.get() + 1);
            if leaves.get() > MAX_LEAVES {
                return None;
            }
        }
        match op {
            "column" => Some(Predicate::Column(
                value.get("name")?.as_str()?.to_string(),
                value_type()?,
            )),
            "literal" => {
                let literal = match value.get("value")? {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                Some(Predicate::Literal(literal, value_type()?))
            }
            "isNull" => {
                let mut kids = children()?;
                (kids.len() == 1).then(|| Predicate::IsNull(Box::new(kids.remove(0))))
            }
            "equal" => cmp(Cmp::Eq),
            "lessThan" => cmp(Cmp::Lt),
            "lessThanOrEqual" => cmp(Cmp::Le),
            "greaterThan" => cmp(Cmp::Gt),
            "greaterThanOrEqual" => cmp(Cmp::Ge),
            "and" => children().filter(|k| !k.is_empty()).map(Predicate::And),
            "or" => children().filter(|k| !k.is_empty()).map(Predicate::Or),
            "not" => {
                let mut kids = children()?;
                (kids.len() == 1).then(|| Predicate::Not(Box::new(kids.remove(0))))
            }
            _ => None,
        }
    }

    /// Judges one file. `physical` maps a logical column name to the name used in partition values and
    /// statistics (they differ under column mapping); `use_stats` allows statistics to be used at all.
    pub fn evaluate(
        &self,
        partition_values: &BTreeMap<String, Option<String>>,
        stats: Option<&Stats>,
        physical: &dyn Fn(&str) -> Option<String>,
        use_stats: bool,
    ) -> Truth {
        let file = FileValues {
            partition_values,
            stats: stats.filter(|_| use_stats),
            physical,
        };
        file.eval(self)
    }
}

struct FileValues<'a> {
    partition_values: &'a BTreeMap<String, Option<String>>,
    stats: Option<&'a Stats>,
    physical: &'a dyn Fn(&str) -> Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Date(i64),
    Timestamp(i64),
}

impl Scalar {
    fn parse(text: &str, ty: ValueType) -> Option<Scalar> {
        Some(match ty {
            ValueType::Bool => Scalar::Bool(match text.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return None,
            }),
            ValueType::Int => Scalar::Int(text.trim().parse().ok()?),
            ValueType::Float => Scalar::Float(text.trim().parse().ok()?),
            ValueType::String => Scalar::Str(text.to_string()),
            ValueType::Date => {
                let date = NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
                Scalar::Date(
                    date.signed_duration_since(NaiveDate::from_ymd_opt(1970, 1, 1)?)
                        .num_days(),
                )
            }
            ValueType::Timestamp => Scalar::Timestamp(parse_timestamp_micros(text)?),
        })
    }

    fn from_stat(value: &Value, ty: ValueType) -> Option<Scalar> {
        match (value, ty) {
            (Value::Number(n), ValueType::Int) => n.as_i64().map(Scalar::Int),
            (Value::Number(n), ValueType::Float) => n.as_f64().map(Scalar::Float),
            (Value::Bool(b), ValueType::Bool) => Some(Scalar::Bool(*b)),
            (Value::String(s), ValueType::String | ValueType::Date | ValueType::Timestamp) => {
                Scalar::parse(s, ty)
            }
            _ => None,
        }
    }

    fn compare(&self, other: &Scalar) -> Option<Ordering> {
        match (self, other) {
            (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
            (Scalar::Int(a), Scalar::Int(b))
            | (Scalar::Date(a), Scalar::Date(b))
            | (Scalar::Timestamp(a), Scalar::Timestamp(b)) => Some(a.cmp(b)),
            (Scalar::Float(a), Scalar::Float(b)) => a.partial_cmp(b),
            (Scalar::Int(a), Scalar::Float(b)) => (*a as f64).partial_cmp(b),
            (Scalar::Float(a), Scalar::Int(b)) => a.partial_cmp(&(*b as f64)),
            (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// Parses an ISO-8601 / RFC 3339 time, or `yyyy-mm-dd hh:mm:ss[.f]` (taken as UTC), to epoch microseconds.
pub fn parse_timestamp_micros(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| {
        d.and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
            .timestamp_micros()
    })
}

/// What is known of one column's values in one file.
enum Known {
    /// Every row holds this value (partition column); `None` is null.
    Exact(Option<Scalar>),
    /// Bounds from statistics; a bound is `None` when unknown. `nulls` and `rows` may be unknown too.
    Range {
        min: Option<Scalar>,
        max: Option<Scalar>,
        nulls: Option<i64>,
        rows: Option<i64>,
    },
    Unknown,
}

/// Writers may truncate long strings in statistics; a max that long may be below the true max.
const STRING_STAT_PREFIX: usize = 32;

impl FileValues<'_> {
    fn column(&self, name: &str, ty: ValueType) -> Known {
        let Some(physical) = (self.physical)(name) else {
            return Known::Unknown;
        };
        if let Some(value) = self.partition_values.get(&physical) {
            return match value {
                None => Known::Exact(None),
                Some(s) if s.is_empty() && ty != ValueType::String => Known::Exact(None),
                Some(s) => match Scalar::parse(s, ty) {
                    Some(v) => Known::Exact(Some(v)),
                    None => Known::Unknown,
                },
            };
        }
        let Some(stats) = self.stats else {
            return Known::Unknown;
        };
        let min = lookup(&stats.min_values, &physical).and_then(|v| Scalar::from_stat(v, ty));
        let mut max = lookup(&stats.max_values, &physical).and_then(|v| Scalar::from_stat(v, ty));
        match &mut max {
            Some(Scalar::Str(s)) if s.chars().count() >= STRING_STAT_PREFIX => max = None,
            // Statistics keep milliseconds; the true max may be up to 1 ms later.
            Some(Scalar::Timestamp(t)) => *t += 1000,
            _ => {}
        }
        let nulls = lookup(&stats.null_count, &physical).and_then(Value::as_i64);
        Known::Range {
            min,
            max,
            nulls,
            rows: stats.num_records,
        }
    }

    fn eval(&self, predicate: &Predicate) -> Truth {
        match predicate {
            Predicate::And(children) => {
                let mut all = true;
                for child in children {
                    match self.eval(child) {
                        Truth::Never => return Truth::Never,
                        Truth::Maybe => all = false,
                        Truth::Always => {}
                    }
                }
                if all { Truth::Always } else { Truth::Maybe }
            }
            Predicate::Or(children) => {
                let mut none = true;
                for child in children {
                    match self.eval(child) {
                        Truth::Always => return Truth::Always,
                        Truth::Maybe => none = false,
                        Truth::Never => {}
                    }
                }
                if none { Truth::Never } else { Truth::Maybe }
            }
            Predicate::Not(child) => self.eval(child).not(),
            Predicate::IsNull(child) => match child.as_ref() {
                Predicate::Column(name, kind) => match self.column(name, kind.0) {
                    Known::Exact(v) => {
                        if v.is_none() {
                            Truth::Always
                        } else {
                            Truth::Never
                        }
                    }
                    Known::Range { nulls: Some(0), .. } => Truth::Never,
                    Known::Range {
                        nulls: Some(n),
                        rows: Some(r),
                        ..
                    } if n == r => Truth::Always,
                    _ => Truth::Maybe,
                },
                Predicate::Literal(..) => Truth::Never,
                _ => Truth::Maybe,
            },
            Predicate::Compare(cmp, left, right) => match (left.as_ref(), right.as_ref()) {
                (Predicate::Column(name, kind), Predicate::Literal(text, lit_kind)) => {
                    self.compare_column(name, kind.0, cmp.0, text, lit_kind.0)
                }
                (Predicate::Literal(text, lit_kind), Predicate::Column(name, kind)) => {
                    self.compare_column(name, kind.0, cmp.0.flip(), text, lit_kind.0)
                }
                _ => Truth::Maybe,
            },
            Predicate::Column(..) | Predicate::Literal(..) => Truth::Maybe,
        }
    }

    fn compare_column(
        &self,
        name: &str,
        ty: ValueType,
        cmp: Cmp,
        literal: &str,
        literal_ty: ValueType,
    ) -> Truth {
        let Some(lit) = Scalar::parse(literal, literal_ty) else {
            return Truth::Maybe;
        };
        match self.column(name, ty) {
            Known::Unknown => Truth::Maybe,
            Known::Exact(None) => Truth::Never,
            Known::Exact(Some(v)) => match v.compare(&lit) {
                None => Truth::Maybe,
                Some(ord) => {
                    if holds(cmp, ord) {
                        Truth::Always
                    } else {
                        Truth::Never
                    }
                }
            },
            Known::Range {
                min,
                max,
                nulls,
                rows,
            } => {
                if let (Some(n), Some(r)) = (nulls, rows)
                    && n == r
                    && r > 0
                {
                    return Truth::Never; // every value is null, and null compares to nothing
                }
                let min_ord = min.as_ref().and_then(|m| m.compare(&lit));
                let max_ord = max.as_ref().and_then(|m| m.compare(&lit));
                use Ordering::*;
                let never = match cmp {
                    Cmp::Eq => min_ord == Some(Greater) || max_ord == Some(Less),
                    Cmp::Lt => matches!(min_ord, Some(Greater | Equal)),
                    Cmp::Le => min_ord == Some(Greater),
                    Cmp::Gt => matches!(max_ord, Some(Less | Equal)),
                    Cmp::Ge => max_ord == Some(Less),
                };
                if never {
                    return Truth::Never;
                }
                let no_nulls = nulls == Some(0);
                let always = no_nulls
                    && match cmp {
                        Cmp::Eq => min_ord == Some(Equal) && max_ord == Some(Equal),
                        Cmp::Lt => max_ord == Some(Less),
                        Cmp::Le => matches!(max_ord, Some(Less | Equal)),
                        Cmp::Gt => min_ord == Some(Greater),
                        Cmp::Ge => matches!(min_ord, Some(Greater | Equal)),
                    };
                if always { Truth::Always } else { Truth::Maybe }
            }
        }
    }
}

fn holds(cmp: Cmp, ord: Ordering) -> bool {
    match cmp {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `or` of `n` comparisons `id = i` (two leaves each).
    fn wide(n: usize) -> String {
        let children: Vec<Value> = (0..n)
            .map(|i| {
                serde_json::json!({"op": "equal", "children": [
                    {"op": "column", "name": "id", "valueType": "long"},
                    {"op": "literal", "value": i.to_string(), "valueType": "long"},
                ]})
            })
            .collect();
        serde_json::json!({"op": "or", "children": children}).to_string()
    }

    #[test]
    fn a_predicate_of_more_than_a_thousand_leaves_is_ignored() {
        assert!(Predicate::parse(&wide(MAX_LEAVES / 2)).is_some());
        assert!(Predicate::parse(&wide(MAX_LEAVES / 2 + 1)).is_none());
        // Ignored means no file may be skipped: the 1.8 MiB hint of the review is one of these.
        assert!(Predicate::parse(&wide(20_000)).is_none());
    }

    fn judge(hint: &str, partition: &[(&str, Option<&str>)], stats: Option<&str>) -> Truth {
        let predicate = Predicate::parse(hint).expect("hint parses");
        let partition_values = partition
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect();
        let stats = stats.and_then(Stats::parse);
        predicate.evaluate(
            &partition_values,
            stats.as_ref(),
            &|n| Some(n.to_string()),
            true,
        )
    }

    fn eq(column: &str, ty: &str, value: &str) -> String {
        format!(
            r#"{{"op":"equal","children":[{{"op":"column","name":"{column}","valueType":"{ty}"}},{{"op":"literal","value":"{value}","valueType":"{ty}"}}]}}"#
        )
    }

    fn cmp(op: &str, column: &str, ty: &str, value: &str) -> String {
        eq(column, ty, value).replacen("equal", op, 1)
    }

    const STATS: &str = r#"{"numRecords":10,"minValues":{"n":5,"s":"b","d":"2021-01-10","t":"2021-01-01T00:00:00.000Z"},"maxValues":{"n":9,"s":"d","d":"2021-01-20","t":"2021-01-01T10:00:00.000Z"},"nullCount":{"n":0,"s":2,"d":0,"t":0}}"#;

    #[test]
    fn partition_values_decide_exactly() {
        assert_eq!(
            judge(&eq("p", "string", "a"), &[("p", Some("a"))], None),
            Truth::Always
        );
        assert_eq!(
            judge(&eq("p", "string", "a"), &[("p", Some("b"))], None),
            Truth::Never
        );
        assert_eq!(
            judge(&eq("p", "int", "7"), &[("p", None)], None),
            Truth::Never
        );
        let is_null =
            r#"{"op":"isNull","children":[{"op":"column","name":"p","valueType":"int"}]}"#;
        assert_eq!(judge(is_null, &[("p", None)], None), Truth::Always);
        assert_eq!(judge(is_null, &[("p", Some("1"))], None), Truth::Never);
    }

    #[test]
    fn statistics_skip_only_impossible_files() {
        assert_eq!(judge(&eq("n", "int", "4"), &[], Some(STATS)), Truth::Never);
        assert_eq!(judge(&eq("n", "int", "5"), &[], Some(STATS)), Truth::Maybe);
        assert_eq!(
            judge(&cmp("lessThan", "n", "int", "5"), &[], Some(STATS)),
            Truth::Never
        );
        assert_eq!(
            judge(&cmp("lessThanOrEqual", "n", "int", "5"), &[], Some(STATS)),
            Truth::Maybe
        );
        assert_eq!(
            judge(&cmp("greaterThan", "n", "int", "4"), &[], Some(STATS)),
            Truth::Always
        );
        assert_eq!(
            judge(&cmp("greaterThan", "n", "int", "9"), &[], Some(STATS)),
            Truth::Never
        );
        assert_eq!(
            judge(
                &cmp("greaterThanOrEqual", "n", "long", "9"),
                &[],
                Some(STATS)
            ),
            Truth::Maybe
        );
        assert_eq!(
            judge(&eq("d", "date", "2021-01-09"), &[], Some(STATS)),
            Truth::Never
        );
        assert_eq!(
            judge(&eq("d", "date", "2021-01-15"), &[], Some(STATS)),
            Truth::Maybe
        );
        // Nulls in s: never "always", still "never" when out of range.
        assert_eq!(
            judge(&cmp("greaterThan", "s", "string", "a"), &[], Some(STATS)),
            Truth::Maybe
        );
        assert_eq!(
            judge(&cmp("greaterThan", "s", "string", "d"), &[], Some(STATS)),
            Truth::Never
        );
        // Millisecond stats: a value inside the last millisecond may exist.
        assert_eq!(
            judge(
                &cmp(
                    "greaterThan",
                    "t",
                    "timestamp",
                    "2021-01-01T10:00:00.000500Z"
                ),
                &[],
                Some(STATS)
            ),
            Truth::Maybe
        );
        assert_eq!(
            judge(
                &cmp("greaterThan", "t", "timestamp", "2021-01-01T10:00:01Z"),
                &[],
                Some(STATS)
            ),
            Truth::Never
        );
    }

    #[test]
    fn unknowns_keep_the_file() {
        assert_eq!(judge(&eq("n", "int", "4"), &[], None), Truth::Maybe);
        assert_eq!(
            judge(&eq("missing", "int", "4"), &[], Some(STATS)),
            Truth::Maybe
        );
        assert_eq!(
            judge(&eq("n", "int", "not-a-number"), &[], Some(STATS)),
            Truth::Maybe
        );
        let long = format!(
            r#"{{"numRecords":1,"minValues":{{"s":"a"}},"maxValues":{{"s":"{}"}},"nullCount":{{"s":0}}}}"#,
            "a".repeat(32)
        );
        assert_eq!(
            judge(&cmp("greaterThan", "s", "string", "b"), &[], Some(&long)),
            Truth::Maybe
        );
        assert!(Predicate::parse(r#"{"op":"like","children":[]}"#).is_none());
        assert!(Predicate::parse("not json").is_none());
    }

    #[test]
    fn logic_combines_conservatively() {
        let and = format!(
            r#"{{"op":"and","children":[{},{}]}}"#,
            eq("p", "string", "a"),
            eq("n", "int", "4")
        );
        assert_eq!(judge(&and, &[("p", Some("a"))], Some(STATS)), Truth::Never);
        let or = format!(
            r#"{{"op":"or","children":[{},{}]}}"#,
            eq("p", "string", "b"),
            eq("n", "int", "6")
        );
        assert_eq!(judge(&or, &[("p", Some("a"))], Some(STATS)), Truth::Maybe);
        let not = format!(r#"{{"op":"not","children":[{}]}}"#, eq("p", "string", "a"));
        assert_eq!(judge(&not, &[("p", Some("a"))], None), Truth::Never);
        let not_maybe = format!(r#"{{"op":"not","children":[{}]}}"#, eq("n", "int", "6"));
        assert_eq!(judge(&not_maybe, &[], Some(STATS)), Truth::Maybe);
    }
}
