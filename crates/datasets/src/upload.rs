//! Uploads: presigned URLs for a new version's files (S3, or the backend's own signed upload route on
//! local disk), receiving them on local disk, and abandoning them.

use std::time::Duration;

use bytes::Bytes;
use futures::Stream;

use crate::store::{Upload, UploadFile};
use crate::*;

impl Datasets {
    /// Upload URLs for the files of a new version of the caller's dataset (by name, created on commit
    /// if new, or by id), or fresh URLs for an unprocessed upload (its next page with `page`). An
    /// answer holds at most [`Limits::urls_per_answer`] URLs.
    pub async fn presign(&self, owner: &str, request: PresignRequest) -> Result<PresignResponse> {
        let expires_at = now_ms() + self.settings.upload_expiry.as_millis() as i64;
        if let Some(upload_id) = &request.upload_id {
            let upload = self.owned_upload(owner, upload_id).await?;
            if let Some(version) = upload.committed_version {
                return Err(Error::Conflict(format!(
                    "upload {upload_id} was already processed as version {version}"
                )));
            }
            if !request.files.is_empty() {
                return self.add_files(upload, &request, expires_at).await;
            }
            let page = match &request.page {
                Some(page) => Page::parse(page, &upload)?,
                None => Page::FIRST,
            };
            self.store.extend_upload(upload_id, expires_at).await?;
            return self.upload_urls(&upload, expires_at, true, page).await;
        }
        if request.page.is_some() {
            return Err(Error::Invalid(
                "page: give it with the uploadId whose answer said nextPage".into(),
            ));
        }
        validate_files(&request.files)?;
        let total: i64 = request.files.iter().map(|f| f.size).sum();
        self.check_upload_limits(request.files.len(), total)?;
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
        self.check_quota(owner, &dataset_id, total).await?;
        let upload_id = ids::upload_id();
        let files = self
            .upload_files(&upload_id, &dataset_id, 0, &request.files)
            .await?;
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
        if let Err(e) = self.store.insert_upload(&upload).await {
            self.abandon_multiparts(&upload.files).await;
            return Err(e);
        }
        self.upload_urls(&upload, expires_at, false, Page::FIRST)
            .await
    }

    /// Adds files to an unprocessed upload (a client sending each file as its conversion closes it) and
    /// answers the URLs of the upload's files from the first of them on. A file the upload already has
    /// under that name, with the same size and SHA-256, is not added again (a retried request).
    async fn add_files(
        &self,
        mut upload: Upload,
        request: &PresignRequest,
        expires_at: i64,
    ) -> Result<PresignResponse> {
        if request.page.is_some() {
            return Err(Error::Invalid(
                "page: give it without files, to fetch the next page of an upload's URLs".into(),
            ));
        }
        validate_files(&request.files)?;
        let mut first = None;
        let mut new = Vec::new();
        for (i, spec) in request.files.iter().enumerate() {
            match upload.files.iter().find(|f| f.name == spec.name) {
                Some(known)
                    if known.size == spec.size
                        && known.sha256.eq_ignore_ascii_case(&spec.sha256) =>
                {
                    first = Some(first.map_or(known.index, |f: i64| f.min(known.index)));
                }
                Some(_) => {
                    return Err(Error::Conflict(format!(
                        "files[{i}]: upload {} already has a file named {:?} with other contents",
                        upload.id, spec.name
                    )));
                }
                None => new.push(spec.clone()),
            }
        }
        if !new.is_empty() {
            let adding: i64 = new.iter().map(|f| f.size).sum();
            let held: i64 = upload.files.iter().map(|f| f.size).sum();
            self.check_upload_limits(upload.files.len() + new.len(), held + adding)?;
            self.check_quota(&upload.owner, &upload.dataset_id, adding)
                .await?;
            let next = upload.files.len() as i64;
            let added = self
                .upload_files(&upload.id, &upload.dataset_id, next, &new)
                .await?;
            if let Err(e) = self.store.add_upload_files(&upload.id, &added).await {
                self.abandon_multiparts(&added).await;
                return Err(e);
            }
            first = Some(first.map_or(next, |f| f.min(next)));
            upload.files.extend(added);
        }
        self.store.extend_upload(&upload.id, expires_at).await?;
        let page = Page {
            file: first.unwrap_or(0),
            part: 0,
        };
        self.upload_urls(&upload, expires_at, false, page).await
    }

