-- LINE platform (issue 5; M03, M12, M20, M22, M23): the two Messaging API
-- channels, webhook events written durably before processing, friends and the
-- talk log.
CREATE TABLE line_channels (
    kind TEXT PRIMARY KEY CHECK (kind IN ('production', 'test')),
    channel_id TEXT NOT NULL DEFAULT '',
    channel_secret TEXT NOT NULL DEFAULT '',
    access_token TEXT NOT NULL DEFAULT '',
    api_base TEXT NOT NULL,
    api_data_base TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per webhookEventId: a redelivery inserts nothing. The worker claims
-- rows with a lease (locked_until) and sets processed_at when done.
CREATE TABLE line_webhook_events (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    webhook_event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    user_id TEXT,
    raw TEXT NOT NULL,
    received_at TEXT NOT NULL,
    processed_at TEXT,
    locked_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX line_webhook_events_pending ON line_webhook_events (processed_at, id);

CREATE TABLE line_friends (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    user_id TEXT NOT NULL,
    display_name TEXT NOT NULL DEFAULT '',
    picture_url TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('friend', 'blocked')),
    followed_at TEXT,
    blocked_at TEXT,
    UNIQUE (channel, user_id)
);
CREATE INDEX line_friends_followed ON line_friends (channel, followed_at);
CREATE INDEX line_friends_blocked ON line_friends (channel, blocked_at);

CREATE TABLE line_talk_log (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    user_id TEXT NOT NULL,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    kind TEXT NOT NULL,
    text TEXT NOT NULL DEFAULT '',
    raw TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX line_talk_log_user ON line_talk_log (channel, user_id, at, id);
CREATE INDEX line_talk_log_at ON line_talk_log (at);
