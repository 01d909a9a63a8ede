//! Sessions as temporary children of their owner: a session is never restarted (its
//! connection is gone with it), but its end always reaches the owner, and it never outlives
//! the owner. Without this a panic in a session's handler would silently close its mailbox
//! (the owner keeps a dead link and never hears `Closed`), and a session whose owner died
//! would keep its connection open, reading into the void: both "alive but deaf".

use std::time::Duration;

use actix::prelude::*;
use tracing::error;

use super::session::{SessionEvent, SessionId};
use crate::actors::supervisor::{spawn_in_context, ExitSlot};
use crate::supervision::ExitReason;

const LOG_TARGET: &str = "taskforce::remote";

/// How often a session checks that its owner still runs. A restarted owner's peers
/// reconnect to its successor within this (plus their own backoff).
const OWNER_CHECK: Duration = Duration::from_millis(500);

/// Runs `session` in `context` as its own task; if it panics, its owner gets
/// [`SessionEvent::Closed`] naming the panic (the session's own `stopped` never runs then).
pub(super) fn start_temporary<A, Rx>(
    context: Context<A>,
    session: A,
    id: SessionId,
    owner: Recipient<SessionEvent<Rx>>,
) -> Addr<A>
where
    A: Actor<Context = Context<A>>,
    Rx: Send + 'static,
{
    let (addr, running) = spawn_in_context(context, session, ExitSlot::default());
    actix_rt::spawn(async move {
        if let ExitReason::Panicked(message) = running.exited().await {
            error!(target: LOG_TARGET, session = id.0, "session panicked: {message}");
            owner.do_send(SessionEvent::Closed {
                session: id,
                reason: format!("session panicked: {message}"),
            });
        }
    });
    addr
}

/// Closes the session (by `close`) once the owner `owner_of` names has stopped.
pub(super) fn close_when_owner_stops<A, Rx>(
    ctx: &mut Context<A>,
    owner_of: fn(&A) -> &Recipient<SessionEvent<Rx>>,
    close: fn(&mut A, &mut Context<A>),
) where
    A: Actor<Context = Context<A>>,
    Rx: Send + 'static,
{
    ctx.run_interval(OWNER_CHECK, move |session, ctx| {
        if !owner_of(session).connected() {
            close(session, ctx);
        }
    });
}
