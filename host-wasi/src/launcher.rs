//! The native side: run a WASI guest under wasmtime, a preview 1 module or a
//! preview 2 component (told apart by the binary's header, [`Kind::of`]),
//! with exactly the directories given preopened (nothing else of the host's
//! file system), the given arguments and environment, and stdio either
//! captured or inherited. The guest's exit code comes back; a trap comes back
//! as an exit code of 134 with its message.
//!
//! With `WAL_WASI_PERFMAP` set, wasmtime writes `/tmp/perf-PID.map` so that
//! `perf record` / `perf report` name the guest's functions.
//!
//! Compiled guests are cached on disk (wasmtime's cache, under
//! `target/wasmtime-cache` when run from the workspace, else the user cache
//! directory), so running the same guest again skips compilation.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use wasmtime::component::{self, Component, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::Result;
use wasmtime::{Cache, CacheConfig, Config, Engine, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

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

/// What a WebAssembly binary is, from its 8-byte header (`\0asm`, a 16-bit
/// version, a 16-bit layer): a core module has layer 0, a component layer 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A core module: a WASI preview 1 command (`wasm32-wasip1`).
    Module,
    /// A component: a WASI preview 2 command (`wasm32-wasip2`).
    Component,
}

impl Kind {
    /// Reads the header at the start of `bytes`; `None` when it is not a
    /// WebAssembly binary's (too short, another magic, an unknown layer).
    pub fn of(bytes: &[u8]) -> Option<Kind> {
        let header = bytes.get(..8)?;
        if header[..4] != *b"\0asm" {
            return None;
        }
        match u16::from_le_bytes([header[6], header[7]]) {
            0 => Some(Kind::Module),
            1 => Some(Kind::Component),
            _ => None,
        }
    }
}

/// A compiled guest, ready to run as a WASI command.
#[derive(Clone)]
pub enum Guest {
    /// A preview 1 module; run through its `_start`.
    Module(Module),
    /// A preview 2 component; run through its `wasi:cli/run` export.
    Component(Component),
}

impl Guest {
    /// Which kind of binary this guest was compiled from.
    pub fn kind(&self) -> Kind {
        match self {
            Guest::Module(_) => Kind::Module,
            Guest::Component(_) => Kind::Component,
        }
    }
}

/// A preview 2 guest's store data: its WASI context and resource table.
struct P2State {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for P2State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A wasmtime engine that runs WASI commands: preview 1 modules and
/// preview 2 components.
pub struct Launcher {
    engine: Engine,
    linker: Linker<WasiP1Ctx>,
    components: component::Linker<P2State>,
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
        let mut components = component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut components)?;
        Ok(Launcher {
            engine,
            linker,
            components,
        })
    }

    /// Compiles (or loads from the cache) the module or component at `path`,
    /// telling them apart by the header.
    pub fn load(&self, path: &Path) -> Result<Guest> {
        let what = || format!("cannot load guest module {}", path.display());
        let mut header = Vec::with_capacity(8);
        File::open(path)
            .and_then(|f| f.take(8).read_to_end(&mut header))
            .with_context(what)?;
        match Kind::of(&header) {
            Some(Kind::Module) => Module::from_file(&self.engine, path)
                .map(Guest::Module)
                .with_context(what),
            Some(Kind::Component) => Component::from_file(&self.engine, path)
                .map(Guest::Component)
                .with_context(what),
            None => Err(wasmtime::format_err!(
                "not a WebAssembly module or component (no `\\0asm` header of layer 0 or 1)"
            ))
            .with_context(what),
        }
    }

    /// Runs `guest` as a WASI command.
    pub fn run(&self, guest: &Guest, spec: &RunSpec) -> Result<Output> {
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
        for (host, at) in &spec.preopens {
            b.preopened_dir(host, at, FsPerms::ReadWrite)
                .with_context(|| format!("cannot preopen {} as {at}", host.display()))?;
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
        let ended = match guest {
            Guest::Module(module) => self.run_module(module, b.build_p1())?,
            Guest::Component(component) => self.run_component(component, b.build())?,
        };
        let (code, trap) = match ended {
            Ok(code) => (code, None),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => (exit.0, None),
                None => (TRAP_EXIT, Some(format!("{e:?}"))),
            },
        };
        Ok(Output {
            code,
            stdout: out.contents().to_vec(),
            stderr: err.contents().to_vec(),
            trap,
        })
    }

    /// Instantiates a preview 1 module and calls `_start`: the outer error is
    /// a failure to start, the inner one how the guest ended (an exit or a
    /// trap), `Ok` the exit code when `_start` returned.
    fn run_module(&self, module: &Module, ctx: WasiP1Ctx) -> Result<Result<i32>> {
        let mut store = Store::new(&self.engine, ctx);
        let instance = self.linker.instantiate(&mut store, module)?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .context("the module has no `_start`")?;
        Ok(start.call(&mut store, ()).map(|()| 0))
    }

    /// Instantiates a preview 2 component as a `wasi:cli/command` and calls
    /// its `run`: as [`Launcher::run_module`], with `run`'s `Err(())` as
    /// exit code 1 (what a command's `main` returning an error gives).
    fn run_component(&self, component: &Component, ctx: WasiCtx) -> Result<Result<i32>> {
        let state = P2State {
            ctx,
            table: ResourceTable::new(),
        };
        let mut store = Store::new(&self.engine, state);
        let command = Command::instantiate(&mut store, component, &self.components)
            .context("cannot instantiate the component as a wasi:cli/command")?;
        Ok(command
            .wasi_cli_run()
            .call_run(&mut store)
            .map(|ran| if ran.is_ok() { 0 } else { 1 }))
    }

    /// Runs the module or component at `path` with `dir` preopened as `/data`, the given
    /// arguments (program name first) and stdin, capturing its output.
    pub fn run_with_data_dir(
        &self,
        path: &Path,
        dir: &Path,
        args: &[&str],
        stdin: &[u8],
    ) -> Result<Output> {
        let guest = self.load(path)?;
        let spec = RunSpec {
            preopens: vec![(dir.to_path_buf(), "/data".into())],
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: stdin.into(),
            ..RunSpec::default()
        };
        self.run(&guest, &spec)
    }
}
