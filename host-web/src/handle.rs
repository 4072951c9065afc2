//! One pool file's `FileSystemSyncAccessHandle`: reads and writes at an
//! offset, size, truncate and flush, synchronous, as `Result`s. The handle
//! holds the browser's exclusive lock on the file until it is closed.

use alloc::string::String;

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    FileSystemDirectoryHandle, FileSystemFileHandle, FileSystemGetFileOptions,
    FileSystemReadWriteOptions, FileSystemSyncAccessHandle,
};

use crate::error::WebError;

/// An open pool file.
#[derive(Debug)]
pub struct Handle {
    name: String,
    sync: FileSystemSyncAccessHandle,
}

fn at(offset: u64) -> FileSystemReadWriteOptions {
    let options = FileSystemReadWriteOptions::new();
    options.set_at(offset as f64);
    options
}

impl Handle {
    /// Opens (creating it when `create`) pool file `name` in `dir` and takes
    /// its sync access handle. Fails with `NoModificationAllowedError` when
    /// another handle (another worker or tab) has it open.
    pub async fn open(
        dir: &FileSystemDirectoryHandle,
        name: &str,
        create: bool,
    ) -> Result<Handle, WebError> {
        let options = FileSystemGetFileOptions::new();
        options.set_create(create);
        let file = JsFuture::from(dir.get_file_handle_with_options(name, &options))
            .await
            .map_err(WebError::at("open the pool file", name))?;
        let file: FileSystemFileHandle = file.unchecked_into();
        let sync = JsFuture::from(file.create_sync_access_handle())
            .await
            .map_err(WebError::at("take the sync access handle of", name))?;
        Ok(Handle {
            name: name.into(),
            sync: sync.unchecked_into(),
        })
    }

    /// The pool file's name in the OPFS directory.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads into `buf` from `offset`: the bytes read (fewer at the end).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, WebError> {
        let n = self
            .sync
            .read_with_u8_array_and_options(buf, &at(offset))
            .map_err(WebError::at("read", &self.name))?;
        Ok(n as usize)
    }

    /// Writes all of `buf` at `offset`.
    pub fn write_at(&self, offset: u64, buf: &[u8]) -> Result<(), WebError> {
        let n = self
            .sync
            .write_with_u8_array_and_options(buf, &at(offset))
            .map_err(WebError::at("write", &self.name))? as usize;
        if n != buf.len() {
            return Err(WebError::new(
                "write",
                Some(self.name.clone()),
                "ShortWrite",
                alloc::format!("{n} of {} bytes written", buf.len()),
            ));
        }
        Ok(())
    }

    /// The file's size in bytes.
    pub fn size(&self) -> Result<u64, WebError> {
        let n = self
            .sync
            .get_size()
            .map_err(WebError::at("get the size of", &self.name))?;
        Ok(n as u64)
    }

    /// Sets the file's size (cutting, or extending with zeros).
    pub fn truncate(&self, len: u64) -> Result<(), WebError> {
        self.sync
            .truncate_with_f64(len as f64)
            .map_err(WebError::at("truncate", &self.name))
    }

    /// Persists everything written and cut so far.
    pub fn flush(&self) -> Result<(), WebError> {
        self.sync.flush().map_err(WebError::at("flush", &self.name))
    }

    /// Releases the handle and the file's lock.
    pub fn close(&self) {
        self.sync.close();
    }
}
