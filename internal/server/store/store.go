package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotFound: no such terminal, activation, message or part.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the row changed since it was read (its version is not
	// the one given), or an enrolment clashes with another terminal's ID
	// written in another case.
	ErrConflict = errors.New("conflict")
	// ErrLeaseLost: the message's lease belongs to another worker now.
	ErrLeaseLost = errors.New("lease lost")
	// ErrSchema: the database's schema version is not this build's.
	ErrSchema = errors.New("schema version mismatch")
)

// TerminalState is whether a terminal is bound.
type TerminalState string

// Terminal states.
const (
	TerminalUnbound TerminalState = "unbound"
	TerminalBound   TerminalState = "bound"
)

// Terminal is an enrolled terminal.
type Terminal struct {
	ID           string
	KeyVersion   int
	SIMMSISDN    string // the terminal's own SIM number (E.164), "" when unknown
	State        TerminalState
	MSISDN       string // bound number, E.164; "" when unbound
	MSISDNMasked string // its masked form (138****8000)
	BoundAt      time.Time
	Token        string // the BP1 token that proves the binding
	Nonce        string // the nonce issued to the terminal, "" when none
	NonceExpires time.Time
	EnrolledAt   time.Time
	UpdatedAt    time.Time
	Version      int64 // incremented by every update; optimistic concurrency
}

// Enrolment is one row of an enrolment file or admin request.
type Enrolment struct {
	TerminalID string
	KeyVersion int    // 0 means 1
	SIMMSISDN  string // E.164 or ""
}

// MO is a received mobile-originated SMS.
type MO struct {
	ID         int64
	SMSCID     string // the SMS centre's or gateway's message id; "" when none
	From       string // sender, E.164 when it is a number
	To         string
	Text       string
	ReceivedAt time.Time
}

// ActivationState is where an activation request stands.
type ActivationState string

// Activation states. Only pending is not final.
const (
	ActivationPending   ActivationState = "pending"   // waiting for the OSS step (or its retry)
	ActivationActivated ActivationState = "activated" // bound, confirmation queued
	ActivationRefused   ActivationState = "refused"   // by policy, or bound to another number
	ActivationFailed    ActivationState = "failed"    // could not be carried out (no SIM number, …)
	ActivationCancelled ActivationState = "cancelled" // by an operator
)

