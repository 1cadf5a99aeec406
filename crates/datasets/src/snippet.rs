//! The notebook snippet of a shared dataset: an install line, the profile, and code for pandas (the
//! official `delta-sharing` client) and Spark (the `deltaSharing` format).
//!
//! Every string put into the Python is written as a JSON string, which is also a valid Python string
//! literal whatever it holds (combining marks, right-to-left marks, emoji, quotes, backslashes, line
//! breaks), so the snippet compiles for every dataset name.

use delta_bridge_api::Snippet;
use serde_json::json;

use crate::share_file::{SCHEMA, table_name};

/// Longest profile file name before `.share`, in bytes: file systems allow 255 bytes, and a dataset
/// name of 200 letters of a non-Latin script can take 800.
const PROFILE_STEM_BYTES: usize = 120;

/// The snippet for a dataset shared by link at `endpoint` (the URL recipients reach) with `token`.
pub fn snippet(dataset_id: &str, dataset_name: &str, endpoint: &str, token: &str) -> Snippet {
    build(&Reader {
        dataset_id,
        table: &format!("{dataset_id}.{SCHEMA}.{}", table_name(dataset_name)),
        profile_stem: dataset_name,
        endpoint,
        token,
        expires_at: None,
    })
}

/// Who reads which table with which credential.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    /// The dataset.
    pub dataset_id: &'a str,
    /// `share.schema.table`.
    pub table: &'a str,
    /// What the profile file is named after (cleaned and cut as a table name).
    pub profile_stem: &'a str,
    /// The sharing server's URL.
    pub endpoint: &'a str,
    /// The credential.
    pub token: &'a str,
    /// When the credential expires (RFC 3339): the profile's `expirationTime`.
    pub expires_at: Option<&'a str>,
}

/// The profile file's JSON (version 1, with `expirationTime` when the credential expires).
pub fn profile(endpoint: &str, token: &str, expires_at: Option<&str>) -> serde_json::Value {
    let mut profile = json!({
        "shareCredentialsVersion": 1,
        "endpoint": endpoint,
        "bearerToken": token,
    });
    if let Some(at) = expires_at {
        profile["expirationTime"] = json!(at);
    }
    profile
}

/// The snippet for one reader of one table.
pub fn build(reader: &Reader) -> Snippet {
    let table = reader.table;
    let profile = profile(reader.endpoint, reader.token, reader.expires_at);
    let write_profile = format!(
        "import json\n\nprofile = {}\nwith open(profile, \"w\") as f:\n    json.dump({}, f)\n",
        python_str(&profile_file(reader.profile_stem)),
        python_literal(&profile)
    );
    let (python, spark) = code(&write_profile, table);
    Snippet {
        dataset_id: reader.dataset_id.to_string(),
        table: table.to_string(),
        profile,
        install: "pip install delta-sharing".to_string(),
        python,
        spark,
    }
}

/// The pandas and Spark code reading `table` (`share.schema.table`) through the profile file the
/// variable `profile` names, after `prelude` (which sets it).
pub fn code(prelude: &str, table: &str) -> (String, String) {
    let fragment = python_str(&format!("#{table}"));
    let python = format!(
        "{prelude}\nimport delta_sharing\n\ndf = delta_sharing.load_as_pandas(profile + {fragment})\ndf.head()\n"
    );
    let spark = format!(
        "{prelude}\n# Spark with the io.delta:delta-sharing-spark package\ndf = spark.read.format(\"deltaSharing\").load(profile + {fragment})\ndf.show()\n"
    );
    (python, spark)
}

/// The profile file the snippet writes: the table name, cut to whole characters within
/// [`PROFILE_STEM_BYTES`], then `.share`.
pub fn profile_file(name: &str) -> String {
    let stem = table_name(name);
    let mut end = stem.len().min(PROFILE_STEM_BYTES);
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}.share", &stem[..end])
}

/// A Python string literal holding `text`: JSON's string syntax is a subset of Python's.
pub fn python_str(text: &str) -> String {
    serde_json::to_string(text).expect("a string serializes")
}