    /// Refuses an upload of more files or bytes than one may hold.
    fn check_upload_limits(&self, files: usize, bytes: i64) -> Result<()> {
        let limits = &self.settings.limits;
        if files > limits.files_per_upload {
            return Err(Error::Invalid(format!(
                "files: {files} files, but an upload holds at most {}; upload the rest as another version (append)",
                limits.files_per_upload
            )));
        }
        if bytes > limits.bytes_per_upload {
            return Err(Error::TooLarge(format!(
                "files: {} in all, but an upload holds at most {}; upload them as several versions (append)",
                bytes_text(bytes),
                bytes_text(limits.bytes_per_upload)
            )));
        }
        Ok(())
    }

    /// Aborts the S3 multipart uploads started for files the store then refused (another request
    /// added files first, or the upload started being processed), so that none is left behind.
    async fn abandon_multiparts(&self, files: &[UploadFile]) {
        if !matches!(self.storage, Storage::S3 { .. }) {
            // On local disk nothing is started before the first part arrives.
            return;
        }
        for file in files {
            if let Some(id) = &file.multipart_id
                && let Err(e) = self.storage.delete_object(&file.key, Some(id)).await
            {
                tracing::warn!(
                    key = %file.key,
                    detail = e.detail().unwrap_or_default(),
                    "could not abort a multipart upload the store refused; the bucket's lifecycle rule will"
                );
            }
        }
    }

