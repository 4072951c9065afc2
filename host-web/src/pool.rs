//! The pool: the OPFS directory of one WAL, a set of pool files whose sync
//! access handles are all open ahead, each holding one WAL file or none
//! (its header says which: see `slot`). Every directory operation the
//! core asks for (create, remove, list, sync the names) is then a
//! synchronous read, write or flush of a header; only opening the
//! directory and adding pool files are asynchronous, and they happen
//! between the core's calls (`Pool::open`, `Pool::grow`).
//!
//! The `Storage` contract on the pool:
//!
//! - `create` takes a pool file whose freedom is durable (never one freed
//!   since the last directory sync, whose old WAL file may still come back
//!   after a power cut), cuts it to its header, and writes the header with
//!   the new name: durable at the next `sync_dir` or at the file's own sync.
//! - `remove` writes a free header: durable at the next `sync_dir`. The
//!   WAL file's bytes stay until the pool file is taken again, so a removal
//!   lost to a power cut brings the file back whole. A create of a name
//!   removed since the last `sync_dir` syncs the names first, so no name is
//!   ever held by two pool files.
//! - `sync_dir` flushes every pool file whose header changed since the
//!   last one; only then do freed pool files become free to take.
//! - A file's `sync` flushes its pool file (bytes, length and header).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use wal_core::FileName;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{FileSystemDirectoryHandle, FileSystemGetDirectoryOptions, WorkerGlobalScope};

use crate::error::WebError;
use crate::handle::Handle;
use crate::slot::{self, HEADER_LEN, WRITTEN_LEN};

/// The prefix of a pool file's name (`slot-0000`, `slot-0001`, ...).
const PREFIX: &str = "slot-";

struct Slot {
    handle: Handle,
    name: Option<FileName>,
    /// Bumped whenever the WAL file it holds goes (removed, reset, reloaded):
    /// a file opened before refuses to touch the next one.
    generation: u64,
}

/// One WAL's pool of pool files (see the module docs).
pub struct Pool {
    dir: FileSystemDirectoryHandle,
    path: String,
    slots: Vec<Slot>,
    names: BTreeMap<FileName, usize>,
    /// Durably free: may be taken by a create.
    free: Vec<usize>,
    /// Freed since the last directory sync, with the name each held.
    freed: Vec<(usize, FileName)>,
    /// Headers rewritten since the last directory sync.
    dirty: BTreeSet<usize>,
    next_index: u32,
    closed: bool,
}

/// The OPFS root directory: in a dedicated worker only (the only place
/// sync access handles exist).
async fn opfs_root() -> Result<FileSystemDirectoryHandle, WebError> {
    let scope = js_sys::global()
        .dyn_into::<WorkerGlobalScope>()
        .map_err(|_| {
            WebError::new(
                "open OPFS",
                None,
                "NotInWorker",
                "the OPFS storage runs in a dedicated worker only (sync access handles exist nowhere else)".into(),
            )
        })?;
    let root = JsFuture::from(scope.navigator().storage().get_directory())
        .await
        .map_err(|e| WebError::js("open the OPFS root", None, e))?;
    Ok(root.unchecked_into())
}

/// Opens (creating) directory `path` (`/`-separated) under the OPFS root.
async fn open_dir(path: &str) -> Result<FileSystemDirectoryHandle, WebError> {
    let mut dir = opfs_root().await?;
    let options = FileSystemGetDirectoryOptions::new();
    options.set_create(true);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let next = JsFuture::from(dir.get_directory_handle_with_options(part, &options))
            .await
            .map_err(WebError::at("open the directory", part))?;
        dir = next.unchecked_into();
    }
    Ok(dir)
}

/// The indices of the pool files in `dir`, ascending.
async fn pool_indices(dir: &FileSystemDirectoryHandle) -> Result<Vec<u32>, WebError> {
    let entries = dir.keys();
    let mut out = Vec::new();
    loop {
        let next = entries
            .next()
            .map_err(|e| WebError::js("list the directory", None, e))?;
        let step = JsFuture::from(next)
            .await
            .map_err(|e| WebError::js("list the directory", None, e))?;
        let done = js_sys::Reflect::get(&step, &JsValue::from_str("done")).unwrap_or(JsValue::TRUE);
        if done.is_truthy() {
            break;
        }
        let key = js_sys::Reflect::get(&step, &JsValue::from_str("value"))
            .ok()
            .and_then(|v| v.as_string());
        if let Some(index) = key
            .as_deref()
            .and_then(|k| k.strip_prefix(PREFIX))
            .and_then(|n| n.parse::<u32>().ok())
        {
            out.push(index);
        }
    }
    out.sort_unstable();
    Ok(out)
}

fn pool_file(index: u32) -> String {
    alloc::format!("{PREFIX}{index:04}")
}

