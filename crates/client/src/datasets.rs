//! The caller's datasets: list, one with its history, share, unshare, snippet, delete, and the lookup of
//! a dataset by name. Each method fetches (or refreshes) its own ID token, so the CLI and the app make one
//! call per command and never see a token.

use delta_bridge_api::{
    DatasetDetail, DatasetId, DatasetInfo, DatasetRef, RecipientName, ShareResponse,
    UnshareResponse,
};

use crate::{Client, Error, Result};

impl Client {
    /// Every dataset of the caller, newest first (all pages).
    pub async fn datasets(&self) -> Result<Vec<DatasetInfo>> {
        let token = self.id_token().await?;
        self.backend().all_datasets(&token).await
    }

    /// One dataset with its versions.
    pub async fn dataset(&self, dataset: &DatasetRef) -> Result<DatasetDetail> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend().dataset(&token, id.as_str()).await
    }

    /// The id of the dataset a person named: an id is taken as it is (the backend says whether it is
    /// one of the caller's when it is used); a name is looked up among the caller's datasets, and a name
    /// none has is [`Error::NoSuchDataset`].
    pub async fn resolve(&self, dataset: &DatasetRef) -> Result<DatasetId> {
        match dataset {
            DatasetRef::Id(id) => Ok(id.clone()),
            DatasetRef::Name(name) => self
                .datasets()
                .await?
                .into_iter()
                .find(|d| &d.name == name)
                .and_then(|d| d.id.parse().ok())
                .ok_or_else(|| Error::NoSuchDataset(name.clone())),
        }
    }

    /// Shares a dataset: recipients reach its current version and later ones; with `with_history`, the
    /// versions before it too. The answer holds the notebook snippet.
    pub async fn share(&self, dataset: &DatasetRef, with_history: bool) -> Result<ShareResponse> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend()
            .share(&token, id.as_str(), with_history)
            .await
    }

    /// Stops sharing a dataset with the named recipients (`link`: its snippet), or with everyone when
    /// none is named: their credentials stop reading it (once the answer's revocation is in force).
    pub async fn unshare(
        &self,
        dataset: &DatasetRef,
        recipients: &[RecipientName],
    ) -> Result<UnshareResponse> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend()
            .unshare(&token, id.as_str(), recipients)
            .await
    }

    /// A shared dataset's notebook snippet.
    pub async fn snippet(&self, dataset: &DatasetRef) -> Result<ShareResponse> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend().snippet(&token, id.as_str()).await
    }

    /// Deletes a dataset (unshared first, by the backend); answers its id. What is left to finish
    /// (the sharing configuration, storage) the backend finishes by itself.
    pub async fn delete(&self, dataset: &DatasetRef) -> Result<DatasetId> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend().delete(&token, id.as_str()).await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{fake_server, settings};

    const SALES: &str = "ds0123456789abcdef0123";

    fn listing() -> String {
        serde_json::json!({"datasets": [{
            "id": SALES, "name": "sales", "version": 0, "rows": 2, "bytes": 10, "schema": [],
            "shared": false, "createdAt": "", "updatedAt": ""
        }]})
        .to_string()
    }

    #[tokio::test]
    async fn names_resolve_to_ids_and_a_missing_name_is_a_typed_not_found() {
        let server = fake_server(|r| match r.path.as_str() {
            p if p.starts_with("/datasets?") => (200, listing()),
            _ => (
                404,
                r#"{"error":{"code":"NOT_FOUND","message":"no such dataset"}}"#.into(),
            ),
        });
        let state = tempfile::tempdir().unwrap();
        let client = Client::signed_in_for_tests(settings(&server.url, state.path()), "u").await;
        let sales: DatasetId = SALES.parse().unwrap();
        assert_eq!(
            client.resolve(&"sales".parse().unwrap()).await.unwrap(),
            sales
        );
        // An id needs no lookup.
        let before = server.requests.lock().unwrap().len();
        assert_eq!(
            client
                .resolve(&DatasetRef::Id(sales.clone()))
                .await
                .unwrap(),
            sales
        );
        assert_eq!(server.requests.lock().unwrap().len(), before);
        let e = client.resolve(&"q3".parse().unwrap()).await.unwrap_err();
        assert!(
            matches!(&e, Error::NoSuchDataset(name) if name == "q3"),
            "{e}"
        );
        assert_eq!(e.kind(), crate::Kind::Input);
        assert_eq!(e.to_string(), "you have no dataset named \"q3\"");
        // Nothing was invented: the not-found came from the list, no other request was made.
        let requests = server.requests.lock().unwrap().clone();
        assert!(
            requests.iter().all(|r| r.path.starts_with("/datasets?")),
            "{requests:?}"
        );
        // An id the backend does not know is the backend's refusal, with its status and code.
        let e = client
            .delete(&"ds00000000000000000000".parse().unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Refused { status: 404, code, .. } if code == "NOT_FOUND"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn each_call_carries_the_token_and_names_the_dataset_by_id() {
        let server = fake_server(|r| match (r.method.as_str(), r.path.as_str()) {
            (_, p) if p.starts_with("/datasets?") => (200, listing()),
            ("DELETE", _) => (204, String::new()),
            ("POST", "/unshare") => (
                200,
                serde_json::json!({"datasetId": SALES, "shared": false, "wasShared": true})
                    .to_string(),
            ),
            _ => (500, "{}".into()),
        });
        let state = tempfile::tempdir().unwrap();
        let client = Client::signed_in_for_tests(settings(&server.url, state.path()), "u").await;
        let deleted = client.delete(&"sales".parse().unwrap()).await.unwrap();
        assert_eq!(deleted.as_str(), SALES);
        let answer = client
            .unshare(&"sales".parse().unwrap(), &[])
            .await
            .unwrap();
        assert!(answer.was_shared);
        let requests = server.requests.lock().unwrap().clone();
        assert!(
            requests
                .iter()
                .any(|r| r.method == "DELETE" && r.path == format!("/datasets/{SALES}")),
            "{requests:?}"
        );
        assert!(
            requests
                .iter()
                .any(|r| r.path == "/unshare" && r.body.contains(SALES)),
            "{requests:?}"
        );
    }
}
