//! The notebook snippet of a shared dataset: an install line, the profile, and code for pandas (the
//! official `delta-sharing` client) and Spark (the `deltaSharing` format).

use serde::Serialize;
use serde_json::json;

use crate::share_file::{SCHEMA, table_name};

/// What the owner copies to a colleague. It holds the recipient token, so its `Debug` output hides it.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snippet {
    /// The dataset.
    pub dataset_id: String,
    /// `share.schema.table`, the part after `#` in a table URL.
    pub table: String,
    /// The profile file's JSON.
    pub profile: serde_json::Value,
    /// The install line.
    pub install: String,
    /// Python that loads the table into pandas.
    pub python: String,
    /// Python for Spark (with the delta-sharing-spark package).
    pub spark: String,
}

impl std::fmt::Debug for Snippet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snippet")
            .field("dataset_id", &self.dataset_id)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

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
