//! The caller's recipients: list, add, revoke, rotate, activation links; grants of datasets to them,
//! their snippets, and the activity of the caller's datasets. One call of the backend each, with its own
//! ID token, as in `datasets.rs`.

use std::time::Duration;

use delta_bridge_api::{
    ActivationLink, Activity, DatasetRef, GrantRequest, GrantResponse, NewRecipient,
    RecipientChange, RecipientInfo, RecipientName, ShareResponse,
};

use crate::{Client, Result};

/// Which reads to list.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Only this dataset's.
    pub dataset: Option<DatasetRef>,
    /// Only this recipient's (`link`: through a dataset's snippet).
    pub recipient: Option<RecipientName>,
    /// Only from this time on (RFC 3339).
    pub since: Option<String>,
    /// At most this many (the backend's default 200, at most 1,000).
    pub limit: Option<i64>,
}

impl Client {
    /// The caller's recipients, by name, with their datasets and last reads.
    pub async fn recipients(&self) -> Result<Vec<RecipientInfo>> {
        let token = self.id_token().await?;
        Ok(self.backend().recipients(&token).await?.recipients)
    }

    /// Adds a recipient (its credential reads nothing until a dataset is shared with it).
    pub async fn add_recipient(&self, new: &NewRecipient) -> Result<RecipientInfo> {
        let token = self.id_token().await?;
        self.backend().add_recipient(&token, new).await
    }

    /// Revokes a recipient: every grant ends and its credential stops working.
    pub async fn revoke_recipient(&self, name: &RecipientName) -> Result<RecipientChange> {
        let token = self.id_token().await?;
        self.backend().revoke_recipient(&token, name).await
    }

    /// Gives a recipient a new credential; the old one keeps working for `overlap`.
    pub async fn rotate_recipient(
        &self,
        name: &RecipientName,
        overlap: Duration,
    ) -> Result<RecipientChange> {
        let token = self.id_token().await?;
        self.backend().rotate_recipient(&token, name, overlap).await
    }

    /// A new one-time activation link for a recipient.
    pub async fn activation_link(&self, name: &RecipientName) -> Result<ActivationLink> {
        let token = self.id_token().await?;
        self.backend().activation_link(&token, name).await
    }

    /// Shares a dataset with recipients (made when they do not exist yet); each answer holds that
    /// recipient's snippet.
    pub async fn grant(
        &self,
        dataset: &DatasetRef,
        recipients: &[RecipientName],
        with_history: bool,
    ) -> Result<GrantResponse> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend()
            .grant(
                &token,
                &GrantRequest {
                    dataset_id: id.to_string(),
                    recipients: recipients.to_vec(),
                    with_history,
                },
            )
            .await
    }

    /// A recipient's snippet of a dataset shared with them (`link`: the dataset's link snippet).
    pub async fn snippet_for(
        &self,
        dataset: &DatasetRef,
        recipient: &RecipientName,
    ) -> Result<ShareResponse> {
        let id = self.resolve(dataset).await?;
        let token = self.id_token().await?;
        self.backend()
            .snippet_for(&token, id.as_str(), recipient)
            .await
    }

    /// Reads of the caller's datasets, newest first.
    pub async fn activity(&self, filter: &ActivityFilter) -> Result<Activity> {
        let mut query = Vec::new();
        if let Some(dataset) = &filter.dataset {
            query.push(("dataset", self.resolve(dataset).await?.to_string()));
        }
        if let Some(recipient) = &filter.recipient {
            query.push(("recipient", recipient.to_string()));
        }
        if let Some(since) = &filter.since {
            query.push(("since", since.clone()));
        }
        if let Some(limit) = filter.limit {
            query.push(("limit", limit.to_string()));
        }
        let token = self.id_token().await?;
        self.backend().activity(&token, &query).await
    }
}