    /// The records of files to upload, numbered from `first`: their object keys, and their S3 multipart
    /// uploads started when they are split.
    async fn upload_files(
        &self,
        upload_id: &str,
        dataset_id: &str,
        first: i64,
        specs: &[FileSpec],
    ) -> Result<Vec<UploadFile>> {
        let mut files = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let index = first + i as i64;
            let key = format!(
                "{}/part-{index:05}-{upload_id}.parquet",
                table_key(dataset_id)
            );
            let multipart = spec.size > self.settings.multipart_threshold;
            let multipart_id = match (&self.storage, multipart) {
                (_, false) => None,
                (Storage::Local { .. }, true) => Some(format!("{upload_id}-{index}")),
                (Storage::S3 { .. }, true) => Some(self.storage.start_multipart(&key).await?),
            };
            files.push(UploadFile {
                index,
                name: spec.name.clone(),
                key,
                size: spec.size,
                sha256: spec.sha256.to_ascii_lowercase(),
                part_size: if multipart {
                    part_size_for(spec.size, self.settings.part_size)
                } else {
                    0
                },
                multipart_id,
                verified: false,
            });
        }
        Ok(files)
    }

    /// One page of an upload's URLs, from `page` on; when `resuming`, also what storage already holds.
    async fn upload_urls(
        &self,
        upload: &Upload,
        expires_at: i64,
        resuming: bool,
        page: Page,
    ) -> Result<PresignResponse> {
        let expires_in = Duration::from_millis((expires_at - now_ms()).max(1000) as u64);
        let mut files = Vec::new();
        let mut urls = 0usize;
        let mut next_page = None;
        let per_answer = self.settings.limits.urls_per_answer.clamp(1, PAGE_URLS);
        for file in upload.files.iter().skip(page.file as usize) {
            if urls == per_answer {
                next_page = Some(Page {
                    file: file.index,
                    part: 0,
                });
                break;
            }
            let first_part = if file.index == page.file {
                page.part.max(1)
            } else {
                1
            };
            let mut out = FileUpload {
                name: file.name.clone(),
                url: None,
                headers: Vec::new(),
                part_size: None,
                parts: Vec::new(),
                uploaded: false,
                received: Vec::new(),
            };
            if resuming && first_part == 1 {
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
                urls += 1;
            } else {
                out.part_size = Some(file.part_size);
                let count = part_count(file.size, file.part_size);
                for number in first_part..=count {
                    if urls == per_answer {
                        next_page = Some(Page {
                            file: file.index,
                            part: number,
                        });
                        break;
                    }
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
                    urls += 1;
                }
            }
            files.push(out);
            if next_page.is_some() {
                break;
            }
        }
        Ok(PresignResponse {
            upload_id: upload.id.clone(),
            dataset_id: upload.dataset_id.clone(),
            expires_at: rfc3339(expires_at),
            files,
            next_page: next_page.map(|p| p.to_string()),
        })
    }

    /// Refuses an upload that would take the owner past their quota of datasets or stored bytes
    /// (counting what their unprocessed uploads will add).
    async fn check_quota(&self, owner: &str, dataset_id: &str, adding: i64) -> Result<()> {
        let limits = &self.settings.limits;
        let usage = self.store.usage(owner).await?;
        let new_dataset = self.store.dataset(owner, dataset_id).await?.is_none();
        if new_dataset && usage.datasets >= limits.datasets_per_user {
            return Err(Error::Quota(format!(
                "you have {} datasets, the most this server keeps for one user; delete one first",
                usage.datasets
            )));
        }
        let after = usage.stored_bytes + usage.pending_bytes + adding;
        if after > limits.bytes_per_user {
            return Err(Error::Quota(format!(
                "this upload ({}) would take your storage to {} (datasets {} and unprocessed uploads {}), past your quota of {}; delete a dataset or abort an upload first",
                bytes_text(adding),
                bytes_text(after),
                bytes_text(usage.stored_bytes),
                bytes_text(usage.pending_bytes),
                bytes_text(limits.bytes_per_user)
            )));
        }
        Ok(())
    }

    fn local_url(&self, upload: &Upload, file: &UploadFile, part: i64, expires: i64) -> Presigned {
        let expires = expires / 1000;
        let signature = self
            .settings
            .secrets
            .current()
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
        // Any of the secrets: a URL signed before a rotation stays valid until it expires.
        if !self.settings.secrets.signed_upload(
            &target.signature,
            &target.upload_id,
            target.index,
            target.part,
            target.expires,
        ) {
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
        if target.part == 0 {
            // Its SHA-256 was checked as it arrived: /process need not read it back.
            self.store.file_verified(&upload.id, file.index).await?;
        }
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

    /// Aborts unprocessed uploads whose URLs expired (S3 multipart uploads aborted, received parts and
    /// files deleted) and removes temporaries an interrupted upload left on local disk. Runs from
    /// [`Datasets::maintain`]; says what it freed.
    pub async fn sweep(&self) -> Result<Swept> {
        let now = now_ms();
        let attempts_before = now - 2 * self.settings.commit_lease.as_millis() as i64;
        let mut swept = Swept::default();
        for (owner, id) in self
            .store
            .expired_uploads(now, attempts_before, 100)
            .await?
        {
            let bytes: i64 = match self.store.upload(&id).await? {
                Some(upload) => upload.files.iter().map(|f| f.size).sum(),
                None => continue,
            };
            match self.abort(&owner, &id).await {
                Ok(()) => {
                    swept.uploads += 1;
                    swept.bytes += bytes;
                }
                // Processed or aborted meanwhile.
                Err(Error::Conflict(_) | Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        swept.temporaries = self
            .storage
            .remove_stale_temporaries(STALE_TEMPORARY)
            .await?;
        metrics::counter!("delta_bridge_swept_uploads_total").increment(swept.uploads as u64);
        metrics::counter!("delta_bridge_swept_bytes_total").increment(swept.bytes.max(0) as u64);
        if swept != Swept::default() {
            tracing::info!(
                uploads = swept.uploads,
                presigned_bytes = swept.bytes,
                temporaries = swept.temporaries,
                "swept expired uploads"
            );
        }
        Ok(swept)
    }

    pub(crate) async fn owned_upload(&self, owner: &str, upload_id: &str) -> Result<Upload> {
        match self.store.upload(upload_id).await? {
            Some(upload) if upload.owner == owner => Ok(upload),
            _ => Err(Error::NotFound(format!("no upload {upload_id:?}"))),
        }
    }
}

/// A temporary of an interrupted local upload untouched this long is removed.
const STALE_TEMPORARY: Duration = Duration::from_secs(15 * 60);

/// What a [`Datasets::sweep`] freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Expired uploads aborted.
    pub uploads: usize,
    /// The bytes they had presigned.
    pub bytes: i64,
    /// Temporaries of interrupted uploads removed.
    pub temporaries: usize,
}

/// Most URLs in one `/presign` answer (the default of [`Limits::urls_per_answer`], and its maximum).
pub const PAGE_URLS: usize = 10_000;

/// Most parts of one file (S3's limit).
pub const MAX_PARTS: i64 = 10_000;

/// Bytes per part of a file of `size` bytes: the configured size, grown (in whole MiB) so that the file
/// needs at most [`MAX_PARTS`] parts.
pub(crate) fn part_size_for(size: i64, configured: i64) -> i64 {
    const MIB: i64 = 1 << 20;
    if part_count(size, configured) <= MAX_PARTS {
        return configured;
    }
    let least = (size + MAX_PARTS - 1) / MAX_PARTS;
    (least + MIB - 1) / MIB * MIB
}

/// Where a page of an upload's URLs starts: a file, and its part (0 for a file sent whole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Page {
    file: i64,
    part: i64,
}

impl Page {
    const FIRST: Page = Page { file: 0, part: 0 };

    fn parse(text: &str, upload: &Upload) -> Result<Page> {
        let invalid = || {
            Error::Invalid(format!(
                "page {text:?} is not one this upload's answers gave"
            ))
        };
        let (file, part) = text.split_once('.').ok_or_else(invalid)?;
        let page = Page {
            file: file.parse().map_err(|_| invalid())?,
            part: part.parse().map_err(|_| invalid())?,
        };
        let file = upload
            .files
            .iter()
            .find(|f| f.index == page.file)
            .ok_or_else(invalid)?;
        let parts = if file.part_size == 0 {
            0
        } else {
            part_count(file.size, file.part_size)
        };
        if page.part < 0 || page.part > parts {
            return Err(invalid());
        }
        Ok(page)
    }
}

impl std::fmt::Display for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.file, self.part)
    }
}

/// `1.5 GiB`: bytes for people.
pub(crate) fn bytes_text(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_grow_so_a_file_never_needs_more_than_ten_thousand() {
        let sixteen = 16 << 20;
        assert_eq!(part_size_for(1 << 30, sixteen), sixteen);
        assert_eq!(part_size_for(2666, 700), 700);
        for size in [156i64 << 30, 157 << 30, 1 << 40, MAX_FILE_SIZE] {
            let part = part_size_for(size, sixteen);
            assert!(part_count(size, part) <= MAX_PARTS, "{size}: {part}");
            assert_eq!(part % (1 << 20), 0);
        }
        assert!(
            part_size_for(MAX_FILE_SIZE, sixteen) <= 5 << 30,
            "S3's largest part"
        );
    }

    #[test]
    fn bytes_read_as_people_say_them() {
        assert_eq!(bytes_text(512), "512 bytes");
        assert_eq!(bytes_text(3 << 29), "1.5 GiB");
    }
}
