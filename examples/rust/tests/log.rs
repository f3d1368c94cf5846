//! The process-wide log callback (its own test binary, so that no other test's messages mix in).

mod common;

use clipmatch::{LogLevel, Model};
use common::*;
use std::sync::{Arc, Mutex};

#[test]
fn log_callback_receives_training_messages_and_can_be_removed() {
    let dir = TempDir::new("log");
    let data = dataset(&dir);
    let messages: Arc<Mutex<Vec<(LogLevel, String, std::thread::ThreadId)>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&messages);
    clipmatch::set_log_callback(Some(Box::new(move |level, message: &str| {
        sink.lock().unwrap().push((level, message.to_string(), std::thread::current().id()));
    })));

    let mut model = Model::new(&model_params()).unwrap();
    model.train(&data, &train_params(&dir.join("run1")).verbose(true), None).unwrap();
    let seen = messages.lock().unwrap().clone();
    assert!(!seen.is_empty(), "verbose training logged nothing");
    assert!(seen.iter().all(|(_, m, _)| !m.is_empty()));
    assert!(
        seen.iter().all(|(level, _, _)| matches!(level, LogLevel::Debug | LogLevel::Info | LogLevel::Warning)),
        "{:?}",
        seen
    );
    eprintln!("{} messages, e.g. {:?}", seen.len(), seen.iter().take(3).map(|m| &m.1).collect::<Vec<_>>());

    // A panicking sink does not take the process down: the panic stays inside the trampoline.
    clipmatch::set_log_callback(Some(Box::new(|_, _: &str| panic!("a sink that panics"))));
    model.train(&data, &train_params(&dir.join("run2")).verbose(true), None).unwrap();

    // Removed: later messages go to standard error, not to the old closure.
    clipmatch::set_log_callback(Some(Box::new({
        let sink = Arc::clone(&messages);
        move |level, message: &str| sink.lock().unwrap().push((level, message.to_string(), std::thread::current().id()))
    })));
    clipmatch::set_log_callback(None);
    let count = messages.lock().unwrap().len();
    model.train(&data, &train_params(&dir.join("run3")).verbose(true), None).unwrap();
    assert_eq!(messages.lock().unwrap().len(), count, "a removed callback still got messages");
    // The closures were dropped: only this test's handle is left.
    assert_eq!(Arc::strong_count(&messages), 1);
}
