//! Captures the log lines of the test process (each nextest test is its own process), so tests
//! can tell refusals logged at INFO/WARN from errors.

use std::sync::{Arc, Mutex};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::Layer;

/// The lines captured so far.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<(Level, String)>>>);

impl Logs {
    /// Every ERROR line.
    pub fn errors(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().filter(|(l, _)| *l == Level::ERROR).map(|(_, m)| m.clone()).collect()
    }

    /// Every line.
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|(_, m)| m.clone()).collect()
    }
}

struct Capture(Logs);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut f = Fields(String::new());
        event.record(&mut f);
        self.0 .0.lock().unwrap().push((*event.metadata().level(), f.0));
    }
}

/// Installs the capturing subscriber for this process (call once, first thing in a test).
pub fn capture_logs() -> Logs {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::registry().with(Capture(logs.clone()));
    tracing::subscriber::set_global_default(subscriber).expect("capture_logs is called once per test process");
    logs
}
