-- Residents, reservations and the mail outbox (issue 4).

-- Registered residents (利用者, U01-U05, A19, A30). Personal data lives only
-- in this encrypted database; erasure blanks it irreversibly (status 'erased').
CREATE TABLE residents (
    id INTEGER PRIMARY KEY,
    email TEXT UNIQUE,
    login_id TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    kana TEXT NOT NULL,
    postal_code TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL,
    phone TEXT NOT NULL,
    category_id INTEGER NOT NULL REFERENCES user_categories(id),
    category_verified BOOLEAN NOT NULL DEFAULT FALSE,
    group_name TEXT NOT NULL DEFAULT '',
    email_verified_at TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'suspended', 'erased')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE reservations (
    id INTEGER PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    facility_id INTEGER NOT NULL REFERENCES facilities(id),
    room_id INTEGER NOT NULL REFERENCES rooms(id),
    combination_id INTEGER NOT NULL REFERENCES combinations(id),
    use_date DATE NOT NULL,
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL CHECK (end_min > start_min),
    resident_id INTEGER REFERENCES residents(id),
    applicant_name TEXT NOT NULL,
    applicant_phone TEXT NOT NULL DEFAULT '',
    category_id INTEGER NOT NULL REFERENCES user_categories(id),
    purpose TEXT NOT NULL DEFAULT '',
    activity TEXT NOT NULL DEFAULT '',
    people INTEGER NOT NULL CHECK (people > 0),
    fee_total INTEGER NOT NULL CHECK (fee_total >= 0),
    reduction_id INTEGER REFERENCES reductions(id),
    terms_version INTEGER,
    status TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled')),
    payment_status TEXT NOT NULL DEFAULT 'unpaid' CHECK (payment_status IN ('unpaid', 'paid', 'exempt')),
    receipt_no TEXT NOT NULL DEFAULT '',
    created_by_staff INTEGER,
    created_at TEXT NOT NULL,
    cancelled_at TEXT,
    cancel_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX reservations_room_date ON reservations (room_id, use_date);
CREATE INDEX reservations_resident ON reservations (resident_id, use_date);
CREATE INDEX reservations_facility_date ON reservations (facility_id, use_date);

-- No double booking, ever (A08): every confirmed reservation holds one row per
-- bookable unit and 15-minute cell it occupies. The primary key refuses a
-- second holder inside the inserting transaction, on both databases, whatever
-- combination (full court or half) was booked. Cancelling deletes the rows.
CREATE TABLE reservation_cells (
    unit_id INTEGER NOT NULL REFERENCES units(id),
    use_date DATE NOT NULL,
    cell INTEGER NOT NULL CHECK (cell >= 0 AND cell < 96),
    reservation_id INTEGER NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
    PRIMARY KEY (unit_id, use_date, cell)
);
CREATE INDEX reservation_cells_reservation ON reservation_cells (reservation_id);

CREATE TABLE reservation_equipment (
    reservation_id INTEGER NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,
    equipment_id INTEGER NOT NULL REFERENCES equipment(id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    fee INTEGER NOT NULL CHECK (fee >= 0),
    PRIMARY KEY (reservation_id, equipment_id)
);
CREATE INDEX reservation_equipment_equipment ON reservation_equipment (equipment_id);

-- Durable outbox: mail is written in the same transaction as what caused it
-- and sent by the job worker with retries, so an SMTP outage never loses or
-- blocks a booking.
CREATE TABLE mail_outbox (
    id INTEGER PRIMARY KEY,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    locked_until TEXT,
    last_error TEXT NOT NULL DEFAULT '',
    sent_at TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, due_at);