// Activation is one BIND request on its way through the OSS step.
type Activation struct {
	ID          int64
	TerminalID  string
	MSISDN      string // the number to bind, E.164
	Nonce       string // the nonce the MO named, "" when none
	MOID        int64
	Lang        string // the phone's language for replies
	State       ActivationState
	Reason      string
	Attempts    int
	NextAttempt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// MessageState is where an outbound message stands.
type MessageState string

// Message states. Queued messages are the outbox's work.
const (
	MessageQueued    MessageState = "queued"    // parts left to hand to the link
	MessageSent      MessageState = "sent"      // every part accepted by the SMS centre
	MessageDelivered MessageState = "delivered" // every part delivered
	MessageFailed    MessageState = "failed"    // a part failed for good
	MessageExpired   MessageState = "expired"   // validity period over before delivery
	MessageCancelled MessageState = "cancelled" // by an operator
)

// PartState is where one segment of a message stands.
type PartState string

// Part states.
const (
	PartPending   PartState = "pending"   // not yet accepted by the SMS centre
	PartAccepted  PartState = "accepted"  // accepted, SMSCID set
	PartDelivered PartState = "delivered" // delivery receipt: delivered
	PartFailed    PartState = "failed"    // delivery receipt: failed
	PartExpired   PartState = "expired"   // never delivered within the validity period
)

// Message kinds.
const (
	KindConfirmation = "confirmation" // MT to the terminal's SIM, with the BP1 token
	KindReply        = "reply"        // MT to the phone that sent the MO
)

// Message is an outbound (MT) SMS in the outbox.
type Message struct {
	ID           int64
	TerminalID   string
	ActivationID int64
	Kind         string
	From, To     string
	Text         string
	State        MessageState
	Attempts     int
	NextAttempt  time.Time
	ValidUntil   time.Time
	LeaseOwner   string
	LeaseUntil   time.Time
	LastError    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Parts        []Part // in order of Seq
}

// Part is one segment of a message as the SMS centre sees it.
type Part struct {
	ID        int64
	MessageID int64
	Seq       int // 1-based
	Text      string
	SMSCID    string
	State     PartState
	UpdatedAt time.Time
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	Seq        int64
	At         time.Time
	TerminalID string
	Actor      string // who: "mo", "oss", "api", "admin", "outbox", "cli"
	Event      string // what, one word: "enrolled", "bound", "unbound", …
	Detail     string // for people; numbers in it are masked
}

// Tx is what can be read and written, alone or in one transaction.
type Tx interface {
	// Terminal returns the terminal with exactly this ID (ErrNotFound).
	// Inside Update it locks the row.
	Terminal(ctx context.Context, id string) (Terminal, error)
	// TerminalFold returns the terminal whose ID equals id ignoring case
	// (people type IDs in any case).
	TerminalFold(ctx context.Context, id string) (Terminal, error)
	// Enrol creates the terminal, unbound, or updates its key version and
	// SIM number; changed is false when it was already enrolled so. An ID
	// that equals another's ignoring case is ErrConflict.
	Enrol(ctx context.Context, e Enrolment, now time.Time) (t Terminal, changed bool, err error)
	// UpdateTerminal writes t if its Version is still the stored one
	// (else ErrConflict) and returns it with the new Version.
	UpdateTerminal(ctx context.Context, t Terminal, now time.Time) (Terminal, error)
	// IssueNonce sets the terminal's nonce to nonce, expiring at expires,
	// unless it holds one that has not expired at now. It returns the
	// terminal as stored after the call: the nonce in it is the one to use.
	IssueNonce(ctx context.Context, id, nonce string, now, expires time.Time) (Terminal, error)

	// AddMO records a received MO unless it is a duplicate: the same SMSC
	// id as a recorded one, or the same sender and text received after
	// now-window. dup reports a duplicate; mo is then the recorded one.
	AddMO(ctx context.Context, m MO, window time.Duration) (mo MO, dup bool, err error)
	// PruneMO removes MO records received before before.
	PruneMO(ctx context.Context, before time.Time) (int64, error)

	// CreateActivation stores a new activation and returns it with its ID.
	CreateActivation(ctx context.Context, a Activation) (Activation, error)
	// Activation returns one activation; inside Update it locks the row.
	Activation(ctx context.Context, id int64) (Activation, error)
	// Activations returns a terminal's activations, oldest first.
	Activations(ctx context.Context, terminalID string) ([]Activation, error)
	// DueActivations returns up to limit pending activations whose next
	// attempt is at or before now, oldest first. Inside Update they are
	// locked, and on PostgreSQL rows locked by another transaction are
	// skipped.
	DueActivations(ctx context.Context, now time.Time, limit int) ([]Activation, error)
	// UpdateActivation writes a if its Version is still the stored one
	// (else ErrConflict) and returns it with the new Version.
	UpdateActivation(ctx context.Context, a Activation, now time.Time) (Activation, error)

	// Enqueue stores a new queued message with its parts (Seq 1..n, state
	// pending) and returns it with IDs set.
	Enqueue(ctx context.Context, m Message) (Message, error)
	// Message returns one message with its parts; inside Update it locks
	// the message's row.
	Message(ctx context.Context, id int64) (Message, error)
	// Messages returns a terminal's messages with their parts, oldest first.
	Messages(ctx context.Context, terminalID string) ([]Message, error)
	// ClaimMessages leases up to limit queued messages whose next attempt
	// is due at now and whose lease is free or over, to owner until
	// now+lease, and returns them with their parts. Two claimers never get
	// the same message while its lease runs.
	ClaimMessages(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Message, error)
	// RenewLease extends owner's lease on a message to until (ErrLeaseLost
	// when owner no longer holds it).
	RenewLease(ctx context.Context, id int64, owner string, until time.Time) error
	// UpdateMessage writes the message's state, attempts, next attempt,
	// last error and lease, if owner still holds its lease (else
	// ErrLeaseLost); owner "" writes whoever holds it (operators).
	UpdateMessage(ctx context.Context, m Message, owner string, now time.Time) error
	// SentPastValidity returns the IDs of up to limit sent messages (parts
	// accepted, not all delivered) whose validity ended at or before now.
	SentPastValidity(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// Part returns one part.
	Part(ctx context.Context, id int64) (Part, error)
	// UpdatePart writes a part's SMSC id and state.
	UpdatePart(ctx context.Context, p Part, now time.Time) error

	// Audit appends an entry to the audit log (its Seq is assigned).
	Audit(ctx context.Context, e AuditEntry) error
	// AuditLog returns a terminal's entries, oldest first, at most limit
	// (the latest ones).
	AuditLog(ctx context.Context, terminalID string, limit int) ([]AuditEntry, error)
}

// Store is the platform's durable state.
type Store interface {
	Tx
	// Update runs fn in one transaction, committed when fn returns nil and
	// rolled back otherwise (fn's error is returned as is, so errors.Is
	// works on it).
	Update(ctx context.Context, fn func(tx Tx) error) error
	// SchemaVersion returns the database's schema version and the one
	// this build wants.
	SchemaVersion(ctx context.Context) (current, want int64, err error)
	// Migrate brings the schema to this build's version.
	Migrate(ctx context.Context) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Kind is "sqlite" or "postgres".
	Kind() string
	// Close closes the database.
	Close() error
}
