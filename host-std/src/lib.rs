//! The host-std host.
