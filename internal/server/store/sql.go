package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// querier is what ops runs its statements on: the *sql.DB (each statement
// on its own) or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops implements Tx over a querier in a dialect.
type ops struct {
	d    dialect
	q    querier
	inTx bool
}

var _ Tx = ops{}

// lock is the row-lock suffix of a SELECT: only inside a transaction.
func (o ops) lock() string {
	if o.inTx {
		return o.d.forUpdate
	}
	return ""
}

func (o ops) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return o.q.ExecContext(ctx, o.d.rebind(q), args...)
}

func (o ops) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return o.q.QueryContext(ctx, o.d.rebind(q), args...)
}

func (o ops) row(ctx context.Context, q string, args ...any) *sql.Row {
	return o.q.QueryRowContext(ctx, o.d.rebind(q), args...)
}

// ts converts a time to the stored Unix microseconds; the zero time is 0.
func ts(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// fromTS converts stored Unix microseconds back; 0 is the zero time.
func fromTS(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// --- terminals ---

const terminalCols = `id, key_version, sim_msisdn, state, msisdn, msisdn_masked, bound_at, token,
	nonce, nonce_expires_at, enrolled_at, updated_at, version`

func scanTerminal(s scanner) (Terminal, error) {
	var (
		t                                        Terminal
		boundAt, nonceExp, enrolledAt, updatedAt int64
	)
	err := s.Scan(&t.ID, &t.KeyVersion, &t.SIMMSISDN, &t.State, &t.MSISDN, &t.MSISDNMasked, &boundAt,
		&t.Token, &t.Nonce, &nonceExp, &enrolledAt, &updatedAt, &t.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Terminal{}, ErrNotFound
	}
	if err != nil {
		return Terminal{}, err
	}
	t.BoundAt, t.NonceExpires = fromTS(boundAt), fromTS(nonceExp)
	t.EnrolledAt, t.UpdatedAt = fromTS(enrolledAt), fromTS(updatedAt)
	return t, nil
}

func (o ops) Terminal(ctx context.Context, id string) (Terminal, error) {
	t, err := scanTerminal(o.row(ctx, `SELECT `+terminalCols+` FROM terminals WHERE id = ?`+o.lock(), id))
	if err != nil {
		return Terminal{}, fmt.Errorf("store: terminal %s: %w", id, err)
	}
	return t, nil
}

func (o ops) TerminalFold(ctx context.Context, id string) (Terminal, error) {
	t, err := scanTerminal(o.row(ctx, `SELECT `+terminalCols+` FROM terminals WHERE id_fold = ?`+o.lock(), strings.ToLower(id)))
	if err != nil {
		return Terminal{}, fmt.Errorf("store: terminal %s: %w", id, err)
	}
	return t, nil
}

func (o ops) Enrol(ctx context.Context, e Enrolment, now time.Time) (Terminal, bool, error) {
	if e.KeyVersion == 0 {
		e.KeyVersion = 1
	}
	res, err := o.exec(ctx, `INSERT INTO terminals (id, id_fold, key_version, sim_msisdn, state, enrolled_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		e.TerminalID, strings.ToLower(e.TerminalID), e.KeyVersion, e.SIMMSISDN, TerminalUnbound, ts(now), ts(now))
	if err != nil {
		return Terminal{}, false, fmt.Errorf("store: enrol %s: %w", e.TerminalID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Terminal{}, false, fmt.Errorf("store: enrol %s: %w", e.TerminalID, err)
	} else if n == 1 {
		t, err := o.Terminal(ctx, e.TerminalID)
		return t, true, err
	}
	t, err := o.Terminal(ctx, e.TerminalID)
	if errors.Is(err, ErrNotFound) {
		other, ferr := o.TerminalFold(ctx, e.TerminalID)
		if ferr != nil {
			return Terminal{}, false, ferr
		}
		return Terminal{}, false, fmt.Errorf("store: enrol %s: %w: terminal %s is already enrolled (IDs are compared ignoring case)",
			e.TerminalID, ErrConflict, other.ID)
	}
	if err != nil {
		return Terminal{}, false, err
	}
	if t.KeyVersion == e.KeyVersion && t.SIMMSISDN == e.SIMMSISDN {
		return t, false, nil
	}
	t.KeyVersion, t.SIMMSISDN = e.KeyVersion, e.SIMMSISDN
	t, err = o.UpdateTerminal(ctx, t, now)
	return t, err == nil, err
}

func (o ops) UpdateTerminal(ctx context.Context, t Terminal, now time.Time) (Terminal, error) {
	res, err := o.exec(ctx, `UPDATE terminals SET key_version = ?, sim_msisdn = ?, state = ?, msisdn = ?, msisdn_masked = ?,
		bound_at = ?, token = ?, nonce = ?, nonce_expires_at = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		t.KeyVersion, t.SIMMSISDN, t.State, t.MSISDN, t.MSISDNMasked, ts(t.BoundAt), t.Token, t.Nonce,
		ts(t.NonceExpires), ts(now), t.ID, t.Version)
	if err != nil {
		return Terminal{}, fmt.Errorf("store: update terminal %s: %w", t.ID, err)
	}
	if err := oneRow(res, "terminal", t.ID); err != nil {
		return Terminal{}, err
	}
	t.Version++
	t.UpdatedAt = fromTS(ts(now))
	return t, nil
}

// oneRow turns "no row changed" into ErrConflict (the row changed since it
// was read) or ErrNotFound.
func oneRow(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update %s %s: %w", what, id, err)
	}
	if n == 0 {
		return fmt.Errorf("store: update %s %s: %w: it was changed or removed since it was read", what, id, ErrConflict)
	}
	return nil
}

func (o ops) IssueNonce(ctx context.Context, id, nonce string, now, expires time.Time) (Terminal, error) {
	_, err := o.exec(ctx, `UPDATE terminals SET nonce = ?, nonce_expires_at = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND (nonce = '' OR nonce_expires_at <= ?)`,
		nonce, ts(expires), ts(now), id, ts(now))
	if err != nil {
		return Terminal{}, fmt.Errorf("store: issue nonce to %s: %w", id, err)
	}
	return o.Terminal(ctx, id)
}

// --- MO ---

func (o ops) AddMO(ctx context.Context, m MO, window time.Duration) (MO, bool, error) {
	if o.inTx && o.d.moLock != "" {
		// Two nodes receiving the same sender's MO at once (a gateway
		// retrying) must not both find "no duplicate" and record it twice.
		if _, err := o.exec(ctx, o.d.moLock, m.From); err != nil {
			return MO{}, false, fmt.Errorf("store: record MO from %s: lock: %w", m.From, err)
		}
	}
	var smscID any
	if m.SMSCID != "" {
		smscID = m.SMSCID
		if prev, err := o.moWhere(ctx, `smsc_id = ?`, m.SMSCID); err == nil {
			return prev, true, nil
		} else if !errors.Is(err, ErrNotFound) {
			return MO{}, false, err
		}
	}
	if prev, err := o.moWhere(ctx, `sender = ? AND text = ? AND received_at > ?`,
		m.From, m.Text, ts(m.ReceivedAt.Add(-window))); err == nil {
		return prev, true, nil
	} else if !errors.Is(err, ErrNotFound) {
		return MO{}, false, err
	}
	err := o.row(ctx, `INSERT INTO mo_messages (smsc_id, sender, recipient, text, received_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`,
		smscID, m.From, m.To, m.Text, ts(m.ReceivedAt)).Scan(&m.ID)
	if errors.Is(err, sql.ErrNoRows) {
		// Recorded concurrently by another transaction since the check.
		prev, err := o.moWhere(ctx, `smsc_id = ?`, m.SMSCID)
		return prev, err == nil, err
	}
	if err != nil {
		return MO{}, false, fmt.Errorf("store: record MO from %s: %w", m.From, err)
	}
	m.ReceivedAt = fromTS(ts(m.ReceivedAt))
	return m, false, nil
}

func (o ops) moWhere(ctx context.Context, where string, args ...any) (MO, error) {
	var (
		m      MO
		smscID sql.NullString
		at     int64
	)
	err := o.row(ctx, `SELECT id, smsc_id, sender, recipient, text, received_at FROM mo_messages WHERE `+where+
		` ORDER BY id LIMIT 1`, args...).Scan(&m.ID, &smscID, &m.From, &m.To, &m.Text, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return MO{}, ErrNotFound
	}
	if err != nil {
		return MO{}, fmt.Errorf("store: look up MO: %w", err)
	}
	m.SMSCID, m.ReceivedAt = smscID.String, fromTS(at)
	return m, nil
}

func (o ops) PruneMO(ctx context.Context, before time.Time) (int64, error) {
	res, err := o.exec(ctx, `DELETE FROM mo_messages WHERE received_at < ?`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("store: prune MO: %w", err)
	}
	return res.RowsAffected()
}

// --- activations ---

const activationCols = `id, terminal_id, msisdn, nonce, mo_id, lang, state, reason, attempts, next_attempt_at,
	created_at, updated_at, version`

func scanActivation(s scanner) (Activation, error) {
	var (
		a                      Activation
		next, created, updated int64
	)
	err := s.Scan(&a.ID, &a.TerminalID, &a.MSISDN, &a.Nonce, &a.MOID, &a.Lang, &a.State, &a.Reason, &a.Attempts,
		&next, &created, &updated, &a.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Activation{}, ErrNotFound
	}
	if err != nil {
		return Activation{}, err
	}
	a.NextAttempt, a.CreatedAt, a.UpdatedAt = fromTS(next), fromTS(created), fromTS(updated)
	return a, nil
}

func (o ops) CreateActivation(ctx context.Context, a Activation) (Activation, error) {
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	err := o.row(ctx, `INSERT INTO activations (terminal_id, msisdn, nonce, mo_id, lang, state, reason, attempts,
		next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.TerminalID, a.MSISDN, a.Nonce, a.MOID, a.Lang, a.State, a.Reason, a.Attempts, ts(a.NextAttempt),
		ts(a.CreatedAt), ts(a.UpdatedAt)).Scan(&a.ID)
	if err != nil {
		return Activation{}, fmt.Errorf("store: create activation for %s: %w", a.TerminalID, err)
	}
	a.Version = 1
	a.NextAttempt, a.CreatedAt, a.UpdatedAt = fromTS(ts(a.NextAttempt)), fromTS(ts(a.CreatedAt)), fromTS(ts(a.UpdatedAt))
	return a, nil
}

func (o ops) Activation(ctx context.Context, id int64) (Activation, error) {
	a, err := scanActivation(o.row(ctx, `SELECT `+activationCols+` FROM activations WHERE id = ?`+o.lock(), id))
	if err != nil {
		return Activation{}, fmt.Errorf("store: activation %d: %w", id, err)
	}
	return a, nil
}

func (o ops) Activations(ctx context.Context, terminalID string) ([]Activation, error) {
	return o.activations(ctx, `SELECT `+activationCols+` FROM activations WHERE terminal_id = ? ORDER BY id`, terminalID)
}

func (o ops) DueActivations(ctx context.Context, now time.Time, limit int) ([]Activation, error) {
	suffix := ""
	if o.inTx {
		suffix = o.d.skipLocked
	}
	return o.activations(ctx, `SELECT `+activationCols+` FROM activations WHERE state = ? AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`+suffix, ActivationPending, ts(now), limit)
}

func (o ops) activations(ctx context.Context, q string, args ...any) ([]Activation, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list activations: %w", err)
	}
	defer rows.Close()
	var out []Activation
	for rows.Next() {
		a, err := scanActivation(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list activations: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list activations: %w", err)
	}
	return out, nil
}

func (o ops) UpdateActivation(ctx context.Context, a Activation, now time.Time) (Activation, error) {
	res, err := o.exec(ctx, `UPDATE activations SET state = ?, reason = ?, attempts = ?, next_attempt_at = ?, nonce = ?,
		updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		a.State, a.Reason, a.Attempts, ts(a.NextAttempt), a.Nonce, ts(now), a.ID, a.Version)
	if err != nil {
		return Activation{}, fmt.Errorf("store: update activation %d: %w", a.ID, err)
	}
	if err := oneRow(res, "activation", fmt.Sprint(a.ID)); err != nil {
		return Activation{}, err
	}
	a.Version++
	a.UpdatedAt = fromTS(ts(now))
	return a, nil
}

// --- outbox ---

const messageCols = `id, terminal_id, activation_id, kind, sender, recipient, text, state, attempts, next_attempt_at,
	valid_until, lease_owner, lease_until, last_error, created_at, updated_at`

func scanMessage(s scanner) (Message, error) {
	var (
		m                                         Message
		next, valid, leaseUntil, created, updated int64
	)
	err := s.Scan(&m.ID, &m.TerminalID, &m.ActivationID, &m.Kind, &m.From, &m.To, &m.Text, &m.State, &m.Attempts,
		&next, &valid, &m.LeaseOwner, &leaseUntil, &m.LastError, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Message{}, ErrNotFound
	}
	if err != nil {
		return Message{}, err
	}
	m.NextAttempt, m.ValidUntil, m.LeaseUntil = fromTS(next), fromTS(valid), fromTS(leaseUntil)
	m.CreatedAt, m.UpdatedAt = fromTS(created), fromTS(updated)
	return m, nil
}

func (o ops) Enqueue(ctx context.Context, m Message) (Message, error) {
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = m.CreatedAt
	}
	if m.State == "" {
		m.State = MessageQueued
	}
	err := o.row(ctx, `INSERT INTO messages (terminal_id, activation_id, kind, sender, recipient, text, state, attempts,
		next_attempt_at, valid_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		m.TerminalID, m.ActivationID, m.Kind, m.From, m.To, m.Text, m.State, m.Attempts, ts(m.NextAttempt),
		ts(m.ValidUntil), ts(m.CreatedAt), ts(m.UpdatedAt)).Scan(&m.ID)
	if err != nil {
		return Message{}, fmt.Errorf("store: enqueue %s to %s: %w", m.Kind, m.TerminalID, err)
	}
	for i := range m.Parts {
		p := &m.Parts[i]
		p.MessageID, p.Seq, p.UpdatedAt = m.ID, i+1, fromTS(ts(m.CreatedAt))
		if p.State == "" {
			p.State = PartPending
		}
		err := o.row(ctx, `INSERT INTO message_parts (message_id, seq, text, smsc_id, state, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, p.MessageID, p.Seq, p.Text, p.SMSCID, p.State, ts(m.CreatedAt)).Scan(&p.ID)
		if err != nil {
			return Message{}, fmt.Errorf("store: enqueue %s to %s: part %d: %w", m.Kind, m.TerminalID, p.Seq, err)
		}
	}
	m.NextAttempt, m.ValidUntil = fromTS(ts(m.NextAttempt)), fromTS(ts(m.ValidUntil))
	m.CreatedAt, m.UpdatedAt = fromTS(ts(m.CreatedAt)), fromTS(ts(m.UpdatedAt))
	return m, nil
}