/// Opens pool files `indices` (creating them when `create`); on a failure
/// closes the ones already opened, so no lock is left behind.
async fn open_handles(
    dir: &FileSystemDirectoryHandle,
    indices: impl Iterator<Item = u32>,
    create: bool,
) -> Result<Vec<Handle>, WebError> {
    let mut handles = Vec::new();
    for index in indices {
        match Handle::open(dir, &pool_file(index), create).await {
            Ok(h) => handles.push(h),
            Err(e) => {
                handles.iter().for_each(Handle::close);
                return Err(e);
            }
        }
    }
    Ok(handles)
}

impl Pool {
    /// Opens the WAL directory `path` in the OPFS, takes every pool file's
    /// sync access handle (failing, with kind `Locked`, when another worker
    /// or tab has the WAL open), reads which WAL file each holds, flushes
    /// them all (so what was read is what a power cut leaves), and adds
    /// pool files until `spare` are free.
    pub async fn open(path: &str, spare: usize) -> Result<Pool, WebError> {
        let dir = open_dir(path).await?;
        let indices = pool_indices(&dir).await?;
        let next_index = indices.last().map_or(0, |i| i + 1);
        let handles = open_handles(&dir, indices.into_iter(), false).await?;
        let mut pool = Pool {
            dir,
            path: path.into(),
            slots: handles
                .into_iter()
                .map(|handle| Slot {
                    handle,
                    name: None,
                    generation: 0,
                })
                .collect(),
            names: BTreeMap::new(),
            free: Vec::new(),
            freed: Vec::new(),
            dirty: BTreeSet::new(),
            next_index,
            closed: false,
        };
        if let Err(e) = pool.reload() {
            pool.close();
            return Err(e);
        }
        let wanted = spare.saturating_sub(pool.free.len());
        let handles = match pool.new_handles(wanted).await {
            Ok(h) => h,
            Err(e) => {
                pool.close();
                return Err(e);
            }
        };
        pool.adopt(handles);
        Ok(pool)
    }