/// JSON objects of strings and numbers are valid Python dict literals.
fn python_literal(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("a JSON value serializes")
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use serde_json::Value;

    use super::*;

    /// Pieces of names: every script, combining marks, emoji and their sequences, direction marks,
    /// and what Python or JSON could trip on.
    const PIECES: &[&str] = &[
        "sales",
        "Prénom",
        "Åßø",
        "Данные",
        "щётка",
        "Ωμέγα",
        "λόγος",
        "गुरु",
        "हिंदी",
        "क्षत्रिय",
        "বাংলা",
        "ক্ষিপ্র",
        "مَرْحَبًا",
        "بِسْمِ",
        "شَدَّة",
        "שָׁלוֹם",
        "עברית",
        "数据表",
        "データ",
        "데이터",
        "தமிழ்",
        "ภาษาไทย",
        "😀",
        "👨‍👩‍👧",
        "🇮🇳",
        "👍🏽",
        "\u{200F}",
        "\u{200E}",
        "\u{202E}",
        "\u{200D}",
        "\u{200C}",
        "\u{FEFF}",
        "e\u{301}",
        "\"",
        "'",
        "'''",
        "\"\"\"",
        "\\",
        "\\u0041",
        "\\N{DASH}",
        "\n",
        "\r\n",
        "\t",
        "\u{2028}",
        "\u{2029}",
        "\u{85}",
        "\u{0}",
        "\u{7F}",
        "#",
        ".",
        " ",
        "{}",
        "%s",
        "$x",
        "٣",
        "²",
        "_",
    ];

    fn random_names(count: usize) -> Vec<String> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        (0..count)
            .map(|_| {
                (0..1 + next(8))
                    .map(|_| PIECES[next(PIECES.len())])
                    .collect()
            })
            .collect()
    }

    /// Compiles each snippet with Python's `compile()` (warnings count as errors), runs the part
    /// that writes the profile in an empty directory, and answers per snippet: the file written and
    /// what it holds, the table URL fragment both snippets add to the profile path, and `literal`
    /// read back as a Python string literal.
    const CHECK: &str = r#"
import ast, json, os, sys, tempfile, warnings
warnings.simplefilter("error")
answers = []
for case in json.load(sys.stdin):
    answer = {}
    for key in ("python", "spark"):
        try:
            compile(case[key], key, "exec")
        except SyntaxError:
            print(repr(case[key]), file=sys.stderr)
            raise
        (added,) = [n for n in ast.walk(ast.parse(case[key])) if isinstance(n, ast.BinOp)]
        answer[key] = ast.literal_eval(added.right)
    head = case["python"].split("\nimport delta_sharing\n")[0]
    with tempfile.TemporaryDirectory() as directory:
        here = os.getcwd()
        os.chdir(directory)
        try:
            exec(compile(head, "profile", "exec"), {})
        finally:
            os.chdir(here)
        (written,) = os.listdir(directory)
        with open(os.path.join(directory, written)) as f:
            answer["profile"] = json.load(f)
        answer["file"] = written
    answer["literal"] = ast.literal_eval(case["literal"])
    answers.append(answer)
json.dump(answers, sys.stdout)
"#;

    /// Runs [`CHECK`] with `python3` (scripts/setup.sh makes sure there is one); without Python the
    /// test fails.
    fn python_check(cases: &[Value]) -> Vec<Value> {
        let mut child = Command::new("python3")
            .args(["-c", CHECK])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (this test needs it on PATH)");
        let input = serde_json::to_vec(cases).unwrap();
        child.stdin.take().unwrap().write_all(&input).unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    #[test]
    fn snippets_compile_and_write_the_expected_profile_for_every_name() {
        let mut names = vec![
            "गुरु sales".to_string(),
            "মূল্য তালিকা".to_string(),
            "مَبِيعَات".to_string(),
            "\"; import os #".to_string(),
            "!!!".to_string(),
            "क्षि".repeat(50),
        ];
        names.extend(random_names(400));
        let endpoint = "https://sharing.example/delta-sharing";
        let token = "t\"o'k\\en\n";
        let snippets: Vec<Snippet> = names
            .iter()
            .map(|name| snippet("ds_0123", name, endpoint, token))
            .collect();
        let cases: Vec<Value> = names
            .iter()
            .zip(&snippets)
            .map(|(name, s)| json!({"python": s.python, "spark": s.spark, "literal": python_str(name)}))
            .collect();
        let answers = python_check(&cases);
        assert_eq!(answers.len(), names.len());
        for ((name, s), answer) in names.iter().zip(&snippets).zip(&answers) {
            let table = table_name(name);
            let file = answer["file"].as_str().unwrap();
            assert_eq!(file, profile_file(name), "{name:?}");
            let stem = file.strip_suffix(".share").unwrap();
            if table.len() <= PROFILE_STEM_BYTES {
                assert_eq!(stem, table, "{name:?}");
            } else {
                assert!(table.starts_with(stem) && stem.len() > PROFILE_STEM_BYTES - 4);
            }
            assert_eq!(answer["profile"], s.profile, "{name:?}");
            assert_eq!(answer["profile"]["bearerToken"], token);
            let fragment = format!("#ds_0123.default.{table}");
            assert_eq!(answer["python"], fragment.as_str(), "{name:?}");
            assert_eq!(answer["spark"], fragment.as_str(), "{name:?}");
            assert_eq!(answer["literal"], name.as_str());
        }
        assert_eq!(answers[0]["file"], "गुरु_sales.share");
        assert_eq!(answers[2]["file"], "مَبِيعَات.share");
        assert_eq!(answers[4]["file"], "data.share");
    }
}
