//! S3 for both servers: one client built the same way everywhere (credentials through the AWS SDK's
//! default chain, time limits on every call), and one reading of S3's failures by kind, so a permanent
//! one (credentials, permissions, a missing bucket) is reported to the operator with what to fix, and
//! only a transient one (a timeout, throttling, a 5xx) is worth a retry.

use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Where an S3-compatible server is, how to address it, and how long calls may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible server (`None`: AWS).
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Path-style addressing (`http://host/bucket/key`), as most S3-compatible servers need.
    pub path_style: bool,
    /// Time limits of every call.
    pub timeouts: S3Timeouts,
}

/// Time limits of S3 calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct S3Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// Waiting for the next bytes of a response.
    pub read: Duration,
    /// One attempt of a call (the SDK retries transient failures within the operation's time).
    pub attempt: Duration,
    /// A whole call, retries included.
    pub operation: Duration,
}

impl Default for S3Timeouts {
    fn default() -> Self {
        S3Timeouts {
            connect: Duration::from_secs(5),
            read: Duration::from_secs(30),
            attempt: Duration::from_secs(30),
            operation: Duration::from_secs(90),
        }
    }
}

/// An S3 client whose credentials come from the AWS SDK's default chain: the environment
/// (`AWS_ACCESS_KEY_ID`, ...), the shared config and credentials files and their profile
/// (`AWS_PROFILE`), SSO, web identity (EKS), the container's role (ECS) and the instance's role (EC2),
/// each refreshed before it expires. The chain is only asked when a call needs credentials; with
/// `check`, it is asked once now, and finding none is an error that says where it looked.
pub async fn s3_client(settings: &S3Settings, check: bool) -> Result<aws_sdk_s3::Client, String> {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(settings.region.clone()))
        .load()
        .await;
    if check {
        use aws_sdk_s3::config::ProvideCredentials;
        let provider = shared
            .credentials_provider()
            .ok_or_else(|| "no AWS credentials provider is configured".to_string())?;
        provider.provide_credentials().await.map_err(|e| {
            format!(
                "no AWS credentials were found (environment, profile, SSO, web identity, container or instance role): {}",
                DisplayErrorContext(&e)
            )
        })?;
    }
    let timeouts = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
        .connect_timeout(settings.timeouts.connect)
        .read_timeout(settings.timeouts.read)
        .operation_attempt_timeout(settings.timeouts.attempt)
        .operation_timeout(settings.timeouts.operation)
        .build();
    let mut config = aws_sdk_s3::config::Builder::from(&shared)
        .timeout_config(timeouts)
        .force_path_style(settings.path_style);
    if let Some(endpoint) = &settings.endpoint {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_s3::Client::from_conf(config.build()))
}

/// What kind of failure an S3 call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The object, upload or bucket is not there.
    Missing,
    /// S3 refuses the server's request as it is configured: credentials, permissions, the bucket's
    /// region or name. Retrying does not help; the operator must fix the configuration.
    Refused,
    /// A timeout, throttling, a dropped connection or a 5xx: the same call may pass later.
    Transient,
}

/// A failed S3 call read by kind, with a message for the log (the operation, S3's code, and for a
/// refusal what to fix) that never holds credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Failure {
    /// The kind.
    pub failure: Failure,
    /// For the log.
    pub message: String,
}

/// Reads a failed call: `what` names the operation (`reading an object`).
pub fn classify<E, R>(what: &str, err: &SdkError<E, R>) -> S3Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code();
    let failure = match err {
        SdkError::ServiceError(_) => kind_of(code),
        // No credentials, an invalid endpoint: nothing a retry changes.
        SdkError::ConstructionFailure(_) => Failure::Refused,
        _ => Failure::Transient,
    };
    let cause = match code {
        Some(code) => format!("S3 answered {code}"),
        None => DisplayErrorContext(err).to_string(),
    };
    let message = match (failure, hint(code)) {
        (Failure::Refused, Some(hint)) => format!("{what}: {cause}; {hint}"),
        (Failure::Refused, None) => format!(
            "{what}: {cause}; S3 refuses this server's requests: check its credentials, their permissions and the bucket"
        ),
        _ => format!("{what}: {cause}"),
    };
    S3Failure { failure, message }
}

fn kind_of(code: Option<&str>) -> Failure {
    match code {
        Some("NoSuchKey" | "NotFound" | "NoSuchUpload") => Failure::Missing,
        Some(
            "AccessDenied"
            | "AllAccessDisabled"
            | "AccountProblem"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "NoSuchBucket"
            | "InvalidBucketName"
            | "AuthorizationHeaderMalformed"
            | "PermanentRedirect"
            | "IllegalLocationConstraintException"
            | "InvalidRequest"
            | "NotImplemented"
            | "MethodNotAllowed",
        ) => Failure::Refused,
        _ => Failure::Transient,
    }
}

/// What the operator should fix for a refusal S3 names.
fn hint(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "InvalidAccessKeyId" => {
            "the access key id is unknown to S3: check the credentials this server gets (environment, profile or role)"
        }
        "SignatureDoesNotMatch" => {
            "the secret access key does not match the access key id: check the credentials this server gets"
        }
        "ExpiredToken" | "InvalidToken" | "TokenRefreshRequired" => {
            "the session token expired or is invalid: check the role or profile this server's credentials come from"
        }
        "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => {
            "the credentials lack a permission: allow s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket, s3:ListMultipartUploadParts and s3:AbortMultipartUpload on the bucket and prefix"
        }
        "NoSuchBucket" | "InvalidBucketName" => {
            "the bucket does not exist: check --storage s3://bucket/prefix"
        }
        "AuthorizationHeaderMalformed"
        | "PermanentRedirect"
        | "IllegalLocationConstraintException" => {
            "the bucket is in another region: check --s3-region (AWS_REGION) or the endpoint"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_read_by_kind() {
        assert_eq!(kind_of(Some("NoSuchKey")), Failure::Missing);
        assert_eq!(kind_of(Some("AccessDenied")), Failure::Refused);
        assert_eq!(kind_of(Some("SignatureDoesNotMatch")), Failure::Refused);
        assert_eq!(kind_of(Some("NoSuchBucket")), Failure::Refused);
        assert_eq!(kind_of(Some("SlowDown")), Failure::Transient);
        assert_eq!(kind_of(Some("InternalError")), Failure::Transient);
        assert_eq!(kind_of(None), Failure::Transient);
        assert!(hint(Some("AccessDenied")).unwrap().contains("s3:GetObject"));
    }
}
