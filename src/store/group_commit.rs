//! Group commit for score submissions, shared by the durable stores: concurrent `insert_score`
//! calls are written together, in one transaction, so a burst pays one commit (one fsync, and on
//! PostgreSQL one round trip) instead of one each.
//!
//! One task writes: it takes a score, then every other one already waiting (up to
//! [`SCORES_PER_COMMIT`]), hands them to the backend's [`GroupWriter`] as one group, and answers
//! each caller only after the commit, so a `2xx` still means the score is stored. When the commit
//! fails, every score of the group fails with it and none is written, as each would alone. While
//! one group is being committed the next one gathers, so the more callers wait, the larger the
//! groups and the fewer the commits.

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::model::ScoreEntry;

/// Scores written in one transaction at most: enough to share a commit among every submission
/// that arrives while one commit is on its way to the disk.
pub const SCORES_PER_COMMIT: usize = 256;

/// How a backend writes one group of scores: all in one transaction, all or none.
#[async_trait]
pub trait GroupWriter: Send + Sync + 'static {
    async fn write_group(&self, scores: &[ScoreEntry]) -> Result<()>;

    /// No score is waiting after a group: a writer that keeps a connection between groups gives
    /// it back here, so that other writes get it.
    async fn idle(&self) {}
}

/// A score waiting to be written, and who waits for the answer.
struct PendingScore {
    entry: ScoreEntry,
    written: oneshot::Sender<Result<()>>,
}

/// The submissions' way to the writing task.
pub struct ScoreCommitter {
    scores: mpsc::Sender<PendingScore>,
    retry_after: Duration,
}

impl ScoreCommitter {
    /// Starts the writing task (on the current tokio runtime) over `writer`. `retry_after` is
    /// what callers are told should the task have stopped.
    pub fn start(writer: impl GroupWriter, retry_after: Duration) -> Self {
        let (scores, waiting) = mpsc::channel(4 * SCORES_PER_COMMIT);
        tokio::spawn(commit_in_groups(writer, waiting));
        ScoreCommitter {
            scores,
            retry_after,
        }
    }

    /// Writes one score with whatever others are waiting, and answers after the commit.
    pub async fn insert(&self, entry: ScoreEntry) -> Result<()> {
        let (written, answer) = oneshot::channel();
        let closed = || Error::StoreUnavailable {
            retry_after: self.retry_after,
            cause: "the score writer has stopped".to_owned(),
        };
        self.scores
            .send(PendingScore { entry, written })
            .await
            .map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

async fn commit_in_groups(writer: impl GroupWriter, mut scores: mpsc::Receiver<PendingScore>) {
    loop {
        if scores.is_empty() {
            writer.idle().await;
        }
        let Some(first) = scores.recv().await else {
            return;
        };
        let mut group = vec![first];
        while group.len() < SCORES_PER_COMMIT {
            match scores.try_recv() {
                Ok(pending) => group.push(pending),
                Err(_) => break,
            }
        }
        let entries: Vec<ScoreEntry> = group.iter().map(|pending| pending.entry.clone()).collect();
        let result = writer.write_group(&entries).await;
        for pending in group {
            // A waiter that gave up (its request was cancelled) needs no answer.
            let _ = pending.written.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::model::GameMode;
    use crate::store::fixtures::score_after;

    /// Records the groups it is given, and fails any group holding a score of 13 points.
    #[derive(Clone, Default)]
    struct RecordingWriter {
        groups: Arc<Mutex<Vec<usize>>>,
    }

    #[async_trait]
    impl GroupWriter for RecordingWriter {
        async fn write_group(&self, scores: &[ScoreEntry]) -> Result<()> {
            // Give the other submissions time to queue behind this commit.
            tokio::task::yield_now().await;
            self.groups.lock().unwrap().push(scores.len());
            if scores.iter().any(|entry| entry.score == 13) {
                return Err(Error::Internal("unlucky".to_owned()));
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn concurrent_submissions_share_commits_and_a_failed_group_fails_only_its_callers() {
        let writer = RecordingWriter::default();
        let committer = Arc::new(ScoreCommitter::start(
            writer.clone(),
            Duration::from_secs(1),
        ));
        let submit = |points: u32| {
            let committer = Arc::clone(&committer);
            tokio::spawn(async move {
                committer
                    .insert(score_after(
                        points,
                        GameMode::Walls,
                        chrono::Duration::zero(),
                    ))
                    .await
            })
        };
        let submissions: Vec<_> = (100..200).map(submit).collect();
        for submission in submissions {
            assert_eq!(submission.await.unwrap(), Ok(()));
        }
        let groups = writer.groups.lock().unwrap().clone();
        assert_eq!(
            groups.iter().sum::<usize>(),
            100,
            "every score was written once"
        );
        assert!(groups.len() < 100, "some shared a commit: {groups:?}");

        assert!(submit(13).await.unwrap().is_err(), "its group failed");
        assert_eq!(
            submit(14).await.unwrap(),
            Ok(()),
            "the writer goes on after a failed group"
        );
    }
}
