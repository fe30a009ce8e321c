-- Reports (A26, A27): the month and fiscal-year aggregates read a date range
-- across all rooms. This index leads with the date and carries the summed
-- columns, so the GROUP BY room_id is answered from the index alone.
CREATE INDEX reservations_date_usage ON reservations (use_date, status, room_id, facility_id, start_min, end_min, people, fee_total);
