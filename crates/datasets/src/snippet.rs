//! The notebook snippet of a shared dataset: an install line, the profile, and code for pandas (the
//! official `delta-sharing` client) and Spark (the `deltaSharing` format).

use delta_bridge_api::Snippet;
use serde_json::json;

use crate::share_file::{SCHEMA, table_name};

/// The snippet for a dataset shared at `endpoint` (the URL recipients reach) with `token`.
pub fn snippet(dataset_id: &str, dataset_name: &str, endpoint: &str, token: &str) -> Snippet {
    let table = format!("{dataset_id}.{SCHEMA}.{}", table_name(dataset_name));
    let profile = json!({
        "shareCredentialsVersion": 1,
        "endpoint": endpoint,
        "bearerToken": token,
    });
    let file = format!("{}.share", table_name(dataset_name));
    let write_profile = format!(
        "import json\n\nprofile = {file:?}\nwith open(profile, \"w\") as f:\n    json.dump({}, f)\n",
        python_dict(&profile)
    );
    let python = format!(
        "{write_profile}\nimport delta_sharing\n\ndf = delta_sharing.load_as_pandas(profile + \"#{table}\")\ndf.head()\n"
    );
    let spark = format!(
        "{write_profile}\n# Spark with the io.delta:delta-sharing-spark package\ndf = spark.read.format(\"deltaSharing\").load(profile + \"#{table}\")\ndf.show()\n"
    );
    Snippet {
        dataset_id: dataset_id.to_string(),
        table,
        profile,
        install: "pip install delta-sharing".to_string(),
        python,
        spark,
    }
}

/// JSON objects of strings and numbers are valid Python dict literals.
fn python_dict(value: &serde_json::Value) -> String {
    serde_json::to_string(value).expect("a JSON value serializes")
}
