-- Segment delivery (issue 6; M07, M12-M15): a delivery is what staff prepare
-- (title, up to five LINE messages, audience, schedule); each time it goes out
-- is a run; each run is split into batches of at most 500 recipients, each
-- with the X-Line-Retry-Key it will be sent with, stored before the call, so
-- a crash or restart at any moment neither loses nor repeats a message.
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    -- all friends, a saved segment, or the friends marked as testers
    audience TEXT NOT NULL CHECK (audience IN ('all', 'segment', 'testers')),
    segment_id INTEGER,
    messages TEXT NOT NULL,
    -- now / once / weekly / monthly_days / monthly_weekdays / reminder
    schedule_kind TEXT NOT NULL,
    schedule_minutes INTEGER NOT NULL DEFAULT 0,
    schedule_start TEXT,
    schedule_end TEXT,
    schedule_bits INTEGER NOT NULL DEFAULT 0,
    schedule_nth INTEGER NOT NULL DEFAULT 0,
    -- reminders (M14): the date attribute and the offset from it
    reminder_attribute TEXT NOT NULL DEFAULT '',
    reminder_offset TEXT NOT NULL DEFAULT '',
    reminder_n INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('draft', 'pending_approval', 'approved', 'cancelled', 'finished')),
    -- when the planner creates the next run (approved deliveries only)
    next_run_at TEXT,
    source TEXT NOT NULL DEFAULT 'manual',
    memo TEXT NOT NULL DEFAULT '',
    created_by INTEGER,
    approved_by INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (status, next_run_at);

CREATE TABLE delivery_runs (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
    scheduled_at TEXT NOT NULL,
    -- a test send (M12): the test channel, outside statistics
    test INTEGER NOT NULL DEFAULT 0,
    channel TEXT NOT NULL CHECK (channel IN ('production', 'test')),
    status TEXT NOT NULL CHECK (status IN ('scheduled', 'preparing', 'sending', 'done', 'cancelled', 'skipped', 'failed')),
    method TEXT NOT NULL DEFAULT 'multicast',
    -- the friend id after which recipients are still to be batched
    prepared_after INTEGER NOT NULL DEFAULT 0,
    recipients INTEGER NOT NULL DEFAULT 0,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    started_at TEXT,
    finished_at TEXT,
    note TEXT NOT NULL DEFAULT '',
    UNIQUE (delivery_id, scheduled_at, test)
);
CREATE INDEX delivery_runs_due ON delivery_runs (status, scheduled_at);

CREATE TABLE delivery_batches (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES delivery_runs(id),
    seq INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    size INTEGER NOT NULL,
    retry_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    first_sent_at TEXT,
    sent_at TEXT,
    request_id TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    UNIQUE (run_id, seq)
);
CREATE INDEX delivery_batches_pending ON delivery_batches (status, locked_until, id);

-- Open and click figures fetched from LINE's insight (M15), per delivery.
CREATE TABLE delivery_insights (
    delivery_id INTEGER PRIMARY KEY REFERENCES deliveries(id),
    delivered INTEGER,
    unique_impressions INTEGER,
    unique_clicks INTEGER,
    fetched_at TEXT NOT NULL
);

-- Links rewritten to /r/{token} (M15): clicks counted once per visitor.
CREATE TABLE delivery_links (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
    token TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL
);
CREATE TABLE delivery_clicks (
    link_id INTEGER NOT NULL REFERENCES delivery_links(id),
    visitor TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (link_id, visitor)
);
