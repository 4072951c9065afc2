//! The one error of the OPFS storage: what was being done, on which pool
//! file, and what the browser said (a `DOMException`'s name and message).

use alloc::string::{String, ToString};
use core::fmt;

use wal_core::ErrorKind;
use wasm_bindgen::{JsCast, JsValue};

/// A failure of the OPFS storage or of the browser call under it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebError {
    /// What the storage was doing (`"write"`, `"create the pool file"`, ...).
    pub op: &'static str,
    /// The pool file or WAL file concerned, when there is one.
    pub file: Option<String>,
    /// The `DOMException` name (`QuotaExceededError`,
    /// `NoModificationAllowedError`, ...), or the storage's own (`NoFreeSlot`,
    /// `Exists`, `NotFound`, `Removed`, `Corrupt`, `NotInWorker`).
    pub name: String,
    /// The message.
    pub message: String,
}

impl WebError {
    /// An error of the storage's own.
    pub fn new(op: &'static str, file: Option<String>, name: &str, message: String) -> Self {
        WebError {
            op,
            file,
            name: name.to_string(),
            message,
        }
    }

    /// What a browser call threw (a `DOMException`, an `Error`, or any value).
    pub fn js(op: &'static str, file: Option<&str>, thrown: JsValue) -> Self {
        let (name, message) = if let Some(e) = thrown.dyn_ref::<web_sys::DomException>() {
            (e.name(), e.message())
        } else if let Some(e) = thrown.dyn_ref::<js_sys::Error>() {
            (String::from(e.name()), String::from(e.message()))
        } else {
            (
                "Error".to_string(),
                thrown.as_string().unwrap_or_else(|| format!("{thrown:?}")),
            )
        };
        WebError {
            op,
            file: file.map(str::to_string),
            name,
            message,
        }
    }

    /// A `map_err` adapter for a browser call.
    pub fn at<'a>(op: &'static str, file: &'a str) -> impl FnOnce(JsValue) -> Self + 'a {
        move |e| WebError::js(op, Some(file), e)
    }

    /// The kind of WAL error this becomes.
    pub fn kind(&self) -> ErrorKind {
        match self.name.as_str() {
            "QuotaExceededError" | "NoFreeSlot" => ErrorKind::StorageFull,
            "NoModificationAllowedError" => ErrorKind::Locked,
            "NotFoundError" | "NotFound" | "Removed" => ErrorKind::NotFound,
            "NotAllowedError" | "SecurityError" => ErrorKind::PermissionDenied,
            _ => ErrorKind::Io,
        }
    }
}

impl fmt::Display for WebError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.op)?;
        if let Some(file) = &self.file {
            write!(f, " {file}")?;
        }
        write!(f, ": {}: {}", self.name, self.message)
    }
}

impl core::error::Error for WebError {}

impl embedded_io::Error for WebError {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match self.kind() {
            ErrorKind::NotFound => K::NotFound,
            ErrorKind::PermissionDenied => K::PermissionDenied,
            ErrorKind::StorageFull => K::OutOfMemory,
            _ => K::Other,
        }
    }
}

impl wal_core::BackendError for WebError {
    fn wal_kind(&self) -> ErrorKind {
        self.kind()
    }
}

impl From<WebError> for JsValue {
    fn from(e: WebError) -> JsValue {
        let err = js_sys::Error::new(&e.to_string());
        err.set_name(&e.name);
        err.into()
    }
}
