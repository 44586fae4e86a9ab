//! HTTPS for `duplex serve`, so that a phone or another computer on the LAN can use the page:
//! browsers give the microphone only to `https` pages (and `localhost`). Either the user's own
//! certificate and key (PEM files), or a self-signed certificate made once for the names and
//! addresses the server is reached at and kept in a directory, whose SHA-256 fingerprint is
//! printed so that the user can check it when the browser asks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// Where the certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// The user's certificate chain and private key, PEM.
    Files {
        /// Certificate chain, leaf first.
        cert: PathBuf,
        /// Private key (PKCS#8, PKCS#1 or SEC1).
        key: PathBuf,
    },
    /// A self-signed certificate for `names` (host names and IP addresses), kept in `dir` as
    /// `cert.pem` and `key.pem`: made on first use, and again (for its old names and the new
    /// ones) when a name is missing from it.
    SelfSigned {
        /// Where the certificate and key are kept.
        dir: PathBuf,
        /// Names and addresses it must cover.
        names: Vec<String>,
    },
}

/// A ready TLS setup.
pub struct Tls {
    /// Accepts TLS connections.
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the leaf certificate, as colon-separated hex (what browsers show).
    pub fingerprint: String,
    /// The certificate file in use.
    pub cert_path: PathBuf,
}

/// Why HTTPS could not be set up; each says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing or holds nothing usable.
    #[error("cannot read the {what} from {path}: {detail}")]
    Read {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The certificate and key do not make a usable server setup.
    #[error("the certificate in {cert} and its key cannot serve HTTPS: {detail}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// Why.
        detail: String,
    },
    /// The self-signed certificate could not be made or kept.
    #[error("cannot make a self-signed certificate in {dir}: {detail}")]
    SelfSigned {
        /// Its directory.
        dir: PathBuf,
        /// Why.
        detail: String,
    },
}

impl TlsSource {
    /// Loads (or makes) the certificate and builds the acceptor.
    pub fn load(&self) -> Result<Tls, TlsError> {
        let (cert, key) = match self {
            Self::Files { cert, key } => (cert.clone(), key.clone()),
            Self::SelfSigned { dir, names } => self_signed(dir, names)?,
        };
        let chain = CertificateDer::pem_file_iter(&cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| read_error("certificate", &cert, e.to_string()))?;
        let Some(leaf) = chain.first() else {
            return Err(read_error(
                "certificate",
                &cert,
                "no CERTIFICATE block in the file".into(),
            ));
        };
        let fingerprint = colon_hex(&Sha256::digest(leaf.as_ref()));
        let private = PrivateKeyDer::from_pem_file(&key)
            .map_err(|e| read_error("private key", &key, e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config_error = |detail: String| TlsError::Config {
            cert: cert.clone(),
            detail,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| config_error(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            fingerprint,
            cert_path: cert,
        })
    }
}

fn read_error(what: &'static str, path: &Path, detail: String) -> TlsError {
    TlsError::Read {
        what,
        path: path.to_owned(),
        detail,
    }
}

/// The kept self-signed certificate and key for `names` in `dir`, made if missing or if it
/// does not cover every name (listed in `names.txt` beside them).
fn self_signed(dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), TlsError> {
    let fail = |detail: String| TlsError::SelfSigned {
        dir: dir.to_owned(),
        detail,
    };
    let (cert, key, list) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("names.txt"),
    );
    let covered: Vec<String> = std::fs::read_to_string(&list)
        .map(|t| t.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    if cert.is_file() && key.is_file() && names.iter().all(|n| covered.contains(n)) {
        return Ok((cert, key));
    }
    // The new certificate covers the names of the old one too.
    let mut all = covered;
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let made = rcgen::generate_simple_self_signed(all.clone()).map_err(|e| fail(e.to_string()))?;
    let key_pem = made.signing_key.serialize_pem();
    // Only the owner may read the key.
    write_private(&key, key_pem.as_bytes()).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&list, all.join("\n")).map_err(|e| fail(e.to_string()))?;
    // The key parses back as what rustls reads.
    PrivatePkcs8KeyDer::from_pem_file(&key).map_err(|e| fail(e.to_string()))?;
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// `AB:CD:...` in upper case, as browsers show certificate fingerprints.
fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned(), "10.7.0.1".to_owned()];
        let source = TlsSource::SelfSigned {
            dir: dir.path().to_owned(),
            names: names.clone(),
        };
        let first = source.load().expect("made");
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        let again = source.load().expect("kept");
        assert_eq!(again.fingerprint, first.fingerprint, "the same certificate");
        let wider = TlsSource::SelfSigned {
            dir: dir.path().to_owned(),
            names: vec!["duplex.lan".into()],
        };
        assert_ne!(wider.load().unwrap().fingerprint, first.fingerprint);
    }

    #[test]
    fn unusable_files_say_which_and_why() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let missing = TlsSource::Files {
            cert: dir.path().join("nope.pem"),
            key: empty.clone(),
        };
        let e = missing.load().err().expect("fails").to_string();
        assert!(e.contains("certificate") && e.contains("nope.pem"), "{e}");
        let no_cert = TlsSource::Files {
            cert: empty.clone(),
            key: empty,
        };
        let e = no_cert.load().err().expect("fails").to_string();
        assert!(e.contains("no CERTIFICATE"), "{e}");
    }
}
