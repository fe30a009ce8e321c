-- Residents' sign-in: server-side sessions and single-use mail tokens
-- (e-mail verification valid 24 hours, password reset valid 30 minutes).
-- Only hashes of tokens are stored.
CREATE TABLE resident_sessions (
    token_hash TEXT PRIMARY KEY,
    resident_id BIGINT NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX resident_sessions_resident ON resident_sessions (resident_id);

CREATE TABLE resident_tokens (
    token_hash TEXT PRIMARY KEY,
    resident_id BIGINT NOT NULL REFERENCES residents(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
