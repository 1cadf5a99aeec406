//! The refresh token in the OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) through the `keyring` crate. Nothing secret is ever written anywhere else.

use crate::secret::Secret;

/// The keyring service name of every entry.
pub const SERVICE: &str = "delta-bridge";

/// Why the keyring could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The keyring is locked and nothing could unlock it.
    #[error(
        "the OS keyring is locked; unlock it (log in to the desktop session, or run gnome-keyring-daemon --unlock) and try again"
    )]
    Locked,
    /// There is no keyring service to talk to (no Secret Service in the session, no D-Bus): a sign-in
    /// then lasts for the session only.
    #[error(
        "no OS keyring is available ({0}); on Linux a Secret Service (gnome-keyring or KWallet) must run in the session"
    )]
    Unavailable(String),
}

/// One entry of the keyring: the refresh token of an account.
#[derive(Debug, Clone)]
pub struct Keychain {
    account: String,
    /// Tests stand in for a session without a keyring service.
    #[cfg(test)]
    pub(crate) unavailable: bool,
}

/// A locked store can be unlocked (the user is asked to); anything else (no default store: the Secret
/// Service could not be reached; a platform failure) means there is no keyring to use.
fn classify(e: keyring::Error) -> KeyringError {
    match e {
        keyring::Error::NoStorageAccess(_) => KeyringError::Locked,
        other => KeyringError::Unavailable(other.to_string()),
    }
}

impl Keychain {
    /// The entry for `account` (such as the Firebase project and email).
    pub fn new(account: &str) -> Keychain {
        Keychain {
            account: account.to_string(),
            #[cfg(test)]
            unavailable: false,
        }
    }

    fn entry(&self) -> Result<keyring::Entry, KeyringError> {
        #[cfg(test)]
        if self.unavailable {
            return Err(classify(keyring::Error::NoDefaultStore));
        }
        keyring::Entry::new(SERVICE, &self.account).map_err(classify)
    }

    /// Stores the refresh token (blocking: call from a blocking thread).
    pub fn store(&self, token: &Secret) -> Result<(), KeyringError> {
        self.entry()?.set_password(token.expose()).map_err(classify)
    }

    /// The stored refresh token, if any (blocking).
    pub fn load(&self) -> Result<Option<Secret>, KeyringError> {
        match self.entry()?.get_password() {
            Ok(token) => Ok(Some(Secret::new(token))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    /// Deletes the entry; true if there was one (blocking).
    pub fn delete(&self) -> Result<bool, KeyringError> {
        match self.entry()?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_secret_service_is_unavailable_and_a_locked_one_is_locked() {
        let failure: keyring::Error = keyring::Error::NoDefaultStore;
        assert!(matches!(classify(failure), KeyringError::Unavailable(_)));
        let failure = keyring::Error::PlatformFailure("no D-Bus session".into());
        assert!(matches!(classify(failure), KeyringError::Unavailable(_)));
        let locked = keyring::Error::NoStorageAccess("locked".into());
        assert!(matches!(classify(locked), KeyringError::Locked));
    }
}
