//! Every storage story in one test binary (one link instead of six).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod deliveries;
mod forms;
mod line;
mod media;
mod reports;
mod reservations;
mod residents_admin;
mod seed_history;
mod segments;
mod storage;
