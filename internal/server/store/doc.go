// Package store is where bindpay-platform keeps what must survive a restart:
// enrolled terminals (with their binding, nonce and proof token), the MO
// messages received (for idempotence), activations, the outbox of MT
// messages with their parts, and an append-only audit log.
//
// One interface, [Store], has two implementations behind one SQL code path:
// SQLite through the pure-Go modernc.org/sqlite driver (the embedded
// default, one node) and PostgreSQL through pgx (any number of serve
// processes sharing one database). They differ only in a small [dialect]:
// placeholders, row locks (FOR UPDATE, SKIP LOCKED), and the DDL of
// auto-increment keys in the migrations under migrations/. The schema is
// versioned with goose; [Open] refuses a database whose schema is older or
// newer than this build's unless asked to migrate it.
//
// Transactions: every method of [Tx] runs on its own (auto-commit) when
// called on the Store, or inside the transaction of [Store.Update]. Inside
// Update, reads of one terminal, activation, message or part lock the row
// they return on PostgreSQL (SELECT … FOR UPDATE; always a message before
// its parts); on SQLite every Update is a
// BEGIN IMMEDIATE transaction, which holds the database's one write lock.
// So "binding + confirmation MT + audit entry" is one Update, and two nodes
// can never bind one terminal twice.
//
// Times are stored as Unix microseconds (UTC); the zero time.Time is 0.
// Phone numbers are stored in E.164 ("+8613800138000") with their masked
// form beside them; only the masked form ever goes to a terminal.
//
// The conformance suite in storetest runs against both implementations.
// Nothing here starts a goroutine; a Store is safe for concurrent use.
package store
