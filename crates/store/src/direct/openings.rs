//! SQLite's group writer for new tickets: openings queue here and are written together, in one transaction
//! per group, on the direct writer (see the module above) or, when that is unavailable or locked, on a task
//! on sqlx. The ticket's own statements (numbers, rows, audit entries) are the desk's:
//! [`tickets::write_openings_direct`] and [`tickets::write_openings`]; this is only the queueing, the lead
//! and the grouping.

use crate::Db;
use crate::desk::tickets::{self, Opening, Ticket};
use crate::direct;

/// The group writer's own failure: its thread or task is gone, so an opening got no answer. The ticket
/// module turns it into the store's error where it submits (`StoreError::Corrupt`, as before).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the ticket writer has stopped")]
pub(crate) struct WriterStopped;

impl From<WriterStopped> for crate::StoreError {
    fn from(e: WriterStopped) -> Self {
        crate::StoreError::Corrupt(e.to_string())
    }
}

/// `n` as a sum of powers of two, largest first: 13 → 8, 4, 1.
pub(crate) fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    (0..usize::BITS)
        .rev()
        .map(|b| 1usize << b)
        .filter(move |p| n & p != 0)
}

/// The most tickets written in one transaction: enough to absorb a burst, small enough that the batch's
/// statement stays far below SQLite's limit on bound values (each ticket binds about 70).
const MAX_GROUP: usize = 32;

/// SQLite's group writer for new tickets. Each opening joins a queue; whoever finds the direct writer free
/// (see [`crate::direct`]) leads: it takes everything waiting — up to [`MAX_GROUP`] at a time, until the
/// queue is empty — writes it in one transaction per group on its own thread, and answers the others. With
/// one client that is the request itself, with no hand-off to another thread; under load the groups grow
/// and the commits are shared. When the direct writer is unavailable or the database is locked by another
/// writer, the group goes to a task on sqlx (see [`tickets::write_openings`]), which waits for the lock without
/// holding a runtime thread. If a group fails, each of its tickets is tried alone, so one bad ticket fails
/// only itself.
#[derive(Default)]
pub(crate) struct Openings {
    waiting: std::sync::Mutex<Vec<Waiting>>,
    sqlx: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Waiting>>,
}

impl std::fmt::Debug for Openings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Openings")
    }
}

impl Openings {
    /// Writes `opening` with whatever else is waiting and answers with its ticket, or with the store's
    /// error for that ticket alone; [`WriterStopped`] when no writer is left to answer.
    pub(crate) async fn submit(
        &self,
        db: &Db,
        opening: Opening,
    ) -> Result<crate::Result<Ticket>, WriterStopped> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        match &db.direct {
            Some(d) => {
                direct::lock(&self.waiting).push((opening, reply));
                self.lead(db, d, Lead::Request);
            }
            None => self.to_sqlx(db, vec![(opening, reply)]),
        }
        answer.await.map_err(|_| WriterStopped)
    }

    /// Writes what is waiting, group after group until nothing waits, if the writer is free; otherwise its
    /// holder will. Chores left for the writer (job claims) run before each group. A request that leads is
    /// answered only when it stops leading: under a stream of openings it writes for at most [`LEAD_FOR`]
    /// and then hands the lead to a blocking thread, which writes on until nothing waits. (Handing over
    /// after the first group cost 10–15% of the throughput at 32 clients: a hand-off per group.)
    pub(crate) fn lead(&self, db: &Db, d: &std::sync::Arc<direct::Direct>, who: Lead) {
        let mut checkpoint = None;
        let started = std::time::Instant::now();
        let mut hand_over = false;
        'lead: while let Some(mut conn) = d.try_writer() {
            loop {
                d.run_chores(&mut conn);
                let group: Vec<Waiting> = {
                    let mut w = direct::lock(&self.waiting);
                    let n = w.len().min(MAX_GROUP);
                    w.drain(..n).collect()
                };
                if group.is_empty() {
                    break;
                }
                let n = group.len();
                match write_group_direct(&mut conn, group) {
                    Ok(()) => {
                        // Each opening queued its notification: wake the job runner.
                        db.queued.notify_one();
                        checkpoint = checkpoint.max(d.wrote(n));
                    }
                    Err(busy) => self.to_sqlx(db, busy),
                }
                if who == Lead::Request
                    && started.elapsed() >= LEAD_FOR
                    && !direct::lock(&self.waiting).is_empty()
                {
                    hand_over = true;
                    break 'lead;
                }
            }
            drop(conn);
            // An opening queued after the last look but before the writer was let go found it taken and
            // left its ticket to us: look once more.
            if direct::lock(&self.waiting).is_empty() && !d.has_chores() {
                break;
            }
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            if hand_over {
                self.lead(db, d, Lead::Blocking);
            }
            return;
        };
        if hand_over {
            let (db, d) = (db.clone(), d.clone());
            rt.spawn_blocking(move || db.openings.lead(&db, &d, Lead::Blocking));
        }
        if let Some(kind) = checkpoint {
            // Off this request's path; what queues meanwhile is written as soon as the checkpoint ends.
            let (db, d) = (db.clone(), d.clone());
            rt.spawn_blocking(move || {
                d.checkpoint(kind);
                db.openings.lead(&db, &d, Lead::Blocking);
            });
        }
    }

    fn to_sqlx(&self, db: &Db, group: Vec<Waiting>) {
        let queue = self.sqlx.get_or_init(|| {
            let (send, recv) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(group_writer(
                db.write.clone(),
                db.backend(),
                db.queued.clone(),
                recv,
            ));
            send
        });
        for w in group {
            // The writer task lives as long as the runtime; if it is gone the reply is dropped and the
            // request answers that the writer stopped.
            let _ = queue.send(w);
        }
    }
}

