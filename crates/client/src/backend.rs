//! The backend's API, typed (`delta_bridge_api`). Every call carries a fresh ID token.

use std::time::Duration;

use delta_bridge_api::{
    ActivationLink, Activity, DatasetDetail, DatasetPage, ErrorBody, GrantRequest, GrantResponse,
    NewRecipient, PresignRequest, PresignResponse, ProcessRequest, RecipientChange, RecipientInfo,
    RecipientList, RecipientName, RotateRequest, ShareResponse, UnshareResponse,
};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::secret::Secret;
use crate::transport::{self, Refusal};
use crate::{Error, Result};

/// The backend at a base URL.
#[derive(Debug, Clone)]
pub struct Backend {
    base: String,
    /// Why this URL must not receive tokens, if it must not: every call fails before sending.
    refusal: Option<Refusal>,
    http: reqwest::Client,
}

impl Backend {
    /// The backend at `base` (such as `http://127.0.0.1:8081`); with `insecure_http`, plain `http://` to
    /// another machine is allowed (otherwise every call fails before anything is sent).
    pub fn new(base: &str, insecure_http: bool) -> Backend {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(600))
            .build()
            .expect("an HTTP client builds");
        Backend {
            base: base.trim_end_matches('/').to_string(),
            refusal: transport::check("backend", base, insecure_http).err(),
            http,
        }
    }

    /// The base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: &Secret,
        body: Option<&B>,
    ) -> Result<T> {
        if let Some(refusal) = &self.refusal {
            return Err(refusal.clone().into());
        }
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            Error::Network(format!(
                "cannot reach the backend at {}: {}",
                self.base,
                if e.is_timeout() {
                    "timed out"
                } else {
                    "connection failed"
                }
            ))
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|_| {
            Error::Network(format!("the backend at {} stopped answering", self.base))
        })?;
        if status.is_success() {
            if text.is_empty() {
                return serde_json::from_value(serde_json::Value::Null)
                    .map_err(|_| Error::Network("the backend answered nothing".into()));
            }
            return serde_json::from_str(&text).map_err(|_| {
                Error::Network(format!(
                    "the backend at {} answered something else than its API",
                    self.base
                ))
            });
        }
        let (code, message) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error.code, body.error.message),
            Err(_) => ("HTTP".into(), format!("the backend answered HTTP {status}")),
        };
        if status.is_server_error() {
            return Err(Error::Failed {
                status: status.as_u16(),
                code,
                message,
            });
        }
        Err(Error::Refused {
            status: status.as_u16(),
            code,
            message,
        })
    }

    /// `POST /presign`.
    pub async fn presign(
        &self,
        token: &Secret,
        request: &PresignRequest,
    ) -> Result<PresignResponse> {
        // An answer holds at most 10,000 URLs; the rest come in pages, merged here file by file.
        let mut answer: PresignResponse = self
            .call(Method::POST, "/presign", token, Some(request))
            .await?;
        let mut next = answer.next_page.take();
        while let Some(page) = next {
            let request = PresignRequest {
                upload_id: Some(answer.upload_id.clone()),
                page: Some(page),
                ..Default::default()
            };
            let mut more: PresignResponse = self
                .call(Method::POST, "/presign", token, Some(&request))
                .await?;
            next = more.next_page.take();
            for file in more.files {
                match answer.files.iter_mut().find(|f| f.name == file.name) {
                    Some(known) => {
                        known.parts.extend(file.parts);
                        known.received.extend(file.received);
                    }
                    None => answer.files.push(file),
                }
            }
            answer.expires_at = more.expires_at;
        }
        Ok(answer)
    }

    /// `POST /process`.
    pub async fn process(&self, token: &Secret, request: &ProcessRequest) -> Result<DatasetDetail> {
        self.call(Method::POST, "/process", token, Some(request))
            .await
    }

    /// `GET /datasets` (one page).
    pub async fn datasets(&self, token: &Secret, cursor: Option<&str>) -> Result<DatasetPage> {
        let path = match cursor {
            Some(c) => format!("/datasets?limit=500&cursor={c}"),
            None => "/datasets?limit=500".to_string(),
        };
        self.call::<(), _>(Method::GET, &path, token, None).await
    }

    /// Every dataset of the caller (all pages).
    pub async fn all_datasets(&self, token: &Secret) -> Result<Vec<delta_bridge_api::DatasetInfo>> {
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.datasets(token, cursor.as_deref()).await?;
            all.extend(page.datasets);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// `GET /datasets/{id}`.
    pub async fn dataset(&self, token: &Secret, id: &str) -> Result<DatasetDetail> {
        self.call::<(), _>(
            Method::GET,
            &format!("/datasets/{}", encode(id)),
            token,
            None,
        )
        .await
    }

    /// `DELETE /datasets/{id}`: the dataset is forgotten at once; what is left (share.yaml, storage) the
    /// backend finishes by itself.
    pub async fn delete(&self, token: &Secret, id: &str) -> Result<()> {
        let _: serde_json::Value = self
            .call::<(), _>(
                Method::DELETE,
                &format!("/datasets/{}", encode(id)),
                token,
                None,
            )
            .await?;
        Ok(())
    }

    /// `DELETE /uploads/{id}`: abandons an unprocessed upload and what storage received of it.
    pub async fn abort_upload(&self, token: &Secret, upload_id: &str) -> Result<()> {
        let _: serde_json::Value = self
            .call::<(), _>(
                Method::DELETE,
                &format!("/uploads/{}", encode(upload_id)),
                token,
                None,
            )
            .await?;
        Ok(())
    }

    /// `POST /share`: recipients reach the current version and later ones; with `history`, the
    /// versions before it too.
    pub async fn share(&self, token: &Secret, id: &str, history: bool) -> Result<ShareResponse> {
        self.call(
            Method::POST,
            "/share",
            token,
            Some(&json!({"datasetId": id, "withHistory": history})),
        )
        .await
    }

    /// `POST /unshare`: from the named recipients (`link`: the snippet's), or from everyone.
    pub async fn unshare(
        &self,
        token: &Secret,
        id: &str,
        recipients: &[RecipientName],
    ) -> Result<UnshareResponse> {
        self.call(
            Method::POST,
            "/unshare",
            token,
            Some(&json!({"datasetId": id, "recipients": recipients})),
        )
        .await
    }

    /// `POST /grants`.
    pub async fn grant(&self, token: &Secret, request: &GrantRequest) -> Result<GrantResponse> {
        self.call(Method::POST, "/grants", token, Some(request))
            .await
    }

    /// `GET /snippet?recipient=`.
    pub async fn snippet_for(
        &self,
        token: &Secret,
        id: &str,
        recipient: &RecipientName,
    ) -> Result<ShareResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!(
                "/snippet?tableId={}&recipient={}",
                encode(id),
                encode(recipient.as_str())
            ),
            token,
            None,
        )
        .await
    }

    /// `GET /recipients`.
    pub async fn recipients(&self, token: &Secret) -> Result<RecipientList> {
        self.call::<(), _>(Method::GET, "/recipients", token, None)
            .await
    }

    /// `POST /recipients`.
    pub async fn add_recipient(&self, token: &Secret, new: &NewRecipient) -> Result<RecipientInfo> {
        self.call(Method::POST, "/recipients", token, Some(new))
            .await
    }

    /// `DELETE /recipients/{name}`.
    pub async fn revoke_recipient(
        &self,
        token: &Secret,
        name: &RecipientName,
    ) -> Result<RecipientChange> {
        self.call::<(), _>(
            Method::DELETE,
            &format!("/recipients/{}", segment(name.as_str())),
            token,
            None,
        )
        .await
    }

    /// `POST /recipients/{name}/rotate`.
    pub async fn rotate_recipient(
        &self,
        token: &Secret,
        name: &RecipientName,
        overlap: Duration,
    ) -> Result<RecipientChange> {
        self.call(
            Method::POST,
            &format!("/recipients/{}/rotate", segment(name.as_str())),
            token,
            Some(&RotateRequest {
                overlap_seconds: overlap.as_secs(),
            }),
        )
        .await
    }

    /// `POST /recipients/{name}/link`.
    pub async fn activation_link(
        &self,
        token: &Secret,
        name: &RecipientName,
    ) -> Result<ActivationLink> {
        self.call(
            Method::POST,
            &format!("/recipients/{}/link", segment(name.as_str())),
            token,
            Some(&json!({})),
        )
        .await
    }

    /// `GET /activity`.
    pub async fn activity(&self, token: &Secret, query: &[(&str, String)]) -> Result<Activity> {
        let query: String = query
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.call::<(), _>(Method::GET, &format!("/activity?{query}"), token, None)
            .await
    }

    /// `GET /snippet`.
    pub async fn snippet(&self, token: &Secret, id: &str) -> Result<ShareResponse> {
        self.call::<(), _>(
            Method::GET,
            &format!("/snippet?tableId={}", encode(id)),
            token,
            None,
        )
        .await
    }
}

/// Text as one URL path segment: every byte but the unreserved ones percent-encoded.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
