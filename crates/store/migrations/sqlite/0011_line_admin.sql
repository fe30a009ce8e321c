-- LINE administration (issue 5; M12, M22, M23): LIFF settings per channel
-- (used by the forms of issue 6), the log of every Messaging API call with
-- LINE's x-line-request-id, and friend counts kept per day.
ALTER TABLE line_channels ADD COLUMN login_channel_id TEXT NOT NULL DEFAULT '';
ALTER TABLE line_channels ADD COLUMN liff_id TEXT NOT NULL DEFAULT '';

CREATE TABLE line_api_calls (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    endpoint TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    status INTEGER,
    request_id TEXT NOT NULL DEFAULT '',
    accepted_request_id TEXT NOT NULL DEFAULT '',
    retry_key TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 1,
    error TEXT NOT NULL DEFAULT '',
    duration_ms INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
CREATE INDEX line_api_calls_at ON line_api_calls (at);

-- Follows and blocks per JST day, counted when a friend's state changes, so
-- the statistics never rescan every friend (M23).
CREATE TABLE line_friend_days (
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    day TEXT NOT NULL,
    follows INTEGER NOT NULL DEFAULT 0,
    blocks INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel, day)
);