func (o ops) Message(ctx context.Context, id int64) (Message, error) {
	ms, err := o.messages(ctx, `SELECT `+messageCols+` FROM messages WHERE id = ?`+o.lock(), id)
	if err != nil {
		return Message{}, err
	}
	if len(ms) == 0 {
		return Message{}, fmt.Errorf("store: message %d: %w", id, ErrNotFound)
	}
	return ms[0], nil
}

func (o ops) Messages(ctx context.Context, terminalID string) ([]Message, error) {
	return o.messages(ctx, `SELECT `+messageCols+` FROM messages WHERE terminal_id = ? ORDER BY id`, terminalID)
}

// messages runs a query of messages and loads their parts.
func (o ops) messages(ctx context.Context, q string, args ...any) ([]Message, error) {
	rows, err := o.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	var out []Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list messages: %w", err)
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list messages: %w", err)
	}
	for i := range out {
		if out[i].Parts, err = o.parts(ctx, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const partCols = `id, message_id, seq, text, smsc_id, state, updated_at`

func scanPart(s scanner) (Part, error) {
	var (
		p       Part
		updated int64
	)
	err := s.Scan(&p.ID, &p.MessageID, &p.Seq, &p.Text, &p.SMSCID, &p.State, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return Part{}, ErrNotFound
	}
	p.UpdatedAt = fromTS(updated)
	return p, err
}

func (o ops) parts(ctx context.Context, messageID int64) ([]Part, error) {
	rows, err := o.query(ctx, `SELECT `+partCols+` FROM message_parts WHERE message_id = ? ORDER BY seq`, messageID)
	if err != nil {
		return nil, fmt.Errorf("store: parts of message %d: %w", messageID, err)
	}
	defer rows.Close()
	var out []Part
	for rows.Next() {
		p, err := scanPart(rows)
		if err != nil {
			return nil, fmt.Errorf("store: parts of message %d: %w", messageID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: parts of message %d: %w", messageID, err)
	}
	return out, nil
}

func (o ops) ClaimMessages(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Message, error) {
	// The inner SELECT skips rows another claimer has locked (PostgreSQL);
	// on SQLite the statement runs under the database's write lock.
	rows, err := o.query(ctx, `UPDATE messages SET lease_owner = ?, lease_until = ?
		WHERE id IN (SELECT id FROM messages WHERE state = ? AND next_attempt_at <= ? AND lease_until <= ?
			ORDER BY next_attempt_at, id LIMIT ?`+o.d.skipLocked+`)
		AND state = ? AND lease_until <= ?
		RETURNING id`,
		owner, ts(now.Add(lease)), MessageQueued, ts(now), ts(now), limit, MessageQueued, ts(now))
	if err != nil {
		return nil, fmt.Errorf("store: claim messages: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: claim messages: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claim messages: %w", err)
	}
	out := make([]Message, 0, len(ids))
	for _, id := range ids {
		m, err := o.Message(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (o ops) RenewLease(ctx context.Context, id int64, owner string, until time.Time) error {
	res, err := o.exec(ctx, `UPDATE messages SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = ?`,
		ts(until), id, owner, MessageQueued)
	if err != nil {
		return fmt.Errorf("store: renew lease of message %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: renew lease of message %d: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("store: renew lease of message %d: %w: %s no longer holds it", id, ErrLeaseLost, owner)
	}
	return nil
}

func (o ops) UpdateMessage(ctx context.Context, m Message, owner string, now time.Time) error {
	q := `UPDATE messages SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, lease_owner = ?,
		lease_until = ?, updated_at = ? WHERE id = ?`
	args := []any{m.State, m.Attempts, ts(m.NextAttempt), m.LastError, m.LeaseOwner, ts(m.LeaseUntil), ts(now), m.ID}
	if owner != "" {
		q += ` AND lease_owner = ?`
		args = append(args, owner)
	}
	res, err := o.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("store: update message %d: %w", m.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update message %d: %w", m.ID, err)
	}
	if n == 0 {
		if _, err := o.Message(ctx, m.ID); err != nil {
			return err
		}
		return fmt.Errorf("store: update message %d: %w: %s no longer holds it", m.ID, ErrLeaseLost, owner)
	}
	return nil
}

func (o ops) SentPastValidity(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	rows, err := o.query(ctx, `SELECT id FROM messages WHERE state = ? AND valid_until <= ? ORDER BY valid_until, id LIMIT ?`,
		MessageSent, ts(now), limit)
	if err != nil {
		return nil, fmt.Errorf("store: messages past validity: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: messages past validity: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: messages past validity: %w", err)
	}
	return ids, nil
}

func (o ops) Part(ctx context.Context, id int64) (Part, error) {
	p, err := scanPart(o.row(ctx, `SELECT `+partCols+` FROM message_parts WHERE id = ?`+o.lock(), id))
	if err != nil {
		return Part{}, fmt.Errorf("store: part %d: %w", id, err)
	}
	return p, nil
}

func (o ops) UpdatePart(ctx context.Context, p Part, now time.Time) error {
	res, err := o.exec(ctx, `UPDATE message_parts SET smsc_id = ?, state = ?, updated_at = ? WHERE id = ?`,
		p.SMSCID, p.State, ts(now), p.ID)
	if err != nil {
		return fmt.Errorf("store: update part %d: %w", p.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: update part %d: %w", p.ID, err)
	} else if n == 0 {
		return fmt.Errorf("store: update part %d: %w", p.ID, ErrNotFound)
	}
	return nil
}

// --- audit ---

func (o ops) Audit(ctx context.Context, e AuditEntry) error {
	_, err := o.exec(ctx, `INSERT INTO audit_log (at, terminal_id, actor, event, detail) VALUES (?, ?, ?, ?, ?)`,
		ts(e.At), e.TerminalID, e.Actor, e.Event, e.Detail)
	if err != nil {
		return fmt.Errorf("store: audit %s of %s: %w", e.Event, e.TerminalID, err)
	}
	return nil
}

func (o ops) AuditLog(ctx context.Context, terminalID string, limit int) ([]AuditEntry, error) {
	rows, err := o.query(ctx, `SELECT seq, at, terminal_id, actor, event, detail FROM
		(SELECT seq, at, terminal_id, actor, event, detail FROM audit_log WHERE terminal_id = ? ORDER BY seq DESC LIMIT ?) latest
		ORDER BY seq`, terminalID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: audit log of %s: %w", terminalID, err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var (
			e  AuditEntry
			at int64
		)
		if err := rows.Scan(&e.Seq, &at, &e.TerminalID, &e.Actor, &e.Event, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: audit log of %s: %w", terminalID, err)
		}
		e.At = fromTS(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit log of %s: %w", terminalID, err)
	}
	return out, nil
}
