//! Endpoints that several mechanisms share: whole-message reads and writes over file
//! descriptors (`fd`), a pair of ipc-core rings (`ring_pair`), and shared mailboxes with a
//! pluggable hand-off (`mailbox`).

pub mod fd;
pub mod mailbox;
pub mod ring_pair;
