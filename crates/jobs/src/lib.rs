//! Background work that runs inside every app instance. Each task is safe to
//! run concurrently from several instances (deletes by cutoff are idempotent).

pub mod deliveries;
pub mod line_api;
pub mod line_events;
pub mod mail;
pub mod maintenance;
