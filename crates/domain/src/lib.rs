//! Hiroba's pure rules. Nothing here performs I/O: no database, no HTTP, no clock
//! reads except where a caller passes the time in.

pub mod attributes;
pub mod audit;
pub mod booking;
pub mod booking_rules;
pub mod calendar;
pub mod datetime;
pub mod delivery_csv;
pub mod fees;
pub mod forms;
pub mod holidays;
pub mod image;
pub mod permission;
pub mod reminder;
pub mod resident;
pub mod retention;
pub mod schedule;
pub mod segment;
pub mod staff;
pub mod time_of_day;
pub mod validation;
