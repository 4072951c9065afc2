//! The host-wasi host.