    /// Removes OPFS directory `path` and everything in it (no pool may
    /// have it open: their handles hold the files).
    pub async fn wipe(path: &str) -> Result<(), WebError> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let Some((last, parents)) = parts.split_last() else {
            return Err(WebError::new(
                "wipe",
                None,
                "InvalidPath",
                "an empty path".into(),
            ));
        };
        let parent = open_dir(&parents.join("/")).await?;
        let options = web_sys::FileSystemRemoveOptions::new();
        options.set_recursive(true);
        match JsFuture::from(parent.remove_entry_with_options(last, &options)).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let e = WebError::js("remove the directory", Some(last), e);
                if e.name == "NotFoundError" {
                    Ok(())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Opens `n` new, empty pool files (asynchronous; the pool itself is not
    /// borrowed across the wait): hand them to [`Pool::adopt`].
    pub fn new_handles(
        &mut self,
        n: usize,
    ) -> impl core::future::Future<Output = Result<Vec<Handle>, WebError>> {
        let dir = self.dir.clone();
        let first = self.next_index;
        self.next_index += n as u32;
        async move { open_handles(&dir, first..first + n as u32, true).await }
    }

    /// Adds new, empty pool files (from [`Pool::new_handles`]) as free.
    pub fn adopt(&mut self, handles: Vec<Handle>) {
        if self.closed {
            handles.iter().for_each(Handle::close);
            return;
        }
        for handle in handles {
            self.free.push(self.slots.len());
            self.slots.push(Slot {
                handle,
                name: None,
                generation: 0,
            });
        }
    }

    /// The WAL directory's path under the OPFS root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Pool files free to take, and pool files in all.
    pub fn counts(&self) -> (usize, usize) {
        (self.free.len(), self.slots.len())
    }

    fn check_open(&self, op: &'static str) -> Result<(), WebError> {
        if self.closed {
            return Err(WebError::new(
                op,
                None,
                "Closed",
                "the pool is closed".into(),
            ));
        }
        Ok(())
    }

    /// Reads every pool file's header again and starts over from what they
    /// say, flushing each (what a restart does once the handles are open).
    /// Files opened before are stale afterwards.
    pub fn reload(&mut self) -> Result<(), WebError> {
        self.check_open("reload")?;
        self.names.clear();
        self.free.clear();
        self.freed.clear();
        self.dirty.clear();
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            slot.generation += 1;
            let mut header = [0u8; WRITTEN_LEN];
            let n = slot.handle.read_at(0, &mut header)?;
            slot.handle.flush()?;
            slot.name = slot::decode(&header[..n]);
            match slot.name {
                None => self.free.push(i),
                Some(name) => {
                    if let Some(other) = self.names.insert(name, i) {
                        return Err(WebError::new(
                            "open",
                            Some(alloc::format!("{name}")),
                            "Corrupt",
                            alloc::format!(
                                "pool files {} and {} both hold it",
                                self.slots[other].handle.name(),
                                self.slots[i].handle.name()
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Empties every pool file, durably: the WAL directory holds nothing.
    /// Files opened before are stale afterwards.
    pub fn reset(&mut self) -> Result<(), WebError> {
        self.check_open("reset")?;
        for slot in &mut self.slots {
            slot.handle.truncate(0)?;
            slot.handle.flush()?;
        }
        self.reload()
    }

    /// The WAL files present.
    pub fn list(&self) -> Result<Vec<FileName>, WebError> {
        self.check_open("list")?;
        Ok(self.names.keys().copied().collect())
    }

    /// Creates WAL file `name`, empty: its slot and generation.
    pub fn create(&mut self, name: FileName) -> Result<(usize, u64), WebError> {
        self.check_open("create")?;
        let text = || Some(alloc::format!("{name}"));
        if self.names.contains_key(&name) {
            return Err(WebError::new(
                "create",
                text(),
                "Exists",
                "the file exists".into(),
            ));
        }
        if self.freed.iter().any(|(_, n)| *n == name) {
            self.sync_dir()?; // see the module docs
        }
        let Some(i) = self.free.pop() else {
            return Err(WebError::new(
                "create",
                text(),
                "NoFreeSlot",
                alloc::format!(
                    "all {} pool files hold a file or were freed since the last directory sync (the pool grows between calls: raise `spare`)",
                    self.slots.len()
                ),
            ));
        };
        let slot = &mut self.slots[i];
        let taken = slot
            .handle
            .truncate(HEADER_LEN)
            .and_then(|()| slot.handle.write_at(0, &slot::encode(Some(name))));
        if let Err(e) = taken {
            self.free.push(i);
            return Err(e);
        }
        slot.name = Some(name);
        slot.generation += 1;
        self.names.insert(name, i);
        self.dirty.insert(i);
        Ok((i, slot.generation))
    }

    /// Opens WAL file `name`: its slot and generation.
    pub fn open_file(&self, name: FileName) -> Result<(usize, u64), WebError> {
        self.check_open("open")?;
        match self.names.get(&name) {
            Some(&i) => Ok((i, self.slots[i].generation)),
            None => Err(WebError::new(
                "open",
                Some(alloc::format!("{name}")),
                "NotFound",
                "no such file".into(),
            )),
        }
    }

    /// Removes WAL file `name`.
    pub fn remove(&mut self, name: FileName) -> Result<(), WebError> {
        self.check_open("remove")?;
        let Some(&i) = self.names.get(&name) else {
            return Err(WebError::new(
                "remove",
                Some(alloc::format!("{name}")),
                "NotFound",
                "no such file".into(),
            ));
        };
        let slot = &mut self.slots[i];
        slot.handle.write_at(0, &slot::encode(None))?;
        slot.name = None;
        slot.generation += 1;
        self.names.remove(&name);
        self.freed.push((i, name));
        self.dirty.insert(i);
        Ok(())
    }

    /// Makes every create and remove so far durable; freed pool files
    /// become free to take (their old bytes cut away).
    pub fn sync_dir(&mut self) -> Result<(), WebError> {
        self.check_open("sync the directory")?;
        while let Some(&i) = self.dirty.first() {
            self.slots[i].handle.flush()?;
            self.dirty.remove(&i);
        }
        for (i, _) in core::mem::take(&mut self.freed) {
            // Space back; the free header is durable already.
            let _ = self.slots[i].handle.truncate(HEADER_LEN);
            self.free.push(i);
        }
        Ok(())
    }

    /// The open handle of WAL file (`slot`, `generation`), or why not.
    pub fn handle(
        &self,
        slot: usize,
        generation: u64,
        name: FileName,
    ) -> Result<&Handle, WebError> {
        self.check_open("use")?;
        match self.slots.get(slot) {
            Some(s) if s.generation == generation => Ok(&s.handle),
            _ => Err(WebError::new(
                "use",
                Some(alloc::format!("{name}")),
                "Removed",
                "the file was removed (or the pool reset) since it was opened".into(),
            )),
        }
    }

    /// A file's sync flushed its pool file, header included.
    pub fn synced(&mut self, slot: usize) {
        if !self.freed.iter().any(|(i, _)| *i == slot) {
            self.dirty.remove(&slot);
        }
    }

    /// Releases every handle (and the WAL's lock); later calls fail.
    pub fn close(&mut self) {
        if !self.closed {
            self.slots.iter().for_each(|s| s.handle.close());
            self.closed = true;
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.close();
    }
}
