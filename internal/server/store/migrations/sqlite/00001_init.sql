-- The bindpay-platform schema, version 1, SQLite dialect. It is the same
-- schema as ../postgres/00001_init.sql: only the auto-increment key differs
-- (INTEGER PRIMARY KEY here, an identity column there). Every time is Unix
-- microseconds, UTC; 0 means "never".

-- +goose Up
CREATE TABLE terminals (
    id               TEXT    PRIMARY KEY,
    id_fold          TEXT    NOT NULL UNIQUE,
    key_version      INTEGER NOT NULL DEFAULT 1,
    sim_msisdn       TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL,
    msisdn           TEXT    NOT NULL DEFAULT '',
    msisdn_masked    TEXT    NOT NULL DEFAULT '',
    bound_at         BIGINT  NOT NULL DEFAULT 0,
    token            TEXT    NOT NULL DEFAULT '',
    nonce            TEXT    NOT NULL DEFAULT '',
    nonce_expires_at BIGINT  NOT NULL DEFAULT 0,
    enrolled_at      BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    version          BIGINT  NOT NULL DEFAULT 1
);

CREATE TABLE mo_messages (
    id          INTEGER PRIMARY KEY,
    smsc_id     TEXT    UNIQUE,
    sender      TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    received_at BIGINT  NOT NULL
);
CREATE INDEX mo_messages_sender ON mo_messages (sender, received_at);
CREATE INDEX mo_messages_received ON mo_messages (received_at);

CREATE TABLE activations (
    id              INTEGER PRIMARY KEY,
    terminal_id     TEXT    NOT NULL REFERENCES terminals (id),
    msisdn          TEXT    NOT NULL,
    nonce           TEXT    NOT NULL DEFAULT '',
    mo_id           BIGINT  NOT NULL DEFAULT 0,
    lang            TEXT    NOT NULL DEFAULT '',
    state           TEXT    NOT NULL,
    reason          TEXT    NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    version         BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX activations_terminal ON activations (terminal_id, id);
CREATE INDEX activations_due ON activations (state, next_attempt_at);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    terminal_id     TEXT    NOT NULL DEFAULT '',
    activation_id   BIGINT  NOT NULL DEFAULT 0,
    kind            TEXT    NOT NULL,
    sender          TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL DEFAULT 0,
    valid_until     BIGINT  NOT NULL,
    lease_owner     TEXT    NOT NULL DEFAULT '',
    lease_until     BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX messages_terminal ON messages (terminal_id, id);
CREATE INDEX messages_due ON messages (state, next_attempt_at);

CREATE TABLE message_parts (
    id         INTEGER PRIMARY KEY,
    message_id BIGINT  NOT NULL REFERENCES messages (id),
    seq        INTEGER NOT NULL,
    text       TEXT    NOT NULL,
    smsc_id    TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    UNIQUE (message_id, seq)
);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          BIGINT  NOT NULL,
    terminal_id TEXT    NOT NULL DEFAULT '',
    actor       TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_terminal ON audit_log (terminal_id, seq);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE message_parts;
DROP TABLE messages;
DROP TABLE activations;
DROP TABLE mo_messages;
DROP TABLE terminals;
