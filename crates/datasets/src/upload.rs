//! Uploads: presigned URLs for a new version's files (S3, or the backend's own signed upload route on
//! local disk), receiving them on local disk, and abandoning them.

use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::store::{Upload, UploadFile};
use crate::*;

impl Datasets {
    /// Upload URLs for the files of a new version of the caller's dataset (by name, created on commit
    /// if new, or by id), or fresh URLs for an unprocessed upload.
    pub async fn presign(&self, owner: &str, request: PresignRequest) -> Result<PresignResponse> {
        let expires_at = now_ms() + self.settings.upload_expiry.as_millis() as i64;
        if let Some(upload_id) = &request.upload_id {
            let upload = self.owned_upload(owner, upload_id).await?;
            if let Some(version) = upload.committed_version {
                return Err(Error::Conflict(format!(
                    "upload {upload_id} was already processed as version {version}"
                )));
            }
            self.store.extend_upload(upload_id, expires_at).await?;
            return self.upload_urls(&upload, expires_at, true).await;
        }
        validate_files(&request.files)?;
        let (dataset_id, dataset_name) = match (&request.dataset_id, &request.name) {
            (Some(id), _) => {
                let dataset = self
                    .store
                    .dataset(owner, id)
                    .await?
                    .ok_or_else(|| not_found(id))?;
                (dataset.id, dataset.name)
            }
            (None, Some(name)) => {
                let name = validate_name(name)?;
                match self.store.dataset_by_name(owner, &name).await? {
                    Some(dataset) => (dataset.id, dataset.name),
                    None => (ids::dataset_id(), name),
                }
            }
            (None, None) => {
                return Err(Error::Invalid(
                    "give the dataset's name (or datasetId) and its files".into(),
                ));
            }
        };
        let upload_id = ids::upload_id();
        let mut files = Vec::with_capacity(request.files.len());
        for (index, spec) in request.files.iter().enumerate() {
            let key = format!(
                "{}/part-{index:05}-{upload_id}.parquet",
                table_key(&dataset_id)
            );
            let multipart = spec.size > self.settings.multipart_threshold;
            let multipart_id = match (&self.storage, multipart) {
                (_, false) => None,
                (Storage::Local { .. }, true) => Some(format!("{upload_id}-{index}")),
                (Storage::S3 { .. }, true) => Some(self.storage.start_multipart(&key).await?),
            };
            files.push(UploadFile {
                index: index as i64,
                name: spec.name.clone(),
                key,
                size: spec.size,
                sha256: spec.sha256.to_ascii_lowercase(),
                part_size: if multipart {
                    self.settings.part_size
                } else {
                    0
                },
                multipart_id,
            });
        }
        let upload = Upload {
            id: upload_id,
            owner: owner.to_string(),
            dataset_id,
            dataset_name,
            created_at: now_ms(),
            expires_at,
            committed_version: None,
            files,
        };
        self.store.insert_upload(&upload).await?;
        self.upload_urls(&upload, expires_at, false).await
    }

    /// The URLs of an upload; when `resuming`, also what storage already holds.
    async fn upload_urls(
        &self,
        upload: &Upload,
        expires_at: i64,
        resuming: bool,
    ) -> Result<PresignResponse> {
        let expires_in = Duration::from_millis((expires_at - now_ms()).max(1000) as u64);
        let mut files = Vec::with_capacity(upload.files.len());
        for file in &upload.files {
            let mut out = FileUpload {
                name: file.name.clone(),
                url: None,
                headers: Vec::new(),
                part_size: None,
                parts: Vec::new(),
                uploaded: false,
                received: Vec::new(),
            };
            if resuming {
                if file.part_size == 0 {
                    out.uploaded = self.storage.size(&file.key).await? == Some(file.size as u64);
                } else if let Some(id) = &file.multipart_id {
                    out.received = self
                        .storage
                        .received_parts(id, &file.key)
                        .await?
                        .into_iter()
                        .map(|(number, etag)| ReceivedPart { number, etag })
                        .collect();
                }
            }
            if file.part_size == 0 {
                let presigned = match &self.storage {
                    Storage::Local { .. } => self.local_url(upload, file, 0, expires_at),
                    Storage::S3 { .. } => {
                        self.storage
                            .presign_put(&file.key, file.size, &file.sha256, expires_in)
                            .await?
                    }
                };
                out.url = Some(presigned.url);
                out.headers = headers(presigned.headers);
            } else {
                out.part_size = Some(file.part_size);
                let count = part_count(file.size, file.part_size);
                for number in 1..=count {
                    let presigned = match &self.storage {
                        Storage::Local { .. } => self.local_url(upload, file, number, expires_at),
                        Storage::S3 { .. } => {
                            let id = file.multipart_id.as_deref().unwrap_or_default();
                            self.storage
                                .presign_part(&file.key, id, number as i32, expires_in)
                                .await?
                        }
                    };
                    out.parts.push(PartUpload {
                        number,
                        url: presigned.url,
                        headers: headers(presigned.headers),
                    });
                }
            }
            files.push(out);
        }
        Ok(PresignResponse {
            upload_id: upload.id.clone(),
            dataset_id: upload.dataset_id.clone(),
            expires_at: rfc3339(expires_at),
            files,
        })
    }

