//! The native side: run a WASI preview 1 guest module under wasmtime with
//! exactly the directories given preopened (nothing else of the host's file
//! system), the given arguments and environment, and stdio either captured
//! or inherited. The guest's exit code comes back; a trap comes back as an
//! exit code of 134 with its message.
//!
//! With `WAL_WASI_PERFMAP` set, wasmtime writes `/tmp/perf-PID.map` so that
//! `perf record` / `perf report` name the guest's functions.
//!
//! Compiled modules are cached on disk (wasmtime's cache, under
//! `target/wasmtime-cache` when run from the workspace, else the user cache
//! directory), so running the same module again skips compilation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use wasmtime::error::Context as _;
use wasmtime::Result;
use wasmtime::{Cache, CacheConfig, Config, Engine, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

/// The exit code reported for a guest that trapped (as a shell reports SIGABRT).
pub const TRAP_EXIT: i32 = 134;

/// How much output a captured run keeps, per stream.
const CAPTURE_LIMIT: usize = 1 << 30;

/// What a guest run gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The guest's exit code (0 when `_start` returned; [`TRAP_EXIT`] on a trap).
    pub code: i32,
    /// Captured stdout (empty when inherited).
    pub stdout: Vec<u8>,
    /// Captured stderr (empty when inherited).
    pub stderr: Vec<u8>,
    /// The trap, if the guest trapped: wasmtime's message and backtrace.
    pub trap: Option<String>,
}

/// One guest run's settings.
#[derive(Clone, Debug, Default)]
pub struct RunSpec {
    /// Host directories and the guest paths they appear at.
    pub preopens: Vec<(PathBuf, String)>,
    /// Arguments, program name first.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Bytes on stdin (captured mode only). Shared, so that a run does not
    /// copy them (a benchmark's input can be hundreds of megabytes).
    pub stdin: Arc<[u8]>,
    /// Inherit this process's stdin, stdout and stderr instead of capturing.
    pub inherit_stdio: bool,
}

/// A wasmtime engine that runs WASI preview 1 commands.
pub struct Launcher {
    engine: Engine,
    linker: Linker<WasiP1Ctx>,
}

fn cache_dir() -> Option<PathBuf> {
    // Beside the build, when this binary lives in a cargo target directory.
    let exe = std::env::current_exe().ok()?;
    let target = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "target"))?;
    Some(target.join("wasmtime-cache"))
}

impl Launcher {
    /// An engine with the on-disk compilation cache on.
    pub fn new() -> Result<Self> {
        let mut config = Config::new();
        let mut cache = CacheConfig::new();
        if let Some(dir) = cache_dir() {
            cache.with_directory(dir);
        }
        match Cache::new(cache) {
            Ok(c) => {
                config.cache(Some(c));
            }
            Err(_) => {
                // No usable cache directory: compile every time, still correct.
            }
        }
        // `perf record` can name JIT-compiled guest functions when asked.
        if std::env::var_os("WAL_WASI_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        p1::add_to_linker_sync(&mut linker, |t| t)?;
        Ok(Launcher { engine, linker })
    }

    /// Compiles (or loads from the cache) the module at `path`.
    pub fn load(&self, path: &Path) -> Result<Module> {
        Module::from_file(&self.engine, path)
            .with_context(|| format!("cannot load guest module {}", path.display()))
    }

    /// Runs `module` as a WASI command.
    pub fn run(&self, module: &Module, spec: &RunSpec) -> Result<Output> {
        let mut b = WasiCtxBuilder::new();
        // The guest is synchronous and so is this embedding: do file I/O on
        // this thread rather than hopping to tokio's blocking pool and back
        // for every call (measured: that hop cost more than the guest's own
        // work). Must come before the preopens, which capture it.
        b.allow_blocking_current_thread(true);
        b.args(&spec.args);
        for (k, v) in &spec.env {
            b.env(k, v);
        }
        for (host, guest) in &spec.preopens {
            b.preopened_dir(host, guest, FsPerms::ReadWrite)
                .with_context(|| format!("cannot preopen {} as {guest}", host.display()))?;
        }
        let (out, err) = (
            MemoryOutputPipe::new(CAPTURE_LIMIT),
            MemoryOutputPipe::new(CAPTURE_LIMIT),
        );
        if spec.inherit_stdio {
            b.inherit_stdio();
        } else {
            b.stdin(MemoryInputPipe::new(Bytes::from_owner(spec.stdin.clone())));
            b.stdout(out.clone());
            b.stderr(err.clone());
        }
        let mut store = Store::new(&self.engine, b.build_p1());
        let instance = self.linker.instantiate(&mut store, module)?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .context("the module has no `_start`")?;
        let (code, trap) = match start.call(&mut store, ()) {
            Ok(()) => (0, None),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => (exit.0, None),
                None => (TRAP_EXIT, Some(format!("{e:?}"))),
            },
        };
        drop(store);
        Ok(Output {
            code,
            stdout: out.contents().to_vec(),
            stderr: err.contents().to_vec(),
            trap,
        })
    }

    /// Runs the module at `path` with `dir` preopened as `/data`, the given
    /// arguments (program name first) and stdin, capturing its output.
    pub fn run_with_data_dir(
        &self,
        path: &Path,
        dir: &Path,
        args: &[&str],
        stdin: &[u8],
    ) -> Result<Output> {
        let module = self.load(path)?;
        let spec = RunSpec {
            preopens: vec![(dir.to_path_buf(), "/data".into())],
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: stdin.into(),
            ..RunSpec::default()
        };
        self.run(&module, &spec)
    }
}
