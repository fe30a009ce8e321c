-- Foundation: facilities, staff, sessions, throttling, operation log, settings.
-- Times are UTC (RFC 3339 text in SQLite, timestamptz in PostgreSQL).

CREATE TABLE facilities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    phone TEXT NOT NULL DEFAULT '',
    info_url TEXT NOT NULL DEFAULT '',
    sort_order INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE rooms (
    id INTEGER PRIMARY KEY,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    capacity INTEGER,
    sort_order INTEGER NOT NULL DEFAULT 0,
    UNIQUE (facility_id, name)
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    login_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    all_facilities BOOLEAN NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    password_changed_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE staff_permissions (
    staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (staff_id, permission)
);

CREATE TABLE staff_facilities (
    staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    facility_id INTEGER NOT NULL REFERENCES facilities(id) ON DELETE CASCADE,
    PRIMARY KEY (staff_id, facility_id)
);

-- Only a hash of the session token is stored, so a copy of the database
-- cannot be used to take over a session.
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    login_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_login ON login_failures (login_id, at);
CREATE INDEX login_failures_ip ON login_failures (ip, at);

-- Append-only, hash-chained operation log (A29, M22).
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    staff_id BIGINT,
    staff_login TEXT NOT NULL,
    ip TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    summary TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The chain's head (last entry) and anchor (last entry removed by retention).
-- Updating this single row serialises appenders across app instances.
CREATE TABLE audit_chain (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    anchor_seq BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL
);
INSERT INTO audit_chain (id, head_seq, head_hash, anchor_seq, anchor_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
