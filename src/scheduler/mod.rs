//! The pure scheduler state machine.
