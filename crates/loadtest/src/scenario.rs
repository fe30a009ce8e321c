//! What each simulated client does. A scenario prepares each connection once
//! (e.g. signs in; not measured) and then repeats one measured step until the
//! run ends. To add one (e.g. `booking`: a signed-in resident POSTing the
//! confirm step with the `_csrf` field read from the form page), implement
//! [`Scenario`] and add a variant to `Command` in main.rs that runs it.

use std::future::Future;

use hyper::StatusCode;

use crate::conn::Conn;

pub trait Scenario: Send + Sync + 'static {
    /// What each connection keeps between its steps.
    type State: Send;

    /// A line describing the scenario, for the report.
    fn describe(&self) -> String;

    /// Runs once per connection before measuring starts.
    fn prepare(
        &self,
        conn: &mut Conn,
        worker: usize,
    ) -> impl Future<Output = Result<Self::State, String>> + Send;

    /// One measured request (or short sequence); an `Err` counts as a failure.
    fn step(
        &self,
        conn: &mut Conn,
        state: &mut Self::State,
        iteration: u64,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The public month view of a room (A09): a plain GET that must answer 200.
pub struct MonthView {
    pub path: String,
}

impl Scenario for MonthView {
    type State = ();

    fn describe(&self) -> String {
        format!("month-view: GET {}", self.path)
    }

    async fn prepare(&self, conn: &mut Conn, _worker: usize) -> Result<(), String> {
        // One request up front also proves the page exists before timing starts.
        let reply = conn.get(&self.path).await?;
        expect(reply.status, StatusCode::OK, &self.path)
    }

    async fn step(&self, conn: &mut Conn, _state: &mut (), _iteration: u64) -> Result<(), String> {
        let reply = conn.get(&self.path).await?;
        expect(reply.status, StatusCode::OK, &self.path)?;
        if reply.body.is_empty() {
            return Err(format!("{}: empty body", self.path));
        }
        Ok(())
    }
}

pub fn expect(got: StatusCode, want: StatusCode, what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: HTTP {got} (expected {want})"))
    }
}
