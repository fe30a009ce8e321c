//! Wiring of the Hiroba binary: configuration, the HTTP(S) server loop, the
//! demo seed and the command-line entry points. The testkit boots servers
//! through this same code.

pub mod config;
pub mod demo;
pub mod logging;
pub mod server;
pub mod tls;
