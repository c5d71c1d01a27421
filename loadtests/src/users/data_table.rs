//! A declared class's data file (`data = "users.csv"`): one row per user, whose columns its
//! templates read as `{{column}}` (a login name, a tenant, an account id per user).
//!
//! The rows are read once, when the scenario is loaded (`scenario::data_file` checks the file
//! and builds this table), and shared read-only by every user of the class. A user takes its
//! row when it sends its first request, and keeps it. Which row: the k-th user of the class
//! in this process takes row k, wrapping to the first row after the last (round-robin), so
//! with at least as many rows as users every user has a row of its own.
//!
//! A worker of a distributed run starts only its share of the users, so counting from row 0
//! on every worker would give the same rows to users of different workers. The worker is
//! told its place instead ([`RowDeal`]), and the run's users together take the rows a
//! standalone run would.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One row of a data file: its values in column order.
pub type Row = Box<[Box<str>]>;

/// The rows of a class's data file.
pub struct DataTable {
    /// The path as written in the scenario file (also the name a worker receives it under).
    pub file: String,
    pub columns: Vec<String>,
    /// Never empty: a data file without rows is refused at load.
    pub rows: Vec<Row>,
    /// A hash of the file's text: part of the scenario hash, so a worker that was started
    /// with other data under the same name is refused.
    pub content_hash: String,
    /// Users of the class that took a row in this process since the deal was set.
    users: AtomicU64,
    deal: Mutex<RowDeal>,
}

/// Which user of the whole run this process's k-th user of the class is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowDeal {
    /// A standalone run: every user is this process's.
    Whole,
    /// A worker's closed-model share: its k-th user of the class is the class's
    /// `users[k]`-th user in the run's start order (see `distributed::share::row_deals`).
    Dealt { users: Vec<u64> },
    /// A worker's open-model share (worker `first` of `stride`): users are made as arrivals
    /// need them, so its k-th user is the run's `first + k * stride`-th.
    Strided { first: u64, stride: u64 },
}

impl RowDeal {
    /// The run-wide index of this process's `k`-th user of the class.
    fn user(&self, k: u64) -> u64 {
        match self {
            RowDeal::Whole => k,
            RowDeal::Dealt { users } if !users.is_empty() => {
                // A share starts at most its dealt users; past them (never expected),
                // continue beyond the last one rather than reuse a row of this share.
                let len = users.len() as u64;
                users[(k % len) as usize] + (k / len) * (users[users.len() - 1] + 1)
            }
            RowDeal::Dealt { .. } => k,
            RowDeal::Strided { first, stride } => first + k * (*stride).max(1),
        }
    }
}

impl DataTable {
    pub fn new(file: String, columns: Vec<String>, rows: Vec<Row>, content_hash: String) -> Self {
        assert!(
            !rows.is_empty(),
            "a data file without rows is refused at load"
        );
        DataTable {
            file,
            columns,
            rows,
            content_hash,
            users: AtomicU64::new(0),
            deal: Mutex::new(RowDeal::Whole),
        }
    }

    /// The row of a user starting now: the next one in this process's deal, wrapping.
    pub fn next_row(&self) -> usize {
        let k = self.users.fetch_add(1, Ordering::Relaxed);
        let user = self.deal.lock().expect("row deal poisoned").user(k);
        (user % self.rows.len() as u64) as usize
    }

    /// Makes this process's users take rows by `deal` from now on, counting from its first
    /// user again (a worker's new share replaces its users).
    pub fn deal_rows(&self, deal: RowDeal) {
        *self.deal.lock().expect("row deal poisoned") = deal;
        self.users.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: usize) -> DataTable {
        let rows = (0..rows)
            .map(|i| vec![i.to_string().into_boxed_str()].into_boxed_slice())
            .collect();
        DataTable::new("d.csv".into(), vec!["id".into()], rows, "h".into())
    }

    #[test]
    fn users_take_rows_in_order_and_wrap() {
        let t = table(3);
        let rows: Vec<usize> = (0..7).map(|_| t.next_row()).collect();
        assert_eq!(rows, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn dealt_and_strided_shares_take_disjoint_rows() {
        let t = table(6);
        // The class's users 1, 2 and 5 of the run are this worker's.
        t.deal_rows(RowDeal::Dealt {
            users: vec![1, 2, 5],
        });
        let rows: Vec<usize> = (0..4).map(|_| t.next_row()).collect();
        // Past its share, the next is the run's user 5 + 1 + 1 = 7: row 1 again (6 rows).
        assert_eq!(rows, [1, 2, 5, 1]);
        t.deal_rows(RowDeal::Strided {
            first: 1,
            stride: 2,
        });
        let rows: Vec<usize> = (0..4).map(|_| t.next_row()).collect();
        assert_eq!(rows, [1, 3, 5, 1]);
    }
}