    fn local_url(&self, upload: &Upload, file: &UploadFile, part: i64, expires: i64) -> Presigned {
        let expires = expires / 1000;
        let signature = self
            .settings
            .secret
            .upload_signature(&upload.id, file.index, part, expires);
        Presigned {
            url: format!(
                "{}/upload/{}/{}?part={part}&expires={expires}&signature={signature}",
                self.settings.public_url.trim_end_matches('/'),
                upload.id,
                file.index
            ),
            headers: Vec::new(),
        }
    }

    /// Receives one file (`part` 0) or part (from 1) of a local upload through a signed URL. Returns
    /// the ETag to quote when processing. A request whose declared length (`Content-Length`) differs
    /// from what was presigned is refused before its body is read.
    pub async fn receive<S, E>(
        &self,
        target: &UploadTarget,
        declared: Option<u64>,
        body: S,
    ) -> Result<String>
    where
        S: Stream<Item = std::result::Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let forbidden = || Error::Forbidden("this upload URL is not valid".into());
        if !self.storage.is_local() || !ids::is_id(&target.upload_id, "up") {
            return Err(forbidden());
        }
        let expected = self.settings.secret.upload_signature(
            &target.upload_id,
            target.index,
            target.part,
            target.expires,
        );
        if !secret::same(&expected, &target.signature) {
            return Err(forbidden());
        }
        if target.expires * 1000 < now_ms() {
            return Err(Error::Forbidden(
                "this upload URL has expired; presign the upload again".into(),
            ));
        }
        let upload = self
            .store
            .upload(&target.upload_id)
            .await?
            .ok_or_else(forbidden)?;
        if upload.committed_version.is_some() {
            return Err(Error::Conflict(format!(
                "upload {} was already processed",
                upload.id
            )));
        }
        let file = upload
            .files
            .iter()
            .find(|f| f.index == target.index)
            .ok_or_else(forbidden)?;
        let (key, limit, sha256) = if target.part == 0 {
            if file.part_size != 0 {
                return Err(forbidden());
            }
            (
                file.key.clone(),
                file.size as u64,
                Some(file.sha256.as_str()),
            )
        } else {
            let count = part_count(file.size, file.part_size);
            if file.part_size == 0 || target.part > count {
                return Err(forbidden());
            }
            let start = (target.part - 1) * file.part_size;
            let length = file.part_size.min(file.size - start);
            let id = file.multipart_id.as_deref().unwrap_or_default();
            (
                format!(".uploads/{id}/{}", target.part),
                length as u64,
                None,
            )
        };
        match declared {
            Some(n) if n > limit => {
                return Err(Error::TooLarge(format!(
                    "{}: {n} bytes are more than the {limit} that were presigned",
                    describe_target(&file.name, target.part)
                )));
            }
            Some(n) if n < limit => {
                return Err(Error::Invalid(format!(
                    "{}: {n} bytes, but {limit} were presigned",
                    describe_target(&file.name, target.part)
                )));
            }
            _ => {}
        }
        let (written, digest) = self
            .storage
            .receive(&key, body, limit, sha256)
            .await
            .map_err(|e| match e {
                Error::Invalid(m) => {
                    Error::Invalid(format!("{}: {m}", describe_target(&file.name, target.part)))
                }
                Error::TooLarge(m) => {
                    Error::TooLarge(format!("{}: {m}", describe_target(&file.name, target.part)))
                }
                other => other,
            })?;
        tracing::info!(
            upload = %upload.id,
            file = target.index,
            part = target.part,
            bytes = written,
            "received"
        );
        Ok(format!("\"{digest}\""))
    }

    /// Abandons one of the caller's unprocessed uploads (the user cancelled it): forgets it, so that
    /// its URLs and a later `process` are refused, then deletes what storage already received.
    pub async fn abort(&self, owner: &str, upload_id: &str) -> Result<()> {
        let upload = self
            .store
            .delete_upload(owner, upload_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no upload {upload_id:?}")))?;
        for file in &upload.files {
            self.storage
                .delete_object(&file.key, file.multipart_id.as_deref())
                .await?;
        }
        // A commit of it that failed after writing its log entry left that entry: remove it too.
        let next = match self.store.dataset(owner, &upload.dataset_id).await? {
            Some(d) => d.version + 1,
            None => 0,
        };
        let key = delta_log::entry_key(&table_key(&upload.dataset_id), next);
        if let Some(found) = self.storage.get(&key).await?
            && delta_log::upload_of(&found).as_deref() == Some(upload_id)
        {
            self.storage.delete_object(&key, None).await?;
        }
        tracing::info!(
            upload = upload_id,
            files = upload.files.len(),
            "aborted upload"
        );
        Ok(())
    }

    pub(crate) async fn owned_upload(&self, owner: &str, upload_id: &str) -> Result<Upload> {
        match self.store.upload(upload_id).await? {
            Some(upload) if upload.owner == owner => Ok(upload),
            _ => Err(Error::NotFound(format!("no upload {upload_id:?}"))),
        }
    }
}