/// Writes `group` on the direct writer and answers each opening; hands the whole group back when the
/// database is locked by another writer.
fn write_group_direct(
    conn: &mut rusqlite::Connection,
    waiting: Vec<Waiting>,
) -> std::result::Result<(), Vec<Waiting>> {
    let (mut group, replies): (Vec<Opening>, Vec<_>) = waiting.into_iter().unzip();
    tracing::debug!(tickets = group.len(), "opening tickets together");
    match tickets::write_openings_direct(conn, &mut group) {
        Err(direct::Busy) => Err(group.into_iter().zip(replies).collect()),
        Ok(Ok(())) => {
            answer(group, replies);
            Ok(())
        }
        Ok(Err(e)) if group.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
            Ok(())
        }
        // One bad ticket fails only itself: each is tried alone.
        Ok(Err(_)) => {
            let busy: Vec<Waiting> = group
                .into_iter()
                .zip(replies)
                .filter_map(|w| write_group_direct(conn, vec![w]).err())
                .flatten()
                .collect();
            if busy.is_empty() { Ok(()) } else { Err(busy) }
        }
    }
}

/// Answers each opening of a written group with its ticket.
fn answer(group: Vec<Opening>, replies: Vec<tokio::sync::oneshot::Sender<crate::Result<Ticket>>>) {
    for (o, reply) in group.into_iter().zip(replies) {
        let _ = reply.send(Ok(o.ticket));
    }
}

type Waiting = (Opening, tokio::sync::oneshot::Sender<crate::Result<Ticket>>);

/// Who leads the ticket writer (see [`Openings::lead`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lead {
    /// A request opening a ticket, on a runtime thread: it hands over after [`LEAD_FOR`].
    Request,
    /// A blocking thread: it writes until nothing waits.
    Blocking,
}

/// How long a request leads the ticket writer at most before handing the lead to a blocking thread (see
/// [`Openings::lead`]): a few groups' time. (Measured at 8 clients: p99 of a sustained minute 63–95 ms with
/// the hand-over, 119–126 ms without.)
const LEAD_FOR: std::time::Duration = std::time::Duration::from_millis(2);

async fn group_writer(
    pool: sqlx::AnyPool,
    backend: crate::Backend,
    queued: std::sync::Arc<tokio::sync::Notify>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Waiting>,
) {
    while let Some(first) = queue.recv().await {
        let mut waiting = vec![first];
        while waiting.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(w) => waiting.push(w),
                Err(_) => break,
            }
        }
        let (mut group, replies): (Vec<Opening>, Vec<_>) = waiting.into_iter().unzip();
        tracing::debug!(tickets = group.len(), "opening tickets together");
        match tickets::write_openings(&pool, backend, &mut group).await {
            Ok(()) => {
                queued.notify_one();
                answer(group, replies);
            }
            Err(e) if group.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(_) => {
                for (o, reply) in group.into_iter().zip(replies) {
                    let mut alone = [o];
                    let result = tickets::write_openings(&pool, backend, &mut alone).await;
                    let [o] = alone;
                    let _ = reply.send(result.map(|()| o.ticket));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{WriterStopped, chunk_sizes};
    use crate::StoreError;

    #[test]
    fn a_group_is_written_in_power_of_two_chunks_that_add_up_to_it() {
        assert_eq!(chunk_sizes(13).collect::<Vec<_>>(), [8, 4, 1]);
        assert_eq!(chunk_sizes(32).collect::<Vec<_>>(), [32]);
        assert_eq!(chunk_sizes(1).collect::<Vec<_>>(), [1]);
        for n in 1..=64 {
            let sizes: Vec<_> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two()));
            assert!(sizes.windows(2).all(|w| w[0] > w[1]));
        }
    }

    #[test]
    fn a_stopped_writer_is_the_stores_error_with_the_same_message() {
        let e = StoreError::from(WriterStopped);
        assert!(matches!(&e, StoreError::Corrupt(m) if m == "the ticket writer has stopped"));
        assert_eq!(WriterStopped.to_string(), "the ticket writer has stopped");
    }
}
