//! Every HTTP, TLS and browser story in one test binary: one link instead of
//! sixteen keeps CI's disk use and build time down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_http;
mod attributes_http;
mod availability_http;
mod booking_http;
mod browser_availability;
mod browser_booking;
mod browser_catalogue;
mod browser_composer;
mod browser_deliveries;
mod browser_forms;
mod browser_line;
mod browser_reports;
mod browser_staff;
mod catalogue_http;
mod change_http;
mod composer_http;
mod concurrency_http;
mod counter_http;
mod deliveries_http;
mod forms_http;
mod line_admin_http;
mod line_webhook_http;
mod reports_http;
mod resident_http;
mod residents_admin_http;
mod segments_http;
mod tls;
